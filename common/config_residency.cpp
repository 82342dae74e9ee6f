// Co-residency keys: `maxResident`, `preload` (merged with llama-swap's hooks.on_startup.preload, read by
// config_swap.cpp) and the checks on per-model `pin` (read by config_models.cpp) that need the whole config: pins
// beyond maxResident, and pins that llama-swap's group rules would never let be resident together.
#include <algorithm>

#include "common/config_reader.hpp"

namespace llmux::config_detail {
namespace {

using Fields = std::map<std::string, Entry>;

const Entry* find(const Fields& fields, const char* name) {
  const auto it = fields.find(name);
  return it == fields.end() ? nullptr : &it->second;
}

// The line of models.<id>.pin, for errors about a pin (0 when it cannot be found, e.g. under a merge key).
int pin_line(const Entry* models, const std::string& id) {
  if (models == nullptr || !models->value.IsMap()) return 0;
  const YAML::Node model = models->value[id];
  if (!model.IsMap() || !model["pin"]) return 0;
  return line_of(model["pin"]);
}

// Group of each model as the residency rule sees it: its group's index, or -1 for a model in no group (llama-swap's
// implicit group: swap and exclusive, not persistent). A remote model in no group holds no local memory and stays
// out of the implicit group; proxy/policy/residency_rules.cpp applies the same reading.
struct GroupOf {
  const Config& c;
  const ModelGroup* of(const std::string& id) const {
    for (const ModelGroup& g : c.groups)
      if (std::find(g.members.begin(), g.members.end(), id) != g.members.end()) return &g;
    return nullptr;
  }
  // Why loading `loading` would evict the resident `other`; "" when it would not.
  std::string evicts(const ModelConfig& loading, const ModelConfig& other) const {
    if (c.groups.empty()) return "";
    const ModelGroup* a = of(loading.id);
    const ModelGroup* b = of(other.id);
    if ((a == nullptr && !loading.remote.empty()) || (b == nullptr && !other.remote.empty())) return "";
    const bool swap = a != nullptr ? a->swap : true;
    const bool exclusive = a != nullptr ? a->exclusive : true;
    const bool persistent = b != nullptr && b->persistent;
    if (a == b && swap) {
      return a != nullptr ? "group '" + a->id + "' keeps one of them resident at a time (swap)"
                          : "models in no group are resident one at a time (llama-swap's implicit group)";
    }
    if (a != b && exclusive && !persistent) {
      const std::string group = a != nullptr ? "group '" + a->id + "' is" : "models in no group are";
      return "loading '" + loading.id + "' evicts the models of other groups (" + group + " exclusive and '" +
             other.id + "' is in no persistent group)";
    }
    return "";
  }
};

void check_pins(const Reader& r, const Entry* models, const Entry* max_resident, const Config& c) {
  std::vector<const ModelConfig*> pinned;
  for (const ModelConfig& m : c.models) {
    if (!m.pinned) continue;
    pinned.push_back(&m);
    const std::string path = "models." + m.id + ".pin";
    if (c.max_resident != 0 && pinned.size() > c.max_resident) {
      std::string names;
      for (const ModelConfig* p : pinned) names += (names.empty() ? "" : ", ") + p->id;
      r.fail(pin_line(models, m.id), path,
             std::to_string(pinned.size()) + " models are pinned (" + names + ") but maxResident is " +
                 std::to_string(c.max_resident) + (max_resident == nullptr ? " (its default)" : "") +
                 ": set maxResident to " + std::to_string(pinned.size()) +
                 " or more (0: as many as memory admits), or pin fewer");
    }
    const GroupOf groups{c};
    for (const ModelConfig* other : pinned) {
      if (other == &m) continue;
      std::string why = groups.evicts(m, *other);
      if (why.empty()) why = groups.evicts(*other, m);
      if (!why.empty()) {
        r.fail(pin_line(models, m.id), path,
               "'" + other->id + "' and '" + m.id + "' are both pinned but cannot be resident together: " + why);
      }
    }
  }
}

// `preload`: model ids or aliases, each resolved to its id; an unknown name is an error (llmux's own key; the
// hooks' list only warns, as llama-swap skips such names).
std::vector<std::string> read_preload(const Reader& r, const Entry& e, const Config& c) {
  std::vector<std::string> ids;
  for (const Item& item : r.strings(e)) {
    const ModelConfig* m = c.resolve(item.value);
    if (m == nullptr) {
      r.fail(item.line, e.path, "'" + item.value + "' is not a model id or alias; available: " + c.available_names());
    }
    if (std::find(ids.begin(), ids.end(), m->id) == ids.end()) ids.push_back(m->id);
  }
  return ids;
}

}  // namespace

void read_residency(Reader& r, const Fields& fields, Config& c) {
  const Entry* max_resident = find(fields, "maxResident");
  // llama-swap runs several groups at once: with groups and no maxResident, only the memory budget bounds it.
  c.max_resident = c.groups.empty() || c.naive_fifo ? 1 : 0;
  if (max_resident != nullptr) {
    const int64_t n = r.integer_at_least(*max_resident, 0, "must be 0 (as many as memory admits) or more");
    if (n > 1000) r.fail(*max_resident, "too large, got " + std::to_string(n));
    if (c.naive_fifo && n != 1) {
      r.fail(*max_resident, "scheduling: fifo (a benchmark baseline) keeps one engine resident; set maxResident: 1 "
                            "or scheduling: grouped");
    }
    c.max_resident = static_cast<size_t>(n);
  }
  if (const Entry* e = find(fields, "preload")) {
    std::vector<std::string> ids = read_preload(r, *e, c);
    for (const std::string& id : c.preload)  // llama-swap's hooks.on_startup.preload, after llmux's own
      if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
    c.preload = std::move(ids);
  }
  // Preloading evicts nobody (llama-swap's loads each in turn, so that a later one may evict an earlier one).
  const Entry* said = find(fields, "preload") != nullptr ? find(fields, "preload") : find(fields, "hooks");
  if (said != nullptr && c.max_resident != 0 && c.preload.size() > c.max_resident) {
    r.warn(*said, std::to_string(c.preload.size()) + " models to preload but maxResident is " +
                      std::to_string(c.max_resident) + ": only the first " + std::to_string(c.max_resident) +
                      " are loaded at startup (a preload evicts nobody)");
  }
  check_pins(r, find(fields, "models"), max_resident, c);
}

}  // namespace llmux::config_detail

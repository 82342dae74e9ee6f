// llama-swap's keys that llmux does not spell the same way: what each one does here, or why it is only checked
// (docs/configuration.md has the whole table). Every key of llama-swap's schema is either honoured, or read and
// warned about with its reason; none is "unknown". Groups and hooks.on_startup.preload are honoured (the group
// rule is proxy/policy/residency_rules.hpp); the matrix is read and checked in full but not evaluated.
#include <algorithm>

#include "common/config_reader.hpp"
#include "common/endpoint.hpp"

namespace llmux::config_detail {
namespace {

using Fields = std::map<std::string, Entry>;

constexpr KeyNote kTopNotes[] = {
    {"startPort", "llmux picks a free port for each ${PORT} when it starts the engine, not from a range; ignored"},
    {"logTimeFormat", "llmux's log lines have a fixed timestamp format; ignored"},
    {"logToStdout", "llmux logs its own lines to stderr; engines' output is kept for /logs?source=engine and "
                    "`llmux logs`; ignored"},
    {"metricsMaxInMemory", "llmux keeps counters and histograms (/metrics), not a list of requests; ignored"},
    {"captureBuffer", "llmux never keeps request or response bodies (it streams them); ignored"},
    {"store", "llmux keeps no activity database; its counters are at /metrics; ignored"},
    {"ui", "llmux has no web UI; ignored"},
    {"performance", "llmux samples engine memory itself (memory.sampleInterval); ignored"},
    {"upstream", "llmux's /upstream/<model>/ passthrough starts the model for every path; ignorePaths is ignored"},
    {"profiles", "llmux has no runtime profiles; pins are not applied (name models or aliases directly)"},
    {"selectors", "llmux has no virtual model ids chosen per request; selector ids are not served (404)"},
};
constexpr KeyNote kModelNotes[] = {
    {"timeouts", "llmux's engine timeouts are global: set timeouts.engineConnect, engineFirstByte and "
                 "engineIdle at the top level; ignored"},
    {"compat", "llmux does not relay websockets; ignored"},
    {"capabilities", "llmux does not describe capabilities in /v1/models (use metadata); ignored"},
};

constexpr std::string_view kGroupKeys[] = {"swap", "exclusive", "persistent", "members"};
constexpr std::string_view kMatrixKeys[] = {"vars", "evict_costs", "sets"};
constexpr std::string_view kRoutingKeys[] = {"router", "scheduler"};
constexpr std::string_view kRouterKeys[] = {"use", "settings"};
constexpr std::string_view kRouterSettingsKeys[] = {"groups", "matrix"};
constexpr std::string_view kSchedulerKeys[] = {"use", "settings"};
constexpr std::string_view kSchedulerSettingsKeys[] = {"fifo"};
constexpr std::string_view kFifoKeys[] = {"priority"};
constexpr std::string_view kHookKeys[] = {"on_startup"};
constexpr std::string_view kStartupKeys[] = {"preload"};
constexpr std::string_view kPeerKeys[] = {"proxy", "apiKey", "models", "filters", "timeouts"};

const std::string kNoMatrix =
    "llama-swap's matrix: llmux does not evaluate swap sets; models are resident together as maxResident (default "
    "1) and the memory budget allow (use groups for rules on which models share the machine)";

const Entry* find(const Fields& fields, const char* name) {
  const auto it = fields.find(name);
  return it == fields.end() ? nullptr : &it->second;
}

// Checks as llama-swap does (a member listed once, in one group only); a member that is not a model is warned
// about (llama-swap's own example names some that it does not define).
std::vector<ModelGroup> read_groups(Reader& r, const Entry& e, const Config& c) {
  std::vector<ModelGroup> groups;
  std::map<std::string, std::string> member_of;
  for (const Entry& g : r.entries(e.value, e.path, e.line)) {
    const Fields f = r.fields(g.value, g.path, g.line, {kGroupKeys, {}});
    ModelGroup group;
    group.id = g.name;
    if (const Entry* v = find(f, "swap")) group.swap = r.boolean(*v);
    if (const Entry* v = find(f, "exclusive")) group.exclusive = r.boolean(*v);
    if (const Entry* v = find(f, "persistent")) group.persistent = r.boolean(*v);
    const Entry* members = find(f, "members");
    for (const Item& m : members != nullptr ? r.strings(*members) : std::vector<Item>{}) {
      if (const auto [it, fresh] = member_of.emplace(m.value, g.name); !fresh) {
        r.fail(m.line, members->path, it->second == g.name ? "'" + m.value + "' is listed twice"
                                                            : "'" + m.value + "' is also in group '" + it->second +
                                                                  "' (a model can be in one group only)");
      }
      if (c.find_model(m.value) == nullptr) {
        r.warn({m.value, members->path, m.line, {}}, "'" + m.value + "' is not a model id; ignored");
        continue;
      }
      group.members.push_back(m.value);
    }
    groups.push_back(std::move(group));
  }
  return groups;
}

void read_matrix(Reader& r, const Entry& e) {
  const Fields f = r.fields(e.value, e.path, e.line, {kMatrixKeys, {}});
  if (const Entry* vars = find(f, "vars")) {
    for (const Entry& v : r.entries(vars->value, vars->path, vars->line)) (void)r.string(v);
  }
  if (const Entry* costs = find(f, "evict_costs")) {
    for (const Entry& v : r.entries(costs->value, costs->path, costs->line))
      (void)r.integer_at_least(v, 0, "must be 0 or more");
  }
  if (const Entry* sets = find(f, "sets")) {
    for (const Entry& v : r.entries(sets->value, sets->path, sets->line)) {
      if (r.string(v).empty()) r.fail(v, "a set expression cannot be empty");
    }
  }
}

// `routing.scheduler.settings.fifo.priority`: the same meaning as llmux's per-model `priority`.
void read_scheduler(Reader& r, const Entry& e, Config& c) {
  const Fields f = r.fields(e.value, e.path, e.line, {kSchedulerKeys, {}});
  if (const Entry* use = find(f, "use"); use != nullptr && r.string(*use) != "fifo") {
    r.fail(*use, "expected fifo (llama-swap's only scheduler), got '" + r.string(*use) + "'");
  }
  const Entry* settings = find(f, "settings");
  if (settings == nullptr) return;
  const Fields s = r.fields(settings->value, settings->path, settings->line, {kSchedulerSettingsKeys, {}});
  const Entry* fifo = find(s, "fifo");
  if (fifo == nullptr) return;
  const Fields ff = r.fields(fifo->value, fifo->path, fifo->line, {kFifoKeys, {}});
  const Entry* priority = find(ff, "priority");
  if (priority == nullptr) return;
  for (const Entry& p : r.entries(priority->value, priority->path, priority->line)) {
    const ModelConfig* m = c.resolve(p.name);
    if (m == nullptr) {  // llama-swap refuses it, yet its own example names models it does not define
      r.warn(p, "'" + p.name + "' is not a model id or alias; ignored");
      continue;
    }
    const int64_t value = r.integer_at_least(p, -1'000'000'000, "must be at least -1000000000");
    if (value > 1'000'000'000) r.fail(p, "too large, got " + std::to_string(value));
    const_cast<ModelConfig*>(m)->priority = static_cast<int>(value);  // c.models is ours to fill
  }
}

// The legacy top-level `groups` / `matrix`, or `routing` (not both, as in llama-swap).
void read_routing(Reader& r, const Fields& top, Config& c) {
  const Entry* legacy_groups = find(top, "groups");
  const Entry* legacy_matrix = find(top, "matrix");
  const Entry* routing = find(top, "routing");
  const Entry* groups = legacy_groups;
  const Entry* matrix = legacy_matrix;
  Fields f, rf, sf;  // the entries `groups` and `matrix` may point into
  if (routing != nullptr) {
    f = r.fields(routing->value, routing->path, routing->line, {kRoutingKeys, {}});
    if (const Entry* router = find(f, "router")) {
      if (legacy_groups != nullptr || legacy_matrix != nullptr) {
        r.fail(*router, "set routing.router or the legacy top-level groups / matrix, not both");
      }
      rf = r.fields(router->value, router->path, router->line, {kRouterKeys, {}});
      std::string use = "group";
      if (const Entry* u = find(rf, "use")) use = r.string(*u);
      if (use != "group" && use != "matrix") r.fail(*find(rf, "use"), "expected group or matrix, got '" + use + "'");
      if (const Entry* settings = find(rf, "settings")) {
        sf = r.fields(settings->value, settings->path, settings->line, {kRouterSettingsKeys, {}});
        groups = find(sf, "groups");
        matrix = find(sf, "matrix");
      }
      if (use == "matrix" && matrix == nullptr) r.fail(*router, "use is matrix but settings.matrix is not set");
      if (use == "matrix" && matrix != nullptr) read_matrix(r, *matrix);
      if (use == "matrix") groups = nullptr;
    }
    if (const Entry* scheduler = find(f, "scheduler")) read_scheduler(r, *scheduler, c);
  }
  if (legacy_groups != nullptr && legacy_matrix != nullptr) r.fail(*legacy_matrix, "set groups or matrix, not both");
  if (legacy_matrix != nullptr) read_matrix(r, *legacy_matrix);
  if (matrix != nullptr && (groups == nullptr || matrix == legacy_matrix)) r.warn(*matrix, kNoMatrix);
  if (groups == nullptr) return;
  c.groups = read_groups(r, *groups, c);
}

void read_hooks(Reader& r, const Entry& e, Config& c) {
  const Fields f = r.fields(e.value, e.path, e.line, {kHookKeys, {}});
  const Entry* startup = find(f, "on_startup");
  if (startup == nullptr) return;
  const Fields s = r.fields(startup->value, startup->path, startup->line, {kStartupKeys, {}});
  const Entry* preload = find(s, "preload");
  if (preload == nullptr) return;
  for (const Item& item : r.strings(*preload)) {
    const ModelConfig* m = c.resolve(item.value);
    if (m == nullptr) {  // llama-swap skips it silently
      r.warn({item.value, preload->path, item.line, {}}, "'" + item.value + "' is not a model id or alias; ignored");
      continue;
    }
    if (std::find(c.preload.begin(), c.preload.end(), m->id) == c.preload.end()) c.preload.push_back(m->id);
  }
}

// Each peer model becomes a remote model "<peer>/<model>" (config_remote.cpp) that forwards the peer's own name;
// the bare name is an alias when no local id or alias has it and exactly one peer serves it (llama-swap's rules).
// The peer's apiKey is injected as on a model's `remote`.
void read_peers(Reader& r, const Entry& e, const ModelDefaults& d, Config& c) {
  std::map<std::string, int> served;  // bare model name -> peers serving it
  std::vector<std::pair<std::string, size_t>> bare;  // (name, index in c.models)
  for (const Entry& p : r.entries(e.value, e.path, e.line)) {
    const Fields f = r.fields(p.value, p.path, p.line, {kPeerKeys, {}});
    const Entry* proxy = find(f, "proxy");
    if (proxy == nullptr) r.fail(p, "proxy is required: the peer's base URL");
    const ScalarExpander expand = [&](const std::string& text, int line, const std::string& path) {
      try {
        return expand_macros(text, d.macros, {}, d.env);
      } catch (const std::invalid_argument& ex) {
        r.fail(line, path, ex.what());
      }
    };
    const std::string url = expand(r.string(*proxy), proxy->line, proxy->path);
    if (!is_remote_url(url)) r.fail(*proxy, "expected an http:// or https:// URL, got '" + url + "'");
    const Entry* models = find(f, "models");
    if (models == nullptr || r.strings(*models).empty()) r.fail(p, "models is required: the models the peer serves");
    if (find(f, "timeouts") != nullptr) r.warn(*find(f, "timeouts"), "llama-swap's peer timeouts: set remote.connectTimeout on a model instead; ignored");
    // The apiKey, as a model's remote.apiKey: a synthetic `remote` map holding only it.
    YAML::Node remote_map(YAML::NodeType::Map);
    if (const Entry* key = find(f, "apiKey")) remote_map["apiKey"] = key->value;
    const Entry remote{"remote", p.path + ".apiKey", p.line, remote_map};
    for (const Item& item : r.strings(*models)) {
      const std::string id = p.name + "/" + item.value;
      if (c.resolve(id) != nullptr) r.fail(item.line, models->path, "'" + id + "' is already a model id or alias");
      ModelConfig mc = d.limits;
      mc.id = id;
      mc.use_model_name = item.value;
      mc.ttl = d.ttl;
      mc.stop_grace = d.stop_grace;
      mc.start_timeout = d.start_timeout;
      read_remote(r, *proxy, url, &remote, expand, c.secrets, mc);
      mc.readiness = Readiness::tcp;
      mc.description = "served by peer " + p.name;
      if (const Entry* filters = find(f, "filters")) merge_filters(r, *filters, mc.params, expand);
      ++served[item.value];
      bare.emplace_back(item.value, c.models.size());
      c.models.push_back(std::move(mc));
    }
  }
  for (const auto& [name, index] : bare) {
    if (served[name] != 1 || c.resolve(name) != nullptr) continue;
    c.aliases.emplace(name, c.models[index].id);
    c.models[index].aliases.push_back(name);
  }
}

}  // namespace

const std::span<const KeyNote> kSwapTopNotes = kTopNotes;
const std::span<const KeyNote> kSwapModelNotes = kModelNotes;

void read_swap_top(Reader& r, const Fields& fields, const ModelDefaults& defaults, Config& config) {
  if (const Entry* e = find(fields, "includeAliasesInList")) config.include_aliases_in_list = r.boolean(*e);
  read_routing(r, fields, config);
  if (const Entry* e = find(fields, "hooks")) read_hooks(r, *e, config);
  if (const Entry* e = find(fields, "peers")) read_peers(r, *e, defaults, config);
}

}  // namespace llmux::config_detail

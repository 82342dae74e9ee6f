// The `models` section: one ModelConfig per entry, macros expanded, commands split, aliases checked.
#include <stdexcept>

#include "common/argv.hpp"
#include "common/endpoint.hpp"
#include "common/config_reader.hpp"
#include "common/footprint.hpp"
#include "common/macros.hpp"

namespace llmux::config_detail {
namespace {

// Model settings; then resource governance (also top-level defaults, except weights); then llama-swap's names for
// the same concepts (filters → params, concurrencyLimit → maxConcurrency).
constexpr std::string_view kModelKeys[] = {
    "cmd",               "cmdStop",           "proxy",             "checkEndpoint",     "readiness",
    "ttl",               "stopGrace",         "startTimeout",      "aliases",           "env",
    "macros",            "useModelName",      "unlisted",          "name",              "description",
    "kvReservation",     "memoryUtilization", "weights",           "overhead",          "maxMemory",
    "maxTokens",         "params",            "maxConcurrency",    "queue",             "priority",
    "minResidency",      "filters",           "concurrencyLimit",  "sendLoadingState",  "unloadTimeout",
    "metadata",          "healthCheckTimeout", "remote",            "pin",
};
constexpr std::string_view kPortMacro = "${PORT}";
const std::set<std::string> kSpawnTimeMacros = {"PORT", "PID"};

std::optional<Readiness> parse_readiness(const std::string& s) {
  if (s == "http") return Readiness::http;
  if (s == "completion") return Readiness::completion;
  if (s == "tcp") return Readiness::tcp;
  if (s == "none") return Readiness::none;
  return std::nullopt;
}

// Reads one `models.<id>` map. Strings are expanded with the global macros, the model's own `macros` (which
// override them) and MODEL_ID; PORT and PID stay for the supervisor to fill in at spawn time.
class ModelReader {
 public:
  ModelReader(Reader& r, const Entry& model, const ModelDefaults& defaults, std::vector<std::string>& secrets)
      : r_(r), model_(model), defaults_(defaults), secrets_(secrets) {
    fields_ = r_.fields(model.value, model.path, model.line, {kModelKeys, kSwapModelNotes});
    macros_ = defaults.macros;
    if (const Entry* m = find("macros")) {
      for (auto& [name, value] : read_macros(r_, *m)) macros_[name] = value;
    }
    macros_["MODEL_ID"] = model.name;
  }

  ModelConfig read() {
    ModelConfig mc = defaults_.limits;
    mc.id = model_.name;
    read_limits(r_, fields_, mc);
    const ScalarExpander expand = [this](const std::string& text, int line, const std::string& path) {
      return this->expand(text, line, path);
    };
    if (const Entry* filters = find("filters")) merge_filters(r_, *filters, mc.params, expand);
    if (const Entry* metadata = find("metadata")) {
      if (!metadata->value.IsMap() && !metadata->value.IsNull()) r_.fail(*metadata, "expected a map");
      mc.metadata = yaml_to_json(r_, metadata->value, metadata->path, metadata->line, &expand);
    }
    add_memory_macros(mc, macros_);
    read_weights(mc);
    read_commands(mc);
    if (mc.remote.empty()) read_proxy(mc);
    read_readiness(mc);
    read_timing(mc);
    read_env(mc);
    read_labels(mc);
    return mc;
  }

  const Entry* find(const char* name) const {
    const auto it = fields_.find(name);
    return it == fields_.end() ? nullptr : &it->second;
  }

 private:
  std::string expand(const std::string& text, int line, const std::string& path) const {
    std::string out;
    try {
      out = expand_macros(text, macros_, kSpawnTimeMacros, defaults_.env);
    } catch (const std::invalid_argument& e) {
      r_.fail(line, path, e.what());
    }
    if (const std::string unset = unset_memory_macro(out); !unset.empty()) r_.fail(line, path, unset);
    return out;
  }
  std::string expanded(const Entry& e) const { return expand(r_.string(e), e.line, e.path); }

  // Comments go before macro expansion (see strip_comments); words are split after it, so a macro may hold
  // several arguments.
  std::vector<std::string> command(const Entry& e) const {
    try {
      return split_command(expand(strip_comments(r_.string(e)), e.line, e.path), user_home());
    } catch (const std::invalid_argument& ex) {
      r_.fail(e, ex.what());
    }
  }

  void read_commands(ModelConfig& mc) const {
    const Entry* cmd = find("cmd");
    const Entry* proxy = find("proxy");
    const Entry* remote = find("remote");
    if (cmd != nullptr && remote != nullptr) r_.fail(*remote, "remote is for models without cmd (a remote server)");
    if (cmd == nullptr && proxy != nullptr && is_remote_url(expanded(*proxy))) {
      const ScalarExpander expand = [this](const std::string& text, int line, const std::string& path) {
        return this->expand(text, line, path);
      };
      return read_remote(r_, *proxy, expanded(*proxy), remote, expand, secrets_, mc);
    }
    if (remote != nullptr) r_.fail(*remote, "remote needs proxy: http(s)://host[:port][/base] and no cmd");
    if (cmd == nullptr) r_.fail(model_, "cmd is required: the command that starts this model's engine (or, for a "
                                        "remote server, leave cmd out and set proxy to its http(s) URL)");
    mc.argv = command(*cmd);
    if (mc.argv.empty()) r_.fail(*cmd, "cmd is empty");
    if (const Entry* stop = find("cmdStop")) mc.stop_argv = command(*stop);
  }

  // A cmd without ${PORT} behind a ${PORT} proxy (llama-swap's example has one): the engine gets the port in its
  // PORT environment variable (many servers read it); said once, since one that ignores it cannot be reached.
  void read_proxy(ModelConfig& mc) const {
    mc.proxy = "http://127.0.0.1:" + std::string(kPortMacro);
    const Entry* proxy = find("proxy");
    if (proxy != nullptr) mc.proxy = checked_proxy(*proxy);
    if (mc.proxy.find(kPortMacro) != std::string::npos && !uses_port(mc.argv)) {
      const bool written = proxy != nullptr;
      if (written) {
        r_.fail(*proxy, "proxy uses ${PORT} but cmd does not: the engine would not listen on the port llmux picks "
                        "(add e.g. --port ${PORT} to cmd, or set proxy to the engine's fixed address)");
      }
      r_.warn(*find("cmd"), "cmd does not use ${PORT}: llmux passes the port it picks in the engine's PORT "
                            "environment variable only; an engine that ignores it cannot be reached (add e.g. "
                            "--port ${PORT}, or set proxy to the engine's fixed address)");
      mc.env.push_back("PORT=" + std::string(kPortMacro));
    }
  }

  void read_readiness(ModelConfig& mc) const {
    mc.check_endpoint = "/health";
    const Entry* check = find("checkEndpoint");
    if (check != nullptr) mc.check_endpoint = expanded(*check);
    const bool no_check = mc.check_endpoint == "none";
    if (!no_check && !mc.check_endpoint.starts_with('/')) {
      r_.fail(*check, "expected a path starting with '/', or none; got '" + mc.check_endpoint + "'");
    }
    mc.readiness = no_check ? Readiness::none : Readiness::http;
    if (!mc.remote.empty() && check == nullptr) mc.readiness = Readiness::tcp;  // the bridge listens; the remote
                                                                                 // answers each request itself
    const Entry* readiness = find("readiness");
    if (readiness == nullptr) return;
    const std::optional<Readiness> kind = parse_readiness(r_.string(*readiness));
    if (!kind) r_.fail(*readiness, "expected http, completion, tcp or none, got '" + r_.string(*readiness) + "'");
    if (*kind == Readiness::http && no_check) r_.fail(*readiness, "readiness http needs a checkEndpoint, not none");
    mc.readiness = *kind;
  }

  static bool uses_port(const std::vector<std::string>& argv) {
    for (const std::string& arg : argv) {
      if (arg.find(kPortMacro) != std::string::npos) return true;
    }
    return false;
  }

  // Checked as the supervisor will read it (${PORT} stands for any port), so that config check catches what would
  // otherwise fail only when a request comes.
  std::string checked_proxy(const Entry& e) const {
    std::string url = expanded(e);
    if (url.starts_with("https://")) r_.fail(e, "https engines are not supported yet (remote upstreams over TLS)");
    if (!url.starts_with("http://") || url.size() == 7 || url[7] == '/') {
      r_.fail(e, "expected an http:// URL such as http://127.0.0.1:${PORT}, got '" + url + "'");
    }
    while (url.ends_with('/')) url.pop_back();  // request paths are appended to it
    const std::string why = engine_url_problem(substitute(url, {{"PORT", "1"}}));
    if (!why.empty()) r_.fail(e, why + ", got '" + url + "'");
    return url;
  }

  void read_timing(ModelConfig& mc) const {
    mc.ttl = defaults_.ttl;
    if (const Entry* ttl = find("ttl")) {
      // llama-swap's "-1" means "use globalTTL", which is what an absent ttl does here.
      if (!(ttl->value.IsScalar() && ttl->value.Scalar() == "-1")) mc.ttl = r_.duration(*ttl);
    }
    const Entry* grace = find("stopGrace");
    mc.stop_grace = grace != nullptr ? r_.duration(*grace) : defaults_.stop_grace;
    if (const Entry* unload = find("unloadTimeout")) {  // llama-swap's name; 0 = the global value
      if (grace != nullptr) r_.fail(*unload, "set stopGrace or unloadTimeout (llama-swap's name), not both");
      const Duration d = r_.duration(*unload);
      if (d > Duration::zero()) mc.stop_grace = d;
    }
    const Entry* start = find("startTimeout");
    if (const Entry* check = find("healthCheckTimeout")) {  // llama-swap reads it only at the top level
      if (start != nullptr) r_.fail(*check, "set startTimeout or healthCheckTimeout, not both");
      start = check;
    }
    mc.start_timeout = start != nullptr ? r_.positive_duration(*start) : defaults_.start_timeout;
  }

  void read_env(ModelConfig& mc) const {
    const Entry* env = find("env");
    if (env == nullptr) return;
    for (const Item& item : r_.strings(*env)) {
      const size_t eq = item.value.find('=');
      if (eq == std::string::npos || eq == 0) {
        r_.fail(item.line, env->path, "expected NAME=value, got '" + item.value + "'");
      }
      mc.env.push_back(item.value.substr(0, eq + 1) + expand(item.value.substr(eq + 1), item.line, env->path));
    }
  }

  // A size, or a file / directory / glob whose model files are measured when the estimate is needed.
  void read_weights(ModelConfig& mc) const {
    const Entry* weights = find("weights");
    if (weights == nullptr) return;
    const std::string text = expanded(*weights);
    if (const std::optional<uint64_t> bytes = parse_size(text)) {
      if (*bytes == 0) r_.fail(*weights, "must be greater than 0");
      mc.weights_bytes = bytes;
      return;
    }
    mc.weights_path = expand_home(text);
    if (mc.weights_path.empty()) r_.fail(*weights, "expected a size (e.g. 4.5GiB) or a path");
    if (!weights_size(mc.weights_path)) {
      r_.warn(*weights, "nothing to measure at '" + mc.weights_path +
                            "' (no such file, or no .gguf/.safetensors/.npz files): the estimate uses cmd instead");
    }
  }

  void read_labels(ModelConfig& mc) const {
    if (const Entry* e = find("useModelName")) mc.use_model_name = expanded(*e);
    if (const Entry* e = find("unlisted")) mc.unlisted = r_.boolean(*e);
    if (const Entry* e = find("pin")) mc.pinned = r_.boolean(*e);
    if (const Entry* e = find("sendLoadingState")) mc.send_loading_state = r_.boolean(*e);
    if (const Entry* e = find("name")) mc.name = r_.string(*e);
    if (const Entry* e = find("description")) mc.description = r_.string(*e);
  }

  Reader& r_;
  const Entry& model_;
  const ModelDefaults& defaults_;
  std::vector<std::string>& secrets_;
  std::map<std::string, Entry> fields_;
  std::map<std::string, std::string> macros_;
};

// Aliases share one namespace with model ids: a name must lead to exactly one model.
void read_aliases(Reader& r, const Entry* aliases, const std::set<std::string>& ids, ModelConfig& mc,
                  std::map<std::string, std::string>& taken) {
  if (aliases == nullptr) return;
  for (const Item& item : r.strings(*aliases)) {
    if (item.value.empty()) r.fail(item.line, aliases->path, "an alias cannot be empty");
    const auto owner = taken.find(item.value);
    if (ids.count(item.value) != 0 || owner != taken.end()) {
      const std::string& user = owner != taken.end() ? owner->second : item.value;
      r.fail(item.line, aliases->path, "alias '" + item.value + "' is already used by model '" + user + "'");
    }
    taken.emplace(item.value, mc.id);
    mc.aliases.push_back(item.value);
  }
}

// llama-swap makes each setParamsByID key (but the model's own id) an alias of the model.
void add_param_aliases(Reader& r, const Entry* filters, const std::set<std::string>& ids, ModelConfig& mc,
                       std::map<std::string, std::string>& taken) {
  for (const auto& [name, fields] : mc.params.by_name) {
    if (name == mc.id) continue;
    const auto owner = taken.find(name);
    if (owner != taken.end() && owner->second == mc.id) continue;  // also written under aliases
    if (ids.count(name) != 0 || owner != taken.end()) {
      const std::string why = ids.count(name) != 0 ? "is another model's id" : "is already an alias of model '" +
                                                                                    owner->second + "'";
      r.fail(filters->line, filters->path + ".setParamsByID", "'" + name + "' " + why);
    }
    taken.emplace(name, mc.id);
    mc.aliases.push_back(name);
  }
}

}  // namespace

void read_models(Reader& r, const Entry& models, const ModelDefaults& defaults, Config& config) {
  const std::vector<Entry> entries = r.entries(models.value, models.path, models.line);
  if (entries.empty()) r.fail(models, "at least one model is required");
  std::set<std::string> ids;
  for (const Entry& m : entries) {
    if (m.name.empty()) r.fail(m.line, models.path, "a model id cannot be empty");
    ids.insert(m.name);
  }
  for (const Entry& m : entries) {
    ModelReader reader(r, m, defaults, config.secrets);
    ModelConfig mc = reader.read();
    read_aliases(r, reader.find("aliases"), ids, mc, config.aliases);
    add_param_aliases(r, reader.find("filters"), ids, mc, config.aliases);
    config.models.push_back(std::move(mc));
  }
}

}  // namespace llmux::config_detail

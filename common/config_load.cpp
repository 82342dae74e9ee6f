// Loading: reading the file, parsing YAML, the top-level keys. The `models` section is read by config_models.cpp.
#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>

#include "common/config_reader.hpp"
#include "common/endpoint.hpp"
#include "common/macros.hpp"
#include "common/redact.hpp"

namespace llmux {
namespace {

using config_detail::Entry;
using config_detail::line_of;
using config_detail::ModelDefaults;
using config_detail::Reader;
using Fields = std::map<std::string, Entry>;

// llmux's own settings, then the defaults for the models' resource-governance keys.
constexpr std::string_view kTopKeys[] = {
    "listen",             "logLevel",           "healthCheckTimeout", "globalTTL",          "stopGrace",
    "defaultModel",       "maxRequestBody",     "timeouts",           "macros",             "models",
    "memory",             "maxSwapsWaited",     "kvReservation",      "memoryUtilization",  "overhead",
    "maxMemory",          "maxTokens",          "params",             "maxConcurrency",     "queue",
    "priority",           "minResidency",       "scheduling",         "sendLoadingState",   "logRequests",
    "apiKeys",            "adminKeys",          "allowedHosts",       "cors",               "allowUnauthenticated",
    "maxConnections",     "maxResident",        "preload",            "returnToDefault",
    // llama-swap's, read by config_swap.cpp (or below: unloadTimeout)
    "includeAliasesInList", "unloadTimeout",      "groups",             "matrix",             "routing",
    "hooks",              "peers",
};
struct TimeoutKey {
  std::string_view name;
  Duration Timeouts::*field;
};
constexpr TimeoutKey kTimeoutKeys[] = {
    {"headerRead", &Timeouts::header_read},       {"bodyRead", &Timeouts::body_read},
    {"keepAlive", &Timeouts::keep_alive},         {"clientWrite", &Timeouts::client_write},
    {"engineConnect", &Timeouts::engine_connect}, {"engineFirstByte", &Timeouts::engine_first_byte},
    {"engineIdle", &Timeouts::engine_idle},       {"probe", &Timeouts::probe},
    {"probeInterval", &Timeouts::probe_interval}, {"shutdownGrace", &Timeouts::shutdown_grace},
};

const Entry* find(const Fields& fields, const char* name) {
  const auto it = fields.find(name);
  return it == fields.end() ? nullptr : &it->second;
}

std::optional<uint16_t> parse_port(std::string_view s) {
  if (s.empty() || s.size() > 5 || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  const int port = std::stoi(std::string(s));
  if (port > 65535) return std::nullopt;
  return static_cast<uint16_t>(port);
}

// "host:port", "[v6]:port", ":port" or "port"; an empty host means loopback, never all interfaces.
void read_listen(const Reader& r, const Entry& e, Config& c) {
  const std::string text = r.string(e);
  std::string host;
  std::string port = text;
  bool ok = true;
  if (text.starts_with('[')) {
    const size_t close = text.find("]:");
    ok = close != std::string::npos && close > 1;
    if (ok) {
      host = text.substr(1, close - 1);
      port = text.substr(close + 2);
    }
  } else if (const size_t colon = text.rfind(':'); colon != std::string::npos) {
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  const std::optional<uint16_t> number = parse_port(port);
  if (!ok || !number) r.fail(e, "expected host:port, :port or a port number, got '" + text + "'");
  c.listen_host = host.empty() ? "127.0.0.1" : host;
  c.listen_port = *number;
}

void read_log_level(const Reader& r, const Entry& e, Config& c) {
  const std::string text = r.string(e);
  std::string level = text;
  std::transform(level.begin(), level.end(), level.begin(), [](unsigned char ch) { return std::tolower(ch); });
  if (level == "warning") level = "warn";
  if (level == "trace") level = "debug";
  if (level != "debug" && level != "info" && level != "warn" && level != "error") {
    r.fail(e, "expected debug, info, warn or error, got '" + text + "'");
  }
  c.log_level = level;
}

void read_timeouts(Reader& r, const Entry& e, Timeouts& t) {
  for (const Entry& sub : r.entries(e.value, e.path, e.line)) {
    const auto* key = std::find_if(std::begin(kTimeoutKeys), std::end(kTimeoutKeys),
                                   [&](const TimeoutKey& k) { return k.name == sub.name; });
    if (key == std::end(kTimeoutKeys)) {
      std::vector<std::string_view> names;
      for (const auto& k : kTimeoutKeys) names.push_back(k.name);
      r.warn(sub, config_detail::unknown_key_reason(sub.name, names));
      continue;
    }
    t.*(key->field) = r.positive_duration(sub);
  }
}

void read_globals(Reader& r, const Fields& f, Config& c) {
  if (const Entry* e = find(f, "listen")) read_listen(r, *e, c);
  if (const Entry* e = find(f, "logLevel")) read_log_level(r, *e, c);
  if (const Entry* e = find(f, "logRequests")) c.log_requests = r.boolean(*e);
  if (const Entry* e = find(f, "timeouts")) read_timeouts(r, *e, c.timeouts);
  if (const Entry* e = find(f, "maxRequestBody")) {
    c.max_request_body = r.size(*e);
    if (c.max_request_body == 0) r.fail(*e, "must be greater than 0");
  }
  if (const Entry* e = find(f, "memory")) c.memory = config_detail::read_memory(r, *e);
  if (const Entry* e = find(f, "scheduling")) {
    const std::string v = r.string(*e);
    if (v != "grouped" && v != "fifo") r.fail(*e, "expected grouped or fifo, got '" + v + "'");
    c.naive_fifo = v == "fifo";
  }
  if (const Entry* e = find(f, "maxSwapsWaited")) {
    const int64_t n = r.integer_at_least(*e, 1, "must be at least 1");
    if (n > 1'000'000) r.fail(*e, "too large, got " + std::to_string(n));
    c.max_swaps_waited = static_cast<int>(n);
  }
}

constexpr std::string_view kCorsKeys[] = {"allowOrigins"};

// A list of keys (apiKeys, adminKeys): each one expanded with the global macros (${env.NAME} typically) and
// remembered as a secret. An empty key would let an empty Authorization through: refused.
std::vector<std::string> read_keys(Reader& r, const Entry& e, const ModelDefaults& d, Config& c) {
  std::vector<std::string> keys;
  for (const auto& item : r.strings(e)) {
    std::string key;
    try {
      key = expand_macros(item.value, d.macros, {}, d.env);
    } catch (const std::invalid_argument& ex) {
      r.fail(item.line, e.path, ex.what());
    }
    if (key.empty()) r.fail(item.line, e.path, "a key must not be empty");
    keys.push_back(key);
    if (std::find(c.secrets.begin(), c.secrets.end(), key) == c.secrets.end()) c.secrets.push_back(key);
  }
  return keys;
}

// An origin as browsers send it: scheme://host[:port], no path; or "*".
bool origin_shaped(const std::string& o) {
  if (o == "*") return true;
  const size_t scheme = o.find("://");
  return scheme != std::string::npos && scheme > 0 && o.size() > scheme + 3 &&
         o.find('/', scheme + 3) == std::string::npos;
}

void read_access(Reader& r, const Fields& f, const ModelDefaults& d, Config& c) {
  AccessConfig& a = c.access;
  if (const Entry* e = find(f, "apiKeys")) a.api_keys = read_keys(r, *e, d, c);
  if (const Entry* e = find(f, "adminKeys")) a.admin_keys = read_keys(r, *e, d, c);
  if (const Entry* e = find(f, "allowUnauthenticated")) a.allow_unauthenticated = r.boolean(*e);
  if (const Entry* e = find(f, "allowedHosts")) {
    for (const auto& item : r.strings(*e)) {
      std::string host = item.value;
      std::transform(host.begin(), host.end(), host.begin(), [](unsigned char ch) { return std::tolower(ch); });
      if (host.empty() || host.find_first_of(" /@") != std::string::npos)
        r.fail(item.line, e->path, "expected a host name (e.g. myhost.local) or \"*\", got '" + item.value + "'");
      a.allowed_hosts.push_back(host);
    }
  }
  if (const Entry* e = find(f, "cors")) {
    const Fields cors = r.fields(e->value, e->path, e->line, {kCorsKeys, {}});
    if (const Entry* o = find(cors, "allowOrigins")) {
      for (const auto& item : r.strings(*o)) {
        std::string origin = item.value;
        while (origin.size() > 1 && origin.back() == '/') origin.pop_back();
        if (!origin_shaped(origin))
          r.fail(item.line, o->path, "expected an origin such as http://localhost:3000 (scheme://host[:port]) or "
                 "\"*\", got '" + item.value + "'");
        a.allow_origins.push_back(origin);
      }
    }
  }
  if (const Entry* e = find(f, "maxConnections")) {
    const int64_t n = r.integer_at_least(*e, 8, "must be at least 8");
    if (n > 1'000'000) r.fail(*e, "too large, got " + std::to_string(n));
    c.max_connections = static_cast<int>(n);
  }
  if (std::string why = exposure_error(c.listen_host, a); !why.empty()) {
    const Entry* listen = find(f, "listen");
    r.fail(listen ? listen->line : 0, "listen", why);
  }
}

ModelDefaults read_defaults(Reader& r, const Fields& f, EnvLookup env) {
  ModelDefaults d;
  d.env = std::move(env);
  if (const Entry* e = find(f, "healthCheckTimeout")) d.start_timeout = r.positive_duration(*e);
  if (const Entry* e = find(f, "globalTTL")) d.ttl = r.duration(*e);
  if (const Entry* e = find(f, "stopGrace")) d.stop_grace = r.duration(*e);
  if (const Entry* e = find(f, "unloadTimeout")) {  // llama-swap's name; 0 = its default, 10s
    if (find(f, "stopGrace") != nullptr) r.fail(*e, "set stopGrace or unloadTimeout (llama-swap's name), not both");
    const Duration grace = r.duration(*e);
    d.stop_grace = grace > Duration::zero() ? grace : Duration(10000);
  }
  if (const Entry* e = find(f, "macros")) d.macros = config_detail::read_macros(r, *e);
  config_detail::read_limits(r, f, d.limits);
  if (const Entry* e = find(f, "sendLoadingState")) d.limits.send_loading_state = r.boolean(*e);
  return d;
}

void read_default_model(const Reader& r, const Entry& e, Config& c) {
  c.default_model = r.string(e);
  if (c.resolve(c.default_model) == nullptr) {
    r.fail(e, "'" + c.default_model + "' is not a model id or alias; available: " + c.available_names());
  }
}

std::string absolute_path(const std::string& path) {
  if (path.empty()) return path;
  std::error_code ec;
  const std::filesystem::path abs = std::filesystem::absolute(path, ec);
  return ec ? path : abs.lexically_normal().string();
}

void fill(const YAML::Node& root, const std::string& file, const EnvLookup& env, Config& config) {
  Reader r(file, config.warnings);
  if (root.IsDefined() && !root.IsNull() && !root.IsMap()) {
    r.fail(line_of(root), "", "expected a map of settings at the top level");
  }
  const Fields fields = r.fields(root, "", line_of(root), {kTopKeys, config_detail::kSwapTopNotes});
  const Entry* models = find(fields, "models");
  if (models == nullptr) r.fail(0, "models", "at least one model is required");
  read_globals(r, fields, config);
  const ModelDefaults defaults = read_defaults(r, fields, recording_env(env, config.secrets));
  read_access(r, fields, defaults, config);
  config_detail::read_models(r, *models, defaults, config);
  config_detail::read_swap_top(r, fields, defaults, config);
  config_detail::read_residency(r, fields, config);
  if (const Entry* e = find(fields, "defaultModel")) read_default_model(r, *e, config);
  if (const Entry* e = find(fields, "returnToDefault")) {
    config.return_to_default = r.boolean(*e);
    if (config.return_to_default && config.default_model.empty())
      r.fail(*e, "needs defaultModel: the model to return to once the others have gone idle");
  }
}

// An error or warning may quote a value that came from a secret (e.g. "proxy: expected an http:// URL, got '...'"
// after ${env.NAME} substitution): they leave the loader redacted with the secrets found so far. A value can be
// quoted only after it was expanded, so its secret is known by then.
std::shared_ptr<const Config> build(const YAML::Node& root, const std::string& file, const EnvLookup& env) {
  auto config = std::make_shared<Config>();
  config->path = absolute_path(file);
  try {
    fill(root, file, env, *config);
  } catch (const ConfigError& e) {
    const Redactor redactor(config->secrets);
    if (redactor.empty()) throw;
    throw ConfigError(e.file(), e.line(), e.key(), redactor.redacted(e.reason()));
  }
  const Redactor redactor(config->secrets);
  for (std::string& w : config->warnings) redactor.redact(w);
  return config;
}

int mark_line(const YAML::Mark& mark) { return mark.is_null() ? 0 : mark.line + 1; }

std::string read_file(const std::string& path) {
  const auto cannot_read = [&](int err) {
    return ConfigError(path, 0, "", std::string("cannot read: ") + std::strerror(err));
  };
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) throw cannot_read(errno);
  std::string text;
  char buf[65536];
  size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, f.get())) > 0) text.append(buf, n);
  if (std::ferror(f.get()) != 0) throw cannot_read(errno);  // e.g. EISDIR: fopen accepts a directory
  return text;
}

}  // namespace

std::shared_ptr<const Config> load_config_text(const std::string& text, const std::string& path_for_errors,
                                               const EnvLookup& env) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::ParserException& e) {
    throw ConfigError(path_for_errors, mark_line(e.mark), "", e.msg);
  }
  try {
    return build(root, path_for_errors, env);
  } catch (const YAML::Exception& e) {  // not expected: reads check node types first
    throw ConfigError(path_for_errors, mark_line(e.mark), "", e.msg);
  }
}

std::shared_ptr<const Config> load_config(const std::string& path) { return load_config_text(read_file(path), path); }

std::string exposure_error(const std::string& host, const AccessConfig& access) {
  if (loopback_name(host) || !access.api_keys.empty() || access.allow_unauthenticated) return "";
  return "listening on " + host + " (off loopback) without apiKeys would let anyone on the network use llmux; set "
         "apiKeys (e.g. - ${env.LLMUX_API_KEY}), or allowUnauthenticated: true if that is really meant";
}

std::string user_home() {
  if (const char* home = std::getenv("HOME"); home && *home) return home;
  const passwd* pw = ::getpwuid(::getuid());
  return pw && pw->pw_dir ? pw->pw_dir : "";
}

std::string default_config_path() {
  if (const char* env = std::getenv("LLMUX_CONFIG"); env && *env) return env;
  return user_home() + "/.config/llmux/config.yaml";
}

}  // namespace llmux

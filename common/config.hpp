// Config model and loader. load_config() reads a YAML file (llama-swap key names accepted where the concept is
// the same), validates it and returns an immutable Config; every failure throws ConfigError whose what() is one
// line "file:line: key.path: reason". Unknown keys do not fail: they are collected in Config::warnings.
// Pure: no Asio, no sockets; safe to call from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/macros.hpp"

namespace llmux {

class Redactor;
using Duration = std::chrono::milliseconds;

class ConfigError : public std::runtime_error {
 public:
  ConfigError(std::string file, int line, std::string key, std::string reason);
  const std::string& file() const { return file_; }
  int line() const { return line_; }  // 1-based; 0 when unknown
  const std::string& key() const { return key_; }
  const std::string& reason() const { return reason_; }

 private:
  std::string file_, key_, reason_;
  int line_;
};

// How llmux decides that a freshly spawned engine can take requests.
enum class Readiness {
  http,        // GET checkEndpoint until 200 (503 / refused = still loading). llama-server, vLLM, SGLang.
  completion,  // POST a 1-token completion until 200: for engines whose /health lies (mlx_lm.server).
  tcp,         // the port accepts a connection.
  none,        // ready as soon as spawned (llama-swap's checkEndpoint: none).
};
const char* to_string(Readiness r);

// `maxTokens`: output-token caps applied to each request (proxy/request_policy.hpp).
struct TokenCaps {
  std::optional<int64_t> default_tokens;  // set when the request names no output limit
  std::optional<int64_t> limit;           // largest output limit a request may ask for
  bool reject = false;                    // onExceed: reject (400) instead of clamp
  bool operator==(const TokenCaps&) const = default;
};

// `params` (and llama-swap `filters`): request fields set, forced or removed. Never touches `model`.
struct ParamRules {
  nlohmann::json defaults = nlohmann::json::object();  // set where the request has no value (objects deep-merged)
  nlohmann::json force = nlohmann::json::object();     // always set (objects deep-merged)
  std::vector<std::string> strip;                      // top-level fields removed from the request
  // llama-swap `filters.setParamsByID`: fields forced when the request names this id or alias (after `force`,
  // overriding it). Its keys are also the model's aliases.
  std::map<std::string, nlohmann::json> by_name;
  bool empty() const { return defaults.empty() && force.empty() && strip.empty() && by_name.empty(); }
  bool operator==(const ParamRules&) const = default;
};

// `queue`: requests waiting for this model.
struct QueueConfig {
  int max = 64;              // waiting requests beyond this are refused (>= 1)
  Duration timeout{300000};  // a request waiting longer is refused
  bool operator==(const QueueConfig&) const = default;
};

struct ModelConfig {
  std::string id;                      // key under `models`
  std::string name;                    // display name (llama-swap `name`), may be empty
  std::string description;             // llama-swap `description`
  std::vector<std::string> argv;       // `cmd` after macro expansion and word splitting; may hold "${PORT}"
  std::vector<std::string> stop_argv;  // `cmdStop` likewise; empty = SIGTERM the process group. May hold
                                       // "${PID}" and "${PORT}".
  std::vector<std::string> env;        // "NAME=value" entries added to the engine's environment
  std::string proxy;                   // engine base URL template, default "http://127.0.0.1:${PORT}"
  std::string check_endpoint;          // default "/health"; "none" → readiness none
  Readiness readiness = Readiness::http;
  Duration ttl{0};                     // 0 = never unload; falls back to globalTTL
  Duration stop_grace{10000};          // SIGTERM → SIGKILL escalation; falls back to top-level stopGrace
  Duration start_timeout{120000};      // healthCheckTimeout (global, per-model override `startTimeout`)
  std::vector<std::string> aliases;
  std::string use_model_name;          // `useModelName`: value forwarded as `model`; empty = forward id
  bool unlisted = false;
  bool send_loading_state = false;     // `sendLoadingState`: show load progress as reasoning_content deltas
  std::string remote;                  // a model without cmd whose proxy is a remote http(s) URL: that URL (its
                                       // engine is `llmux bridge`, see common/config_remote.cpp); "" otherwise
  nlohmann::json metadata;             // llama-swap `metadata` (macros expanded), shown in /v1/models; null if unset

  // Resource governance: each falls back to the top-level key of the same name (weights excepted).
  std::optional<uint64_t> kv_reservation;    // kvReservation: KV cache bytes (estimate; ${KV_BYTES} etc.)
  std::optional<double> memory_utilization;  // memoryUtilization: (0, 1], passed to engines via ${MEM_UTIL}
  std::optional<uint64_t> weights_bytes;     // weights: given as a size
  std::string weights_path;                  // weights: given as a file, directory or glob (~ expanded)
  std::optional<uint64_t> overhead;          // overhead: runtime memory beyond weights + KV; unset = per engine
  std::optional<uint64_t> max_memory;        // maxMemory: ceiling; unset = estimate x memory.ceilingSlack
  TokenCaps max_tokens;                      // maxTokens
  ParamRules params;                         // params + llama-swap filters
  int max_concurrency = 0;                   // maxConcurrency; 0 = unlimited
  bool refuse_over_limit = false;            // llama-swap concurrencyLimit: a request beyond max_concurrency gets
                                             // 429 at once instead of waiting in the queue
  QueueConfig queue;                         // queue
  int priority = 0;                          // priority: higher is loaded first when several models wait
  Duration min_residency{0};                 // minResidency: serve the queue at least this long before eviction
  bool pinned = false;                       // pin: once loaded, never evicted for another model nor stopped by
                                             // the idle TTL (unload, reload, a ceiling and critical pressure still stop it)

  // The `model` value the engine should receive.
  const std::string& forwarded_name() const { return use_model_name.empty() ? id : use_model_name; }
  bool operator==(const ModelConfig&) const = default;
};

struct Timeouts {
  Duration header_read{10000};       // whole client request head (slowloris bound)
  Duration body_read{60000};         // whole client request body
  Duration keep_alive{60000};        // idle client connection between requests
  Duration client_write{60000};      // one write to the client making no progress
  Duration engine_connect{5000};     // TCP connect to the engine
  Duration engine_first_byte{600000};// engine response header (prompt processing can be long)
  Duration engine_idle{300000};      // gap between two chunks of an engine response
  Duration probe{2000};              // one readiness probe
  Duration probe_interval{20};       // between readiness probes
  Duration shutdown_grace{30000};    // in-flight requests on SIGTERM/SIGINT before the worker is stopped
  bool operator==(const Timeouts&) const = default;
};

// `memory.budget`, `memory.reserve`: a share of physical memory or an absolute size.
struct MemoryAmount {
  double fraction = 0;  // (0, 1] of physical memory; 0 when `bytes` is used
  uint64_t bytes = 0;
  uint64_t resolve(uint64_t physical) const {
    return fraction > 0 ? static_cast<uint64_t>(fraction * static_cast<double>(physical)) : bytes;
  }
  bool operator==(const MemoryAmount&) const = default;
};

enum class OnCeiling { evict, restart };         // what happens to an engine that grows past its ceiling
enum class PressureLevel { warning, critical };  // system memory pressure levels
const char* to_string(OnCeiling c);
const char* to_string(PressureLevel p);

// `memory.pressure`: when system memory pressure makes llmux evict the resident engine.
struct PressureConfig {
  PressureLevel evict_at = PressureLevel::warning;
  double psi_warning = 10;   // Linux PSI "some avg10" percent counted as warning
  double psi_critical = 40;  // ... and as critical
  bool operator==(const PressureConfig&) const = default;
};

// `memory`: the machine-wide budget engines must fit in.
struct MemoryConfig {
  MemoryAmount budget{0.8, 0};          // what engines may use together
  MemoryAmount reserve{0, 2ull << 30};  // kept free for everything else
  double ceiling_slack = 1.25;          // ceiling = estimate x this when maxMemory is not set
  OnCeiling on_ceiling = OnCeiling::evict;
  Duration swap_wait{10000};       // before a spawn, how long to wait for memory to become available (e.g. an
                                   // unloaded engine's memory coming back) before refusing
  Duration sample_interval{1000};  // memory sampling period (>= 100ms)
  Duration idle_sample_interval{30000};  // sampling period while the resident engine is idle (0 = off, >= 1s)
  uint64_t gpu_reserve = 512ull << 20;   // gpuReserve: kept free on a discrete GPU when admitting an engine
  double learned_slack = 0.1;            // learnedSlack: admission uses a learned peak x (1 + this)
  PressureConfig pressure;
  bool operator==(const MemoryConfig&) const = default;
};

// Who may talk to llmux (docs/security.md). Every route but /health passes this guard first.
struct AccessConfig {
  std::vector<std::string> allowed_hosts;  // allowedHosts: Host names accepted besides loopback ones ("*" = any)
  std::vector<std::string> allow_origins;  // cors.allowOrigins: browser origins allowed ("*" = any); empty = none
  std::vector<std::string> api_keys;       // apiKeys (after ${env.*} expansion); empty = no key needed
  std::vector<std::string> admin_keys;     // adminKeys: keys for admin routes; empty = apiKeys serve them too
  bool allow_unauthenticated = false;      // allowUnauthenticated: listen off loopback without keys, on purpose
  bool operator==(const AccessConfig&) const = default;
};

// llama-swap's routing groups (`groups`, `routing.router.settings.groups`): which models may be resident together
// (proxy/policy/residency_rules.hpp; the differences from llama-swap are in docs/configuration.md). `swap`: one
// member resident at a time; `exclusive`: loading a member evicts every other group's models but persistent
// groups'; `persistent`: its members are not evicted by other groups' exclusivity. Models in no group form
// llama-swap's implicit group (swap and exclusive) when any group is configured.
struct ModelGroup {
  std::string id;
  bool swap = true, exclusive = true, persistent = false;
  std::vector<std::string> members;  // model ids
  bool operator==(const ModelGroup&) const = default;
};

struct Config {
  std::string path;                  // file it was loaded from (absolute)
  std::string listen_host = "127.0.0.1";
  uint16_t listen_port = 8484;       // 0 = pick an ephemeral port (tests)
  std::string log_level = "info";    // logLevel: debug|info|warn|error
  bool log_requests = true;          // logRequests: one PERF line per request (at info)
  std::string default_model;         // defaultModel: used when a request names no model; may be an alias
  uint64_t max_request_body = 32ull << 20;  // maxRequestBody
  int max_connections = 1024;        // maxConnections: open client connections (idle keep-alive ones closed first)
  AccessConfig access;               // allowedHosts, cors, apiKeys, adminKeys, allowUnauthenticated
  std::vector<std::string> secrets;  // values never printed (keys, ${env.*} substitutions; no repeats): redacted
                                     // in logs, /logs, /config, /status and error messages
  Timeouts timeouts;
  MemoryConfig memory;               // memory
  int max_swaps_waited = 3;          // maxSwapsWaited: no request waits behind more swaps than this
  bool naive_fifo = false;           // scheduling: fifo (strict arrival order; a benchmark baseline) | grouped
  std::vector<ModelConfig> models;   // in file order
  std::optional<bool> include_aliases_in_list;  // includeAliasesInList: unset = aliases listed with alias_of;
                                                // false = not listed; true = listed like their model (llama-swap)
  bool return_to_default = false;    // returnToDefault: once a model's idle TTL unloads it, load defaultModel
                                     // again if it is not resident (it fits without evicting anything)
  size_t max_resident = 1;           // maxResident: engines resident at once; 0 = as many as the memory budget
                                     // admits. Unset: 1, or 0 when `groups` are configured (llama-swap runs
                                     // several groups at once)
  std::vector<ModelGroup> groups;    // llama-swap groups, in file order (members: model ids)
  std::vector<std::string> preload;  // models started at startup: `preload` then llama-swap's
                                     // hooks.on_startup.preload; model ids, no repeats, in that order
  std::map<std::string, std::string> aliases;  // alias → model id (all models' aliases)
  std::vector<std::string> warnings; // "file:line: key: unknown key, ignored" etc.

  const ModelConfig* find_model(const std::string& id) const;
  // Model id for a requested name (id or alias); nullptr if none.
  const ModelConfig* resolve(const std::string& name) const;
  // "a, b, c": ids and aliases that clients may name (unlisted ones excluded), for error messages.
  std::string available_names() const;
};

// Throws ConfigError. `${env.NAME}` reads `env` (the process environment by default). Every value substituted
// from it (but see env_value_is_secret) and every API / admin key is listed in Config::secrets; the messages of a
// ConfigError and Config::warnings already have those values redacted (common/redact.hpp).
std::shared_ptr<const Config> load_config(const std::string& path);
std::shared_ptr<const Config> load_config_text(const std::string& text, const std::string& path_for_errors,
                                               const EnvLookup& env = process_env());

// The config file's text fit to show (GET /config): each key written literally under apiKeys / adminKeys replaced by
// Redactor::kMark, whatever its length or quoting (an entry holding a ${...} macro is left as written), then every
// secret `redactor` knows, wherever it appears. Text that is not valid YAML gets the second step only.
std::string redacted_config_text(const std::string& text, const Redactor& redactor);

// Absolute paths in the models' commands (a word, or the value of --flag=/path) that do not exist: most likely a
// typo or a model not downloaded yet, said by `config check` and at start rather than when the engine fails.
// Reads the file system.
std::vector<std::string> missing_paths(const Config& c);

// "" when listening on `host` is safe with `access`; else one line naming the fix (a listen off loopback needs
// API keys, or allowUnauthenticated: true said explicitly).
std::string exposure_error(const std::string& host, const AccessConfig& access);

// The user's home: $HOME, else the password database ("" when neither says).
std::string user_home();
// Where `llmux serve` (and `config check`, `service install`) look without --config: $LLMUX_CONFIG, else
// ~/.config/llmux/config.yaml.
std::string default_config_path();

// Durations: integer (seconds), or "<n>ms|s|m|h" (e.g. "500ms", "30s", "5m", "1h"). nullopt if malformed.
std::optional<Duration> parse_duration(const std::string& text);
// Sizes: integer bytes or "<n>[.<f>](B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)". nullopt if malformed.
std::optional<uint64_t> parse_size(const std::string& text);

}  // namespace llmux

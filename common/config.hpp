// Config model and loader. load_config() reads a YAML file (llama-swap key names accepted where the concept is
// the same), validates it and returns an immutable Config; every failure throws ConfigError whose what() is one
// line "file:line: key.path: reason". Unknown keys do not fail: they are collected in Config::warnings.
// Pure: no Asio, no sockets; safe to call from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace llmux {

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

  // The `model` value the engine should receive.
  const std::string& forwarded_name() const { return use_model_name.empty() ? id : use_model_name; }
  bool operator==(const ModelConfig&) const = default;
};

struct Timeouts {
  Duration header_read{10000};       // client request header (slowloris bound)
  Duration body_read{60000};         // client request body
  Duration keep_alive{60000};        // idle client connection between requests
  Duration client_write{60000};      // one write to the client making no progress
  Duration engine_connect{5000};     // TCP connect to the engine
  Duration engine_first_byte{600000};// engine response header (prompt processing can be long)
  Duration engine_idle{300000};      // gap between two chunks of an engine response
  Duration probe{2000};              // one readiness probe
  Duration probe_interval{50};       // between readiness probes
  Duration shutdown_grace{30000};    // in-flight requests on SIGTERM/SIGINT before the worker is stopped
  bool operator==(const Timeouts&) const = default;
};

struct Config {
  std::string path;                  // file it was loaded from (absolute)
  std::string listen_host = "127.0.0.1";
  uint16_t listen_port = 8484;       // 0 = pick an ephemeral port (tests)
  std::string log_level = "info";    // logLevel: debug|info|warn|error
  std::string default_model;         // defaultModel: used when a request names no model; may be an alias
  uint64_t max_request_body = 32ull << 20;  // maxRequestBody
  Timeouts timeouts;
  std::vector<ModelConfig> models;   // in file order
  std::map<std::string, std::string> aliases;  // alias → model id (all models' aliases)
  std::vector<std::string> warnings; // "file:line: key: unknown key, ignored" etc.

  const ModelConfig* find_model(const std::string& id) const;
  // Model id for a requested name (id or alias); nullptr if none.
  const ModelConfig* resolve(const std::string& name) const;
  // "a, b, c": ids and aliases that clients may name (unlisted ones excluded), for error messages.
  std::string available_names() const;
};

// Throws ConfigError. `env` lookups use the process environment.
std::shared_ptr<const Config> load_config(const std::string& path);
std::shared_ptr<const Config> load_config_text(const std::string& text, const std::string& path_for_errors);

// Durations: integer (seconds), or "<n>ms|s|m|h" (e.g. "500ms", "30s", "5m", "1h"). nullopt if malformed.
std::optional<Duration> parse_duration(const std::string& text);
// Sizes: integer bytes or "<n>[.<f>](B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)". nullopt if malformed.
std::optional<uint64_t> parse_size(const std::string& text);

}  // namespace llmux

// Internal to the config loader (config_*.cpp), not part of the public API: typed reads of YAML nodes.
// Every failed read throws ConfigError at the line of the key it concerns (or of the list element); unknown keys
// are not errors, they become warnings. Lines are yaml-cpp marks + 1; 0 when yaml-cpp has no mark.
#pragma once

#include <yaml-cpp/yaml.h>

#include <functional>
#include <map>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/config.hpp"
#include "common/macros.hpp"

namespace llmux::config_detail {

int line_of(const YAML::Node& node);

// "unknown key, ignored", with "; did you mean 'globalTTL'?" when a known key is a typo or a case away.
std::string unknown_key_reason(std::string_view name, std::span<const std::string_view> known);

// One `key: value` pair of a YAML map.
struct Entry {
  std::string name;  // the key as written
  std::string path;  // dotted path from the root, e.g. "models.qwen.ttl"
  int line = 0;      // line of the key
  YAML::Node value;
};

// A list element with the line it sits on.
struct Item {
  std::string value;
  int line = 0;
};

// A llama-swap key llmux reads but does not act on, with the reason said in the warning
// ("llama-swap's X: llmux does Y instead").
struct KeyNote {
  std::string_view name;
  std::string_view reason;
};

// Which keys a map may hold. `noted` are llama-swap keys llmux accepts and warns about (never "unknown key").
struct KeySet {
  std::span<const std::string_view> known;
  std::span<const KeyNote> noted;
};

class Reader {
 public:
  Reader(std::string file, std::vector<std::string>& warnings) : file_(std::move(file)), warnings_(warnings) {}

  [[noreturn]] void fail(int line, const std::string& path, const std::string& reason) const;
  [[noreturn]] void fail(const Entry& e, const std::string& reason) const { fail(e.line, e.path, reason); }
  void warn(const Entry& e, const std::string& reason);

  // Known entries of a map by name; other keys become warnings. A null value reads as an empty map.
  // Throws on a non-map, a non-string key or a key written twice.
  std::map<std::string, Entry> fields(const YAML::Node& map, const std::string& path, int line, KeySet keys);
  // Every entry of a map in file order (for maps whose keys are data: models, macros, timeouts).
  // YAML merge keys (`<<: *anchor`) are applied.
  std::vector<Entry> entries(const YAML::Node& map, const std::string& path, int line) const;

  std::string string(const Entry& e) const;
  bool boolean(const Entry& e) const;
  Duration duration(const Entry& e) const;
  Duration positive_duration(const Entry& e) const;
  uint64_t size(const Entry& e) const;
  std::vector<Item> strings(const Entry& e) const;  // a null value reads as an empty list
  int64_t integer(const Entry& e) const;            // decimal, optionally signed
  int64_t integer_at_least(const Entry& e, int64_t min, const std::string& reason) const;
  double number(const Entry& e) const;              // integer or decimal fraction

 private:
  void append_merged(const YAML::Node& source, const std::string& path, int line, std::vector<Entry>& merged) const;

  std::string file_;
  std::vector<std::string>& warnings_;
};

// A YAML value as JSON (YAML 1.2 core schema for plain scalars; quoted scalars are strings). `expand`, when set,
// is applied to every scalar first; a scalar that is exactly one ${macro} then takes the type of its value, quoted
// or not (llama-swap's `metadata`: `port: ${PORT}` stays a number).
using ScalarExpander = std::function<std::string(const std::string& text, int line, const std::string& path)>;
nlohmann::json yaml_to_json(const Reader& r, const YAML::Node& node, const std::string& path, int line,
                            const ScalarExpander* expand = nullptr);

// Macros of a `macros` map (global or per model), names and values checked. Throws ConfigError.
std::map<std::string, std::string> read_macros(Reader& r, const Entry& e);

// Top-level values models fall back on.
struct ModelDefaults {
  Duration ttl{0};
  Duration stop_grace{10000};
  Duration start_timeout{120000};
  std::map<std::string, std::string> macros;
  EnvLookup env;       // what ${env.NAME} reads; it records the values it returns in Config::secrets
  ModelConfig limits;  // only the resource-governance fields (kvReservation, maxTokens, params, queue, ...)
};

// --- Resource governance (config_limits.cpp, config_params.cpp) ---

// Keys that may be written per model and at the top level (the top-level value is the models' default).
// Each one present in `fields` replaces the value in `mc`; `queue` is merged field by field.
void read_limits(Reader& r, const std::map<std::string, Entry>& fields, ModelConfig& mc);
// The top-level `memory` map.
MemoryConfig read_memory(Reader& r, const Entry& e);
// `params`: {defaults: map, force: map, strip: [names]}; YAML values become JSON. `model` is refused.
ParamRules read_params(Reader& r, const Entry& e);
// llama-swap `filters`: stripParams (or its legacy name strip_params: "a, b") joins `strip`, setParams joins `force`
// (params win), setParamsByID fills `by_name` (keys expanded with `expand`).
void merge_filters(Reader& r, const Entry& e, ParamRules& rules, const ScalarExpander& expand);

// ${KV_BYTES}, ${KV_MB}, ${KV_GB} and ${MEM_UTIL} for a model. An unset value becomes a marker that
// unset_memory_macro() finds in the expanded text, so a use of it can be reported at the key that uses it.
void add_memory_macros(const ModelConfig& mc, std::map<std::string, std::string>& macros);
// "uses ${KV_MB} but kvReservation is not set" when `expanded` holds a marker; empty otherwise.
std::string unset_memory_macro(const std::string& expanded);
extern const std::set<std::string> kMemoryMacros;

// --- llama-swap's keys (config_swap.cpp) ---

// Top-level llama-swap keys llmux reads and warns about, with their reasons.
extern const std::span<const KeyNote> kSwapTopNotes;
// Per-model ones.
extern const std::span<const KeyNote> kSwapModelNotes;
// Top-level llama-swap keys whose meaning llmux keeps: includeAliasesInList, unloadTimeout (as the models'
// stopGrace), groups / routing (priority honoured), hooks (preload), peers. Reads `fields`
// (the top-level map's known and noted entries) after the models are read.
void read_swap_top(Reader& r, const std::map<std::string, Entry>& fields, const ModelDefaults& defaults,
                   Config& config);
// llama-swap's `filters.setParamsByID` (keys expanded with `expand`; each becomes an alias unless it is the id).
void read_params_by_id(Reader& r, const Entry& e, const ScalarExpander& expand, ParamRules& rules);

// --- Co-residency (config_residency.cpp) ---

// `maxResident` (its default depends on `groups`), `preload` joined by the hooks' preload already in
// config.preload, and the pins checked against both and against the groups. After read_swap_top.
void read_residency(Reader& r, const std::map<std::string, Entry>& fields, Config& config);

// --- Remote models (config_remote.cpp) ---

// An http(s) URL without ${...}: a model without cmd whose proxy is one is a remote model.
bool is_remote_url(const std::string& url);
// Sets mc.remote, and mc.argv / proxy / env for its `llmux bridge`, from `url` (the expanded proxy) and the
// optional `remote` map {apiKey, headers, caFile, connectTimeout}; secrets found join `secrets`.
void read_remote(Reader& r, const Entry& proxy, const std::string& url, const Entry* remote,
                 const ScalarExpander& expand, std::vector<std::string>& secrets, ModelConfig& mc);

// Fills config.models and config.aliases from the `models` map. Throws ConfigError.
void read_models(Reader& r, const Entry& models, const ModelDefaults& defaults, Config& config);

}  // namespace llmux::config_detail

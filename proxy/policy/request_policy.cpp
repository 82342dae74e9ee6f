#include "proxy/policy/request_policy.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace llmux {
namespace {

using nlohmann::json;

constexpr std::string_view kSpellings[] = {"max_tokens", "max_completion_tokens", "max_output_tokens", "n_predict"};
constexpr std::string_view kModel = "model";

// The spelling a route expects when llmux adds a limit; "" for routes that do not generate text (embeddings,
// rerank, ...).
std::string_view route_spelling(std::string_view path) {
  path = path.substr(0, path.find('?'));
  while (path.size() > 1 && path.ends_with('/')) path.remove_suffix(1);
  if (path.starts_with("/v1/")) path.remove_prefix(3);
  if (path == "/responses") return "max_output_tokens";
  if (path == "/chat/completions" || path == "/completions" || path == "/messages") return "max_tokens";
  return "";
}

// A token count; integral floats (100.0) count, anything else is not one.
std::optional<int64_t> as_tokens(const json& value) {
  if (value.is_number_unsigned()) {
    const uint64_t u = value.get<uint64_t>();
    return static_cast<int64_t>(std::min<uint64_t>(u, std::numeric_limits<int64_t>::max()));
  }
  if (value.is_number_integer()) return value.get<int64_t>();
  if (value.is_number_float()) {
    const double d = value.get<double>();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9e18) return static_cast<int64_t>(d);
  }
  return std::nullopt;
}

std::string exceeds(std::string_view field, int64_t requested, int64_t limit) {
  std::string value = std::to_string(requested);
  if (requested < 0) value += " (unlimited)";
  return std::string(field) + " " + value + " exceeds this model's limit of " + std::to_string(limit);
}

struct Spelling {
  std::string_view name;
  int64_t tokens;
};

// Sets the route's spelling when the request names no limit.
void insert_default(json& body, std::string_view route_path, const TokenCaps& caps, CapResult& result) {
  const std::string_view spelling = route_spelling(route_path);
  const std::optional<int64_t> value = caps.default_tokens ? caps.default_tokens : caps.limit;
  if (spelling.empty() || !value) return;
  body[std::string(spelling)] = *value;
  result.field = spelling;
  result.applied = *value;
}

// Sets target[name] unless the client gave it (null counts as absent); objects are merged field by field.
bool fill_default(json& target, const std::string& name, const json& value) {
  const auto it = target.find(name);
  if (it == target.end() || it->is_null()) {
    target[name] = value;
    return true;
  }
  if (!it->is_object() || !value.is_object()) return false;
  bool changed = false;
  for (const auto& [key, nested] : value.items()) changed = fill_default(*it, key, nested) || changed;
  return changed;
}

// Sets target[name]; objects are merged field by field so that sibling fields the client set survive.
bool force_field(json& target, const std::string& name, const json& value) {
  const auto it = target.find(name);
  if (it != target.end() && it->is_object() && value.is_object()) {
    bool changed = false;
    for (const auto& [key, nested] : value.items()) changed = force_field(*it, key, nested) || changed;
    return changed;
  }
  if (it != target.end() && *it == value) return false;
  target[name] = value;
  return true;
}

void note(std::vector<std::string>& names, const std::string& name) {
  if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
}

}  // namespace

CapResult apply_token_caps(json& body, std::string_view route_path, const TokenCaps& caps) {
  CapResult result;
  if (!body.is_object()) return result;
  bool present = false;
  std::vector<Spelling> over;  // present spellings above the limit
  for (std::string_view name : kSpellings) {
    const auto it = body.find(name);
    if (it == body.end() || it->is_null()) continue;
    present = true;
    if (!caps.limit) continue;
    const std::optional<int64_t> tokens = as_tokens(*it);
    if (!tokens) {
      result.error = bad_request(std::string(name) + " must be an integer, got " + it->dump());
      return result;
    }
    if (*tokens < 0 || *tokens > *caps.limit) over.push_back({name, *tokens});
  }
  if (!present) {
    insert_default(body, route_path, caps, result);
    return result;
  }
  if (over.empty()) return result;
  if (caps.reject) {
    result.error = bad_request(exceeds(over.front().name, over.front().tokens, *caps.limit), "max_tokens_exceeded");
    return result;
  }
  for (const Spelling& s : over) body[std::string(s.name)] = *caps.limit;
  result.clamped = true;
  result.field = over.front().name;
  result.requested = over.front().tokens;
  result.applied = *caps.limit;
  return result;
}

std::vector<std::string> apply_param_rules(json& body, const ParamRules& rules, const std::string& requested) {
  std::vector<std::string> changed;
  if (!body.is_object()) return changed;
  for (const std::string& name : rules.strip) {
    if (name != kModel && body.erase(name) > 0) note(changed, name);
  }
  for (const auto& [name, value] : rules.defaults.items()) {
    if (name == kModel) continue;
    if (fill_default(body, name, value)) note(changed, name);
  }
  for (const auto& [name, value] : rules.force.items()) {
    if (name == kModel) continue;
    if (force_field(body, name, value)) note(changed, name);
  }
  if (const auto by = rules.by_name.find(requested); by != rules.by_name.end()) {
    for (const auto& [name, value] : by->second.items()) {
      if (name != kModel && force_field(body, name, value)) note(changed, name);
    }
  }
  return changed;
}

}  // namespace llmux

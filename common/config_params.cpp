// `params` and llama-swap `filters`: request fields llmux sets, forces or strips. YAML values become JSON with the
// YAML 1.2 core schema: quoted scalars are strings; plain ones are null, true/false, integers, floats or strings.
#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>

#include "common/config_reader.hpp"

namespace llmux::config_detail {
namespace {

using nlohmann::json;
using Fields = std::map<std::string, Entry>;

constexpr std::string_view kParamsKeys[] = {"defaults", "force", "strip"};
constexpr std::string_view kFilterKeys[] = {"stripParams", "setParams", "setParamsByID", "strip_params"};
constexpr std::string_view kProtected = "model";
const std::string kProtectedReason =
    "model is protected (llmux sets it; use useModelName to change what the engine receives)";

const Entry* find(const Fields& fields, const char* name) {
  const auto it = fields.find(name);
  return it == fields.end() ? nullptr : &it->second;
}

template <typename T>
std::optional<T> whole(const std::string& text) {
  T value{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

size_t skip_digits(std::string_view s, size_t i) {
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])) != 0) ++i;
  return i;
}

// YAML 1.2 core schema numbers: int [-+]?[0-9]+, float [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
// (.inf and .nan have no JSON form: they stay strings). Returns 0 = not a number, 1 = int, 2 = float.
int number_kind(std::string_view s) {
  size_t i = !s.empty() && (s[0] == '-' || s[0] == '+') ? 1 : 0;
  const size_t int_end = skip_digits(s, i);
  bool fractional = false;
  size_t end = int_end;
  if (end < s.size() && s[end] == '.') {
    fractional = true;
    end = skip_digits(s, end + 1);
    if (int_end == i && end == int_end + 1) return 0;  // "." alone
  } else if (int_end == i) {
    return 0;
  }
  if (end < s.size() && (s[end] == 'e' || s[end] == 'E')) {
    fractional = true;
    size_t exp = end + 1 < s.size() && (s[end + 1] == '-' || s[end + 1] == '+') ? end + 2 : end + 1;
    end = skip_digits(s, exp);
    if (end == exp) return 0;
  }
  if (end != s.size()) return 0;
  return fractional ? 2 : 1;
}

bool single_macro(const std::string& s) {
  return s.size() > 3 && s.starts_with("${") && s.ends_with('}') && s.find('}') == s.size() - 1;
}

json plain_scalar(const std::string& s) {
  if (s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  const int kind = number_kind(s);
  const std::string digits = s.starts_with('+') ? s.substr(1) : s;
  if (kind == 1) {
    if (const auto i = whole<int64_t>(digits)) return *i;
    if (const auto u = whole<uint64_t>(digits)) return *u;
  }
  if (kind != 0) {
    if (const auto d = whole<double>(digits); d && std::isfinite(*d)) return *d;
  }
  return s;
}

// A map of request fields (params.defaults, params.force, filters.setParams). `model` is refused, or with
// `lenient` (llama-swap filters) skipped with a warning.
json field_map(Reader& r, const Entry& e, bool lenient = false) {
  if (!e.value.IsMap() && !e.value.IsNull()) r.fail(e, "expected a map of request fields");
  json object = json::object();
  for (const Entry& field : r.entries(e.value, e.path, e.line)) {
    if (field.name == kProtected && !lenient) r.fail(field, kProtectedReason);
    if (field.name == kProtected) {
      r.warn(field, "model is protected, not set");
      continue;
    }
    object[field.name] = yaml_to_json(r, field.value, field.path, field.line);
  }
  return object;
}

void add_strip(std::vector<std::string>& strip, const std::string& name) {
  if (std::find(strip.begin(), strip.end(), name) == strip.end()) strip.push_back(name);
}

std::string trim(const std::string& s) {
  const size_t first = s.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return "";
  return s.substr(first, s.find_last_not_of(" \t\r\n") - first + 1);
}

}  // namespace

json yaml_to_json(const Reader& r, const YAML::Node& node, const std::string& path, int line,
                  const ScalarExpander* expand) {
  if (!node || node.IsNull()) return nullptr;
  if (node.IsMap()) {
    json object = json::object();
    for (const Entry& e : r.entries(node, path, line))
      object[e.name] = yaml_to_json(r, e.value, e.path, e.line, expand);
    return object;
  }
  if (node.IsSequence()) {
    json array = json::array();
    for (const YAML::Node& item : node) {
      array.push_back(yaml_to_json(r, item, path, line_of(item) != 0 ? line_of(item) : line, expand));
    }
    return array;
  }
  const std::string& tag = node.Tag();
  const bool quoted = tag == "!" || tag == "tag:yaml.org,2002:str";
  if (expand == nullptr) return quoted ? json(node.Scalar()) : plain_scalar(node.Scalar());
  const std::string value = (*expand)(node.Scalar(), line_of(node) != 0 ? line_of(node) : line, path);
  if (single_macro(node.Scalar()) || !quoted) return plain_scalar(value);
  return value;
}

ParamRules read_params(Reader& r, const Entry& e) {
  ParamRules rules;
  const Fields f = r.fields(e.value, e.path, e.line, {kParamsKeys, {}});
  if (const Entry* d = find(f, "defaults")) rules.defaults = field_map(r, *d);
  if (const Entry* force = find(f, "force")) rules.force = field_map(r, *force);
  if (const Entry* strip = find(f, "strip")) {
    for (const Item& item : r.strings(*strip)) {
      if (item.value.empty()) r.fail(item.line, strip->path, "a field name cannot be empty");
      if (item.value == kProtected) r.fail(item.line, strip->path, kProtectedReason);
      add_strip(rules.strip, item.value);
    }
  }
  return rules;
}

// llama-swap never strips `model` and says so in its docs; a config written for it that lists `model` still
// loads here, with a warning. `strip_params` is its legacy spelling, read when stripParams is absent or empty.
void merge_filters(Reader& r, const Entry& e, ParamRules& rules, const ScalarExpander& expand) {
  const Fields f = r.fields(e.value, e.path, e.line, {kFilterKeys, {}});
  const Entry* strip = find(f, "stripParams");
  if (const Entry* legacy = find(f, "strip_params")) {
    if (strip != nullptr && !trim(r.string(*strip)).empty()) {
      r.warn(*legacy, "llama-swap's legacy name for stripParams, which is also set and wins: ignored");
    } else {
      strip = legacy;
    }
  }
  if (strip != nullptr) {
    const std::string list = r.string(*strip);
    for (size_t start = 0; start <= list.size();) {
      const size_t comma = std::min(list.find(',', start), list.size());
      const std::string name = trim(list.substr(start, comma - start));
      start = comma + 1;
      if (name == kProtected) {
        r.warn(*strip, "model is protected, not stripped");
      } else if (!name.empty()) {
        add_strip(rules.strip, name);
      }
    }
  }
  if (const Entry* set = find(f, "setParams")) {
    const json fields = field_map(r, *set, true);
    for (const auto& [name, value] : fields.items()) {
      if (!rules.force.contains(name)) rules.force[name] = value;  // `params.force` wins
    }
  }
  if (const Entry* by_id = find(f, "setParamsByID")) read_params_by_id(r, *by_id, expand, rules);
}

// Each key (macros expanded: "${MODEL_ID}:high") names the requests whose fields are forced; `model` is skipped
// with a warning, as in setParams.
void read_params_by_id(Reader& r, const Entry& e, const ScalarExpander& expand, ParamRules& rules) {
  if (!e.value.IsMap() && !e.value.IsNull()) r.fail(e, "expected a map of model ids to request fields");
  for (const Entry& key : r.entries(e.value, e.path, e.line)) {
    const std::string name = expand(key.name, key.line, key.path);
    if (name.empty()) r.fail(key, "an id cannot be empty");
    if (name.find("${") != std::string::npos) r.fail(key, "unknown macro in '" + name + "'");
    if (rules.by_name.count(name) != 0) r.fail(key, "'" + name + "' is listed twice (after macro expansion)");
    rules.by_name[name] = field_map(r, key, true);
  }
}

}  // namespace llmux::config_detail

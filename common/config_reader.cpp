#include "common/config_reader.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>

namespace llmux::config_detail {
namespace {

bool contains(std::span<const std::string_view> names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

std::string join_path(const std::string& parent, const std::string& name) {
  return parent.empty() ? name : parent + "." + name;
}

std::string_view trimmed(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front())) != 0) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())) != 0) s.remove_suffix(1);
  return s;
}

// The whole of `text` as a T; a leading '+' is accepted (from_chars does not).
template <typename T>
std::optional<T> parse_whole(std::string_view text) {
  text = trimmed(text);
  if (text.starts_with('+')) text.remove_prefix(1);
  T value{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

bool valid_macro_name(const std::string& name) {
  const auto word = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_'; };
  if (name.empty() || !(word(name[0]) && std::isdigit(static_cast<unsigned char>(name[0])) == 0)) return false;
  return std::all_of(name.begin(), name.end(), [&](char c) { return word(c) || c == '.' || c == '-'; });
}

}  // namespace

int line_of(const YAML::Node& node) {
  const YAML::Mark mark = node.Mark();
  return mark.is_null() ? 0 : mark.line + 1;
}

void Reader::fail(int line, const std::string& path, const std::string& reason) const {
  throw ConfigError(file_, line, path, reason);
}

void Reader::warn(const Entry& e, const std::string& reason) {
  warnings_.push_back(ConfigError(file_, e.line, e.path, reason).what());
}

// YAML merge keys (`<<: *defaults`), which yaml-cpp 0.7 leaves to the application: keys written in the map win,
// then the merged maps in the order listed.
std::vector<Entry> Reader::entries(const YAML::Node& map, const std::string& path, int line) const {
  if (!map || map.IsNull()) return {};
  if (!map.IsMap()) fail(line, path, "expected a map");
  std::vector<Entry> out;
  std::vector<Entry> merged;
  std::map<std::string, int> seen;  // name → line of its first occurrence
  for (const auto& kv : map) {
    const int key_line = line_of(kv.first);
    if (!kv.first.IsScalar()) fail(key_line, path, "expected a string key");
    if (kv.first.Scalar() == "<<" && kv.first.Tag() != "!") {
      append_merged(kv.second, path, key_line, merged);
      continue;
    }
    Entry e{kv.first.Scalar(), join_path(path, kv.first.Scalar()), key_line, kv.second};
    // yaml-cpp 0.7 keeps both copies of a repeated key; the later one would silently win elsewhere.
    if (const auto [it, fresh] = seen.emplace(e.name, key_line); !fresh) {
      fail(e, "duplicate key (first defined at line " + std::to_string(it->second) + ")");
    }
    out.push_back(std::move(e));
  }
  for (Entry& e : merged) {
    if (seen.emplace(e.name, e.line).second) out.push_back(std::move(e));
  }
  return out;
}

void Reader::append_merged(const YAML::Node& source, const std::string& path, int line,
                           std::vector<Entry>& merged) const {
  if (source.IsMap()) {
    for (Entry& e : entries(source, path, line)) merged.push_back(std::move(e));
    return;
  }
  if (!source.IsSequence()) fail(line, path, "expected a map or a list of maps after <<");
  for (const YAML::Node& item : source) {
    if (!item.IsMap()) fail(line, path, "expected a map or a list of maps after <<");
    append_merged(item, path, line, merged);
  }
}

namespace {

// Edit distance between a and b, letters compared without case (globalTtl is one typo away from globalTTL: none).
size_t distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      const bool same = std::tolower(static_cast<unsigned char>(a[i - 1])) ==
                        std::tolower(static_cast<unsigned char>(b[j - 1]));
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (same ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

}  // namespace

std::string unknown_key_reason(std::string_view name, std::span<const std::string_view> known) {
  std::string_view best;
  size_t best_distance = std::max<size_t>(2, name.size() / 4) + 1;
  for (std::string_view k : known) {
    const size_t d = distance(name, k);
    if (d < best_distance) {
      best = k;
      best_distance = d;
    }
  }
  if (best.empty()) return "unknown key, ignored";
  return "unknown key, ignored; did you mean '" + std::string(best) + "'?";
}

std::map<std::string, Entry> Reader::fields(const YAML::Node& map, const std::string& path, int line, KeySet keys) {
  std::map<std::string, Entry> out;
  for (Entry& e : entries(map, path, line)) {
    if (contains(keys.known, e.name)) {
      out.emplace(e.name, std::move(e));
    } else if (const auto note = std::find_if(keys.noted.begin(), keys.noted.end(),
                                               [&](const KeyNote& n) { return n.name == e.name; });
               note != keys.noted.end()) {
      warn(e, "llama-swap's " + e.name + ": " + std::string(note->reason));
    } else {
      warn(e, unknown_key_reason(e.name, keys.known));
    }
  }
  return out;
}

std::string Reader::string(const Entry& e) const {
  if (!e.value.IsScalar()) fail(e, "expected a string");
  return e.value.Scalar();
}

bool Reader::boolean(const Entry& e) const {
  bool value = false;
  if (!e.value.IsScalar() || !YAML::convert<bool>::decode(e.value, value)) fail(e, "expected true or false");
  return value;
}

Duration Reader::duration(const Entry& e) const {
  if (!e.value.IsScalar()) fail(e, "expected a duration (e.g. 30s, 5m, 1h)");
  const std::string& text = e.value.Scalar();
  if (const size_t first = text.find_first_not_of(" \t"); first != std::string::npos && text[first] == '-') {
    fail(e, "a duration cannot be negative, got '" + text + "'");
  }
  const std::optional<Duration> d = parse_duration(text);
  if (!d) fail(e, "expected a duration (e.g. 30s, 5m, 1h), got '" + text + "'");
  return *d;
}

Duration Reader::positive_duration(const Entry& e) const {
  const Duration d = duration(e);
  if (d <= Duration::zero()) fail(e, "must be greater than 0, got '" + e.value.Scalar() + "'");
  return d;
}

uint64_t Reader::size(const Entry& e) const {
  if (!e.value.IsScalar()) fail(e, "expected a size (e.g. 512KiB, 32MiB, 1GB)");
  const std::optional<uint64_t> bytes = parse_size(e.value.Scalar());
  if (!bytes) fail(e, "expected a size (e.g. 512KiB, 32MiB, 1GB), got '" + e.value.Scalar() + "'");
  return *bytes;
}

int64_t Reader::integer(const Entry& e) const {
  if (!e.value.IsScalar()) fail(e, "expected an integer");
  const std::optional<int64_t> value = parse_whole<int64_t>(e.value.Scalar());
  if (!value) fail(e, "expected an integer, got '" + e.value.Scalar() + "'");
  return *value;
}

int64_t Reader::integer_at_least(const Entry& e, int64_t min, const std::string& reason) const {
  const int64_t value = integer(e);
  if (value < min) fail(e, reason + ", got " + std::to_string(value));
  return value;
}

double Reader::number(const Entry& e) const {
  if (!e.value.IsScalar()) fail(e, "expected a number");
  const std::optional<double> value = parse_whole<double>(e.value.Scalar());
  if (!value || !std::isfinite(*value)) fail(e, "expected a number, got '" + e.value.Scalar() + "'");
  return *value;
}

std::vector<Item> Reader::strings(const Entry& e) const {
  if (!e.value || e.value.IsNull()) return {};
  if (!e.value.IsSequence()) fail(e, "expected a list of strings");
  std::vector<Item> out;
  for (const YAML::Node& item : e.value) {
    const int line = line_of(item) != 0 ? line_of(item) : e.line;
    if (!item.IsScalar()) fail(line, e.path, "expected a list of strings");
    out.push_back({item.Scalar(), line});
  }
  return out;
}

std::map<std::string, std::string> read_macros(Reader& r, const Entry& e) {
  static const std::set<std::string> kReserved = {"PORT", "MODEL_ID", "PID", "KV_BYTES", "KV_MB", "KV_GB", "MEM_UTIL"};
  std::map<std::string, std::string> macros;
  for (const Entry& m : r.entries(e.value, e.path, e.line)) {
    if (kReserved.count(m.name) != 0) r.fail(m, "'" + m.name + "' is a reserved macro name (llmux sets it)");
    if (m.name.starts_with("env.")) {
      r.fail(m, "macro names starting with 'env.' are reserved for environment variables");
    }
    if (!valid_macro_name(m.name)) {
      r.fail(m, "invalid macro name: use letters, digits, '_', '.' or '-', starting with a letter or '_'");
    }
    macros[m.name] = r.string(m);
  }
  return macros;
}

}  // namespace llmux::config_detail

// Config model: the error type, lookups, and the duration/size grammars. Loading lives in config_load.cpp and
// config_models.cpp.
#include "common/config.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <string_view>

#include "common/ascii.hpp"
#include "common/redact.hpp"

namespace llmux {
namespace {

std::string error_line(const std::string& file, int line, const std::string& key, const std::string& reason) {
  std::string s = file;
  if (line > 0) s += ":" + std::to_string(line);
  s += ": ";
  if (!key.empty()) s += key + ": ";
  return s + reason;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front())) != 0) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())) != 0) s.remove_suffix(1);
  return s;
}

// A leading unsigned decimal "123" or "1.25": its value and the length it spans; nullopt if there is none.
// A fraction needs digits on both sides of the dot.
struct Number {
  double value;
  size_t length;
  bool fractional;
};

std::optional<Number> leading_number(std::string_view s) {
  size_t i = 0;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])) != 0) ++i;
  if (i == 0) return std::nullopt;
  bool fractional = false;
  if (i + 1 < s.size() && s[i] == '.' && std::isdigit(static_cast<unsigned char>(s[i + 1])) != 0) {
    fractional = true;
    for (++i; i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])) != 0;) ++i;
  }
  double value = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + i, value);
  if (ec != std::errc() || end != s.data() + i) return std::nullopt;
  return Number{value, i, fractional};
}

// Integers are scaled exactly (overflow → nullopt); a fraction goes through double, where rounding is harmless.
std::optional<uint64_t> scaled(std::string_view digits, const Number& n, uint64_t unit) {
  if (n.fractional) {
    const double bytes = std::floor(n.value * static_cast<double>(unit));
    if (bytes >= 18446744073709551616.0) return std::nullopt;  // 2^64
    return static_cast<uint64_t>(bytes);
  }
  uint64_t count = 0, bytes = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), count);
  if (ec != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
  if (__builtin_mul_overflow(count, unit, &bytes)) return std::nullopt;
  return bytes;
}

}  // namespace

ConfigError::ConfigError(std::string file, int line, std::string key, std::string reason)
    : std::runtime_error(error_line(file, line, key, reason)),
      file_(std::move(file)),
      key_(std::move(key)),
      reason_(std::move(reason)),
      line_(line) {}

const char* to_string(Readiness r) {
  switch (r) {
    case Readiness::http:
      return "http";
    case Readiness::completion:
      return "completion";
    case Readiness::tcp:
      return "tcp";
    case Readiness::none:
      return "none";
  }
  return "unknown";
}

const char* to_string(OnCeiling c) { return c == OnCeiling::evict ? "evict" : "restart"; }

const char* to_string(PressureLevel p) { return p == PressureLevel::warning ? "warning" : "critical"; }

std::vector<std::string> missing_paths(const Config& c) {
  const Redactor redactor(c.secrets);  // a path may hold a ${env.*} value
  std::vector<std::string> out;
  for (const ModelConfig& m : c.models) {
    for (const std::string& word : m.argv) {
      const size_t eq = word.starts_with("-") ? word.find('=') : std::string::npos;
      const std::string path = eq == std::string::npos ? word : word.substr(eq + 1);
      if (!path.starts_with('/') || path.find("${") != std::string::npos) continue;
      std::error_code ec;
      if (!std::filesystem::exists(path, ec))
        out.push_back(redactor.redacted("models." + m.id + ".cmd: " + path + " does not exist"));
    }
  }
  return out;
}

const ModelConfig* Config::find_model(const std::string& id) const {
  const auto it = std::find_if(models.begin(), models.end(), [&](const ModelConfig& m) { return m.id == id; });
  return it == models.end() ? nullptr : &*it;
}

const ModelConfig* Config::resolve(const std::string& name) const {
  if (const ModelConfig* m = find_model(name)) return m;
  const auto it = aliases.find(name);
  return it == aliases.end() ? nullptr : find_model(it->second);
}

std::string Config::available_names() const {
  std::vector<std::string> names;
  for (const ModelConfig& m : models) {
    if (m.unlisted) continue;
    names.push_back(m.id);
    names.insert(names.end(), m.aliases.begin(), m.aliases.end());
  }
  std::sort(names.begin(), names.end());
  std::string joined;
  for (const std::string& n : names) joined += (joined.empty() ? "" : ", ") + n;
  return joined;
}

std::optional<Duration> parse_duration(const std::string& text) {
  const std::string_view s = trim(text);
  const std::optional<Number> n = leading_number(s);
  if (!n) return std::nullopt;
  const std::string_view unit = trim(s.substr(n->length));
  double ms_per_unit = 0;
  if (unit.empty() || unit == "s") {
    ms_per_unit = 1000;
  } else if (unit == "ms") {
    ms_per_unit = 1;
  } else if (unit == "m") {
    ms_per_unit = 60'000;
  } else if (unit == "h") {
    ms_per_unit = 3'600'000;
  } else {
    return std::nullopt;
  }
  const double ms = std::round(n->value * ms_per_unit);
  if (ms > 1e15) return std::nullopt;  // ~31,000 years: a typo, and beyond what timers should see
  return Duration(static_cast<Duration::rep>(ms));
}

std::optional<uint64_t> parse_size(const std::string& text) {
  static constexpr std::pair<std::string_view, uint64_t> kUnits[] = {
      {"b", 1},
      {"kb", 1000},
      {"mb", 1'000'000},
      {"gb", 1'000'000'000},
      {"tb", 1'000'000'000'000},
      {"kib", 1ull << 10},
      {"mib", 1ull << 20},
      {"gib", 1ull << 30},
      {"tib", 1ull << 40},
  };
  const std::string_view s = trim(text);
  const std::optional<Number> n = leading_number(s);
  if (!n) return std::nullopt;
  const std::string_view unit = trim(s.substr(n->length));
  if (unit.empty()) return n->fractional ? std::nullopt : scaled(s, *n, 1);
  for (const auto& [name, factor] : kUnits) {
    if (!iequal(unit, name)) continue;
    if (n->fractional && factor == 1) return std::nullopt;  // "1.5B" is not a byte count
    return scaled(s.substr(0, n->length), *n, factor);
  }
  return std::nullopt;
}

}  // namespace llmux

#include "common/macros.hpp"

#include <algorithm>
#include <filesystem>
#include <cstdlib>
#include <stdexcept>
#include <string_view>

namespace llmux {
namespace {

constexpr int kMaxDepth = 8;
constexpr std::string_view kEnvPrefix = "env.";

class Expander {
 public:
  Expander(const std::map<std::string, std::string>& macros, const std::set<std::string>& keep, const EnvLookup& env)
      : macros_(macros), keep_(keep), env_(env) {}

  // `depth` counts the macro values being expanded around this text (0 for the config string itself).
  std::string expand(std::string_view text, int depth) const {
    std::string out;
    size_t i = 0;
    for (;;) {
      const size_t open = text.find("${", i);
      if (open == std::string_view::npos) break;
      const size_t close = text.find('}', open + 2);
      if (close == std::string_view::npos) throw std::invalid_argument("unterminated ${");
      out.append(text.substr(i, open - i));
      out += resolve(std::string(text.substr(open + 2, close - open - 2)), depth);
      i = close + 1;
    }
    out.append(text.substr(i));
    return out;
  }

 private:
  std::string resolve(const std::string& name, int depth) const {
    if (keep_.count(name) != 0) return "${" + name + "}";
    if (name.size() > kEnvPrefix.size() && name.starts_with(kEnvPrefix)) {
      const std::string var = name.substr(kEnvPrefix.size());
      std::optional<std::string> value = env_(var);
      if (!value) throw std::invalid_argument("environment variable " + var + " is not set");
      return *value;  // taken literally: the environment is data, not config
    }
    const auto it = macros_.find(name);
    if (it == macros_.end()) throw std::invalid_argument("unknown macro ${" + name + "}");
    if (depth >= kMaxDepth) throw std::invalid_argument("macro recursion too deep at ${" + name + "}");
    return expand(it->second, depth + 1);
  }

  const std::map<std::string, std::string>& macros_;
  const std::set<std::string>& keep_;
  const EnvLookup& env_;
};

}  // namespace

EnvLookup process_env() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

bool env_value_is_secret(std::string_view name) {
  static constexpr std::string_view kLocators[] = {"HOME", "USER", "LOGNAME", "PWD", "TMPDIR", "PATH", "SHELL"};
  if (name.starts_with("XDG_")) return false;
  return std::find(std::begin(kLocators), std::end(kLocators), name) == std::end(kLocators);
}

namespace {

bool existing_path(const std::string& value) {
  std::error_code ec;
  return value.starts_with('/') && std::filesystem::exists(value, ec);
}

}  // namespace

EnvLookup recording_env(EnvLookup env, std::vector<std::string>& secrets) {
  return [env = std::move(env), &secrets](const std::string& name) -> std::optional<std::string> {
    std::optional<std::string> value = env(name);
    if (value && env_value_is_secret(name) && !existing_path(*value) &&
        std::find(secrets.begin(), secrets.end(), *value) == secrets.end())
      secrets.push_back(*value);
    return value;
  };
}

std::string expand_macros(const std::string& text, const std::map<std::string, std::string>& macros,
                          const std::set<std::string>& keep, const EnvLookup& env) {
  return Expander(macros, keep, env).expand(text, 0);
}

std::string substitute(std::string text, const std::map<std::string, std::string>& values) {
  std::string out;
  size_t i = 0;
  for (;;) {
    const size_t open = text.find("${", i);
    if (open == std::string::npos) break;
    const size_t close = text.find('}', open + 2);
    if (close == std::string::npos) break;
    const auto it = values.find(text.substr(open + 2, close - open - 2));
    out.append(text, i, open - i);
    if (it != values.end()) {
      out += it->second;
    } else {
      out.append(text, open, close + 1 - open);
    }
    i = close + 1;
  }
  out.append(text, i);
  return out;
}

}  // namespace llmux

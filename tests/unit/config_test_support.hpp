// Helpers shared by the config loader tests: YAML built line by line (so expected line numbers are readable)
// and loads under the file name "t.yaml".
#pragma once

#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>

#include "common/config.hpp"

namespace llmux::config_test {

// Joins lines with '\n' so that a test's line numbers are the index + 1 of its lines.
inline std::string lines(std::initializer_list<std::string_view> ls) {
  std::string out;
  for (std::string_view l : ls) out.append(l).push_back('\n');
  return out;
}

inline std::shared_ptr<const Config> load(const std::string& yaml) { return load_config_text(yaml, "t.yaml"); }

inline std::string load_error(const std::string& yaml) {
  try {
    load(yaml);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "no error";
}

inline const std::string kOneModel = lines({
    "models:",
    "  a:",
    "    cmd: llama-server --port ${PORT} -m a.gguf",
});

// A model after top-level lines (flow maps cannot hold ${...}).
constexpr std::string_view kTail = "models:\n  a:\n    cmd: x --port ${PORT}";

// A config with `top` lines at the top level and model `a` carrying `model` lines (4-space indented).
inline std::string with(std::initializer_list<std::string_view> top, std::initializer_list<std::string_view> model) {
  std::string out = lines(top);
  out += "models:\n  a:\n    cmd: engine --port ${PORT}\n";
  for (std::string_view l : model) out.append("    ").append(l).push_back('\n');
  return out;
}

}  // namespace llmux::config_test

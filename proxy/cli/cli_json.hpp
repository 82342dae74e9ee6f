// Reading the daemon's JSON answers in the CLI: fields that may be absent (an older or newer daemon, a state in
// which a field is not set) are read through opt(), never through a const operator[] (undefined for a missing key).
#pragma once

#include <nlohmann/json.hpp>

namespace llmux {

// `o[key]` when `o` is an object holding `key`; a null value otherwise.
inline const nlohmann::json& opt(const nlohmann::json& o, const char* key) {
  static const nlohmann::json null_value;
  if (!o.is_object()) return null_value;
  const auto it = o.find(key);
  return it == o.end() ? null_value : *it;
}

}  // namespace llmux

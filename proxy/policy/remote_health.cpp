#include "proxy/policy/remote_health.hpp"

#include "common/remote_health.hpp"

namespace llmux {

nlohmann::json remote_health_json(std::string_view line) {
  const size_t at = line.find(kRemoteHealthMarker);
  if (at == std::string_view::npos) return nullptr;
  const auto j = nlohmann::json::parse(line.substr(at + kRemoteHealthMarker.size()), nullptr, false);
  if (!j.is_object() || !j.contains("healthy") || !j["healthy"].is_boolean()) return nullptr;
  nlohmann::json out = {{"healthy", j["healthy"]}};
  for (const char* key : {"checkedAt", "since", "latencyMs", "status", "error", "path", "intervalSeconds"})
    out[key] = j.contains(key) ? j[key] : nlohmann::json(nullptr);
  return out;
}

}  // namespace llmux

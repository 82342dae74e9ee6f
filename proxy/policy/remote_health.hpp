// The `remoteHealth` object of a remote model's worker in /status: the last health report of its bridge
// (common/remote_health.hpp, proxy/bridge/health_probe.cpp) parsed from the bridge's output line, with the fields
// healthy, checkedAt, since, latencyMs, status, error, path, intervalSeconds; null when `line` is not such a report
// (no probe reported yet, or a malformed line). Pure.
#pragma once

#include <nlohmann/json.hpp>

#include <string_view>

namespace llmux {

nlohmann::json remote_health_json(std::string_view line);

}  // namespace llmux

// The line `llmux bridge` prints when its health probe of the remote upstream changes state (and every few
// minutes while it holds): "llmux bridge: remote health: " followed by one JSON object {"healthy", "checkedAt",
// "since", "latencyMs", "status", "error", "path", "intervalSeconds"}. The bridge writes it
// (proxy/bridge/health_probe.cpp); the daemon's status reads the last one from the bridge's output
// (proxy/policy/remote_health.hpp). Shared here so that both sides agree on the marker.
#pragma once

#include <string_view>

namespace llmux {

inline constexpr std::string_view kRemoteHealthMarker = "remote health: ";

}  // namespace llmux

// The bridge's health probe of its remote upstream: every `interval`, a GET of `path` sent through the bridge's own
// loopback port, so that it resolves, connects, speaks TLS and adds the configured headers exactly as requests do,
// bounded by `timeout` (the socket is closed when it passes). Healthy: a 2xx answer. Each change of state, and every
// five minutes while it holds, is printed as one line (common/remote_health.hpp), which the daemon's /status shows
// as the worker's `remoteHealth`. Runs on the bridge's io_context until it stops; never throws.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "common/net.hpp"

namespace llmux {

struct HealthProbeOptions {
  uint16_t port = 0;      // the bridge's own loopback port
  std::string token;      // "/<token>": the bridge answers only requests that start with it
  std::string path = "/v1/models";  // relative to the upstream's base; "" = no probe
  std::chrono::milliseconds interval{30000}, timeout{5000};
};

net::awaitable<void> health_loop(HealthProbeOptions o);

}  // namespace llmux

// One readiness probe against a starting engine. The caller (Supervisor) repeats it on an interval, races it
// against the child's exit and bounds the whole start with a deadline. The probe itself is bounded by
// target.timeout; it never throws: every failure is a ProbeResult.
#pragma once

#include <functional>
#include <string>

#include "common/config.hpp"
#include "common/net.hpp"
#include "common/endpoint.hpp"

namespace llmux {

struct ProbeTarget {
  EngineEndpoint endpoint;
  Readiness mode = Readiness::http;
  std::string path;        // checkEndpoint for http mode
  std::string model_name;  // `model` for completion probes
  Duration timeout{2000};
};

struct ProbeResult {
  bool ready = false;
  std::string detail;  // why not: "connection refused", "HTTP 503", "timeout"
};

void async_probe(net::io_context& io, ProbeTarget target, std::function<void(ProbeResult)> done);

}  // namespace llmux

// Admin and discovery responses (/status, /v1/models, /running): JSON built from the coordinator's state. Pure
// with respect to I/O: no sockets, called on the io_context thread.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string_view>
#include <string>

#include "common/log_hub.hpp"
#include "proxy/daemon/coordinator.hpp"
#include "proxy/daemon/daemon_info.hpp"

namespace llmux {

std::string status_json(const Coordinator& c, const DaemonInfo& d);  // every string in it redacted
std::string models_json(const Coordinator& c);
std::string running_json(const Coordinator& c);
std::string config_json(const DaemonInfo& d);  // GET /config: {"path","text"}, secrets redacted from the text
// GET /fit?model=M[&ctx=N][&kvBits=B][&parallel=N]: the what-if report (proxy/policy/footprint_view.hpp);
// `error` set (400/404) for an unknown model or a malformed value.
std::string fit_json_body(const Coordinator& c, std::string_view target, std::optional<ApiError>& error);
std::string metrics_text(const Coordinator& c, const DaemonInfo& d);  // GET /metrics
// GET /logs: JSON {"lines":[...]} or, with text=true, one line per entry.
std::string logs_body(const std::vector<LogLine>& lines, bool text);
std::string log_line_json(const LogLine& l);
std::string log_line_text(const LogLine& l);
std::string iso8601(std::chrono::system_clock::time_point t);

}  // namespace llmux

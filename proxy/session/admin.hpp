// Admin and discovery responses (/status, /v1/models, /running): JSON built from the coordinator's state. Pure
// with respect to I/O: no sockets, called on the io_context thread.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "common/log_hub.hpp"
#include "proxy/daemon/coordinator.hpp"
#include "proxy/daemon/daemon_info.hpp"

namespace llmux {

std::string status_json(const Coordinator& c, const DaemonInfo& d);  // every string in it redacted
std::string models_json(const Coordinator& c);
// GET /v1/models/{id}: the entry /v1/models shows for `name` (an id or alias, unlisted ones included, as OpenAI's
// retrieve shape); nullopt when no model answers to it.
std::optional<std::string> model_json(const Coordinator& c, const std::string& name);
std::string running_json(const Coordinator& c);
std::string config_json(const DaemonInfo& d);  // GET /config: {"path","text"}, secrets redacted from the text
std::string metrics_text(const Coordinator& c, const DaemonInfo& d);  // GET /metrics
// GET /logs: JSON {"lines":[...]} or, with text=true, one line per entry.
std::string logs_body(const std::vector<LogLine>& lines, bool text);
std::string log_line_json(const LogLine& l);
std::string log_line_text(const LogLine& l);
std::string iso8601(std::chrono::system_clock::time_point t);

}  // namespace llmux

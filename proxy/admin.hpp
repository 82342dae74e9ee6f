// Admin and discovery responses (/status, /v1/models, /running): JSON built from the coordinator's state. Pure
// with respect to I/O: no sockets, called on the io_context thread.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "common/log_hub.hpp"
#include "common/redact.hpp"

#include "proxy/coordinator.hpp"

namespace llmux {

struct ConfigState {
  std::string path;                                     // absolute
  std::string text;                                     // the content now serving
  std::chrono::system_clock::time_point loaded_at = std::chrono::system_clock::now();
  uint64_t reloads = 0;                                 // successful reloads since start
  std::string error;                                    // the refused edit on disk ("" = none)
  std::chrono::system_clock::time_point error_at{};
  std::vector<std::string> pending_restart;             // changed keys that need an llmux restart
};

struct DaemonInfo {
  std::chrono::system_clock::time_point started_at = std::chrono::system_clock::now();
  std::shared_ptr<LogHub> logs = std::make_shared<LogHub>();  // llmux's and the engines' recent log lines
  std::shared_ptr<Secrets> secrets = std::make_shared<Secrets>();  // redacted from logs and admin answers
  std::string listen;  // "127.0.0.1:8484" once bound
  ConfigState config;
};

std::string status_json(const Coordinator& c, const DaemonInfo& d);  // every string in it redacted
std::string models_json(const Coordinator& c);
std::string running_json(const Coordinator& c);
std::string config_json(const DaemonInfo& d);  // GET /config: {"path","text"}, secrets redacted from the text
std::string metrics_text(const Coordinator& c, const DaemonInfo& d);  // GET /metrics
// GET /logs: JSON {"lines":[...]} or, with text=true, one line per entry.
std::string logs_body(const std::vector<LogLine>& lines, bool text);
std::string log_line_json(const LogLine& l);
std::string log_line_text(const LogLine& l);
std::string iso8601(std::chrono::system_clock::time_point t);

}  // namespace llmux

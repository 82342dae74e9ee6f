// The admin and discovery answers (/status, /v1/models, /running, /config, /metrics, /logs), as pure functions of
// a DaemonSnapshot (or of log lines): no sockets, no daemon state, unit-tested. Every string of /status is redacted
// with the snapshot's redactor.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "common/log_hub.hpp"
#include "proxy/policy/metrics.hpp"
#include "proxy/policy/snapshot.hpp"

namespace llmux {

std::string status_json(const DaemonSnapshot& s);
std::string models_json(const DaemonSnapshot& s);
// GET /v1/models/{id}: the entry /v1/models shows for `name` (an id or alias, unlisted ones included, as OpenAI's
// retrieve shape); nullopt when no model answers to it.
std::optional<std::string> model_json(const DaemonSnapshot& s, const std::string& name);
std::string running_json(const DaemonSnapshot& s);
std::string config_json(const DaemonSnapshot& s);  // GET /config: {"path","text"}, secrets redacted from the text
std::string metrics_text(const DaemonSnapshot& s, const Metrics& m);  // GET /metrics
// GET /logs: JSON {"lines":[...]} or, with text=true, one line per entry.
std::string logs_body(const std::vector<LogLine>& lines, bool text);
std::string log_line_json(const LogLine& l);
std::string log_line_text(const LogLine& l);

}  // namespace llmux

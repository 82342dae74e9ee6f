// What `llmux status` and `llmux models` print, as pure functions of the daemon's JSON answers (/status,
// /v1/models): no I/O, unit-tested. A field an older or newer daemon leaves out shows as "-"; a daemon from before
// co-residency (a `worker` object, no `workers` array) shows its one worker.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace llmux {

// "4.2s", "3m05s", "2h01m".
std::string duration_text(double seconds);
// Rows of cells as a table: each column padded to its widest cell, two spaces apart, each line opened by `indent`.
std::string table_text(const std::vector<std::vector<std::string>>& rows, const std::string& indent);
// `llmux status`: the daemon, every resident (a table: state, pid/port, in flight, queued, memory measured /
// estimated / ceiling, idle, when the idle TTL unloads it or "pinned"), the queue, loads, system memory, config.
std::string status_text(const nlohmann::json& status, const std::string& url);
// `llmux models`: one row per model (aliases in their model's row); a resident one is marked `*`.
std::string models_text(const nlohmann::json& models);

}  // namespace llmux

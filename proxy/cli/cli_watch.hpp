// `llmux status --watch [--interval S] [--json]`: the status again every S seconds until Ctrl-C. On a terminal it
// redraws in place (ANSI: cursor home, clear below); into a pipe or file it prints plain blocks, each opened by a
// "--- <time>" line; with --json, one compact /status object per line. A recent-requests section (from
// /activity) follows the status when the daemon has it. Exit codes: 0 on Ctrl-C (SIGINT) or SIGTERM, 1 when the
// daemon does not answer (at the first call, or later: one line on stderr).
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace llmux {

// "2", "0.5", "1.5s" → the interval; nullopt unless 0.1 s ≤ it ≤ 3600 s.
std::optional<std::chrono::milliseconds> parse_watch_interval(const std::string& text);

int watch_status(const std::string& url, std::chrono::milliseconds interval, bool json_lines);

// The plain `llmux status` text of a /status answer, printed to stdout (cli_daemon.cpp).
void print_status(const nlohmann::json& status, const std::string& url);

}  // namespace llmux

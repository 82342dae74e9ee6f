// `llmux prefix [--json] [-n N] [--url URL]`: the daemon's prefix-stability diagnosis (GET /prefix, an admin
// route): recent conversations, how much of each prompt was reused from the request before, and the recent chain
// breaks with a hint at what changed. Exit codes: 0 ok, 1 daemon unreachable or refusing (one line on stderr),
// 2 usage error.
#pragma once

#include <string>
#include <vector>

namespace llmux {

int cli_prefix(const std::vector<std::string>& args);

}  // namespace llmux

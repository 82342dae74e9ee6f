// `llmux logs [-f] [--model M] [--source llmux|engine] [-n N]` (recent history, or follow the live stream) and
// `llmux default` (make sure the daemon is up, starting the installed service if it is not, then preload the
// default model with a live progress line). Both take --json and --url/LLMUX_URL. Exit codes: 0 ok, 1 daemon
// unreachable or refusing (one line on stderr), 2 usage error.
#pragma once

#include <string>
#include <vector>

namespace llmux {

int cli_logs(const std::vector<std::string>& args);
int cli_default(const std::vector<std::string>& args);

}  // namespace llmux

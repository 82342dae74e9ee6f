// CLI commands that talk to a running llmux over HTTP: status, models, load, unload. Each takes --json (raw JSON)
// and --url URL (default $LLMUX_URL or http://127.0.0.1:8484); prints a readable table otherwise. Returns the
// exit code: 0 ok, 1 when the daemon is unreachable or refuses (one line on stderr), 2 for usage errors.
#pragma once

#include <string>
#include <vector>

namespace llmux {

int cli_status(const std::vector<std::string>& args);
int cli_models(const std::vector<std::string>& args);
int cli_load(const std::vector<std::string>& args);
int cli_unload(const std::vector<std::string>& args);

}  // namespace llmux

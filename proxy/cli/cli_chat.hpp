// `llmux prompt` (one question, answer streamed) and `llmux chat` (a REPL that keeps the conversation): chat
// completions through a running llmux, written to stdout as tokens arrive. Options: --url URL (default $LLMUX_URL
// or http://127.0.0.1:8484), --model M (default: the daemon's defaultModel), --system TEXT, --json. Blocking;
// returns the exit code: 0 ok, 1 when the daemon is unreachable or refuses (one line on stderr), 2 usage error.
#pragma once

#include <string>
#include <vector>

namespace llmux {

int cli_prompt(const std::vector<std::string>& args);
int cli_chat(const std::vector<std::string>& args);

}  // namespace llmux

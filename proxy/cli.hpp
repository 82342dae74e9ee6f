// Command-line entry: `llmux serve --config FILE [--listen HOST:PORT]`, `llmux --version`, `llmux help`.
// Returns the process exit code: 0 ok, 1 runtime failure, 2 usage or config error (one line on stderr).
#pragma once

namespace llmux {

int run_cli(int argc, char** argv);

}  // namespace llmux

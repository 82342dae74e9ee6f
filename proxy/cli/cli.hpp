// Command-line entry: `llmux <command> [options]`, `llmux --version`, `llmux help`, `llmux CMD --help`.
// Returns the process exit code: 0 ok, 1 runtime failure, 2 usage or config error (one line on stderr).
#pragma once

#include <string>
#include <vector>

namespace llmux {

// A command run with the arguments after its name; returns the exit code.
using CliCommand = int (*)(const std::vector<std::string>& args);

// `serve`: the daemon, handed in by main (the command line does not depend on the daemon's layers).
int run_cli(int argc, char** argv, CliCommand serve);

}  // namespace llmux

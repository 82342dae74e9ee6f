// `llmux serve`: loads the config, listens, runs the event loop until SIGTERM/SIGINT, then shuts down gracefully
// (stop accepting, drain in-flight requests within shutdownGrace, stop the worker, exit 0). A second signal
// forces an immediate exit (the engine is SIGKILLed).
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace llmux {

struct ServeOptions {
  std::string config_path;
  std::optional<std::string> listen;  // overrides the config's `listen`
};

int serve(const ServeOptions& opts);

// `llmux serve [--config FILE] [--listen HOST:PORT]`: parses the options (a bad one: one line, exit 2), then serve().
int serve_command(const std::vector<std::string>& args);

}  // namespace llmux

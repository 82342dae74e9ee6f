// `llmux models --discover [--dir DIR]... [--json] [--url URL]`: the configured models (when the daemon answers),
// then model files found on disk (proxy/discover.hpp) with size, fit in the daemon's memory budget and whether a
// configured cmd already names them, then a YAML snippet for the rest. Works offline (fit "?", nothing marked
// configured). Returns the exit code: 0 ok (also offline), 2 for usage errors.
#pragma once

#include <string>
#include <vector>

namespace llmux {

bool wants_discover(const std::vector<std::string>& args);  // `--discover` among args
int cli_discover(const std::vector<std::string>& args);

}  // namespace llmux

// Where an engine listens: parsed from a model's `proxy` URL after ${PORT} substitution. Pure.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace llmux {

struct EngineEndpoint {
  std::string host;       // e.g. "127.0.0.1"
  uint16_t port = 0;
  std::string base_path;  // "" or "/prefix" (no trailing slash): prepended to relayed targets
  std::string host_header() const { return host + ":" + std::to_string(port); }
};

// Accepts "http://host[:port][/path]" (port 80 when absent); host may be a bracketed IPv6 literal. nullopt if not
// of that form.
std::optional<EngineEndpoint> parse_engine_url(const std::string& url);

// "" when `url` is an engine address llmux can connect to; else why not (no reason ends with a period): not of the
// form above, or a host that is neither an IP literal nor localhost (engines are connected to without a resolver).
std::string engine_url_problem(const std::string& url);

}  // namespace llmux

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

// Accepts "http://host:port[/path]"; host may be a bracketed IPv6 literal. nullopt if not of that form.
std::optional<EngineEndpoint> parse_engine_url(const std::string& url);

}  // namespace llmux

// Where an engine listens: parsed from a model's `proxy` URL after ${PORT} substitution; and which host names
// name loopback (llmux's own listen address, the Host values its access guard lets in). Pure.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

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

// Four decimal numbers from 0 to 255 (one to three digits each) joined by dots; `first` gets the first one.
bool dotted_quad(std::string_view s, unsigned* first);

// Whether a host name without a port names loopback: localhost or localhost. (any case), 127.x.y.z, ::1 or [::1].
// The one definition for both llmux's listen address (config `listen`, --listen: an unbracketed ::1 there, or a
// bracketed one) and the name part of a Host value (proxy/policy/access.hpp loopback_host, which splits the port).
bool loopback_name(std::string_view name);

}  // namespace llmux

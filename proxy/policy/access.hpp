// The access guard: the one door every request passes before anything else runs (docs/security.md). It checks the
// Host (DNS rebinding), the Origin and fetch metadata (pages in the user's browser), and the API key, and answers
// CORS preflights. Pure: no sockets, no allocation on the common path (a request without Origin, keys not set).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/config.hpp"
#include "proxy/http/framing.hpp"

namespace llmux {

// Which checks a route needs: none (/health); Host and Origin but no key (page: the dashboard's own files, which
// hold no data: the browser cannot send a key when it opens a URL, the page's data requests carry it); or Host,
// Origin and an API key (inference, /v1/models) or an admin key (everything that shows or changes the daemon:
// /status, /config, /logs, /metrics, /activity, load and unload).
enum class RouteClass { open, page, user, admin };

// Where llmux listens, as the guard needs it.
struct ListenFacts {
  uint16_t port = 0;       // the bound port (a same-origin page of llmux's own has this port)
  bool loopback = true;    // bound to a loopback address
};

struct AccessVerdict {
  int status = 0;              // 0: go on; 204: a preflight llmux answers itself; 401, 403: refused
  std::string_view code;       // OpenAI error code ("forbidden_host", "invalid_api_key", ...)
  std::string message;         // what happened and what to do
  std::string_view allow_origin;  // non-empty: the response carries CORS headers for this origin (a view into
                                  // the request's head)
  bool allowed() const { return status == 0; }
};

// Host values naming loopback: localhost, localhost., 127.x.y.z, [::1], each with any port. Case-insensitive.
bool loopback_host(std::string_view host);

// The decision for one request. `preflight_method`: the Access-Control-Request-Method of an OPTIONS request.
AccessVerdict check_access(const AccessConfig& access, const ListenFacts& listen, const RequestHead& head,
                           RouteClass route, std::string_view preflight_method);

// Header lines (each ending in CRLF) for a response to an allowed cross-origin request: Access-Control-Allow-Origin,
// Vary, and Access-Control-Expose-Headers. Empty when `origin` is empty.
std::string cors_response_fields(std::string_view origin);

// Header lines for a preflight answer (204): the above plus Allow-Methods, Allow-Headers (those asked for, when
// they are all plain tokens), Max-Age and, when asked, Allow-Private-Network.
std::string cors_preflight_fields(std::string_view origin, std::string_view request_headers, bool private_network);

// Constant-time equality (the time depends on the lengths only, never on where the bytes differ).
bool same_secret(std::string_view a, std::string_view b);

}  // namespace llmux

// The heads the relay writes: the engine request's (the client's end-to-end fields, the engine's Host, the
// rewritten body's length) and the client response's (status, the engine's end-to-end fields, framing chosen for
// the client's HTTP version). Pure: no sockets, no Asio; each head is built in one pass into one string.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "proxy/http/framing.hpp"
#include "common/endpoint.hpp"

namespace llmux {

// How the client response's body is delimited.
enum class Framing { length, chunked, close, none };

// The request line (target made canonical, the engine's base path first), the client's end-to-end fields, Host,
// Content-Length of the body that is sent, and the blank line. `target`, when not empty, replaces the canonical
// target (/upstream/<model>/<path> sends <path>).
std::string engine_request_head(const Request& in, const EngineEndpoint& engine, size_t body_size,
                                std::string_view target = {});
// The same with the body's length unknown when the head goes out (a body streamed from a chunked client request):
// `Transfer-Encoding: chunked` instead of Content-Length.
std::string engine_request_head_chunked(const Request& in, const EngineEndpoint& engine, std::string_view target = {});

struct ClientHead {
  std::string text;                                          // blank line included
  Framing framing = Framing::length;                         // of the body the client gets
  bool passthrough = false;                                  // the engine's body bytes go out as they are
  bool keep_alive = false;                                   // the client connection stays open afterwards
  BodyFraming::Kind engine_body = BodyFraming::Kind::none;   // how the engine delimits its body
};

// The client's head for the engine's response `e` (its views must still be valid): HTTP/1.1 clients get an
// unframed or chunked engine body re-chunked; HTTP/1.0 clients get it as raw bytes ended by the connection's close.
// `clamp_note` non-empty: sent as X-Llmux-Max-Tokens-Clamped. Event streams get X-Accel-Buffering: no.
// `extra_fields`: header lines (each ending in CRLF) added as they are (CORS for an allowed page).
ClientHead client_response_head(const ResponseHead& e, unsigned client_version, bool client_keep_alive,
                                std::string_view clamp_note, std::string_view extra_fields = {});

}  // namespace llmux

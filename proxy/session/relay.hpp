// Relay: sends one client request to the leased engine and streams the response back chunk by chunk, never
// holding a body in memory. Engine connections are kept alive in an EnginePool (a stale pooled connection is
// retried once on a fresh one if no response byte came back). While it runs, a client that goes away (ClientWatch)
// closes the engine connection at once, so the engine stops generating.
// Include only from Beast translation units. Nothing here throws for I/O failures.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "common/config.hpp"
#include "common/http.hpp"
#include "proxy/daemon/coordinator.hpp"
#include "proxy/http/framing.hpp"
#include "proxy/http/usage_scan.hpp"
#include "proxy/session/client_io.hpp"
#include "proxy/session/engine_pool.hpp"

namespace llmux {

class ClientBody;

struct RelayResult {
  RelayResult(int s = 0, bool keep = false) : status(s), keep_alive(keep) {}
  int status = 0;             // engine status relayed (0 = none), or the error status llmux sent
  bool keep_alive = false;    // the client connection can serve another request
  std::optional<std::chrono::steady_clock::time_point> first_byte;  // first engine body byte
  TokenUsage usage;           // what the engine reported (or SSE events counted)
  bool streamed = false;      // the client got an event stream (tokens arrived as they were generated)
  bool done = false;          // the stream's end marker (`data: [DONE]`) went out to the client: it has the answer
};

struct RelayJob {
  const Request& request;  // client's request line and headers (body already moved out)
  std::string body;                       // body to send (model rewritten)
  const Lease& lease;
  const Timeouts& timeouts;
  std::string clamp_note;                 // non-empty: sent as X-Llmux-Max-Tokens-Clamped
  SseWriter* committed = nullptr;         // set: a 200 event stream already went out (loading feedback); the
                                          // engine's events continue it, an engine error becomes an error event
  Deadline& deadline;                     // the session's: bounds every read and write of the relay
  std::string_view extra_fields;          // header lines (CRLF each) added to the client's head (CORS), or ""
  std::string_view engine_target = {};    // the engine's target when not the canonical one (/upstream), or ""
  ClientBody* rest = nullptr;             // set: the body's rest, streamed from the client after `body` (a
                                          // multipart form: session_form.cpp); never on a pooled connection
};

net::awaitable<RelayResult> relay(ClientStream& client, RelayJob job, EnginePool& pool, ClientWatch& watch);

}  // namespace llmux

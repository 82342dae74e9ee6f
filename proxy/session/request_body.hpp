// The body of a client request read piece by piece after its head, instead of whole before routing: a multipart
// form is held only until its `model` field is found (proxy/session/session_form.cpp), and the rest is streamed to
// the engine (pump()) through one fixed buffer. maxRequestBody bounds the decoded bytes counted so far; the
// session's Deadline bounds every read and write, the whole body within timeouts.bodyRead. A Content-Length body
// goes to the engine as it is; a chunked one goes chunk-framed anew. Nothing here throws for I/O failures.
// Include only from Beast translation units.
#pragma once

#include <cstdint>
#include <string>

#include "common/http.hpp"
#include "proxy/http/framing.hpp"
#include "proxy/session/client_io.hpp"
#include "proxy/session/engine_pool.hpp"
#include "proxy/session/relay.hpp"

namespace llmux {

class ClientBody {
 public:
  enum class Status { more, done, client_failed, too_large, bad, engine_failed };
  // `buf`: the session's read buffer, holding whatever of the body came with the head (and maybe more after it:
  // a pipelined next request stays there). `length` is ignored when `chunked`.
  ClientBody(ClientSocket& socket, beast::flat_buffer& buf, Deadline& deadline, bool chunked, uint64_t length,
             uint64_t max, Deadline::Clock::time_point due);
  // Appends the next decoded body bytes to `out` (those already in the buffer, else one read's worth).
  net::awaitable<Status> read_some(std::string& out);
  // The rest of the body to `engine` (chunk-framed when the client's body was chunked, then the last chunk);
  // engine_failed sets `engine_ec`. Once the body is whole, `watch` starts: the client's disconnect is noticed
  // again while the engine answers.
  net::awaitable<Status> pump(EngineSocket& engine, Duration write_timeout, ClientWatch& watch, error_code& engine_ec);
  // The rest of the body is due by `due` (after admission: the wait for a load is not the client's time).
  void rebound(Deadline::Clock::time_point due) { due_ = due; }
  bool chunked() const { return chunked_; }
  bool done() const { return framing_.done(); }
  uint64_t seen() const { return seen_; }          // decoded body bytes read so far
  uint64_t length() const { return length_; }      // Content-Length (not chunked)
  uint64_t max() const { return max_; }

 private:
  ClientSocket& socket_;
  beast::flat_buffer& buf_;
  Deadline& deadline_;
  BodyFraming framing_;
  bool chunked_;
  uint64_t length_, max_, seen_ = 0;
  Deadline::Clock::time_point due_;
  std::string piece_;  // pump(): the piece being forwarded (one read's worth, reused)
};

// The engine's request head for a job whose body's rest is streamed (job.rest): Content-Length of the held part
// (`body`, model spliced) plus what is left of the client's, or chunked when the client's body is.
std::string streamed_request_head(const RelayJob& job);
// The client's body failed while streaming (client_failed, too_large, bad): the client's answer (413, 400) when it
// can still take one; the connection is not kept.
net::awaitable<RelayResult> rest_failed(ClientSocket& client, const RelayJob& job, ClientBody::Status why);

// 413: the body is over maxRequestBody (`limit`).
ApiError request_too_large(uint64_t limit);

// A piece of a chunked body: "<hex size>\r\n" + data + "\r\n" (empty data: nothing).
std::string chunk_framed(std::string_view data);

}  // namespace llmux

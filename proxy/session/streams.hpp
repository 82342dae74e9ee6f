// Responses llmux writes as event streams itself: the SseWriter (a chunked text/event-stream response written piece
// by piece), loading feedback while a streaming request waits for its model (comment heartbeats, or
// reasoning_content deltas with sendLoadingState), POST /models/load progress, and GET /logs/stream.
// Include only from Beast translation units. Write failures end the stream (returned as false); nothing throws.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "common/http.hpp"
#include "common/log_hub.hpp"
#include "proxy/daemon/coordinator.hpp"
#include "proxy/http/framing.hpp"

namespace llmux {

class ClientWatch;

class SseWriter {
 public:
  SseWriter(ClientStream& stream, const Timeouts& t) : stream_(stream), timeouts_(t) {}  // copies: a reload
                                                                                           // may free the config
  // Sends the 200 header; HTTP/1.0 clients get an unframed body that ends with the connection.
  net::awaitable<bool> begin(unsigned version, bool keep_alive);
  net::awaitable<bool> send(std::string_view data);  // one chunk, written at once
  net::awaitable<bool> end();                        // the last chunk
  bool started() const { return started_; }
  bool keep_alive() const { return keep_alive_ && chunked_ && ok_; }
  ClientStream& stream() { return stream_; }
  void set_extra_fields(std::string_view f) { extra_ = f; }  // header lines (CRLF each) for begin(); must outlive it

 private:
  ClientStream& stream_;
  Timeouts timeouts_;
  std::string_view extra_;
  bool started_ = false, chunked_ = true, keep_alive_ = false, ok_ = true;
};

std::string sse_error_event(const ApiError& e);

struct LoadingFeedback {
  std::string model;        // the model being waited for
  std::string client_name;  // what the client called it (chunks carry this name)
  bool reasoning = false;   // sendLoadingState on a chat route: reasoning_content deltas instead of comments
};

// acquire() for a streaming request that must wait for a load or swap: once a second without a grant it commits
// the response to 200 text/event-stream (through `w`) and sends feedback, so clients do not time out. A failed
// write abandons the ticket; the load itself goes on.
// `submitted`: begin_acquire() already ran for `t` (it is waiting in the queue).
net::awaitable<Admission> acquire_with_feedback(Coordinator& c, std::shared_ptr<Ticket> t, SseWriter& w,
                                                const Request& req, LoadingFeedback f,
                                                bool submitted = false);

// POST /models/load with "stream": true: progress events each second, then a final state event.
net::awaitable<bool> serve_load_progress(ClientStream& s, const Request& req,
                                         Coordinator& c, const ModelConfig& m, std::string_view extra_fields);

// GET /logs/stream: the last `tail` matching lines (the session checked the query's number), then live lines as
// `data: {json}` events, a comment heartbeat every 15 s; ends when the client goes away (watch) or a write fails.
net::awaitable<bool> serve_log_stream(ClientStream& s, const Request& req, size_t tail,
                                      std::shared_ptr<LogHub> hub, const Timeouts& t, ClientWatch& watch,
                                      std::string_view extra_fields);

}  // namespace llmux

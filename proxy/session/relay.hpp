// Relay: sends one client request to the leased engine and streams the response back chunk by chunk, never
// holding a body in memory. Engine connections are kept alive in an EnginePool (valid only for one worker
// generation; a stale pooled connection is retried once on a fresh one if no response byte came back).
// ClientWatch reads the client socket while llmux waits or streams, so a client that goes away is noticed at once
// (queued request abandoned, engine connection closed so the engine stops generating).
// Include only from Beast translation units (server.cpp, relay.cpp). Nothing here throws for I/O failures.
#pragma once

#include <array>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/config.hpp"
#include "common/http.hpp"
#include "proxy/daemon/coordinator.hpp"
#include "proxy/http/framing.hpp"
#include "proxy/daemon/lazy_timer.hpp"
#include "proxy/http/usage_scan.hpp"

namespace llmux {

// Bounds a session's reads and writes (client and engine sockets alike, one at a time) with one lazily re-armed
// timer, instead of a timer started and cancelled around every operation as beast::tcp_stream does (two more
// handler runs per read or write). arm() only records when the operation must be done; the timer, once waiting,
// stays armed and on waking waits again for the latest due time, so steady traffic costs no timer operation at all
// (an earlier due time than the one waited for re-arms it). An overdue operation's socket is closed: the operation
// ends with an error, which done() turns into beast::error::timeout.
class Deadline {
 public:
  using Clock = LazyTimer::Clock;
  explicit Deadline(const net::any_io_executor& ex) : timer_(ex, [this] { expire(); }) {}
  static Clock::time_point now();  // the coarse monotonic clock deadlines are counted on
  template <class Socket>
  void arm(Socket& s, Duration d) {
    arm_at(s, now() + d);
  }
  template <class Socket>
  void arm_at(Socket& s, Clock::time_point due) {  // several reads under one bound (a whole request head)
    bound(s);
    timer_.set(due);
  }
  template <class Socket>
  void arm_idle(Socket& s, Duration d) {  // an idle wait (keep-alive): no early wake-up while nothing happens
    bound(s);
    timer_.set_quiet(now() + d);
  }
  void done(error_code& ec) {  // the operation ended: no deadline now
    forget_target();
    // Expired: the socket is closed, even when the operation itself completed in the same reactor pass.
    if (expired_) ec = beast::error::timeout;
    expired_ = false;
  }
  void forget() {  // the bounded socket is going away (even by an exception): no operation of this session is pending
    forget_target();
    expired_ = false;
  }

 private:
  LazyTimer timer_;
  void* target_ = nullptr;           // the socket the pending operation uses
  void (*close_)(void*) = nullptr;  // closes it (sockets of either executor type)
  bool expired_ = false;
  template <class Socket>
  void bound(Socket& s) {
    target_ = &s;
    close_ = [](void* p) {
      error_code ignored;
      static_cast<Socket*>(p)->close(ignored);
    };
    expired_ = false;
  }
  void forget_target() {
    target_ = nullptr;
    timer_.clear();
  }
  void expire() {  // overdue: the pending operation ends with operation_aborted
    expired_ = true;
    close_(target_);
    target_ = nullptr;
  }
};

// Engine connections are bound to the io_context's own executor type: their operations skip the type-erased
// executor's work tracking (they are the relay's hottest I/O).
using EngineSocket = net::basic_stream_socket<tcp, net::io_context::executor_type>;

class EnginePool {
 public:
  explicit EnginePool(net::io_context& io) : executor_(io.get_executor()) {}
  const net::io_context::executor_type& executor() const { return executor_; }
  // A pooled connection comes with its (empty) read buffer, whose capacity is reused: no allocation per request.
  std::optional<EngineSocket> take(uint64_t generation, beast::flat_buffer& buffer);
  void give(uint64_t generation, EngineSocket s, beast::flat_buffer buffer);
  size_t idle() const { return idle_.size(); }

 private:
  net::io_context::executor_type executor_;
  struct Idle {
    EngineSocket socket;
    beast::flat_buffer buffer;
  };
  uint64_t generation_ = 0;
  std::vector<Idle> idle_;
};

class ClientWatch : public std::enable_shared_from_this<ClientWatch> {
 public:
  explicit ClientWatch(ClientSocket& client);
  void start();                      // begin watching (one pending read on the raw socket)
  // Start watching only if the request is still running after `delay` (disarm() ends it): a quick request then
  // costs no read, cancel or wake-up. One timer per connection, re-armed lazily, never cancelled per request.
  void arm_after(Duration delay);
  void disarm() { arm_timer_.clear(); }
  net::awaitable<void> stop();       // cancel the read and wait for its handler
  bool pending() const { return pending_; }
  bool gone() const { return gone_; }
  std::string take_extra() { return std::exchange(extra_, {}); }  // bytes of a pipelined next request
  std::function<void()> on_gone;     // called once, on the io_context, when the client disconnects

 private:
  ClientSocket& client_;
  net::steady_timer done_;
  std::array<char, 4096> scratch_{};  // holds a typical next request whole
  std::string extra_;
  bool pending_ = false;
  bool gone_ = false;
  LazyTimer arm_timer_;  // starts the watch once its delay has passed
};

struct RelayResult {
  RelayResult(int s = 0, bool keep = false) : status(s), keep_alive(keep) {}
  int status = 0;             // engine status relayed (0 = none), or the error status llmux sent
  bool keep_alive = false;    // the client connection can serve another request
  std::optional<std::chrono::steady_clock::time_point> first_byte;  // first engine body byte
  TokenUsage usage;           // what the engine reported (or SSE events counted)
  bool streamed = false;      // the client got an event stream (tokens arrived as they were generated)
  bool done = false;          // the stream's end marker (`data: [DONE]`) went out to the client: it has the answer
};

class SseWriter;

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
};

net::awaitable<RelayResult> relay(ClientStream& client, RelayJob job, EnginePool& pool, ClientWatch& watch);

}  // namespace llmux

// Client I/O: the one way llmux writes to a client and notices that it left. Deadline bounds every read and write of
// a session (client and engine sockets alike); ClientWriter writes llmux's own replies, raw bytes and (through
// SseWriter) event-stream chunks, each bounded by that Deadline; ClientWatch keeps a read pending on the client
// socket and runs a scoped hook (ClientWatch::OnGone) once when the client disconnects. Include only from Beast
// translation units. Nothing here throws for I/O failures: a failed write returns false.
#pragma once

#include <array>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/config.hpp"
#include "common/errors.hpp"
#include "common/http.hpp"
#include "proxy/daemon/lazy_timer.hpp"

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

// Sends what the non-blocking socket takes right now: small messages usually go out whole in this one call, with
// no asynchronous operation or wake-up. Returns the bytes sent; would-block is not an error.
template <class Socket, class Buffers>
size_t send_now(Socket& s, const Buffers& g, error_code& ec) {
  size_t n = s.send(g, 0, ec);
  if (ec == net::error::would_block || ec == net::error::try_again) {
    ec = {};
    n = 0;
  }
  return n;
}

// What send_now() left of `g`, asynchronously, bounded by the deadline.
template <class Socket, class Buffers>
net::awaitable<error_code> send_rest(Socket& s, const Buffers& g, size_t sent, Deadline& d, Duration t) {
  beast::buffers_suffix<Buffers> rest(g);
  rest.consume(sent);
  error_code ec;
  d.arm(s, t);
  co_await net::async_write(s, rest, net::redirect_error(net::use_awaitable, ec));
  d.done(ec);
  co_return ec;
}

// A small response llmux answers itself (admin JSON, errors, plain text).
struct Reply {
  Reply(http::status s = http::status::ok, std::string b = {}, std::string ct = "application/json")
      : status(s), body(std::move(b)), content_type(std::move(ct)) {}
  http::status status;
  std::string body;
  std::string content_type;
  std::string allow;
  std::string retry_after;
  bool challenge = false;  // 401: WWW-Authenticate
};

inline Reply json_reply(std::string body) { return Reply{http::status::ok, std::move(body)}; }
Reply error_reply(const ApiError& e);

// Every write to a client: the socket, the session's Deadline and the client-write timeout (copied: a reload may
// free the config). Cheap to make per use.
class ClientWriter {
 public:
  ClientWriter(ClientSocket& s, Deadline& d, Duration timeout) : socket_(s), deadline_(d), timeout_(timeout) {}
  // llmux's own complete response; `head_only` (HEAD) keeps the body's length but not its bytes. `extra_fields`:
  // header lines (CRLF each, e.g. CORS) added to it. True when it went out and the connection is kept.
  net::awaitable<bool> reply(unsigned version, bool head_only, const Reply& r, bool keep_alive,
                             std::string_view extra_fields);
  // Raw bytes, written at once when the socket takes them (no asynchronous operation), else bounded.
  template <class Buffers>
  net::awaitable<bool> write(const Buffers& g) {
    error_code ec;
    const size_t sent = send_now(socket_, g, ec);
    if (!ec && sent < net::buffer_size(g)) ec = co_await send_rest(socket_, g, sent, deadline_, timeout_);
    co_return !ec;
  }
  ClientSocket& socket() { return socket_; }
  Deadline& deadline() { return deadline_; }
  Duration timeout() const { return timeout_; }

 private:
  ClientSocket& socket_;
  Deadline& deadline_;
  Duration timeout_;
};

// A 200 text/event-stream response written piece by piece through a ClientWriter (chunked; HTTP/1.0 clients get
// an unframed body that ends with the connection). Once a write failed every later call returns false.
class SseWriter {
 public:
  explicit SseWriter(ClientWriter w) : out_(w) {}
  net::awaitable<bool> begin(unsigned version, bool keep_alive);  // the head
  net::awaitable<bool> send(std::string_view data);               // one chunk, written at once
  net::awaitable<bool> end();                                     // the last chunk: true when the connection is kept
  bool started() const { return started_; }
  bool keep_alive() const { return keep_alive_ && chunked_ && ok_; }
  void set_extra_fields(std::string_view f) { extra_ = f; }  // header lines (CRLF each) for begin(); must outlive it

 private:
  ClientWriter out_;
  std::string_view extra_;
  bool started_ = false, chunked_ = true, keep_alive_ = false, ok_ = true;
};

// Keeps one read pending on the client socket while llmux waits or streams, so that a client that goes away is
// noticed at once. Shared (its pending read's handler keeps it alive); one per connection, reused.
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

  // While an OnGone lives, `f` runs once, on the io_context, if the client disconnects; it is cleared when the
  // OnGone ends, even by an exception. One at a time.
  class [[nodiscard]] OnGone {
   public:
    OnGone(ClientWatch& w, std::function<void()> f) : w_(w) { w_.on_gone_ = std::move(f); }
    ~OnGone() { w_.on_gone_ = nullptr; }
    OnGone(const OnGone&) = delete;
    OnGone& operator=(const OnGone&) = delete;

   private:
    ClientWatch& w_;
  };

 private:
  ClientSocket& client_;
  net::steady_timer done_;
  std::array<char, 4096> scratch_{};  // holds a typical next request whole
  std::string extra_;
  bool pending_ = false;
  bool gone_ = false;
  std::function<void()> on_gone_;
  LazyTimer arm_timer_;  // starts the watch once its delay has passed
};

}  // namespace llmux

#include "proxy/session/client_io.hpp"

#include <cstdio>
#include <ctime>

#include "proxy/http/framing.hpp"

namespace llmux {

// The steady clock read cheaply, to a few milliseconds: deadlines are seconds long, and arm() runs for every read and
// write. CLOCK_MONOTONIC_COARSE is the clock steady_clock reads (CLOCK_MONOTONIC) without its fine interpolation.
Deadline::Clock::time_point Deadline::now() {
#ifdef CLOCK_MONOTONIC_COARSE
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return Clock::time_point(
      std::chrono::duration_cast<Clock::duration>(std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec)));
#else
  return Clock::now();
#endif
}

Reply error_reply(const ApiError& e) {
  Reply r{static_cast<http::status>(e.status), error_body(e)};
  if (e.retry_after > 0) r.retry_after = std::to_string(e.retry_after);
  r.challenge = e.status == 401;
  return r;
}

net::awaitable<bool> ClientWriter::reply(unsigned version, bool head_only, const Reply& r, bool keep_alive,
                                         std::string_view extra_fields) {
  http::response<http::string_body> res{r.status, version};  // rare and small: Beast writes it
  res.set(http::field::server, "llmux");
  res.set(http::field::content_type, r.content_type);
  if (!r.allow.empty()) res.set(http::field::allow, r.allow);
  if (!r.retry_after.empty()) res.set(http::field::retry_after, r.retry_after);
  if (r.challenge) res.set(http::field::www_authenticate, "Bearer realm=\"llmux\"");
  for_each_field(extra_fields, [&](std::string_view name, std::string_view value) { res.set(name, value); });
  res.keep_alive(keep_alive);
  if (!head_only) res.body() = r.body;
  res.prepare_payload();
  if (head_only) res.content_length(r.body.size());
  error_code ec;
  deadline_.arm(socket_, timeout_);
  co_await http::async_write(socket_, res, net::redirect_error(net::use_awaitable, ec));
  deadline_.done(ec);
  co_return !ec && keep_alive;
}

net::awaitable<bool> SseWriter::begin(unsigned version, bool keep_alive) {
  started_ = true;
  chunked_ = version >= 11;
  keep_alive_ = keep_alive;
  std::string head = std::string(chunked_ ? "HTTP/1.1" : "HTTP/1.0") +
                     " 200 OK\r\nServer: llmux\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
                     "X-Accel-Buffering: no\r\n";
  head += extra_;
  head += chunked_ ? "Transfer-Encoding: chunked\r\n" : "";
  head += keep_alive_ && chunked_ ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n";
  ok_ = co_await out_.write(net::buffer(head));
  co_return ok_;
}

net::awaitable<bool> SseWriter::send(std::string_view data) {
  if (!ok_ || data.empty()) co_return ok_;
  if (chunked_) {
    char size[20];
    const int n = std::snprintf(size, sizeof size, "%zx\r\n", data.size());
    const std::array<net::const_buffer, 3> bufs{net::buffer(size, static_cast<size_t>(n)), net::buffer(data),
                                                net::buffer("\r\n", 2)};
    ok_ = co_await out_.write(bufs);
  } else {
    ok_ = co_await out_.write(net::buffer(data));
  }
  co_return ok_;
}

net::awaitable<bool> SseWriter::end() {
  if (!ok_ || !chunked_) co_return false;
  ok_ = co_await out_.write(net::buffer("0\r\n\r\n", 5));
  co_return keep_alive();
}

ClientWatch::ClientWatch(ClientSocket& client)
    : client_(client), done_(client.get_executor(), net::steady_timer::time_point::max()),
      arm_timer_(client.get_executor(), [this] { start(); }) {}

void ClientWatch::arm_after(Duration delay) {
  arm_timer_.set(Deadline::now() + delay);  // a 200 ms delay: the coarse clock is fine
}

void ClientWatch::start() {
  if (pending_) return;  // one read at a time (it may still be waiting from the last request)
  pending_ = true;
  client_.async_read_some(net::buffer(scratch_), [self = shared_from_this()](const error_code& ec, size_t n) {
    self->pending_ = false;
    if (n > 0) self->extra_.append(self->scratch_.data(), n);
    if (ec && ec != net::error::operation_aborted && !self->gone_) {
      self->gone_ = true;
      if (self->on_gone_) self->on_gone_();
    }
    self->done_.cancel();
  });
}

net::awaitable<void> ClientWatch::stop() {
  if (!pending_) co_return;
  error_code ec;
  client_.cancel(ec);
  if (!pending_) co_return;
  co_await done_.async_wait(net::redirect_error(net::use_awaitable, ec));
}

}  // namespace llmux

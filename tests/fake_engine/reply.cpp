#include "tests/fake_engine/engine.hpp"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <array>
#include <memory>

namespace fake {

namespace {

[[noreturn]] void crash_now() {
  log_line("crashing");
  ::_exit(70);
}

constexpr std::string_view kInterim = "HTTP/1.1 103 Early Hints\r\nLink: </hint>; rel=preload\r\n\r\n";

// content_length nullopt: no length, the body ends when the connection closes (keep_alive must be false).
void append_head(const Engine& e, std::string& out, int status, std::string_view content_type,
                 std::optional<std::size_t> content_length, bool keep_alive) {
  out += "HTTP/1.1 ";
  append_int(out, status);
  out.push_back(' ');
  out += reason(status);
  out += "\r\nContent-Type: ";
  out += content_type;
  if (content_length) {
    out += "\r\nContent-Length: ";
    append_int(out, static_cast<std::int64_t>(*content_length));
  }
  out += "\r\n";
  out += e.extra_headers;
  out += keep_alive ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n";
}

// ---------------------------------------------------------------------------------------------- disconnects

// While a response is generated nobody reads the client socket, so a client that goes away would be noticed only
// at the next write. A watch keeps one read pending: EOF or reset marks the client gone and cancels the pacing
// timer at once. Bytes of a pipelined next request are kept and handed back to the connection buffer.
struct Watch {
  explicit Watch(const net::any_io_executor& ex) : tick(ex), done(ex, std::chrono::steady_clock::time_point::max()) {}
  net::steady_timer tick;  // the generation's pacing timer
  net::steady_timer done;  // cancelled when the read handler has run for the last time
  std::string pending;
  std::array<char, 4096> scratch{};
  bool reading = false;
  bool stopping = false;
  bool gone = false;
};

// The handler touches only the shared Watch, never the frame that started it, except to re-arm before stop.
void arm_watch(tcp::socket& sock, const std::shared_ptr<Watch>& w) {
  w->reading = true;
  sock.async_read_some(net::buffer(w->scratch), [&sock, w](const beast::error_code& ec, std::size_t n) {
    w->pending.append(w->scratch.data(), n);
    if (!ec && !w->stopping) return arm_watch(sock, w);
    w->reading = false;
    if (ec && ec != net::error::operation_aborted) {
      w->gone = true;
      w->tick.cancel();
    }
    w->done.cancel();
  });
}

std::shared_ptr<Watch> start_watch(Conn& c) {
  auto w = std::make_shared<Watch>(c.sock.get_executor());
  arm_watch(c.sock, w);
  return w;
}

net::awaitable<void> stop_watch(Conn& c, std::shared_ptr<Watch> w) {
  w->stopping = true;
  if (w->reading) {
    beast::error_code ec;
    c.sock.cancel(ec);
    co_await w->done.async_wait(net::redirect_error(net::use_awaitable, ec));
  }
  if (!w->pending.empty()) {
    const auto n = net::buffer_copy(c.buf.prepare(w->pending.size()), net::buffer(w->pending));
    c.buf.commit(n);
  }
}

// Simulated prompt processing: the uncached tokens' prefill time, before the first byte of the answer.
net::awaitable<void> prefill(const Gen& g) {
  if (g.prefill_us <= 0) co_return;
  net::steady_timer t(co_await net::this_coro::executor, std::chrono::microseconds(g.prefill_us));
  beast::error_code ec;
  co_await t.async_wait(net::redirect_error(net::use_awaitable, ec));
}

}  // namespace

net::awaitable<bool> send(const Engine& e, Conn& c, int status, bool keep_alive,
                          std::string_view content_type, bool inference) {
  c.out.clear();
  const bool unframed = inference && e.opt.close_delimited;
  if (unframed) keep_alive = false;
  if (inference && e.opt.interim) c.out += kInterim;
  append_head(e, c.out, status, content_type, unframed ? std::nullopt : std::optional<std::size_t>(c.body.size()),
              keep_alive);
  const std::array<net::const_buffer, 2> buffers = {net::buffer(c.out), net::buffer(c.body)};
  beast::error_code ec;
  co_await net::async_write(c.sock, buffers, net::redirect_error(net::use_awaitable, ec));
  co_return keep_alive && !ec;
}

net::awaitable<bool> send_error(const Engine& e, Conn& c, int status, std::string_view type,
                                std::string_view message, bool keep_alive) {
  c.body = error_json(status, type, message);
  const bool keep = co_await send(e, c, status, keep_alive);
  co_return keep;
}

net::awaitable<bool> send_loading(const Engine& e, Conn& c, bool keep_alive) {
  const bool keep = co_await send_error(e, c, 503, "unavailable_error", "Loading model", keep_alive);
  co_return keep;
}

net::awaitable<bool> stream_reply(Engine& e, Conn& c, const Gen& g, bool keep_alive) {
  co_await prefill(g);
  std::string envelope;
  append_envelope(++e.next_id, g, g.kind == Kind::chat ? "chat.completion.chunk" : "text_completion", envelope);
  c.out = e.opt.interim ? std::string(kInterim) : std::string();
  c.out += "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
           "Transfer-Encoding: chunked\r\n";
  c.out += e.extra_headers;
  c.out += keep_alive ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n";
  if (g.kind == Kind::chat)
    append_event(c.out, envelope, R"({"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]})");
  beast::error_code ec;
  co_await net::async_write(c.sock, net::buffer(c.out), net::redirect_error(net::use_awaitable, ec));
  if (ec) { ++e.cancelled; co_return false; }
  const auto crash_at = e.opt.crash_after_tokens;
  if (crash_at && *crash_at == 0) crash_now();
  const auto w = start_watch(c);
  bool finished = false;
  for (std::int64_t i = 0; i < g.n && !w->gone; ++i) {
    if (e.opt.token_ms > 0) {
      w->tick.expires_after(std::chrono::milliseconds(e.opt.token_ms));
      co_await w->tick.async_wait(net::redirect_error(net::use_awaitable, ec));
      if (w->gone) break;
    }
    c.out.clear();
    append_token_event(c.out, g, envelope, i);
    co_await net::async_write(c.sock, net::buffer(c.out), net::redirect_error(net::use_awaitable, ec));
    if (ec) w->gone = true;
    else if (crash_at && *crash_at == i + 1) crash_now();
  }
  if (!w->gone) {
    c.out.clear();
    const bool gap = e.opt.done_gap_ms > 0;
    append_stream_end(c.out, g, envelope, !gap);
    co_await net::async_write(c.sock, net::buffer(c.out), net::redirect_error(net::use_awaitable, ec));
    if (!ec && gap) {  // as llama-server may: [DONE] first, the end of the chunked body a moment later
      w->tick.expires_after(std::chrono::milliseconds(e.opt.done_gap_ms));
      co_await w->tick.async_wait(net::redirect_error(net::use_awaitable, ec));
      ec = {};
      if (!w->gone) co_await net::async_write(c.sock, net::buffer("0\r\n\r\n", 5), net::redirect_error(net::use_awaitable, ec));
    }
    if (ec || w->gone) w->gone = true;
    else finished = true;
  }
  co_await stop_watch(c, w);
  if (!finished) ++e.cancelled;
  co_return keep_alive && !w->gone;
}

net::awaitable<bool> complete_reply(Engine& e, Conn& c, const Gen& g, bool keep_alive) {
  co_await prefill(g);
  const auto crash_at = e.opt.crash_after_tokens;
  const bool crash = crash_at && *crash_at <= g.n;
  const std::int64_t paced = crash ? *crash_at : g.n;
  if (e.opt.token_ms > 0 && paced > 0) {
    const auto w = start_watch(c);
    w->tick.expires_after(std::chrono::milliseconds(paced * e.opt.token_ms));
    beast::error_code ec;
    co_await w->tick.async_wait(net::redirect_error(net::use_awaitable, ec));
    co_await stop_watch(c, w);
    if (w->gone) { ++e.cancelled; co_return false; }
  }
  if (crash) crash_now();
  build_completion_body(++e.next_id, g, c.body);
  const bool keep = co_await send(e, c, 200, keep_alive, "application/json", true);
  co_return keep;
}

}  // namespace fake

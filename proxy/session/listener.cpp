#include "proxy/session/listener.hpp"

#include <spdlog/spdlog.h>

#include <cerrno>

#include "common/fd_limit.hpp"
#include "common/seconds.hpp"

namespace llmux {

namespace {

bool out_of_descriptors(const error_code& ec) {
  return ec.category() == boost::system::system_category() && (ec.value() == EMFILE || ec.value() == ENFILE);
}


}  // namespace

Listener::Listener(net::io_context& io, MaxConnections max, OnAccept on_accept)
    : io_(io),
      acceptor_(io),
      max_(std::move(max)),
      on_accept_(std::move(on_accept)),
      room_(io),
      pause_(io),
      quiet_(io) {}

size_t Listener::cap() const { return std::min(max_(), fd_cap_); }

tcp::endpoint Listener::listen(const std::string& host, uint16_t port) {
  error_code ec;
  auto address = net::ip::make_address(host == "localhost" ? "127.0.0.1" : host, ec);
  if (ec) throw std::runtime_error("listen address '" + host + "' is not an IP address");
  tcp::endpoint ep(address, port);
  acceptor_.open(ep.protocol(), ec);
  if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor_.bind(ep, ec);
  if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
  if (ec) throw std::runtime_error("cannot listen on " + host + ":" + std::to_string(port) + ": " + ec.message());
  const uint64_t fd_limit = fd_soft_limit();
  fd_cap_ = connections_for_descriptors(fd_limit);
  if (fd_cap_ < max_())
    spdlog::info("the descriptor limit ({}) leaves room for {} client connections, fewer than maxConnections ({}); "
                 "raise it (systemd LimitNOFILE, ulimit -n) for more",
                 fd_limit, fd_cap_, max_());
  accepting_ = true;
  net::co_spawn(io_, accept_loop(), [](std::exception_ptr e) {
    if (e) spdlog::error("accept loop ended by exception");
  });
  return acceptor_.local_endpoint();
}

net::awaitable<void> Listener::accept_loop() {
  auto self = shared_from_this();
  while (accepting_) {
    if (!table_.may_accept(cap())) {  // at the cap, every connection busy: they finish first, nothing is cut
      co_await wait_for_room();
      continue;
    }
    error_code ec;
    accept_pending_ = true;
    Socket socket = co_await acceptor_.async_accept(io_.get_executor(), net::redirect_error(net::use_awaitable, ec));
    accept_pending_ = false;
    if (ec) {
      if (!accepting_) break;
      if (ec == net::error::operation_aborted) continue;  // busy(): the last idle connection got busy at the cap
      co_await back_off(ec);
      continue;
    }
    backoff_.succeeded();
    start(std::move(socket));
  }
}

// Until a connection ends or goes idle (wake()), or stop().
net::awaitable<void> Listener::wait_for_room() {
  note_cap(cap());
  episode_.paused();
  waiting_ = true;
  room_.expires_at(net::steady_timer::time_point::max());
  error_code ec;
  co_await room_.async_wait(net::redirect_error(net::use_awaitable, ec));
  waiting_ = false;
}

// Retrying at once would spin (the listening socket stays readable) and log a line per try.
net::awaitable<void> Listener::back_off(const error_code& ec) {
  const AcceptBackoff::Failure f = backoff_.failed();
  if (f.log && f.errors == 1)
    spdlog::warn("accept: {} ({} client connections open, descriptor limit {}); retrying after a growing delay "
                 "(up to {} ms), logged once per burst",
                 ec.message(), table_.open(), fd_soft_limit(), AcceptBackoff::kMax.count());
  else if (f.log)
    spdlog::warn("accept: still failing ({}): {} failed accepts so far", ec.message(), f.errors);
  // The cap did not foresee it (descriptors held elsewhere): the longest-idle connection makes room. Linux takes the
  // descriptor before it looks for a connection, so at the limit every accept fails, a client waiting or not: the
  // descriptor freed here is kept for the next client.
  if (out_of_descriptors(ec)) {
    if (auto s = table_.take_longest_idle()) close(*s);
  }
  quiet_.expires_after(AcceptBackoff::kQuiet);  // (re)starts the wait for the burst's end
  quiet_.async_wait([w = weak_from_this()](const error_code& e) {
    if (auto self = w.lock(); self && !e) self->burst_ended();
  });
  pause_.expires_after(f.delay);
  error_code ignored;
  co_await pause_.async_wait(net::redirect_error(net::use_awaitable, ignored));
}

void Listener::burst_ended() {
  if (const uint64_t failed = backoff_.ended(); failed > 0)
    spdlog::info("accept: working again after {} failed accepts", failed);
}

void Listener::start(Socket socket) {
  error_code ec;
  socket.set_option(tcp::no_delay(true), ec);
  socket.non_blocking(true, ec);  // the relay tries writes at once before going asynchronous
  const Slot slot = table_.add();
  make_room();
  on_accept_(std::move(socket), slot);
}

void Listener::make_room() {
  const size_t cap = this->cap();
  if (table_.open() < cap) return;
  note_cap(cap);
  while (auto s = table_.over_cap(cap)) close(*s);
}

void Listener::note_cap(size_t cap) {
  if (episode_.reached(table_.open(), cap, std::chrono::steady_clock::now()))
    spdlog::warn("client connections at the cap ({}): a new one closes the longest-idle one, or waits while every "
                 "one is busy",
                 cap);
}

void Listener::idle(Slot s) {
  table_.idle(s);
  wake();  // (over the cap, the next accept closes what is too many: not this one, unless it is still the longest idle)
}

void Listener::busy(Slot s) {
  table_.busy(s);
  if (accept_pending_ && !table_.may_accept(cap())) {  // nothing left to make room with: stop accepting now
    error_code ec;
    acceptor_.cancel(ec);
  }
}

void Listener::ended(Slot s) {
  table_.remove(s);
  if (episode_.active()) {
    if (auto sum = episode_.eased(table_.open(), cap(), std::chrono::steady_clock::now()))
      spdlog::info("client connections back under the cap ({} open): {} idle connections closed to make room, "
                   "accepting paused {} times, in {:.1f} s",
                   table_.open(), sum->closed_idle, sum->pauses, seconds(sum->lasted));
  }
  wake();
}

void Listener::close(Socket* s) {
  episode_.closed_idle();  // counted, not logged one by one: a flood would flood the log
  error_code ec;
  s->shutdown(tcp::socket::shutdown_both, ec);
  s->close(ec);  // its session's pending read ends; the session ends
}

void Listener::wake() {
  if (!waiting_) return;
  waiting_ = false;
  room_.cancel();
}

void Listener::stop() {
  accepting_ = false;
  error_code ec;
  acceptor_.close(ec);
  wake();
  pause_.cancel();
  quiet_.cancel();
}

void Listener::close_all() {
  table_.for_each_open([](Socket* s) {
    if (!s) return;
    error_code ec;
    s->shutdown(tcp::socket::shutdown_both, ec);
    s->close(ec);
  });
}

}  // namespace llmux

// Listener: accepts client connections and keeps them under a cap, min(maxConnections, what the descriptor limit
// leaves room for). At the cap a new connection closes the longest-idle one (fresh or keep-alive, waiting for a
// request); one in a request or a stream is never closed, and with none idle accepting pauses (clients wait in the
// backlog). Failed accepts back off, logged once per burst; out of descriptors, the longest-idle one goes too.
// Decisions: proxy/conn_limits.hpp. listen() throws std::runtime_error with one line when it cannot bind.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "common/net.hpp"
#include "proxy/policy/conn_limits.hpp"

namespace llmux {

class Listener : public std::enable_shared_from_this<Listener> {
 public:
  using Socket = net::basic_stream_socket<tcp, net::io_context::executor_type>;
  using Table = ConnectionTable<Socket*>;
  using Slot = Table::Handle;
  // Starts a session for an accepted connection. The session bind()s its socket to the slot, says idle() before
  // it waits for a request and busy() when the request's first bytes are in, and ended() when it is over.
  using OnAccept = std::function<void(Socket, Slot)>;
  using MaxConnections = std::function<size_t()>;  // the serving config's maxConnections (asked at each decision)

  Listener(net::io_context& io, MaxConnections max, OnAccept on_accept);
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  tcp::endpoint listen(const std::string& host, uint16_t port);
  void stop();       // no more accepts; pending waits end
  void close_all();  // closes every open connection (end of shutdown)

  void bind(Slot s, Socket* socket) { table_.bind(s, socket); }
  void idle(Slot s);
  // At the cap, an accept already pending when the last idle connection gets busy is cancelled; one that completes
  // anyway leaves the count one over the cap until a connection ends or the next accept closes an idle one.
  void busy(Slot s);
  void ended(Slot s);

  size_t sessions() const { return table_.listed(); }
  size_t cap() const;

 private:
  net::io_context& io_;
  tcp::acceptor acceptor_;
  MaxConnections max_;
  OnAccept on_accept_;
  Table table_;
  size_t fd_cap_ = SIZE_MAX;  // connections the descriptor limit leaves room for (read at listen())
  bool accepting_ = false;
  bool accept_pending_ = false;
  net::steady_timer room_;     // the accept loop waits here, at the cap with none idle (woken by wake())
  bool waiting_ = false;
  net::steady_timer pause_;    // the delay after a failed accept
  net::steady_timer quiet_;    // ends a burst of failed accepts (its closing log line)
  AcceptBackoff backoff_;
  CapEpisode episode_;

  net::awaitable<void> accept_loop();
  net::awaitable<void> wait_for_room();
  net::awaitable<void> back_off(const error_code& ec);
  void burst_ended();
  void start(Socket socket);
  void make_room();
  void note_cap(size_t cap);
  void close(Socket* s);
  void wake();
};

}  // namespace llmux

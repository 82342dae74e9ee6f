// Server: the client-facing listener and its sessions (one coroutine per client connection). Reads requests with
// bounded header/body/idle timeouts and a body limit, routes them (inference → admission + relay; admin → JSON from
// the coordinator's snapshot), and writes OpenAI-shaped errors. Open connections are capped (listener.hpp: idle ones
// are closed first). The Session type is session.hpp.
// listen() throws std::runtime_error with one line when it cannot bind.
#pragma once

#include <memory>
#include <string>

#include "common/net.hpp"
#include "proxy/daemon/coordinator.hpp"
#include "proxy/daemon/daemon_info.hpp"

namespace llmux {

class Server {
 public:
  Server(net::io_context& io, Coordinator& coordinator, DaemonInfo& info);
  ~Server();

  tcp::endpoint listen(const std::string& host, uint16_t port);
  void stop_accepting();
  void close_sessions();      // closes every client connection (end of shutdown)
  size_t sessions() const;

  struct Impl;  // defined in server.cpp

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace llmux

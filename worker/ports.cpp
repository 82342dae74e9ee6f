#include "worker/ports.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace llmux {

namespace {

int bind_loopback(uint16_t port, uint16_t* bound) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return errno;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int err = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    err = errno;
  } else if (bound) {
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    *bound = ntohs(addr.sin_port);
  }
  ::close(fd);
  return err;
}

}  // namespace

uint16_t pick_ephemeral_port() {
  uint16_t port = 0;
  return bind_loopback(0, &port) == 0 ? port : 0;
}

bool port_in_use(uint16_t port) { return bind_loopback(port, nullptr) == EADDRINUSE; }

}  // namespace llmux

#include "common/notify.hpp"

#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <string>

namespace llmux {

namespace {

#ifdef MSG_NOSIGNAL
constexpr int kSendFlags = MSG_NOSIGNAL;
#else
constexpr int kSendFlags = 0;  // macOS: SIGPIPE is ignored by main(); datagram sends do not raise it anyway
#endif

// Fills `addr` from $NOTIFY_SOCKET; returns the address length, 0 when the value is unusable.
socklen_t notify_address(std::string_view name, sockaddr_un& addr) {
  if (name.size() < 2 || (name[0] != '/' && name[0] != '@')) return 0;
  if (name.size() >= sizeof(addr.sun_path)) return 0;
  std::memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, name.data(), name.size());
  auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size());
  if (name[0] == '@') addr.sun_path[0] = '\0';  // abstract: the length covers the name, no terminating NUL
  else len += 1;                                  // a path: include its NUL
  return len;
}

void warn(const char* what, std::string_view name, int err) noexcept {
  try {
    spdlog::warn("cannot notify the service manager at {}: {}: {}", name, what, std::strerror(err));
  } catch (...) {
  }
}

}  // namespace

void notify_service_manager(std::string_view state) noexcept {
  const char* env = std::getenv("NOTIFY_SOCKET");
  if (!env || !*env) return;
  std::string_view name(env);
  sockaddr_un addr;
  socklen_t len = notify_address(name, addr);
  if (len == 0) return warn("unsupported address", name, EINVAL);
  int fd = ::socket(AF_UNIX, SOCK_DGRAM, 0);
  if (fd < 0) return warn("socket", name, errno);
  ssize_t sent = ::sendto(fd, state.data(), state.size(), kSendFlags, reinterpret_cast<const sockaddr*>(&addr), len);
  int err = errno;
  ::close(fd);
  if (sent < 0) warn("sendto", name, err);
}

}  // namespace llmux

// Linux: a PSI trigger (Documentation/accounting/psi.rst). Unprivileged users may only use windows that are
// multiples of 2 s. The descriptor reports POLLPRI when tasks stalled on memory for 150 ms within 2 s.
#include <fcntl.h>
#include <unistd.h>

#include <cstring>

#include "worker/pressure.hpp"

namespace llmux {

int platform_pressure_trigger_fd() {
  int fd = ::open("/proc/pressure/memory", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return -1;
  const char* trigger = "some 150000 2000000";
  if (::write(fd, trigger, std::strlen(trigger) + 1) < 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

bool platform_pressure_dispatch(net::io_context&, std::function<void(Pressure)>) { return false; }

}  // namespace llmux

// Linux child setup: parent-death signal and close-on-exec for every inherited descriptor.
#include <fcntl.h>
#include <linux/close_range.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "worker/process.hpp"

namespace llmux {

bool platform_child_die_with_parent(pid_t parent) {
  // PDEATHSIG fires when the *thread* that forked exits: llmux spawns only from its event-loop thread.
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) return false;
  return ::getppid() == parent;  // llmux already died between fork and prctl
}

void platform_child_close_inherited_fds() {
  if (::syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) == 0) return;
  long max = ::sysconf(_SC_OPEN_MAX);  // kernels before 5.11
  for (int fd = 3; fd < max; ++fd) ::fcntl(fd, F_SETFD, FD_CLOEXEC);
}

}  // namespace llmux

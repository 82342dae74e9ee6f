// macOS child setup. macOS has no parent-death signal: when llmux runs as a LaunchAgent, launchd kills the job's
// process groups when llmux dies; an llmux started by hand and SIGKILLed can leave its engine running (known gap,
// see docs). Clean stops (SIGTERM/SIGINT) always stop the engine.
#include <fcntl.h>
#include <unistd.h>

#include "worker/process.hpp"

namespace llmux {

bool platform_child_die_with_parent(pid_t) { return true; }

void platform_child_close_inherited_fds() {
  int max = ::getdtablesize();
  for (int fd = 3; fd < max; ++fd) ::fcntl(fd, F_SETFD, FD_CLOEXEC);
}

}  // namespace llmux

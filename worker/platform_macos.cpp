// macOS child setup. macOS has no parent-death signal and engines run in process groups of their own, so an
// llmux that is SIGKILLed (or crashes) can leave its engine running: a known gap (docs/operations.md). Clean stops
// (SIGTERM/SIGINT) always stop the engine.
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

// macOS: close-on-exec for every inherited descriptor, process start times from sysctl KERN_PROC, the state
// directory. macOS has no parent-death signal and engines run in process groups of their own, so an llmux that
// is SIGKILLed (or crashes) leaves its engine running: the next `llmux serve` reaps it from the state file
// (worker/stale_reaper.hpp). Clean stops (SIGTERM/SIGINT) always stop the engine.
#include <fcntl.h>
#include <sys/proc.h>
#include <sys/sysctl.h>
#include <sys/types.h>
#include <unistd.h>

#include "worker/platform.hpp"

namespace llmux {

bool platform_parent_death_signal() { return false; }

bool platform_child_die_with_parent(pid_t) { return true; }

void platform_child_close_inherited_fds() {
  int max = ::getdtablesize();
  for (int fd = 3; fd < max; ++fd) ::fcntl(fd, F_SETFD, FD_CLOEXEC);
}

std::optional<uint64_t> process_start_time(pid_t pid) {
  if (pid <= 0) return std::nullopt;
  int mib[4] = {CTL_KERN, KERN_PROC, KERN_PROC_PID, pid};
  struct kinfo_proc kp {};
  size_t len = sizeof kp;
  if (::sysctl(mib, 4, &kp, &len, nullptr, 0) != 0 || len < sizeof kp) return std::nullopt;  // len 0: no such pid
  if (kp.kp_proc.p_stat == SZOMB) return std::nullopt;
  const struct timeval& t = kp.kp_proc.p_starttime;
  return static_cast<uint64_t>(t.tv_sec) * 1000000u + static_cast<uint64_t>(t.tv_usec);
}

std::string boot_id() {
  char buf[64] = {};
  size_t len = sizeof buf - 1;
  if (::sysctlbyname("kern.bootsessionuuid", buf, &len, nullptr, 0) != 0) return {};
  return std::string(buf);  // NUL-terminated by the kernel (and by buf's last byte)
}

// $XDG_STATE_HOME is honoured when set (tests point it at a temp directory; users who set it mean it); the
// platform's place otherwise.
std::string state_directory(const char* xdg_state_home, const char* home) {
  if (xdg_state_home && xdg_state_home[0] == '/') return std::string(xdg_state_home) + "/llmux";
  if (home && home[0] == '/') return std::string(home) + "/Library/Application Support/llmux";
  return {};
}

}  // namespace llmux

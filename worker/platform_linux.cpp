// Linux: parent-death signal, close-on-exec for every inherited descriptor, process start times from /proc, the
// XDG state directory.
#include <fcntl.h>
#include <linux/close_range.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "worker/platform.hpp"

namespace llmux {

namespace {

// Test hook: LLMUX_TEST_NO_PDEATHSIG=1 lets engines outlive a SIGKILLed llmux, so that the integration tests can
// exercise the state file's reaping (the only defence macOS has). Read once, before main; never in the child.
const bool kDieWithParent = [] {
  const char* v = std::getenv("LLMUX_TEST_NO_PDEATHSIG");
  return !(v && std::strcmp(v, "1") == 0);
}();

}  // namespace

bool platform_parent_death_signal() { return kDieWithParent; }

bool platform_child_die_with_parent(pid_t parent) {
  if (!kDieWithParent) return true;
  // PDEATHSIG fires when the *thread* that forked exits: llmux spawns only from its event-loop thread.
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) return false;
  return ::getppid() == parent;  // llmux already died between fork and prctl
}

void platform_child_close_inherited_fds() {
  if (::syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) == 0) return;
  long max = ::sysconf(_SC_OPEN_MAX);  // kernels before 5.11
  for (int fd = 3; fd < max; ++fd) ::fcntl(fd, F_SETFD, FD_CLOEXEC);
}

std::optional<uint64_t> process_start_time(pid_t pid) {
  if (pid <= 0) return std::nullopt;
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(f, line)) return std::nullopt;
  auto paren = line.rfind(')');  // field 2, the command name, may itself hold ')' and spaces
  if (paren == std::string::npos) return std::nullopt;
  std::istringstream fields(line.substr(paren + 1));
  std::string state;
  fields >> state;  // field 3
  if (state.empty() || state == "Z" || state == "X") return std::nullopt;
  std::string field;
  for (int i = 4; i <= 22 && fields >> field; ++i) {
    if (i < 22) continue;
    char* end = nullptr;
    unsigned long long ticks = std::strtoull(field.c_str(), &end, 10);
    if (end == field.c_str() || *end != '\0') return std::nullopt;
    return static_cast<uint64_t>(ticks);
  }
  return std::nullopt;
}

std::string boot_id() {
  std::ifstream f("/proc/sys/kernel/random/boot_id");
  std::string id;
  std::getline(f, id);
  return id;
}

std::string state_directory(const char* xdg_state_home, const char* home) {
  if (xdg_state_home && xdg_state_home[0] == '/') return std::string(xdg_state_home) + "/llmux";
  if (home && home[0] == '/') return std::string(home) + "/.local/state/llmux";
  return {};
}

}  // namespace llmux

// macOS: setrlimit() refuses a soft limit above kern.maxfilesperproc (and RLIM_INFINITY, launchd's default hard
// limit); older releases refuse anything above OPEN_MAX (10,240), the second try.
#include <sys/sysctl.h>
#include <sys/syslimits.h>

#include <algorithm>
#include <cstdint>

#include "common/fd_limit.hpp"

namespace llmux {

FdCeiling platform_fd_ceiling(uint64_t hard) {
  int per_proc = 0;
  size_t size = sizeof per_proc;
  uint64_t first = hard;
  if (::sysctlbyname("kern.maxfilesperproc", &per_proc, &size, nullptr, 0) == 0 && per_proc > 0)
    first = std::min<uint64_t>(hard, static_cast<uint64_t>(per_proc));
  else
    first = std::min<uint64_t>(hard, OPEN_MAX);
  const uint64_t second = std::min<uint64_t>(hard, OPEN_MAX);
  return {first, second < first ? second : 0};
}

}  // namespace llmux

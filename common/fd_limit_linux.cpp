// Linux: the soft limit may go up to the hard one, but never above fs.nr_open (an unlimited hard limit is refused).
#include <cstdint>
#include <fstream>

#include "common/fd_limit.hpp"

namespace llmux {

FdCeiling platform_fd_ceiling(uint64_t hard) {
  if (hard != UINT64_MAX) return {hard, 0};
  uint64_t nr_open = 0;
  std::ifstream f("/proc/sys/fs/nr_open");
  if (!(f >> nr_open) || nr_open == 0) nr_open = 1024 * 1024;  // the kernel's default
  return {nr_open, 0};
}

}  // namespace llmux

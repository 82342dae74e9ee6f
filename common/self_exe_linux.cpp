#include <unistd.h>

#include <climits>

#include "common/self_exe.hpp"

namespace llmux {

std::string self_executable() {
  char buf[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string("llmux");
}

}  // namespace llmux

#include <mach-o/dyld.h>

#include <climits>
#include <cstdlib>

#include "common/self_exe.hpp"

namespace llmux {

std::string self_executable() {
  char buf[PATH_MAX];
  uint32_t size = sizeof buf;
  if (_NSGetExecutablePath(buf, &size) != 0) return "llmux";
  char resolved[PATH_MAX];
  return ::realpath(buf, resolved) != nullptr ? std::string(resolved) : std::string(buf);
}

}  // namespace llmux

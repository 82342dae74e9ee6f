#include "common/fd_limit.hpp"

#include <sys/resource.h>

#include <cstdint>
#include <initializer_list>

namespace llmux {

namespace {

uint64_t as_u64(rlim_t v) { return v == RLIM_INFINITY ? UINT64_MAX : static_cast<uint64_t>(v); }
rlim_t as_rlim(uint64_t v) { return v == UINT64_MAX ? RLIM_INFINITY : static_cast<rlim_t>(v); }

// What child_restore_fd_limit() sets; written once at start, before any engine is spawned.
bool g_raised = false;
struct rlimit g_inherited {};

}  // namespace

FdLimit raise_fd_limit() {
  struct rlimit lim {};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return {};
  FdLimit r{as_u64(lim.rlim_cur), as_u64(lim.rlim_cur), as_u64(lim.rlim_max)};
  const FdCeiling ceiling = platform_fd_ceiling(r.hard);
  for (uint64_t want : {ceiling.first, ceiling.second}) {
    if (want == 0 || want <= r.soft) break;  // nothing to gain (or already there)
    struct rlimit next = lim;
    next.rlim_cur = as_rlim(want);
    if (::setrlimit(RLIMIT_NOFILE, &next) == 0) {
      g_inherited = lim;
      g_raised = true;
      r.soft = want;
      break;
    }
  }
  return r;
}

uint64_t fd_soft_limit() {
  struct rlimit lim {};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return 0;
  return as_u64(lim.rlim_cur);
}

void child_restore_fd_limit() {
  if (g_raised) ::setrlimit(RLIMIT_NOFILE, &g_inherited);
}

}  // namespace llmux

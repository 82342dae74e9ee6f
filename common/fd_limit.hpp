// The descriptor limit (RLIMIT_NOFILE). A user service starts with a soft limit of 1,024 (launchd: 256) and a hard
// limit far above it: raise_fd_limit(), once at start, lifts the soft limit to the hard one (Linux: no higher than
// fs.nr_open; macOS: kern.maxfilesperproc, else OPEN_MAX). Engines get the soft limit llmux started with back
// (child_restore_fd_limit(), between fork and exec), as from a shell: a raised limit is llmux's need, not theirs.
// Platform parts: fd_limit_{linux,macos}.cpp. Nothing here throws; a limit that cannot be raised stays as it was.
#pragma once

#include <cstdint>

namespace llmux {

struct FdLimit {
  uint64_t soft_before = 0;  // the soft limit llmux started with
  uint64_t soft = 0;         // now
  uint64_t hard = 0;         // UINT64_MAX: unlimited
};

FdLimit raise_fd_limit();
uint64_t fd_soft_limit();       // the current soft limit (UINT64_MAX: unlimited)
void child_restore_fd_limit();  // in a forked child: async-signal-safe

// Platform part: the highest soft limit to ask for under `hard`, most permissive first; a second candidate (0 when
// none) is tried when the first is refused.
struct FdCeiling {
  uint64_t first = 0;
  uint64_t second = 0;
};
FdCeiling platform_fd_ceiling(uint64_t hard);

}  // namespace llmux

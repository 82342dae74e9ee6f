// Platform hooks (worker/platform_linux.cpp, worker/platform_macos.cpp): the few things about processes that POSIX
// leaves to each OS. The child hooks run in the forked child and are async-signal-safe; the others never throw
// and answer "unknown" (nullopt, empty) when the OS will not tell.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

namespace llmux {

// Called in the forked child before exec (worker/spawn_init.hpp). Return false to abort the spawn.
bool platform_child_die_with_parent(pid_t parent);
void platform_child_close_inherited_fds();

// Whether engines are killed when llmux dies (Linux PR_SET_PDEATHSIG). False on macOS, and on Linux when llmux was
// started with the test hook LLMUX_TEST_NO_PDEATHSIG=1 (read once, before main).
bool platform_parent_death_signal();

// When `pid` started, as an opaque number that differs between two processes given the same pid within one boot
// (Linux: /proc/<pid>/stat field 22, clock ticks since boot; macOS: microseconds since the epoch). nullopt when
// there is no such process or it has exited (a zombie runs nothing) or it cannot be read.
std::optional<uint64_t> process_start_time(pid_t pid);

// This boot's identity (Linux /proc/sys/kernel/random/boot_id, macOS kern.bootsessionuuid); empty if unknown.
// Start times on Linux count from boot, so they only mean something together with it.
std::string boot_id();

// The directory llmux keeps its per-user state in, from the values of $XDG_STATE_HOME and $HOME (either may be
// null): Linux $XDG_STATE_HOME/llmux (absolute values only, as the XDG spec says), else ~/.local/state/llmux;
// macOS ~/Library/Application Support/llmux, or $XDG_STATE_HOME/llmux when it is set. Empty when neither helps.
std::string state_directory(const char* xdg_state_home, const char* home);

}  // namespace llmux

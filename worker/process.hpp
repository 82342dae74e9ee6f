// Spawning engine processes (Boost.Process with llmux's initializers, worker/spawn_init.hpp; no shell). The child
// runs in its own process group, stdin is /dev/null, stdout+stderr go to one pipe, it inherits none of llmux's
// descriptors nor its raised descriptor limit (common/fd_limit.hpp), and (where the platform has it) it is killed
// when llmux dies. The executable is searched in the PATH of the environment the engine gets. spawn_process() throws
// SpawnError when the executable cannot be run (nothing is left running or unreaped then); it blocks only until the
// child has exec'd. The caller reaps the child (worker/reaper.hpp).
#pragma once

#include <sys/types.h>

#include <stdexcept>
#include <string>
#include <vector>

namespace llmux {

class SpawnError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct SpawnRequest {
  std::vector<std::string> argv;
  std::vector<std::string> env;  // "NAME=value", added to (or replacing in) llmux's environment; PATH too
};

struct Spawned {
  pid_t pid = -1;          // also the process group id
  int output_fd = -1;      // read end of the stdout+stderr pipe (non-blocking, close-on-exec); caller owns it
};

Spawned spawn_process(const SpawnRequest& req);

// Signals a whole process group; false if it no longer exists.
bool signal_group(pid_t pgid, int sig);

// "exited with status 1", "killed by signal 9 (SIGKILL)" for a raw wait status.
std::string describe_wait_status(int status);

}  // namespace llmux

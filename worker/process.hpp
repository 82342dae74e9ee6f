// Spawning engine processes (POSIX fork/exec, no shell). The child runs in its own process group, stdin is
// /dev/null, stdout+stderr go to one pipe, it inherits none of llmux's descriptors nor its raised descriptor limit
// (common/fd_limit.hpp), and (where the platform has it) it is killed when llmux dies. spawn_process() throws SpawnError when the executable cannot be run; it
// blocks only until the child has exec'd (microseconds).
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
  std::vector<std::string> env;  // "NAME=value", added to (or replacing in) llmux's environment
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

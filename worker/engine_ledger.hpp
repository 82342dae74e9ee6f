// EngineLedger: the state file (<state dir>/engines.json) in which llmux records each engine it spawns until the
// engine's process is reaped, so that the next `llmux serve` can reap engines left running by an llmux that died
// without stopping them (SIGKILL, crash; macOS has no parent-death signal). Every llmux of the user shares the
// file: each change is a read-modify-write under an flock on engines.lock (waited for at most 100 ms), written to
// a temp file and renamed over. Never throws: a failure is one warning line (until the file works again) and
// llmux goes on without that record. Each call blocks for a few small file operations.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

#include "worker/engine_state.hpp"

namespace llmux {

class EngineLedger {
 public:
  // `dir` empty: disabled (one warning says so, and every call does nothing).
  explicit EngineLedger(std::string dir);
  // state_directory($XDG_STATE_HOME, $HOME).
  static std::string default_directory();

  // Records an engine this llmux spawned (`pid` leads its own process group); its start time is read now.
  void add(const std::string& model, pid_t pid);
  // Forgets it (this llmux's record of `pid`), once its process is gone.
  void remove(pid_t pid);
  // Read-modify-write of every record under the lock; written only if `edit` changed them. false on failure.
  bool update(const std::function<void(std::vector<EngineRecord>&)>& edit);

  bool enabled() const { return !dir_.empty(); }
  const std::string& path() const { return path_; }
  const std::string& boot() const { return boot_; }
  pid_t owner_pid() const { return owner_pid_; }
  uint64_t owner_start() const { return owner_start_; }

 private:
  bool transact(const std::function<void(std::vector<EngineRecord>&)>& edit, std::string& error);
  void warn(const std::string& what);

  std::string dir_, path_;
  std::string boot_;
  pid_t owner_pid_ = -1;
  uint64_t owner_start_ = 0;
  bool failing_ = false;  // the last operation failed and said so: the next failure stays quiet
};

}  // namespace llmux

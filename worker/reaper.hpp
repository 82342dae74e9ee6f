// ChildReaper: one SIGCHLD signal_set for the whole daemon; reaps exactly the pids it was asked to watch (never
// waitpid(-1): that would steal statuses from anyone else) and calls each handler once, on the io_context.
// Create it before the first spawn.
#pragma once

#include <sys/types.h>

#include <functional>
#include <unordered_map>

#include "common/net.hpp"

namespace llmux {

class ChildReaper {
 public:
  using Handler = std::function<void(int wait_status)>;
  explicit ChildReaper(net::io_context& io);
  void watch(pid_t pid, Handler on_exit);
  size_t watched() const { return handlers_.size(); }

 private:
  void arm();
  void reap();
  net::signal_set sigchld_;
  std::unordered_map<pid_t, Handler> handlers_;
};

}  // namespace llmux

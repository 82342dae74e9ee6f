#include "worker/reaper.hpp"

#include <sys/wait.h>

#include <vector>

namespace llmux {

ChildReaper::ChildReaper(net::io_context& io) : sigchld_(io, SIGCHLD) { arm(); }

void ChildReaper::watch(pid_t pid, Handler on_exit) {
  handlers_[pid] = std::move(on_exit);
  reap();  // it may already be gone (a SIGCHLD can arrive before watch() is called)
}

void ChildReaper::arm() {
  sigchld_.async_wait([this](const error_code& ec, int) {
    if (ec) return;
    reap();
    arm();
  });
}

void ChildReaper::reap() {
  std::vector<std::pair<Handler, int>> done;
  for (auto it = handlers_.begin(); it != handlers_.end();) {
    int status = 0;
    pid_t r = ::waitpid(it->first, &status, WNOHANG);
    if (r == it->first) {
      done.emplace_back(std::move(it->second), status);
      it = handlers_.erase(it);
    } else {
      ++it;
    }
  }
  // Posted, never called inline: watch() may be called from code that is not ready for the exit yet.
  for (auto& [handler, status] : done)
    net::post(sigchld_.get_executor(), [h = std::move(handler), st = status] { h(st); });
}

}  // namespace llmux

// llmux's own Boost.Process (v1, 1.74) initializers for spawning engines (worker/process.cpp). Each is a
// boost::process::extend::handler whose hooks run at one step of the spawn: on_setup in llmux before fork,
// on_exec_setup in the forked child between fork and exec (async-signal-safe calls only: no allocation, no locks),
// on_error in llmux when the spawn failed. Pass them to bp::child in the order below: CloseInheritedFds last.
// Why Boost.Process needs each one: docs/architecture.md, "Spawn". Nothing here throws.
#pragma once

#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <system_error>
#include <vector>

#include <boost/process/extend.hpp>

#include "common/fd_limit.hpp"
#include "worker/platform.hpp"

namespace llmux::spawn_init {

namespace bpx = boost::process::extend;

// The program and its argv exactly as configured: argv[0] as written (bp::exe would make it the resolved path), and
// empty arguments allowed (bp::args takes `&arg.front()` of each, undefined for an empty string and an abort under
// _GLIBCXX_ASSERTIONS).
struct ExecArgv : bpx::handler {
  ExecArgv(std::string exe, std::vector<std::string> argv) : exe_(std::move(exe)), argv_(std::move(argv)) {}
  template <class Executor>
  void on_setup(Executor& e) {
    ptrs_.clear();
    for (auto& a : argv_) ptrs_.push_back(a.data());
    ptrs_.push_back(nullptr);
    e.exe = exe_.c_str();
    e.cmd_line = ptrs_.data();
  }

 private:
  std::string exe_;
  std::vector<std::string> argv_;
  std::vector<char*> ptrs_;
};

// The engine's environment ("NAME=value" entries), given to execve as is. Boost.Process 1.74's own environment
// type is not used: its find() (behind operator[] and bp::env) compares the key with each entry through
// std::equal over the key's length, reading past an entry shorter than the key (AddressSanitizer:
// heap-buffer-overflow in the spawn tests).
struct ExecEnv : bpx::handler {
  explicit ExecEnv(std::vector<std::string> entries) : entries_(std::move(entries)) {}
  template <class Executor>
  void on_setup(Executor& e) {
    ptrs_.clear();
    for (auto& kv : entries_) ptrs_.push_back(kv.data());
    ptrs_.push_back(nullptr);
    e.env = ptrs_.data();
  }

 private:
  std::vector<std::string> entries_;
  std::vector<char*> ptrs_;
};

// Reports a failure of a child-side step through Boost.Process's exec-error pipe and ends the child: the executor
// would otherwise go on to execve (it does not check errors set in on_exec_setup).
template <class Executor>
[[noreturn]] void fail_in_child(Executor& e, int err, const char* what) {
  e.set_error(std::error_code(err, std::system_category()), what);
  ::_exit(127);
}

// The engine leads a process group of its own, so that a stop signals everything it started. Set only in the
// child: the parent learns of the spawn only after exec (it waits on the exec-error pipe), by which time the group
// exists, so the parent-side setpgid() of a hand-written fork is not needed.
struct OwnProcessGroup : bpx::handler {
  template <class Executor>
  void on_exec_setup(Executor& e) const {
    if (::setpgid(0, 0) != 0) fail_in_child(e, errno, "setpgid");
  }
};

// Linux: SIGKILL when llmux dies (PR_SET_PDEATHSIG; worker/platform_linux.cpp), unless LLMUX_TEST_NO_PDEATHSIG=1.
// `parent` is llmux's pid, read before fork: if llmux died in between, the child ends here.
struct DieWithParent : bpx::handler {
  explicit DieWithParent(pid_t parent) : parent_(parent) {}
  template <class Executor>
  void on_exec_setup(Executor& e) const {
    if (!platform_child_die_with_parent(parent_)) fail_in_child(e, errno ? errno : ESRCH, "parent-death signal");
  }

 private:
  pid_t parent_;
};

// An empty signal mask, and SIGPIPE back to its default: llmux ignores it (proxy/main.cpp) and an ignored
// disposition survives exec. Boost.Process leaves both as the parent had them.
struct ResetSignals : bpx::handler {
  template <class Executor>
  void on_exec_setup(Executor&) const {
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGPIPE, SIG_DFL);
  }
};

// Every descriptor above stderr close-on-exec (Asio opens sockets without it, and bp's merged stdout+stderr pipe
// leaves its read end open in the child), then the soft RLIMIT_NOFILE llmux started with (common/fd_limit.hpp).
// Not bp::limit_handles: in 1.74 it also closes the executor's exec-error pipe and allocates in the child.
// Last: the exec-error pipe must stay open until execve, and close-on-exec keeps it so.
struct CloseInheritedFds : bpx::handler {
  template <class Executor>
  void on_exec_setup(Executor&) const {
    platform_child_close_inherited_fds();
    child_restore_fd_limit();  // after the above: it may use the soft limit to find the last descriptor
  }
};

// Boost.Process 1.74 leaves the child of a failed spawn unreaped (a zombie per failed exec). Kill first: a child
// whose setup step reported an error without exiting (bp's own dup2 failures) would otherwise still exec and run.
struct ReapFailedChild : bpx::handler {
  template <class Executor>
  void on_error(Executor& e, const std::error_code&) const {
    if (e.pid <= 0) return;  // failed before fork
    ::kill(e.pid, SIGKILL);
    int status;
    while (::waitpid(e.pid, &status, 0) < 0 && errno == EINTR) {
    }
  }
};

}  // namespace llmux::spawn_init

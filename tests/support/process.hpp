// Child processes for tests (fork + execvp) with stdout and stderr captured through one pipe: a reader thread
// appends to an in-memory buffer and, if a log path is given, to that file. The destructor SIGKILLs and reaps a
// child still running. On Linux the child gets PR_SET_PDEATHSIG(SIGKILL), which fires when the *thread* that
// constructed the Process exits: create Processes from the test's main thread. The constructor throws
// std::runtime_error when the executable cannot be started (the message carries the exec error).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace llmux::test {

class Process {
 public:
  // argv[0] is looked up in PATH unless it has a '/'. extra_env entries "KEY=VALUE" add to or override the
  // inherited environment. `nofile` > 0: the child's descriptor limit (RLIMIT_NOFILE), soft and hard alike, so that
  // the child cannot raise it.
  explicit Process(std::vector<std::string> argv, std::vector<std::string> extra_env = {},
                   std::string log_path = "", std::uint64_t nofile = 0);
  ~Process();  // SIGKILL + reap if still running; joins the reader thread
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const;

  // Waits until the captured output contains `needle` at or after byte offset `from`; returns the whole line that
  // contains it (without the newline), or nullopt on timeout, or once the process has exited without printing it.
  std::optional<std::string> wait_for_output(const std::string& needle, std::chrono::milliseconds timeout,
                                             std::size_t from = 0);
  std::string output() const;       // everything captured so far (thread-safe)
  std::size_t output_size() const;  // a `from` offset for wait_for_output that skips what is already there
  void signal(int sig);             // no-op once the child has been reaped (its pid may be reused)

  // Waits for exit; returns the raw wait status (WIFEXITED, WEXITSTATUS, WIFSIGNALED...), nullopt on timeout.
  // Idempotent: later calls return the same status. Once an exit is observed (here, in running() or
  // wait_for_output), output() holds everything the child wrote (up to 1 s is spent draining the pipe).
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);
  bool running();

 private:
  bool try_reap();  // non-blocking waitpid; true once the child is reaped (then drains the pipe)
  void read_loop(int fd, int log_fd);

  pid_t pid_ = -1;
  std::optional<int> status_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::string out_;
  bool eof_ = false;    // the pipe reached EOF: the child and everything that inherited the pipe are gone
  bool stop_ = false;   // the destructor asks the reader to give up (a grandchild may hold the pipe open)
  std::thread reader_;
};

// Live (non-zombie) processes whose argv has an element equal to `needle`. Linux (/proc) only; empty elsewhere.
std::vector<pid_t> find_pids_with_arg(const std::string& needle);
bool pid_alive(pid_t pid);  // exists and is not a zombie
uint16_t pick_free_port();  // binds 127.0.0.1:0, reads the port, closes
std::string make_temp_dir();  // a fresh directory under /tmp
void write_file(const std::string& path, const std::string& text);  // throws std::runtime_error
std::string read_text_file(const std::string& path);                 // the whole file; "" when it cannot be read

}  // namespace llmux::test

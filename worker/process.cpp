#include "worker/process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <utility>

#include "worker/platform.hpp"
#include "common/fd_limit.hpp"

extern char** environ;

namespace llmux {

namespace {

std::string resolve_executable(const std::string& name) {
  if (name.find('/') != std::string::npos) return name;
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    std::string dir = dirs.substr(start, end - start);
    std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    struct stat st{};
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(candidate.c_str(), X_OK) == 0)
      return candidate;
    start = end + 1;
  }
  throw SpawnError("executable '" + name + "' not found in PATH");
}

std::vector<std::string> merged_environment(const std::vector<std::string>& extra) {
  std::map<std::string, std::string> vars;
  std::vector<std::string> order;
  auto put = [&](const std::string& kv) {
    auto name = kv.substr(0, kv.find('='));
    if (vars.find(name) == vars.end()) order.push_back(name);
    vars[name] = kv;
  };
  for (char** e = environ; e && *e; ++e) put(*e);
  for (const auto& kv : extra) put(kv);
  std::vector<std::string> out;
  out.reserve(order.size());
  for (const auto& n : order) out.push_back(vars[n]);
  return out;
}

std::vector<char*> pointers(std::vector<std::string>& strings) {
  std::vector<char*> p;
  p.reserve(strings.size() + 1);
  for (auto& s : strings) p.push_back(s.data());
  p.push_back(nullptr);
  return p;
}

struct Fd {
  int fd = -1;
  ~Fd() { reset(); }
  void reset() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
  int release() { return std::exchange(fd, -1); }
};

void make_pipe(Fd& r, Fd& w) {
  int fds[2];
  // pipe + FD_CLOEXEC (macOS has no pipe2): llmux spawns only from its single event-loop thread, so no other
  // thread can fork between the two calls.
  if (::pipe(fds) != 0) throw SpawnError(std::string("pipe: ") + std::strerror(errno));
  ::fcntl(fds[0], F_SETFD, FD_CLOEXEC);
  ::fcntl(fds[1], F_SETFD, FD_CLOEXEC);
  r.fd = fds[0];
  w.fd = fds[1];
}

// Runs in the forked child: only async-signal-safe calls.
[[noreturn]] void exec_child(pid_t parent, int devnull, int out, int err_pipe, const char* exe, char** argv,
                             char** envp) {
  ::setpgid(0, 0);
  if (!platform_child_die_with_parent(parent)) ::_exit(126);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::signal(SIGPIPE, SIG_DFL);  // llmux ignores SIGPIPE; ignored dispositions survive exec
  ::dup2(devnull, 0);
  ::dup2(out, 1);
  ::dup2(out, 2);
  platform_child_close_inherited_fds();  // every fd >= 3 close-on-exec, err_pipe included
  child_restore_fd_limit();  // after the above: it may use the soft limit to find the last descriptor
  ::execve(exe, argv, envp);
  int e = errno;
  [[maybe_unused]] auto n = ::write(err_pipe, &e, sizeof e);
  ::_exit(127);
}

}  // namespace

Spawned spawn_process(const SpawnRequest& req) {
  if (req.argv.empty()) throw SpawnError("empty command");
  std::string exe = resolve_executable(req.argv.front());
  std::vector<std::string> args = req.argv, env = merged_environment(req.env);
  auto argv = pointers(args), envp = pointers(env);
  Fd devnull{::open("/dev/null", O_RDONLY | O_CLOEXEC)};
  if (devnull.fd < 0) throw SpawnError(std::string("open /dev/null: ") + std::strerror(errno));
  Fd out_r, out_w, err_r, err_w;
  make_pipe(out_r, out_w);
  make_pipe(err_r, err_w);
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) throw SpawnError(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) exec_child(parent, devnull.fd, out_w.fd, err_w.fd, exe.c_str(), argv.data(), envp.data());
  ::setpgid(pid, pid);  // also from the parent: no window where signal_group() misses the child
  out_w.reset();
  err_w.reset();
  int child_errno = 0;
  ssize_t n;
  do n = ::read(err_r.fd, &child_errno, sizeof child_errno);
  while (n < 0 && errno == EINTR);
  if (n == sizeof child_errno) {
    int status;
    ::waitpid(pid, &status, 0);
    throw SpawnError("cannot execute '" + exe + "': " + std::strerror(child_errno));
  }
  ::fcntl(out_r.fd, F_SETFL, ::fcntl(out_r.fd, F_GETFL) | O_NONBLOCK);
  return Spawned{pid, out_r.release()};
}

bool signal_group(pid_t pgid, int sig) {
  if (pgid <= 0) return false;
  return ::killpg(pgid, sig) == 0;
}

std::string describe_wait_status(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    const char* name = sig == SIGKILL   ? " (SIGKILL)"
                       : sig == SIGTERM ? " (SIGTERM)"
                       : sig == SIGSEGV ? " (SIGSEGV)"
                       : sig == SIGABRT ? " (SIGABRT)"
                       : sig == SIGINT  ? " (SIGINT)"
                       : sig == SIGBUS  ? " (SIGBUS)"
                                        : "";
    return "killed by signal " + std::to_string(sig) + name;
  }
  return "wait status " + std::to_string(status);
}

}  // namespace llmux

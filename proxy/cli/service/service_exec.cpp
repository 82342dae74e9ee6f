// Runs systemctl / launchctl for `llmux service`: fork + execv of an argv found in PATH, stdin from /dev/null,
// stdout and stderr captured through one pipe, killed after a timeout.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "proxy/cli/service/service_platform.hpp"

namespace llmux::svc {

namespace {

// In the child, between fork and exec: only async-signal-safe calls.
[[noreturn]] void exec_child(const std::string& path, const std::vector<char*>& argv, int out_fd) {
  int null_fd = ::open("/dev/null", O_RDONLY);
  if (null_fd >= 0) ::dup2(null_fd, 0);
  ::dup2(out_fd, 1);
  ::dup2(out_fd, 2);
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  ::sigaction(SIGPIPE, &dfl, nullptr);  // main() ignores SIGPIPE; exec would keep that
  ::execv(path.c_str(), argv.data());
  const char* msg = "cannot execute: ";
  (void)!::write(2, msg, std::strlen(msg));
  (void)!::write(2, std::strerror(errno), std::strlen(std::strerror(errno)));
  ::_exit(127);
}

// Reads `fd` until EOF or the deadline; true on EOF.
bool read_until_eof(int fd, std::string& out, std::chrono::steady_clock::time_point deadline) {
  char buf[4096];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    int n = ::poll(&p, 1, static_cast<int>(left.count()));
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) return false;  // timed out
    if (n < 0) return true;    // cannot wait any more: treat as the end of output
    ssize_t got = ::read(fd, buf, sizeof buf);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return true;
    out.append(buf, static_cast<size_t>(got));
  }
}

int wait_child(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

std::string first_line(const std::string& text) {
  size_t start = text.find_first_not_of(" \t\r\n");
  if (start == std::string::npos) return "";
  size_t end = text.find_first_of("\r\n", start);
  return text.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

}  // namespace

std::string find_in_path(const std::string& program) {
  const char* env = std::getenv("PATH");
  std::string path = env ? env : "/usr/bin:/bin";
  for (size_t pos = 0; pos <= path.size();) {
    size_t end = path.find(':', pos);
    if (end == std::string::npos) end = path.size();
    std::string dir = end == pos ? "." : path.substr(pos, end - pos);
    std::string candidate = dir + "/" + program;
    struct stat st {};
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(candidate.c_str(), X_OK) == 0)
      return candidate;
    pos = end + 1;
  }
  return "";
}

std::string display_command(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& a : argv) out += (out.empty() ? "" : " ") + a;
  return out;
}

CommandResult run_command(const std::vector<std::string>& argv, std::chrono::seconds timeout) {
  CommandResult r;
  std::string path = argv.at(0).find('/') != std::string::npos ? argv[0] : find_in_path(argv[0]);
  if (path.empty()) return r.error = argv[0] + " not found in PATH", r;
  std::vector<char*> cargv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  int fds[2];
  if (::pipe(fds) != 0) return r.error = std::string("pipe: ") + std::strerror(errno), r;
  ::fcntl(fds[0], F_SETFD, FD_CLOEXEC);
  ::fcntl(fds[1], F_SETFD, FD_CLOEXEC);
  pid_t pid = ::fork();
  if (pid < 0) {
    r.error = std::string("fork: ") + std::strerror(errno);
    ::close(fds[0]), ::close(fds[1]);
    return r;
  }
  if (pid == 0) exec_child(path, cargv, fds[1]);
  ::close(fds[1]);
  bool eof = read_until_eof(fds[0], r.output, std::chrono::steady_clock::now() + timeout);
  ::close(fds[0]);
  if (!eof) ::kill(pid, SIGKILL);
  int status = wait_child(pid);
  if (!eof) r.error = "timed out after " + std::to_string(timeout.count()) + "s";
  else if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  else r.error = "killed by signal " + std::to_string(WTERMSIG(status));
  return r;
}

bool ManagerRun::run(const std::vector<std::string>& argv) {
  auto r = query(argv);
  if (r.exit_code == 0) return true;
  std::string why = r.exit_code < 0 ? r.error : first_line(r.output);
  failure_ = "`" + display_command(argv) + "` failed: " + (why.empty() ? "no output" : why);
  if (r.exit_code > 0) failure_ += " (exit " + std::to_string(r.exit_code) + ")";
  return false;
}

CommandResult ManagerRun::query(const std::vector<std::string>& argv) {
  ran_.push_back(display_command(argv));
  return run_command(argv);
}

}  // namespace llmux::svc

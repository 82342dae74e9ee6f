#include "tests/support/process.hpp"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#include <sys/syscall.h>
#endif

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fstream>
#include <stdexcept>

extern char** environ;

namespace llmux::test {
namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void fail(const std::string& what, int err = errno) {
  throw std::runtime_error(what + ": " + std::strerror(err));
}

void make_cloexec_pipe(int fds[2]) {
  if (::pipe(fds) != 0) fail("pipe");
  ::fcntl(fds[0], F_SETFD, FD_CLOEXEC);
  ::fcntl(fds[1], F_SETFD, FD_CLOEXEC);
}

// The inherited environment with `extra` ("KEY=VALUE") added or overriding; built before fork.
std::vector<std::string> merged_env(const std::vector<std::string>& extra) {
  std::vector<std::string> env;
  auto key_of = [](const std::string& kv) { return kv.substr(0, kv.find('=')); };
  for (char** e = environ; e && *e; ++e) {
    const std::string kv = *e;
    bool overridden = false;
    for (const auto& x : extra) overridden = overridden || key_of(x) == key_of(kv);
    if (!overridden) env.push_back(kv);
  }
  env.insert(env.end(), extra.begin(), extra.end());
  return env;
}

// Marks every fd from 3 up close-on-exec (async-signal-safe: runs between fork and exec).
void cloexec_from_3() {
#if defined(__linux__) && defined(SYS_close_range) && defined(CLOSE_RANGE_CLOEXEC)
  if (::syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) == 0) return;
#endif
  long max = ::sysconf(_SC_OPEN_MAX);
  if (max < 0 || max > 65536) max = 65536;
  for (int fd = 3; fd < max; ++fd) ::fcntl(fd, F_SETFD, FD_CLOEXEC);
}

// Only async-signal-safe calls from here to exec: the test binary may have other threads.
[[noreturn]] void exec_child(pid_t parent, int out_fd, int status_fd, char** argv, char** envp, std::uint64_t nofile) {
#ifdef __linux__
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) ::_exit(127);  // the parent died before prctl took effect
#else
  (void)parent;
#endif
  const int devnull = ::open("/dev/null", O_RDONLY);
  if (devnull >= 0) ::dup2(devnull, 0);
  ::dup2(out_fd, 1);
  ::dup2(out_fd, 2);
  cloexec_from_3();  // the status pipe too: its closing tells the parent that exec succeeded
  for (int sig : {SIGPIPE, SIGTERM, SIGINT, SIGCHLD}) ::signal(sig, SIG_DFL);
  if (nofile > 0) {
    const struct rlimit lim{static_cast<rlim_t>(nofile), static_cast<rlim_t>(nofile)};
    if (::setrlimit(RLIMIT_NOFILE, &lim) != 0) {
      const int err = errno;
      [[maybe_unused]] const auto n = ::write(status_fd, &err, sizeof err);
      ::_exit(127);
    }
  }
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  environ = envp;
  ::execvp(argv[0], argv);
  const int err = errno;
  [[maybe_unused]] const auto n = ::write(status_fd, &err, sizeof err);
  ::_exit(127);
}

}  // namespace

Process::Process(std::vector<std::string> argv, std::vector<std::string> extra_env, std::string log_path,
                 std::uint64_t nofile) {
  if (argv.empty()) throw std::invalid_argument("Process: empty argv");
  int log_fd = -1;
  if (!log_path.empty()) {
    log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (log_fd < 0) fail("Process: open log " + log_path);
  }
  const std::vector<std::string> env = merged_env(extra_env);
  std::vector<char*> argv_p, env_p;
  for (auto& a : argv) argv_p.push_back(a.data());
  argv_p.push_back(nullptr);
  for (const auto& kv : env) env_p.push_back(const_cast<char*>(kv.c_str()));
  env_p.push_back(nullptr);

  int out[2], status[2];
  make_cloexec_pipe(out);
  make_cloexec_pipe(status);
  const pid_t parent = ::getpid();
  pid_ = ::fork();
  if (pid_ < 0) fail("Process: fork");
  if (pid_ == 0) exec_child(parent, out[1], status[1], argv_p.data(), env_p.data(), nofile);
  ::close(out[1]);
  ::close(status[1]);

  int exec_errno = 0;
  ssize_t n;
  do n = ::read(status[0], &exec_errno, sizeof exec_errno);
  while (n < 0 && errno == EINTR);
  ::close(status[0]);
  if (n == static_cast<ssize_t>(sizeof exec_errno)) {
    int st = 0;
    ::waitpid(pid_, &st, 0);
    ::close(out[0]);
    if (log_fd >= 0) ::close(log_fd);
    fail("Process: exec '" + argv[0] + "'", exec_errno);
  }
  reader_ = std::thread([this, fd = out[0], log_fd] { read_loop(fd, log_fd); });
}

Process::~Process() {
  if (!try_reap()) {
    ::kill(pid_, SIGKILL);
    int st = 0;
    while (::waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
    }
    status_ = st;
  }
  std::unique_lock lk(mu_);
  // Let the reader drain what the child wrote last; a grandchild holding the pipe must not hang the test.
  cv_.wait_for(lk, std::chrono::milliseconds(500), [this] { return eof_; });
  stop_ = true;
  lk.unlock();
  if (reader_.joinable()) reader_.join();
}

void Process::read_loop(int fd, int log_fd) {
  char buf[16384];
  for (;;) {
    {
      std::lock_guard lk(mu_);
      if (stop_) break;
    }
    pollfd p{fd, POLLIN, 0};
    const int r = ::poll(&p, 1, 50);
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) continue;
    const ssize_t n = r < 0 ? -1 : ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    for (ssize_t done = 0; log_fd >= 0 && done < n;) {
      const ssize_t w = ::write(log_fd, buf + done, static_cast<std::size_t>(n - done));
      if (w <= 0) break;
      done += w;
    }
    std::lock_guard lk(mu_);
    out_.append(buf, static_cast<std::size_t>(n));
    cv_.notify_all();
  }
  ::close(fd);
  if (log_fd >= 0) ::close(log_fd);
  std::lock_guard lk(mu_);
  eof_ = true;
  cv_.notify_all();
}

pid_t Process::pid() const { return pid_; }

std::string Process::output() const {
  std::lock_guard lk(mu_);
  return out_;
}

std::size_t Process::output_size() const {
  std::lock_guard lk(mu_);
  return out_.size();
}

std::optional<std::string> Process::wait_for_output(const std::string& needle, std::chrono::milliseconds timeout,
                                                    std::size_t from) {
  const auto deadline = Clock::now() + timeout;
  std::optional<Clock::time_point> exited_at;
  std::unique_lock lk(mu_);
  for (;;) {
    const auto now = Clock::now();
    const auto pos = from <= out_.size() ? out_.find(needle, from) : std::string::npos;
    if (pos != std::string::npos) {
      const auto eol = out_.find('\n', pos + needle.size());
      if (eol != std::string::npos || eof_ || now >= deadline) {  // else wait for the rest of the line
        const auto nl = pos == 0 ? std::string::npos : out_.rfind('\n', pos - 1);
        const std::size_t start = nl == std::string::npos ? 0 : nl + 1;
        std::string line = out_.substr(start, (eol == std::string::npos ? out_.size() : eol) - start);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        return line;
      }
    } else if (eof_ || (exited_at && now - *exited_at > std::chrono::milliseconds(300))) {
      return std::nullopt;  // exited (the grace lets the reader drain the pipe first)
    }
    if (now >= deadline) return std::nullopt;
    if (!exited_at) {
      lk.unlock();
      if (try_reap()) exited_at = Clock::now();
      lk.lock();
    }
    cv_.wait_until(lk, std::min(deadline, Clock::now() + std::chrono::milliseconds(20)));
  }
}

bool Process::try_reap() {
  if (status_) return true;
  int st = 0;
  const pid_t r = ::waitpid(pid_, &st, WNOHANG);
  if (r == pid_) status_ = st;
  else if (r < 0 && errno == ECHILD) status_ = 255 << 8;  // reaped elsewhere: the status is lost
  if (!status_) return false;
  // So that output() is complete once an exit is observed; bounded: a grandchild may still hold the pipe.
  std::unique_lock lk(mu_);
  cv_.wait_for(lk, std::chrono::seconds(1), [this] { return eof_; });
  return true;
}

void Process::signal(int sig) {
  if (!try_reap()) ::kill(pid_, sig);
}

std::optional<int> Process::wait_exit(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  auto pause = std::chrono::milliseconds(1);
  while (!try_reap()) {
    if (Clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(10));
  }
  return status_;
}

bool Process::running() { return !try_reap(); }

std::vector<pid_t> find_pids_with_arg(const std::string& needle) {
  std::vector<pid_t> pids;
#ifdef __linux__
  DIR* proc = ::opendir("/proc");
  if (!proc) return pids;
  while (const dirent* entry = ::readdir(proc)) {
    char* end = nullptr;
    const long pid = std::strtol(entry->d_name, &end, 10);
    if (pid <= 0 || *end != '\0') continue;
    std::ifstream f("/proc/" + std::string(entry->d_name) + "/cmdline", std::ios::binary);
    std::string arg;
    bool match = false;
    while (!match && std::getline(f, arg, '\0')) match = arg == needle;
    if (match && pid_alive(static_cast<pid_t>(pid))) pids.push_back(static_cast<pid_t>(pid));
  }
  ::closedir(proc);
#else
  (void)needle;
#endif
  return pids;
}

bool pid_alive(pid_t pid) {
  if (pid <= 0) return false;
#ifdef __linux__
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  if (!std::getline(f, stat)) return false;
  const auto paren = stat.rfind(')');  // the command name may itself contain ')' or spaces
  if (paren == std::string::npos || paren + 2 >= stat.size()) return false;
  const char state = stat[paren + 2];
  return state != 'Z' && state != 'X';
#else
  return ::kill(pid, 0) == 0 || errno == EPERM;
#endif
}

uint16_t pick_free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) fail("pick_free_port: socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    const int err = errno;
    ::close(fd);
    fail("pick_free_port: bind 127.0.0.1:0", err);
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

std::string make_temp_dir() {
  std::string path = "/tmp/llmux-test-XXXXXX";
  if (!::mkdtemp(path.data())) fail("make_temp_dir: mkdtemp");
  return path;
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) fail("write_file: open " + path);
  f.write(text.data(), static_cast<std::streamsize>(text.size()));
  f.close();
  if (!f) fail("write_file: write " + path);
}

std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace llmux::test

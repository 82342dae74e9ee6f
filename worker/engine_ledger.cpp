#include "worker/engine_ledger.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <thread>

#include "worker/platform.hpp"

namespace llmux {

namespace {

constexpr auto kLockWait = std::chrono::milliseconds(100);  // another llmux holds it for microseconds
constexpr auto kLockRetry = std::chrono::milliseconds(2);

std::string errno_text(const std::string& what) { return what + ": " + std::strerror(errno); }

struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

// The state directory, private to the user (it names the user's processes).
bool ensure_directory(const std::string& dir, std::string& error) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(dir).parent_path(), ec);
  if (::mkdir(dir.c_str(), 0700) == 0 || errno == EEXIST) return true;
  error = errno_text("cannot create " + dir);
  return false;
}

// Waits at most kLockWait: a stopped (SIGSTOP) llmux holding the lock must not stall this one.
bool lock(int fd, std::string& error) {
  auto deadline = std::chrono::steady_clock::now() + kLockWait;
  while (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK && errno != EINTR) {
      error = errno_text("flock");
      return false;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      error = "another llmux has held engines.lock for over 100 ms";
      return false;
    }
    std::this_thread::sleep_for(kLockRetry);
  }
  return true;
}

// false with `error` set on a read error; true with empty text when there is no file yet.
bool read_text(const std::string& path, std::string& text, std::string& error) {
  Fd f(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (f.fd < 0) {
    if (errno == ENOENT) return true;
    error = errno_text("cannot open " + path);
    return false;
  }
  char buf[4096];
  ssize_t n;
  while ((n = ::read(f.fd, buf, sizeof buf)) > 0) text.append(buf, static_cast<size_t>(n));
  if (n < 0) error = errno_text("cannot read " + path);
  return n == 0;
}

// Temp file + rename: a reader sees the old file or the new one, never half of one. No fsync: after a power loss
// every engine is gone anyway (and the boot id says so).
bool write_text(const std::string& path, const std::string& text, std::string& error) {
  std::string tmp = path + ".tmp";  // one writer at a time: the lock is held
  {
    Fd f(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (f.fd < 0) {
      error = errno_text("cannot create " + tmp);
      return false;
    }
    size_t done = 0;
    while (done < text.size()) {
      ssize_t n = ::write(f.fd, text.data() + done, text.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        error = errno_text("cannot write " + tmp);
        ::unlink(tmp.c_str());
        return false;
      }
      done += static_cast<size_t>(n);
    }
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    error = errno_text("cannot rename " + tmp);
    ::unlink(tmp.c_str());
    return false;
  }
  return true;
}

}  // namespace

EngineLedger::EngineLedger(std::string dir) : dir_(std::move(dir)) {
  owner_pid_ = ::getpid();
  auto start = process_start_time(owner_pid_);
  if (dir_.empty()) {
    spdlog::warn("no state directory ($XDG_STATE_HOME and $HOME unset): engines left by a killed llmux are not "
                 "recorded nor reaped");
  } else if (!start) {
    spdlog::warn("cannot read llmux's own start time: engines left by a killed llmux are not recorded nor reaped");
    dir_.clear();
  }
  owner_start_ = start.value_or(0);
  boot_ = boot_id();
  if (!dir_.empty()) path_ = dir_ + "/engines.json";
}

std::string EngineLedger::default_directory() {
  return state_directory(std::getenv("XDG_STATE_HOME"), std::getenv("HOME"));
}

void EngineLedger::add(const std::string& model, pid_t pid) {
  if (!enabled()) return;
  auto start = process_start_time(pid);
  if (!start) return;  // already exited: nothing to reap, ever
  EngineRecord r{model, pid, pid, *start, owner_pid_, owner_start_, boot_};
  update([&](std::vector<EngineRecord>& records) { records.push_back(r); });
}

void EngineLedger::remove(pid_t pid) {
  if (!enabled()) return;
  update([&](std::vector<EngineRecord>& records) {
    std::erase_if(records, [&](const EngineRecord& r) {
      return r.pid == pid && r.owner_pid == owner_pid_ && r.owner_start == owner_start_;
    });
  });
}

bool EngineLedger::update(const std::function<void(std::vector<EngineRecord>&)>& edit) {
  if (!enabled()) return false;
  std::string error;
  if (!transact(edit, error)) {
    warn(error);
    return false;
  }
  failing_ = false;
  return true;
}

bool EngineLedger::transact(const std::function<void(std::vector<EngineRecord>&)>& edit, std::string& error) {
  if (!ensure_directory(dir_, error)) return false;
  Fd lock_fd(::open((dir_ + "/engines.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (lock_fd.fd < 0) {
    error = errno_text("cannot open " + dir_ + "/engines.lock");
    return false;
  }
  if (!lock(lock_fd.fd, error)) return false;  // released when lock_fd closes
  std::string text;
  if (!read_text(path_, text, error)) return false;
  std::vector<EngineRecord> records;
  try {
    auto parsed = parse_engine_state(text);
    if (parsed.skipped > 0) spdlog::warn("state file {}: skipped {} malformed record(s)", path_, parsed.skipped);
    records = std::move(parsed.records);
  } catch (const EngineStateError& e) {
    spdlog::warn("state file {} is unreadable ({}); starting it afresh", path_, e.what());
  }
  auto before = records;
  edit(records);
  if (records == before) return true;
  return write_text(path_, format_engine_state(records), error);
}

void EngineLedger::warn(const std::string& what) {
  if (failing_) return;
  failing_ = true;
  spdlog::warn("state file: {}; engines left by a killed llmux may not be reaped", what);
}

}  // namespace llmux

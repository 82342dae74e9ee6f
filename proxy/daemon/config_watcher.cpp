// Platform-neutral half of the config watcher: which directories to watch, the debounce, the stat() poll fallback.
#include "proxy/daemon/config_watcher.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>
#include <stdexcept>
#include <string_view>

#include <spdlog/spdlog.h>

namespace llmux {

namespace fs = std::filesystem;
using namespace watch_detail;
using Clock = std::chrono::steady_clock;

namespace watch_detail {

FileStamp stamp_of(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return {};
#ifdef __APPLE__
  const timespec& m = st.st_mtimespec;
  const timespec& c = st.st_ctimespec;
#else
  const timespec& m = st.st_mtim;
  const timespec& c = st.st_ctim;
#endif
  FileStamp s;
  s.exists = true;
  s.dev = static_cast<std::uint64_t>(st.st_dev);
  s.ino = static_cast<std::uint64_t>(st.st_ino);
  s.size = static_cast<std::int64_t>(st.st_size);
  s.mtime_ns = static_cast<std::int64_t>(m.tv_sec) * 1'000'000'000 + m.tv_nsec;
  s.ctime_ns = static_cast<std::int64_t>(c.tv_sec) * 1'000'000'000 + c.tv_nsec;
  return s;
}

bool is_change(const FileStamp& before, const FileStamp& now) {
  if (!now.exists || now == before) return false;
  bool replaced = !before.exists || now.dev != before.dev || now.ino != before.ino;
  return !(replaced && now.size == 0);
}

}  // namespace watch_detail

std::optional<std::string> read_file_if_exists(const std::string& path) {
  // O_NONBLOCK: opening a FIFO by mistake must not hang the event loop (it is then refused as not regular).
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return std::nullopt;
  std::optional<std::string> text;
  struct stat st {};
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
    text.emplace();
    text->reserve(static_cast<size_t>(st.st_size));
    char buf[16384];
    for (;;) {
      ssize_t n = ::read(fd, buf, sizeof buf);
      if (n > 0) {
        text->append(buf, static_cast<size_t>(n));
      } else if (n == 0) {
        break;
      } else if (errno != EINTR) {
        text.reset();
        break;
      }
    }
  }
  ::close(fd);
  return text;
}

namespace {

// Absolute and lexically normal (the directory is what gets watched), in order, without duplicates.
std::vector<std::string> normalize(std::vector<std::string> files) {
  if (files.empty()) throw std::runtime_error("ConfigWatcher: no file to watch");
  std::vector<std::string> out;
  for (auto& f : files) {
    std::error_code ec;
    fs::path p = fs::absolute(fs::path(f), ec);
    if (ec) p = f;
    p = p.lexically_normal();
    if (!p.has_filename()) throw std::runtime_error("ConfigWatcher: not a file path: '" + f + "'");
    if (std::find(out.begin(), out.end(), p.string()) == out.end()) out.push_back(p.string());
  }
  return out;
}

// The directories that decide a file's content: its own, and its symlink target's when that lies elsewhere.
std::vector<std::pair<std::string, std::string>> places_of(const std::string& file) {
  fs::path p(file);
  std::vector<std::pair<std::string, std::string>> out{{p.parent_path().string(), p.filename().string()}};
  std::error_code ec;
  fs::path real = fs::canonical(p, ec);
  if (!ec && real != p) out.emplace_back(real.parent_path().string(), real.filename().string());
  return out;
}

}  // namespace

struct ConfigWatcher::State : std::enable_shared_from_this<State> {
  State(net::io_context& io, std::function<void()> cb, Duration debounce, Duration poll)
      : io(io), on_change(std::move(cb)), debounce(debounce), poll_interval(poll), debounce_timer(io), poll_timer(io) {}

  void start(bool force_poll);
  void stop();
  void retarget();
  void kernel_event(KernelEvent e);
  void note_event();
  void arm_debounce(Clock::duration wait);
  void debounce_expired();
  void arm_poll();
  void poll_once();

  net::io_context& io;
  std::function<void()> on_change;
  Clock::duration debounce, poll_interval;
  net::steady_timer debounce_timer, poll_timer;
  std::shared_ptr<KernelWatch> kernel;  // null: everything is polled
  std::vector<std::string> files;
  std::vector<std::pair<std::string, FileStamp>> polled;  // files whose directory no kernel backend watches
  Clock::time_point last_event{};
  bool debounce_armed = false, poll_armed = false, stopped = false;
};

void ConfigWatcher::State::start(bool force_poll) {
  if (!force_poll) {
    kernel = make_kernel_watch(io, [w = weak_from_this()](KernelEvent e) {
      if (auto s = w.lock(); s && !s->stopped) s->kernel_event(e);
    });
  }
  retarget();
}

void ConfigWatcher::State::stop() {
  stopped = true;
  kernel.reset();
  debounce_timer.cancel();
  poll_timer.cancel();
}

// Re-reads where each file lives (symlinks may point elsewhere now) and splits the files between the kernel
// backend and polling. Called at start, on set_files, and before each on_change; poll baselines restart here.
void ConfigWatcher::State::retarget() {
  std::map<std::string, std::set<std::string>> names;  // directory → names that matter in it
  std::vector<std::vector<std::string>> dirs_of(files.size());
  for (size_t i = 0; i < files.size(); ++i) {
    for (auto& [dir, name] : places_of(files[i])) {
      auto& n = names[dir];
      n.insert(name);
      n.insert("..data");  // Kubernetes ConfigMap: `config.yaml -> ..data/config.yaml`, `..data` swapped by rename
      dirs_of[i].push_back(dir);
    }
  }
  std::set<std::string> unwatched;
  if (kernel) {
    std::vector<WatchDir> dirs;
    for (auto& [dir, n] : names) dirs.push_back({dir, {n.begin(), n.end()}});
    for (auto& d : kernel->watch(dirs)) {
      spdlog::debug("config watch: cannot {}-watch {}; polling it every {} ms", kernel->name(), d,
                    std::chrono::duration_cast<std::chrono::milliseconds>(poll_interval).count());
      unwatched.insert(d);
    }
  } else {
    for (auto& entry : names) unwatched.insert(entry.first);
  }
  polled.clear();
  for (size_t i = 0; i < files.size(); ++i) {
    bool poll = std::any_of(dirs_of[i].begin(), dirs_of[i].end(), [&](auto& d) { return unwatched.count(d) > 0; });
    if (poll) polled.emplace_back(files[i], stamp_of(files[i]));
  }
  if (polled.empty()) {
    poll_timer.cancel();
  } else {
    arm_poll();
  }
}

void ConfigWatcher::State::kernel_event(KernelEvent e) {
  if (e == KernelEvent::failed) {
    spdlog::warn("config watch: {} stopped working; polling every {} ms", kernel ? kernel->name() : "backend",
                 std::chrono::duration_cast<std::chrono::milliseconds>(poll_interval).count());
    kernel.reset();  // the failing backend's own handler still holds it until it returns
    retarget();
  }
  note_event();  // after a failure, events may have been lost: report a change
}

// Debounce without restarting the timer per event: remember the last event; when the timer expires early relative
// to it, wait for the remainder.
void ConfigWatcher::State::note_event() {
  last_event = Clock::now();
  if (!debounce_armed) arm_debounce(debounce);
}

void ConfigWatcher::State::arm_debounce(Clock::duration wait) {
  debounce_armed = true;
  debounce_timer.expires_after(wait);
  debounce_timer.async_wait([w = weak_from_this()](const error_code& ec) {
    auto s = w.lock();
    if (!s) return;
    s->debounce_armed = false;
    if (!ec && !s->stopped) s->debounce_expired();
  });
}

void ConfigWatcher::State::debounce_expired() {
  auto quiet = Clock::now() - last_event;
  if (quiet < debounce) return arm_debounce(debounce - quiet);
  retarget();
  try {
    on_change();  // may destroy the watcher: the caller's lock keeps this State alive until it returns
  } catch (const std::exception& e) {
    spdlog::error("config watch: change handler threw: {}", e.what());
  } catch (...) {
    spdlog::error("config watch: change handler threw");
  }
}

void ConfigWatcher::State::arm_poll() {
  if (poll_armed || polled.empty()) return;
  poll_armed = true;
  poll_timer.expires_after(poll_interval);
  poll_timer.async_wait([w = weak_from_this()](const error_code& ec) {
    auto s = w.lock();
    if (!s) return;
    s->poll_armed = false;
    if (s->stopped) return;
    if (!ec) s->poll_once();
    s->arm_poll();  // also after a cancel: the set may have been refilled since
  });
}

void ConfigWatcher::State::poll_once() {
  bool changed = false;
  for (auto& [path, stamp] : polled) {
    FileStamp now = stamp_of(path);
    if (is_change(stamp, now)) changed = true;
    stamp = now;
  }
  if (changed) note_event();
}

ConfigWatcher::ConfigWatcher(net::io_context& io, std::vector<std::string> files, std::function<void()> on_change,
                             Duration debounce, Duration poll_interval) {
  if (!on_change) throw std::runtime_error("ConfigWatcher: no change handler");
  if (poll_interval.count() <= 0) throw std::runtime_error("ConfigWatcher: poll interval must be positive");
  auto normalized = normalize(std::move(files));
  state_ = std::make_shared<State>(io, std::move(on_change), std::max(debounce, Duration(0)), poll_interval);
  state_->files = std::move(normalized);
  const char* env = std::getenv("LLMUX_WATCH_POLL");
  state_->start(env != nullptr && std::string_view(env) == "1");
}

ConfigWatcher::~ConfigWatcher() { state_->stop(); }

void ConfigWatcher::set_files(std::vector<std::string> files) {
  state_->files = normalize(std::move(files));
  state_->retarget();
}

const char* ConfigWatcher::backend() const { return state_->kernel ? state_->kernel->name() : "poll"; }

}  // namespace llmux

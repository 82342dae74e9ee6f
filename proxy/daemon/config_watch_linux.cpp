// Linux config watching: one inotify descriptor with one watch per directory, read through Asio (no thread, no
// timer: idle costs nothing). The directory, not the file, is watched: a watch on the file itself dies at the first
// rename-replace save. Events are filtered by name; see config_watcher.hpp for what counts as a change.
#include <limits.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <set>
#include <string_view>

#include <spdlog/spdlog.h>

#include "proxy/daemon/config_watcher.hpp"

namespace llmux::watch_detail {
namespace {

// IN_CREATE only to catch a symlink or hard link appearing at a name (a new regular file is judged at its close).
// IN_ONLYDIR: a path that is not a directory fails, and is polled instead.
constexpr std::uint32_t kDirMask =
    IN_CLOSE_WRITE | IN_MOVED_TO | IN_ATTRIB | IN_CREATE | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR;

// The kernel returns whole events (header + NUL-padded name). The alignment sits on this type, not on a local array
// (STYLE §5); headers are copied out with memcpy anyway.
struct alignas(inotify_event) EventBuffer {
  char bytes[16 * (sizeof(inotify_event) + NAME_MAX + 1)];
};

// A name that just appeared with content already complete: a symlink, or another link to an existing file.
bool appeared_complete(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return false;
  return S_ISLNK(st.st_mode) || (S_ISREG(st.st_mode) && st.st_nlink > 1);
}

class InotifyWatch final : public KernelWatch, public std::enable_shared_from_this<InotifyWatch> {
 public:
  InotifyWatch(net::io_context& io, KernelEventHandler on_event) : fd_(io), on_event_(std::move(on_event)) {}

  bool open(int fd) {
    error_code ec;
    fd_.assign(fd, ec);
    if (ec) ::close(fd);
    return !ec;
  }

  const char* name() const override { return "inotify"; }

  std::vector<std::string> watch(const std::vector<WatchDir>& dirs) override {
    std::map<int, Dir> next;
    std::vector<std::string> failed;
    for (const auto& d : dirs) {
      int wd = ::inotify_add_watch(fd_.native_handle(), d.path.c_str(), kDirMask);
      if (wd < 0) {
        failed.push_back(d.path);
        continue;
      }
      Dir& dir = next[wd];  // two paths to one directory share a watch descriptor
      if (dir.path.empty()) dir.path = d.path;
      dir.names.insert(d.names.begin(), d.names.end());
    }
    for (const auto& entry : dirs_) {
      if (next.count(entry.first) == 0) ::inotify_rm_watch(fd_.native_handle(), entry.first);
    }
    dirs_ = std::move(next);
    return failed;
  }

  void read() {
    fd_.async_read_some(net::buffer(buf_.bytes), [w = weak_from_this()](const error_code& ec, size_t n) {
      auto self = w.lock();
      if (!self) return;
      if (ec) {
        if (ec == net::error::operation_aborted) return;
        spdlog::warn("config watch: inotify read failed: {}", ec.message());
        self->on_event_(KernelEvent::failed);
        return;
      }
      if (self->parse(n)) self->on_event_(KernelEvent::change);
      self->read();
    });
  }

 private:
  struct Dir {
    std::string path;
    std::set<std::string, std::less<>> names;
  };

  bool parse(size_t n) {
    bool hit = false;
    size_t off = 0;
    while (off + sizeof(inotify_event) <= n) {
      inotify_event ev;
      std::memcpy(&ev, buf_.bytes + off, sizeof ev);
      const char* name = buf_.bytes + off + sizeof ev;
      off += sizeof ev + ev.len;
      if (off > n) break;  // the kernel never splits an event; be safe anyway
      std::string_view sv(name, ev.len > 0 ? ::strnlen(name, ev.len) : 0);
      if (relevant(ev, sv)) hit = true;  // relevant() also forgets dropped watches: always call it
    }
    return hit;
  }

  bool relevant(const inotify_event& ev, std::string_view name) {
    if (ev.mask & IN_Q_OVERFLOW) return true;  // events were lost
    auto it = dirs_.find(ev.wd);
    if (it == dirs_.end()) return false;  // a watch watch() already dropped
    if (ev.mask & IN_IGNORED) {           // the directory is gone (deleted, unmounted): re-target, poll it
      dirs_.erase(it);
      return true;
    }
    if (ev.mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_UNMOUNT)) return true;
    if (!it->second.names.contains(name)) return false;
    if (ev.mask & (IN_CLOSE_WRITE | IN_MOVED_TO | IN_ATTRIB)) return true;
    if (ev.mask & IN_CREATE) return appeared_complete(it->second.path + "/" + std::string(name));
    return false;
  }

  net::posix::stream_descriptor fd_;
  KernelEventHandler on_event_;
  std::map<int, Dir> dirs_;  // by watch descriptor
  EventBuffer buf_;
};

}  // namespace

std::shared_ptr<KernelWatch> make_kernel_watch(net::io_context& io, KernelEventHandler on_event) {
  int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) {
    spdlog::warn("config watch: inotify unavailable ({}); polling", std::strerror(errno));
    return nullptr;
  }
  auto w = std::make_shared<InotifyWatch>(io, std::move(on_event));
  if (!w->open(fd)) return nullptr;
  w->read();
  return w;
}

}  // namespace llmux::watch_detail

// macOS config watching: one kqueue, waited on through Asio (no thread, no timer: idle costs nothing), with
// EVFILT_VNODE on each watched directory (NOTE_WRITE: an entry was added, removed or renamed) and on each watched
// file (written, extended, attributes, deleted, renamed). A directory event re-stats the watched names in it and
// counts only when one of them now resolves to something new, so other files in the directory do not trigger.
// Files are watched through a descriptor, so changes show per write, not per close: the debounce absorbs them.
// Compiled on Apple platforms only (proxy/CMakeLists.txt).
#include <fcntl.h>
#include <sys/event.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <map>

#include <boost/version.hpp>
#include <spdlog/spdlog.h>

#include "proxy/daemon/config_watcher.hpp"

namespace llmux::watch_detail {
namespace {

constexpr std::uint32_t kGone = NOTE_DELETE | NOTE_RENAME | NOTE_REVOKE;
constexpr std::uint32_t kDirNotes = NOTE_WRITE | kGone;
constexpr std::uint32_t kFileNotes = NOTE_WRITE | NOTE_EXTEND | NOTE_ATTRIB | kGone;

class KqueueWatch final : public KernelWatch, public std::enable_shared_from_this<KqueueWatch> {
 public:
  KqueueWatch(net::io_context& io, KernelEventHandler on_event) : kq_(io), on_event_(std::move(on_event)) {}
  ~KqueueWatch() override { close_all(); }

  bool open(int kq) {
    error_code ec;
    kq_.assign(kq, ec);
    if (ec) ::close(kq);
    return !ec;
  }

  const char* name() const override { return "kqueue"; }

  // Rebuilt from scratch each time (a few descriptors): a replaced file gets a fresh descriptor on its new inode.
  std::vector<std::string> watch(const std::vector<WatchDir>& dirs) override {
    close_all();
    dirs_.clear();
    std::vector<std::string> failed;
    for (const auto& d : dirs) {
      int dfd = ::open(d.path.c_str(), O_EVTONLY | O_DIRECTORY | O_CLOEXEC);
      if (dfd < 0 || !add(dfd, kDirNotes, {dirs_.size(), -1})) {
        failed.push_back(d.path);
        continue;
      }
      Dir& dir = dirs_.emplace_back();
      dir.path = d.path;
      for (const auto& n : d.names) dir.names.push_back({d.path + "/" + n, {}, -1});
      for (size_t i = 0; i < dir.names.size(); ++i) track(dirs_.size() - 1, i);
    }
    return failed;
  }

  void wait() {
    kq_.async_wait(net::posix::stream_descriptor::wait_read, [w = weak_from_this()](const error_code& ec) {
      auto self = w.lock();
      if (!self) return;
      if (ec) {
        if (ec == net::error::operation_aborted) return;
        spdlog::warn("config watch: waiting on kqueue failed: {}", ec.message());
        self->on_event_(KernelEvent::failed);
        return;
      }
      if (self->drain()) self->wait();
    });
  }

 private:
  struct Name {
    std::string path;
    FileStamp stamp;
    int fd = -1;  // descriptor on what the name resolves to; -1 while it resolves to nothing
  };
  struct Dir {
    std::string path;
    std::vector<Name> names;
  };
  struct Watched {
    size_t dir;
    int name;  // index in Dir::names; -1 for the directory itself
  };

  bool add(int fd, std::uint32_t notes, Watched what) {
    struct kevent change;
    EV_SET(&change, static_cast<uintptr_t>(fd), EVFILT_VNODE, EV_ADD | EV_ENABLE | EV_CLEAR, notes, 0, nullptr);
    if (::kevent(kq_.native_handle(), &change, 1, nullptr, 0, nullptr) != 0) {
      ::close(fd);
      return false;
    }
    fds_[fd] = what;
    return true;
  }

  // (Re)opens a descriptor on what the name resolves to now, then stamps it: a write after the open is reported by
  // the descriptor, one before it shows in the stamp. A missing name gets no descriptor: its creation is a directory
  // event. O_NONBLOCK: never hang on a FIFO.
  void track(size_t d, size_t n) {
    Name& name = dirs_[d].names[n];
    forget(name);
    int fd = ::open(name.path.c_str(), O_EVTONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd >= 0 && add(fd, kFileNotes, {d, static_cast<int>(n)})) name.fd = fd;
    name.stamp = stamp_of(name.path);
  }

  void forget(Name& name) {
    if (name.fd < 0) return;
    ::close(name.fd);  // closing a descriptor removes its kevents
    fds_.erase(name.fd);
    name.fd = -1;
  }

  void close_all() {
    for (const auto& entry : fds_) ::close(entry.first);
    fds_.clear();
  }

  // Takes every pending event without blocking; false when the kqueue failed (the watcher then polls).
  bool drain() {
    std::array<struct kevent, 32> events;
    const timespec zero{0, 0};
    bool changed = false;
    for (;;) {
      int n = ::kevent(kq_.native_handle(), nullptr, 0, events.data(), static_cast<int>(events.size()), &zero);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        spdlog::warn("config watch: kevent failed: {}", std::strerror(errno));
        on_event_(KernelEvent::failed);
        return false;
      }
      for (int i = 0; i < n; ++i) {
        if (handle(events[static_cast<size_t>(i)])) changed = true;
      }
      if (n < static_cast<int>(events.size())) break;
    }
    if (changed) on_event_(KernelEvent::change);
    return true;
  }

  bool handle(const struct kevent& ev) {
    auto it = fds_.find(static_cast<int>(ev.ident));
    if (it == fds_.end()) return false;  // closed since
    const Watched what = it->second;
    if (what.name < 0) return (ev.fflags & kGone) != 0 || rescan(what.dir);  // directory gone: re-target, poll it
    Name& name = dirs_[what.dir].names[static_cast<size_t>(what.name)];
    if (ev.fflags & kGone) {  // this inode left the name (deleted, renamed, replaced): see what is there now
      forget(name);
      return rescan(what.dir);
    }
    name.stamp = stamp_of(name.path);
    return true;  // written, extended or attributes changed
  }

  // After an entry of the directory changed: which watched names now resolve to something new (is_change)? A new
  // empty file is watched through a fresh descriptor, which reports the writes that fill it.
  bool rescan(size_t d) {
    bool changed = false;
    for (size_t i = 0; i < dirs_[d].names.size(); ++i) {
      Name& name = dirs_[d].names[i];
      const FileStamp before = name.stamp;
      FileStamp now = stamp_of(name.path);
      if (now == before) continue;
      if (!now.exists) {
        forget(name);
      } else if (!before.exists || now.dev != before.dev || now.ino != before.ino || name.fd < 0) {
        track(d, i);  // a new file at the name: watch it (re-stamps: a write since the stat() above counts too)
        now = name.stamp;
      }
      name.stamp = now;
      if (is_change(before, now)) changed = true;
    }
    return changed;
  }

  net::posix::stream_descriptor kq_;
  KernelEventHandler on_event_;
  std::vector<Dir> dirs_;
  std::map<int, Watched> fds_;  // every open vnode descriptor and what it stands for
};

}  // namespace

std::shared_ptr<KernelWatch> make_kernel_watch(net::io_context& io, KernelEventHandler on_event) {
#if BOOST_VERSION < 108600
  // Asio arms every wait by making the descriptor non-blocking with ioctl(FIONBIO), which kqueue descriptors refuse
  // (ENOTTY); only Asio 1.31 (Boost 1.86) accepts a descriptor whose O_NONBLOCK is already set (see below).
  (void)io;
  (void)on_event;
  spdlog::info("config watch: kqueue needs Boost >= 1.86 to be waited on through Asio; polling instead");
  return nullptr;
#else
  int kq = ::kqueue();
  if (kq < 0) {
    spdlog::warn("config watch: kqueue unavailable ({}); polling", std::strerror(errno));
    return nullptr;
  }
  ::fcntl(kq, F_SETFD, FD_CLOEXEC);
  // XNU records O_NONBLOCK in the file flags before the kqueue refuses the FIONBIO that F_SETFL forwards to it, so
  // this call "fails" yet leaves the flag set; Asio then finds it set (F_GETFL) and skips its own attempt. kevent()
  // is only ever called with a zero timeout, so the descriptor's blocking mode does not matter to us. If this ever
  // stops working, the first wait fails and the watcher falls back to polling.
  int flags = ::fcntl(kq, F_GETFL, 0);
  if (flags >= 0) (void)::fcntl(kq, F_SETFL, flags | O_NONBLOCK);
  auto w = std::make_shared<KqueueWatch>(io, std::move(on_event));
  if (!w->open(kq)) return nullptr;
  w->wait();
  return w;
#endif
}

}  // namespace llmux::watch_detail

// Watches files (the config, and later files it includes) for changes by watching their *directories*; calls
// on_change (on the io_context, never inline) once per burst of events, after `debounce` of quiet. It never reads
// the files: the caller re-reads them (read_file_if_exists) and skips identical content, so a spurious call (touch,
// chmod, queue overflow) costs one read. Everything runs on the io_context thread; no call is made once the watcher
// is destroyed (destroy it before the io_context). Throws std::runtime_error only for programming errors (empty file
// list, a path without a file name, no on_change, poll_interval <= 0); never throws from its handlers.
//
// A change of a watched name is: a close after writing, a rename onto it (atomic writers, sed -i, vim, the Kubernetes
// ConfigMap swap of `..data`), an attribute change (touch, chmod), a new symlink or hard link at it, an inotify queue
// overflow, the loss of a watched directory. Not a change: a new empty file (its writer's close follows; kqueue and
// polling, which see no close, report its writes), deleting or renaming the file away (nothing to load; its return
// triggers), any other name in the directory. A watched symlink is followed: its target's directory is watched too.
// kqueue reports writes, not closes: a writer slower than the debounce can cause a call on partial content (the
// caller refuses it as broken and the next write brings another call).
//
// backend(): "inotify" (Linux), "kqueue" (macOS, built with Boost >= 1.86), else "poll": stat() each file every
// poll_interval and compare (device, inode, size, mtime, ctime). Next to a kernel backend, files whose directory
// cannot be watched (missing yet, out of inotify watches) are polled the same way until a change re-targets the
// watch. Only polling wakes up periodically: an idle kernel-backed watcher costs nothing. LLMUX_WATCH_POLL=1 in the
// environment forces polling (network filesystems, whose remote writes raise no local event; tests).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/config.hpp"
#include "common/net.hpp"

namespace llmux {

// The whole file; nullopt when it is missing, not a regular file, or unreadable.
std::optional<std::string> read_file_if_exists(const std::string& path);

class ConfigWatcher {
 public:
  ConfigWatcher(net::io_context& io, std::vector<std::string> files, std::function<void()> on_change,
                Duration debounce = std::chrono::milliseconds(50), Duration poll_interval = std::chrono::seconds(1));
  ~ConfigWatcher();
  ConfigWatcher(const ConfigWatcher&) = delete;
  ConfigWatcher& operator=(const ConfigWatcher&) = delete;

  void set_files(std::vector<std::string> files);  // re-targets the watch (e.g. includes changed); no call for it
  const char* backend() const;                     // "inotify", "kqueue" or "poll"

 private:
  struct State;                   // defined in config_watcher.cpp
  std::shared_ptr<State> state_;  // handlers hold it weakly: nothing runs after the destructor
};

// Internals shared by config_watcher.cpp and the platform backend (config_watch_linux.cpp / config_watch_macos.cpp).
namespace watch_detail {

// What stat() (following symlinks) says about a path; a new version of a file differs in at least one field.
struct FileStamp {
  bool exists = false;
  std::uint64_t dev = 0, ino = 0;
  std::int64_t size = 0, mtime_ns = 0, ctime_ns = 0;
  bool operator==(const FileStamp&) const = default;
};
FileStamp stamp_of(const std::string& path);

// Whether a name that went from `before` to `now` has new content to load (the stat-based backends' rule): not when
// it vanished (its return is the change), nor when it newly resolves to an empty file (the writes that follow are).
bool is_change(const FileStamp& before, const FileStamp& now);

// One directory to watch and the entry names in it that matter.
struct WatchDir {
  std::string path;
  std::vector<std::string> names;
};

enum class KernelEvent { change, failed };  // failed: the backend stopped working; the watcher falls back to polling
using KernelEventHandler = std::function<void(KernelEvent)>;

// A kernel notification backend. Reports through the handler (on the io_context, coalescing nothing: the watcher
// debounces); its handlers hold it weakly, so destroying it ends all reporting.
class KernelWatch {
 public:
  virtual ~KernelWatch() = default;
  virtual const char* name() const = 0;
  // Watches exactly `dirs` from now on (replacing the previous set); returns the directories it could not watch.
  virtual std::vector<std::string> watch(const std::vector<WatchDir>& dirs) = 0;
};

// nullptr when the platform facility is unavailable (the watcher then polls). Defined per platform.
std::shared_ptr<KernelWatch> make_kernel_watch(net::io_context& io, KernelEventHandler on_event);

}  // namespace watch_detail
}  // namespace llmux

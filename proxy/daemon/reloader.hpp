// Reloader: follows the config file. A change seen by the ConfigWatcher (or SIGHUP) re-reads the file; identical
// content is skipped; a broken edit is refused (logged once, shown in /status) while the old config keeps serving;
// a good one is applied as a diff through Coordinator::apply_config. `listen` changes are reported as needing a
// restart and not applied. Runs on the io_context thread.
#pragma once

#include <memory>
#include <string>

#include "common/net.hpp"
#include "proxy/daemon/daemon_info.hpp"
#include "proxy/daemon/coordinator.hpp"

namespace llmux {

class ConfigWatcher;

class Reloader {
 public:
  Reloader(net::io_context& io, Coordinator& coordinator, DaemonInfo& info);
  ~Reloader();
  void start();                    // watch the file's directory and SIGHUP
  void reload(const char* trigger);

 private:
  void refuse(const std::string& error);
  void on_sighup();

  net::io_context& io_;
  Coordinator& coordinator_;
  DaemonInfo& info_;
  net::signal_set sighup_;
  std::unique_ptr<ConfigWatcher> watcher_;
};

}  // namespace llmux

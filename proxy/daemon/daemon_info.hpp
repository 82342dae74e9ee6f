// What the daemon knows about itself beside the coordinator's state: when it started, its log history, the secrets
// in force, where it listens, and the config it serves (or the edit it refused), the
// prefix diagnosis of the conversations it relays. Owned by serve(); the reloader
// writes it, the admin answers read it. Touched only on the io_context thread.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "common/log_hub.hpp"
#include "common/redact.hpp"
#include "proxy/policy/prefix_tracker.hpp"

namespace llmux {

struct ConfigState {
  std::string path;                                     // absolute
  std::string text;                                     // the content now serving
  std::chrono::system_clock::time_point loaded_at = std::chrono::system_clock::now();
  uint64_t reloads = 0;                                 // successful reloads since start
  std::string error;                                    // the refused edit on disk ("" = none)
  std::chrono::system_clock::time_point error_at{};
  std::vector<std::string> pending_restart;             // changed keys that need an llmux restart
};

struct DaemonInfo {
  std::chrono::system_clock::time_point started_at = std::chrono::system_clock::now();
  std::shared_ptr<LogHub> logs = std::make_shared<LogHub>();  // llmux's and the engines' recent log lines
  std::shared_ptr<Secrets> secrets = std::make_shared<Secrets>();  // redacted from logs and admin answers
  std::string listen;  // "127.0.0.1:8484" once bound
  ConfigState config;
  std::shared_ptr<PrefixTracker> prefix = std::make_shared<PrefixTracker>();  // conversations' prompt fingerprints
};

}  // namespace llmux

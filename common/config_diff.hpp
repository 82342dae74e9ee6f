// What a config reload changes, and which changes need what. Pure.
// A model's engine restarts only when something the running process was started with changed (cmd, env, proxy);
// aliases, ttl, names, useModelName, timeouts, limits and `pin` apply to the next request without a restart, and so
// do maxResident, groups and preload (no engine restarts). `listen` cannot change live: it is reported as needing a
// restart of llmux.
#pragma once

#include <string>
#include <vector>

#include "common/config.hpp"

namespace llmux {

struct ConfigDiff {
  std::vector<std::string> added;      // model ids
  std::vector<std::string> removed;
  std::vector<std::string> restarted;  // definition changed in a way that needs a new engine process
  std::vector<std::string> updated;    // changed, applies live
  std::vector<std::string> lines;      // one human-readable line per change, in a stable order
  bool listen_changed = false;
  bool empty() const { return lines.empty(); }
};

bool needs_engine_restart(const ModelConfig& running, const ModelConfig& next);
ConfigDiff diff_configs(const Config& old_config, const Config& new_config);

}  // namespace llmux

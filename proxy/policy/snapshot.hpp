// DaemonSnapshot: the daemon's state at one moment, as plain values: every resident worker, the queue, recent
// history, memory, and what the daemon knows of itself. daemon_snapshot() (proxy/daemon/snapshot.cpp) builds it,
// the one place that reads the supervisor, the scheduler and the memory governor for others; the admin answers
// (admin_json.hpp) and the loading feedback (load_feedback.hpp) are pure functions of it, unit-tested without a
// daemon. Plain data: no I/O.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/config.hpp"
#include "common/endpoint.hpp"
#include "common/footprint.hpp"
#include "common/redact.hpp"
#include "common/sysmem.hpp"
#include "proxy/policy/scheduler.hpp"

namespace llmux {

// The config the daemon serves, or the edit it refused (the reloader writes it; DaemonInfo holds it).
struct ConfigState {
  std::string path;                                     // absolute
  std::string text;                                     // the content now serving
  std::chrono::system_clock::time_point loaded_at = std::chrono::system_clock::now();
  uint64_t reloads = 0;                                 // successful reloads since start
  std::string error;                                    // the refused edit on disk ("" = none)
  std::chrono::system_clock::time_point error_at{};
  std::vector<std::string> pending_restart;             // changed keys that need an llmux restart
};

// A resident worker's memory: its estimate, ceiling and last sample.
struct WorkerMemory {
  Footprint estimate;
  std::optional<uint64_t> ceiling;
  std::optional<uint64_t> rss;  // last sample
  std::optional<uint64_t> gpu;  // last sample of its GPU memory (nullopt: not measurable)
  uint64_t peak_rss = 0, peak_gpu = 0;
};

// A GPU as the platform probe sees it (worker/gpu.hpp).
struct GpuSnapshot {
  unsigned index = 0;
  std::string name;
  uint64_t used = 0, total = 0;
  bool unified = false;  // shares system memory (Apple silicon)
};

struct WorkerSnapshot {
  WorkerPhase state = WorkerPhase::none;  // the engine process's state (none = stopped)
  std::string model;
  std::string last_line;  // the engine's last output line ("" = none)
  std::string health_line;  // a remote model's bridge: its last health report line ("" = none)
  pid_t pid = -1;
  EngineEndpoint endpoint;
  std::chrono::system_clock::time_point started_at{};
  double load_seconds = 0;  // spawn -> ready
};

struct StartFailureSnapshot {
  std::string model, reason;
  std::chrono::system_clock::time_point at;
  std::vector<std::string> last_lines;
};

// One resident worker: its engine process, memory and recent life.
struct ResidentSnapshot {
  WorkerSnapshot worker;                        // the engine process (state never none here)
  std::optional<WorkerMemory> memory;           // estimate, ceiling, last sample
  size_t in_flight = 0, queued = 0;             // its requests being served / waiting for it
  bool pinned = false;
  std::optional<double> idle_seconds;           // ready with nothing in flight for this long
  std::optional<double> ttl_remaining_seconds;  // until the idle TTL unloads it
  std::optional<double> last_used_seconds;      // since its last request began or ended (the LRU key)
};

struct DaemonSnapshot {
  std::chrono::system_clock::time_point now;
  std::shared_ptr<const Config> config;
  std::vector<ResidentSnapshot> workers;  // in start order
  size_t max_resident = 1;                // 0: bounded by memory
  size_t queued = 0, in_flight = 0;       // over every worker
  uint64_t swaps = 0;
  std::optional<double> last_load_seconds, last_swap_seconds;
  std::string last_stop_reason;
  std::optional<StartFailureSnapshot> last_start_failure;
  std::string pressure, pressure_source;
  std::optional<SystemMemory> memory;          // nullopt where the platform cannot tell
  std::vector<GpuSnapshot> gpus;
  std::map<std::string, Footprint> footprints;  // every configured model's estimate, by id
  // The daemon itself.
  pid_t pid = -1;
  std::string listen;
  std::chrono::system_clock::time_point started_at;
  ConfigState config_state;
  std::shared_ptr<const Redactor> redactor;  // never null

  // The resident worker of `model` (a model id, not an alias); nullptr when it has none.
  const ResidentSnapshot* find(const std::string& model) const {
    for (const ResidentSnapshot& r : workers)
      if (r.worker.model == model) return &r;
    return nullptr;
  }
};

}  // namespace llmux

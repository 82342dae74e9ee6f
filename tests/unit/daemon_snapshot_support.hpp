// DaemonSnapshots built by hand for the tests of the pure views of it (admin_json_test, status_view_test): one
// resident (a, ready, idle, its TTL counting) or two (and b: pinned, starting, busy, its GPU measured).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "config_test_support.hpp"
#include "proxy/policy/snapshot.hpp"

namespace llmux::snapshot_test {

constexpr uint64_t GiB = 1ull << 30;

inline Footprint footprint_of(uint64_t weights, uint64_t kv, uint64_t overhead, const char* weights_source) {
  Footprint f;
  f.weights = weights;
  f.kv = kv;
  f.overhead = overhead;
  f.weights_source = weights_source;
  return f;
}

inline DaemonSnapshot snapshot() {
  DaemonSnapshot s;
  s.now = std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'100));
  s.started_at = s.now - std::chrono::seconds(100);
  s.config = config_test::load(config_test::lines({
      "models:",
      "  a:",
      "    cmd: llama-server --port ${PORT} -m a.gguf",
      "    aliases: [alpha]",
      "    ttl: 60s",
      "  b:",
      "    cmd: llama-server --port ${PORT} -m b.gguf",
  }));
  ResidentSnapshot a;
  a.worker.state = WorkerPhase::ready;
  a.worker.model = "a";
  a.worker.pid = 4242;
  a.worker.endpoint = EngineEndpoint{"127.0.0.1", 5001, ""};
  a.worker.started_at = s.now - std::chrono::seconds(30);
  a.worker.load_seconds = 2.5;
  a.worker.last_line = "Loading safetensors checkpoint shards:  45% Completed";
  a.memory = WorkerMemory{footprint_of(1 * GiB, 0, 0, "weights: 1 GiB"), 2 * GiB, 512ull << 20, std::nullopt, 0, 0};
  a.queued = 3;
  a.idle_seconds = 4;
  a.ttl_remaining_seconds = 56;
  a.last_used_seconds = 4;
  s.workers.push_back(a);
  s.in_flight = 0;
  s.queued = 3;
  s.swaps = 7;
  s.last_stop_reason = "swap";
  s.pressure = "normal";
  s.pressure_source = "file";
  s.memory = SystemMemory{16 * GiB, 8 * GiB};
  s.footprints["a"] = footprint_of(1 * GiB, 0, 0, "weights: 1 GiB");
  s.footprints["b"] = footprint_of(20 * GiB, 0, 0, "weights: 20 GiB");  // above the 0.8 x 16 GiB budget
  s.pid = 99;
  s.listen = "127.0.0.1:8484";
  s.config_state.path = "/etc/llmux.yaml";
  s.config_state.text = "key: s3cr3t-value\n";
  s.redactor = std::make_shared<const Redactor>(std::vector<std::string>{"s3cr3t-value"});
  return s;
}

// snapshot() with a second resident: b, pinned, still starting, busy, with its memory measured, and a GPU.
inline DaemonSnapshot two_residents() {
  DaemonSnapshot s = snapshot();
  s.max_resident = 0;  // bounded by memory
  ResidentSnapshot b;
  b.worker.state = WorkerPhase::starting;
  b.worker.model = "b";
  b.worker.pid = 4343;
  b.worker.endpoint = EngineEndpoint{"127.0.0.1", 5002, ""};
  b.worker.started_at = s.now - std::chrono::seconds(5);
  b.worker.last_line = "llama_model_loader: loaded meta data";
  b.memory = WorkerMemory{footprint_of(2 * GiB, 0, 0, "weights: 2 GiB"), std::nullopt, 256ull << 20, 1 * GiB, 0, 0};
  b.in_flight = 2;
  b.pinned = true;
  b.idle_seconds = 9;  // stale history: busy now
  b.last_used_seconds = 0.5;
  s.workers.push_back(b);
  s.in_flight = 2;
  return s;
}

}  // namespace llmux::snapshot_test

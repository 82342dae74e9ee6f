// WorkerMeter: samples the resident engine's memory (process-group resident memory, and its GPU memory where the
// GPU probe can tell) every memory.sampleInterval while it has work and every memory.idleSampleInterval while it
// rests, so /status never shows a figure older than that; with no engine resident there is no timer at all. It
// keeps the peak of each figure since the engine started, and whether the engine ever served a request (a peak
// learned from an engine that never worked would be too low to admit it on). io_context thread only.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <optional>

#include "common/config.hpp"
#include "common/net.hpp"
#include "worker/gpu.hpp"

namespace llmux {

struct MemorySample {
  std::optional<uint64_t> rss, gpu;
  std::chrono::steady_clock::time_point at{};
};

class WorkerMeter {
 public:
  using OnSample = std::function<void(const MemorySample&)>;
  WorkerMeter(net::io_context& io, GpuProbe& gpu, OnSample on_sample);
  void configure(Duration busy_interval, Duration idle_interval);
  void start(pid_t pgid, bool busy);  // samples at once
  void stop();
  void set_busy(bool busy);
  void sample();
  const MemorySample& last() const { return last_; }
  uint64_t peak_rss() const { return peak_rss_; }
  uint64_t peak_gpu() const { return peak_gpu_; }
  bool served() const { return served_; }
  bool resident() const { return pgid_ > 0; }

 private:
  void schedule();

  net::steady_timer timer_;
  GpuProbe& gpu_;
  OnSample on_sample_;
  Duration busy_{1000}, idle_{30000};
  pid_t pgid_ = -1;
  bool busy_now_ = false, served_ = false;
  uint64_t gen_ = 0, peak_rss_ = 0, peak_gpu_ = 0;
  MemorySample last_;
};

}  // namespace llmux

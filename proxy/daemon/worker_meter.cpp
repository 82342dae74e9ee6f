#include "proxy/daemon/worker_meter.hpp"

#include "common/sysmem.hpp"

namespace llmux {

WorkerMeter::WorkerMeter(net::io_context& io, GpuProbe& gpu, OnSample on_sample)
    : timer_(io), gpu_(gpu), on_sample_(std::move(on_sample)) {}

void WorkerMeter::configure(Duration busy_interval, Duration idle_interval) {
  const bool changed = busy_ != busy_interval || idle_ != idle_interval;
  busy_ = busy_interval;
  idle_ = idle_interval;
  if (changed && resident()) schedule();
}

void WorkerMeter::start(pid_t pgid, bool busy) {
  pgid_ = pgid;
  busy_now_ = busy;
  served_ = busy;
  peak_rss_ = peak_gpu_ = 0;
  last_ = {};
  sample();
  schedule();
}

void WorkerMeter::stop() {
  pgid_ = -1;
  busy_now_ = false;
  ++gen_;
  timer_.cancel();
}

void WorkerMeter::set_busy(bool busy) {
  if (!resident() || busy == busy_now_) return;
  busy_now_ = busy;
  served_ = served_ || busy;
  // The last figure before it rests, unless one is fresh: a /proc walk per request would cost more than the relay.
  if (!busy && std::chrono::steady_clock::now() - last_.at >= busy_) sample();
  schedule();
}

// One pending wait at a time, at the interval of the current state; a state change replaces it.
void WorkerMeter::schedule() {
  ++gen_;
  timer_.cancel();
  const Duration interval = busy_now_ ? busy_ : idle_;
  if (!resident() || interval.count() <= 0) return;
  timer_.expires_after(interval);
  timer_.async_wait([this, gen = gen_](const error_code& ec) {
    if (ec || gen != gen_) return;
    sample();
    schedule();
  });
}

void WorkerMeter::sample() {
  if (!resident()) return;
  last_.at = std::chrono::steady_clock::now();
  last_.rss = process_group_memory(pgid_);
  if (gpu_.per_process()) last_.gpu = gpu_.process_memory(process_group_pids(pgid_));  
  if (last_.rss) peak_rss_ = std::max(peak_rss_, *last_.rss);
  if (last_.gpu) peak_gpu_ = std::max(peak_gpu_, *last_.gpu);
  on_sample_(last_);
}

}  // namespace llmux

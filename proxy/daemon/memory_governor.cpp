#include "proxy/daemon/memory_governor.hpp"

#include <spdlog/spdlog.h>

#include "proxy/policy/memory_budget.hpp"

namespace llmux {

MemoryGovernor::MemoryGovernor(net::io_context& io, std::function<void(Pressure)> on_pressure, OverCeiling on_over)
    : io_(io), pressure_(io, std::move(on_pressure)), on_over_(std::move(on_over)), sampler_(io) {}

void MemoryGovernor::configure(const Config& config) {
  cfg_ = config.memory;
  pressure_.configure(cfg_);
  std::map<std::string, std::pair<ModelConfig, Footprint>> next;
  for (const auto& m : config.models) {
    auto old = estimates_.find(m.id);
    bool same = old != estimates_.end() && old->second.first == m;
    next.emplace(m.id, std::make_pair(m, same ? old->second.second : estimate_footprint(m)));
  }
  estimates_ = std::move(next);
}

Footprint MemoryGovernor::footprint(const ModelConfig& m) const {
  auto it = estimates_.find(m.id);
  if (it != estimates_.end() && it->second.first == m) return it->second.second;
  return estimate_footprint(m);
}

bool MemoryGovernor::fits_budget(const Footprint& f) const { return llmux::fits_budget(f, cfg_, read_system_memory()); }

std::optional<ApiError> MemoryGovernor::budget_refusal(const ModelConfig& m) const {
  return llmux::budget_refusal(m, footprint(m), cfg_, read_system_memory());
}

net::awaitable<std::optional<ApiError>> MemoryGovernor::admit(const ModelConfig& m) {
  if (pressure_.level() == Pressure::critical) co_return pressure_refusal(m.id);
  Footprint f = footprint(m);
  auto deadline = std::chrono::steady_clock::now() + cfg_.swap_wait;
  net::steady_timer wait(io_);
  for (;;) {
    bool last = std::chrono::steady_clock::now() >= deadline;
    FitVerdict verdict = fit_now(m, f, cfg_, read_system_memory(), last);
    if (verdict.kind == FitVerdict::Kind::fits) co_return std::nullopt;
    if (verdict.kind == FitVerdict::Kind::refused) co_return verdict.refusal;
    wait.expires_after(std::chrono::milliseconds(100));    // memory of an unloaded engine still coming back
    co_await wait.async_wait(net::use_awaitable);
  }
}

void MemoryGovernor::worker_started(pid_t pgid, const ModelConfig& m, bool busy) {
  Footprint f = footprint(m);
  worker_ = WorkerMemory{f, memory_ceiling(m, f, cfg_.ceiling_slack), std::nullopt};
  worker_model_ = m.id;
  pgid_ = pgid;
  reported_over_ = false;
  ++gen_;
  sampling_ = false;
  busy_ = busy;
  pressure_.set_active(true);
  sample();
  schedule();
}

void MemoryGovernor::set_busy(bool busy) {
  busy_ = busy;
  if (busy) return schedule();
  // The last figure before it rests, unless one is fresh: a /proc walk per request would cost more than the relay.
  if (std::chrono::steady_clock::now() - last_sample_ >= cfg_.sample_interval) sample();
}

void MemoryGovernor::schedule() {
  if (sampling_ || !busy_ || !worker_) return;
  sampling_ = true;
  sampler_.expires_after(cfg_.sample_interval);
  sampler_.async_wait([this, gen = gen_](const error_code& ec) {
    if (ec || gen != gen_) return;
    sampling_ = false;
    if (!busy_) return;  // it went idle meanwhile: set_busy(false) took the last figure; no wake-up at rest
    sample();
    schedule();
  });
}

void MemoryGovernor::worker_stopped() {
  worker_.reset();
  pgid_ = -1;
  ++gen_;
  sampling_ = false;
  busy_ = false;
  sampler_.cancel();
  pressure_.set_active(false);
}

void MemoryGovernor::sample() {
  if (!worker_ || pgid_ <= 0) return;
  last_sample_ = std::chrono::steady_clock::now();
  worker_->rss = process_group_memory(pgid_);
  if (worker_->rss && worker_->ceiling && *worker_->rss > *worker_->ceiling && !reported_over_) {
    reported_over_ = true;
    spdlog::warn("[{}] uses {} of memory, above its ceiling of {}", worker_model_, format_bytes(*worker_->rss),
                 format_bytes(*worker_->ceiling));
    on_over_(worker_model_, *worker_->rss, *worker_->ceiling);
  }
}

}  // namespace llmux

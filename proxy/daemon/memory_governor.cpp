#include "proxy/daemon/memory_governor.hpp"

#include <spdlog/spdlog.h>

namespace llmux {

namespace {

std::string describe(const Footprint& f) {
  return format_bytes(f.total()) + " (weights " + format_bytes(f.weights) + ", KV " + format_bytes(f.kv) +
         ", overhead " + format_bytes(f.overhead) + ")";
}

ApiError insufficient(std::string message) {
  return ApiError{507, "server_error", "insufficient_memory", std::move(message)};
}

}  // namespace

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

bool MemoryGovernor::fits_budget(const Footprint& f) const {
  auto mem = read_system_memory();
  return !mem || f.total() <= cfg_.budget.resolve(mem->total);
}

std::optional<ApiError> MemoryGovernor::budget_refusal(const ModelConfig& m) const {
  auto mem = read_system_memory();
  if (!mem) return std::nullopt;
  Footprint f = footprint(m);
  uint64_t budget = cfg_.budget.resolve(mem->total);
  if (f.total() <= budget) return std::nullopt;
  return insufficient("model '" + m.id + "' needs " + describe(f) + " but memory.budget allows " +
                      format_bytes(budget) + " of " + format_bytes(mem->total) +
                      "; lower its kvReservation, use a smaller quantization, or raise memory.budget");
}

std::optional<uint64_t> MemoryGovernor::ceiling_for(const ModelConfig& m, const Footprint& f) const {
  if (m.max_memory) return m.max_memory;
  if (f.weights == 0) return std::nullopt;  // unknown weights: an estimate-based ceiling would be meaningless
  return static_cast<uint64_t>(static_cast<double>(f.total()) * cfg_.ceiling_slack);
}

// nullopt: it fits now. An ApiError with status 0: not yet (memory may still be coming back). Otherwise: refused.
std::optional<ApiError> MemoryGovernor::check_now(const ModelConfig& m, const Footprint& f, bool final_try) {
  auto mem = read_system_memory();
  if (!mem) return std::nullopt;  // the platform cannot tell: do not block loads on it
  uint64_t reserve = cfg_.reserve.resolve(mem->total);
  if (auto refused = budget_refusal(m)) return refused;
  uint64_t usable = mem->available > reserve ? mem->available - reserve : 0;
  if (f.total() <= usable) return std::nullopt;
  if (!final_try) return ApiError{};
  return insufficient("model '" + m.id + "' needs " + describe(f) + " but only " + format_bytes(usable) +
                      " is available now (" + format_bytes(mem->available) + " free minus memory.reserve " +
                      format_bytes(reserve) + "); close other applications or lower its kvReservation");
}

net::awaitable<std::optional<ApiError>> MemoryGovernor::admit(const ModelConfig& m) {
  if (pressure_.level() == Pressure::critical)
    co_return ApiError{503, "server_error", "memory_pressure",
                       "system memory pressure is critical: not loading model '" + m.id +
                           "' now; retry when memory has been freed",
                       10};
  Footprint f = footprint(m);
  auto deadline = std::chrono::steady_clock::now() + cfg_.swap_wait;
  net::steady_timer wait(io_);
  for (;;) {
    bool last = std::chrono::steady_clock::now() >= deadline;
    auto verdict = check_now(m, f, last);
    if (!verdict || verdict->status != 0) co_return verdict;  // fits, or refused for good
    wait.expires_after(std::chrono::milliseconds(100));    // memory of an unloaded engine still coming back
    co_await wait.async_wait(net::use_awaitable);
  }
}

void MemoryGovernor::worker_started(pid_t pgid, const ModelConfig& m, bool busy) {
  Footprint f = footprint(m);
  worker_ = WorkerMemory{f, ceiling_for(m, f), std::nullopt};
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

#include "proxy/daemon/memory_governor.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "common/engine_estimate.hpp"
#include "proxy/policy/footprint_fit.hpp"
#include "worker/platform.hpp"

namespace llmux {

namespace {

constexpr double kLearnStep = 1.02;  // the ledger is rewritten when a peak grows by 2 % (or at the engine's end)

std::string ledger_directory(const std::optional<std::string>& dir) {
  return dir ? *dir : state_directory(std::getenv("XDG_STATE_HOME"), std::getenv("HOME"));
}

}  // namespace

MemoryGovernor::MemoryGovernor(net::io_context& io, std::function<void(Pressure)> on_pressure, OverCeiling on_over,
                               std::unique_ptr<GpuProbe> gpu, std::optional<std::string> ledger_dir)
    : io_(io),
      pressure_(io, std::move(on_pressure)),
      on_over_(std::move(on_over)),
      gpu_(gpu ? std::move(gpu) : make_gpu_probe()),
      ledger_(ledger_directory(ledger_dir)) {
  if (auto free = discrete_gpu_free(*gpu_)) env_ = EstimateEnv{static_cast<int>(Accelerator::discrete), free->total};
}

void MemoryGovernor::configure(const Config& config) {
  cfg_ = config.memory;
  system_total_ = read_system_memory();
  if (system_total_) system_total_->available = 0;  // only the total is kept: what is free now is read when needed
  pressure_.configure(cfg_);
  for (auto& [model, w] : workers_) w.meter->configure(cfg_.sample_interval, cfg_.idle_sample_interval);
  std::map<std::string, std::pair<ModelConfig, Footprint>> next;
  for (const auto& m : config.models) {
    auto old = estimates_.find(m.id);
    bool same = old != estimates_.end() && old->second.first == m;
    next.emplace(m.id, std::make_pair(m, same ? old->second.second : estimate_footprint(m, env_)));
  }
  estimates_ = std::move(next);
}

Footprint MemoryGovernor::footprint(const ModelConfig& m) const {
  auto it = estimates_.find(m.id);
  Footprint f = it != estimates_.end() && it->second.first == m ? it->second.second : estimate_footprint(m, env_);
  if (auto learned = ledger_.find(FootprintLedger::key(m.id, m.argv))) {
    apply_learned(f, learned->host_peak, learned->gpu_peak, cfg_.learned_slack);
  }
  return f;
}

Footprint MemoryGovernor::footprint_with(const ModelConfig& m, const std::vector<std::string>& extra_args) const {
  if (extra_args.empty()) return footprint(m);
  Footprint f = estimate_footprint_with(m, extra_args, env_);
  std::vector<std::string> argv = m.argv;
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  if (auto learned = ledger_.find(FootprintLedger::key(m.id, argv))) {
    apply_learned(f, learned->host_peak, learned->gpu_peak, cfg_.learned_slack);
  }
  return f;
}

MemoryNow MemoryGovernor::now() const {
  MemoryNow now;
  if (auto mem = read_system_memory()) {
    now.total = mem->total;
    now.available = mem->available;
  }
  if (auto g = discrete_gpu_free(*gpu_)) {
    now.gpu_free = g->free;
    now.gpu_total = g->total;
  }
  return now;
}

bool MemoryGovernor::fits_budget(const Footprint& f) const { return llmux::fits_budget(f, cfg_, read_system_memory()); }

std::optional<ApiError> MemoryGovernor::budget_refusal(const ModelConfig& m) const {
  auto mem = read_system_memory();
  if (!mem) return std::nullopt;
  auto text = budget_refusal_text(m.id, footprint(m), MemoryNow{mem->total, mem->available, {}, {}}, cfg_);
  if (!text) return std::nullopt;
  return insufficient_memory(*text);
}

std::optional<uint64_t> MemoryGovernor::ceiling_for(const ModelConfig& m, const Footprint& f) const {
  return memory_ceiling(m, f, cfg_.ceiling_slack);
}

FitVerdict MemoryGovernor::check_now(const ModelConfig& m, const Footprint& f, bool final_try) const {
  auto mem = read_system_memory();
  if (!mem) return {};  // the platform cannot tell: do not block loads on it
  MemoryNow now{mem->total, mem->available, {}, {}};
  if (f.gpu_part() > 0) now = this->now();
  return check_fit(m.id, f, now, cfg_, final_try);
}

net::awaitable<std::optional<ApiError>> MemoryGovernor::admit(const ModelConfig& m) {
  if (pressure_.level() == Pressure::critical) co_return pressure_refusal(m.id);
  Footprint f = footprint(m);
  auto deadline = std::chrono::steady_clock::now() + cfg_.swap_wait;
  net::steady_timer wait(io_);
  for (;;) {
    const bool last = std::chrono::steady_clock::now() >= deadline;
    const FitVerdict verdict = check_now(m, f, last);
    if (verdict.outcome == FitOutcome::fits) co_return std::nullopt;
    if (verdict.outcome == FitOutcome::refused) co_return insufficient_memory(verdict.message);
    wait.expires_after(std::chrono::milliseconds(100));  // memory of an unloaded engine still coming back
    co_await wait.async_wait(net::use_awaitable);
  }
}

bool MemoryGovernor::fits_beside(const ModelConfig& m, const std::vector<std::string>& staying) const {
  std::vector<MemoryShare> shares;
  shares.reserve(staying.size());
  for (const auto& id : staying) {
    MemoryShare share;
    auto w = workers_.find(id);
    if (w != workers_.end() && w->second.memory) {  // resident: its estimate, or more if it measured more
      const WorkerMemory& mem = *w->second.memory;
      share = {std::max(mem.estimate.host(), mem.rss.value_or(0)), std::max(mem.estimate.gpu_part(), mem.gpu.value_or(0))};
    } else if (auto e = estimates_.find(id); e != estimates_.end()) {  // starting: not measured yet
      const Footprint f = footprint(e->second.first);
      share = {f.host(), f.gpu_part()};
    }
    shares.push_back(share);
  }
  // Totals read at configure(): the scheduler asks at every decision while requests wait (no /proc or NVML call).
  return llmux::fits_beside(footprint(m), shares, cfg_, system_total_, env_.gpu_total);
}

std::optional<WorkerMemory> MemoryGovernor::worker(const std::string& model) const {
  auto it = workers_.find(model);
  return it == workers_.end() ? std::nullopt : it->second.memory;
}

bool MemoryGovernor::any_resident() const {
  for (const auto& [model, w] : workers_)
    if (w.memory) return true;
  return false;
}

void MemoryGovernor::worker_started(const std::string& model, pid_t pgid, const ModelConfig& m, bool busy) {
  Metered& w = workers_[model];
  if (!w.meter) {
    w.meter = std::make_unique<WorkerMeter>(io_, *gpu_, [this, model](const MemorySample& s) { on_sample(model, s); });
    w.meter->configure(cfg_.sample_interval, cfg_.idle_sample_interval);
  }
  Footprint f = footprint(m);
  w.memory = WorkerMemory{f, ceiling_for(m, f), std::nullopt, std::nullopt, 0, 0};
  w.key = FootprintLedger::key(m.id, m.argv);
  const auto learned = ledger_.find(w.key);
  w.learned_rss = learned ? learned->host_peak : 0;
  w.learned_gpu = learned ? learned->gpu_peak : 0;
  w.reported_over = false;
  pressure_.set_active(true);
  w.meter->start(pgid, busy);
}

void MemoryGovernor::set_busy(const std::string& model, bool busy) {
  auto it = workers_.find(model);
  if (it == workers_.end() || !it->second.memory) return;
  it->second.meter->set_busy(busy);
  if (!busy) learn(model, it->second);  // a short request may have seen no sample of its own: its peak counts now
}

void MemoryGovernor::worker_stopped(const std::string& model) {
  auto it = workers_.find(model);
  if (it == workers_.end() || !it->second.memory) return;
  learn(model, it->second);
  it->second.memory.reset();
  it->second.meter->stop();
  pressure_.set_active(any_resident());
}

// Records the worker's peaks once it has served a request and they grew past what the ledger holds.
void MemoryGovernor::learn(const std::string& model, Metered& w) {
  if (!w.meter->served()) return;
  const uint64_t rss = w.meter->peak_rss(), gpu = w.meter->peak_gpu();
  const bool grew = static_cast<double>(rss) > static_cast<double>(w.learned_rss) * kLearnStep ||
                    static_cast<double>(gpu) > static_cast<double>(w.learned_gpu) * kLearnStep;
  if (!grew || rss == 0) return;
  if (ledger_.record(w.key, rss, gpu)) {
    spdlog::info("[{}] learned footprint: peak {} of system memory{}", model, format_bytes(rss),
                 gpu > 0 ? ", " + format_bytes(gpu) + " of GPU memory" : "");
  }
  w.learned_rss = std::max(w.learned_rss, rss);
  w.learned_gpu = std::max(w.learned_gpu, gpu);
}

void MemoryGovernor::on_sample(const std::string& model, const MemorySample& s) {
  auto it = workers_.find(model);
  if (it == workers_.end() || !it->second.memory) return;
  Metered& w = it->second;
  WorkerMemory& mem = *w.memory;
  mem.rss = s.rss;
  mem.gpu = s.gpu;
  mem.peak_rss = w.meter->peak_rss();
  mem.peak_gpu = w.meter->peak_gpu();
  learn(model, w);
  if (mem.rss && mem.ceiling && *mem.rss > *mem.ceiling && !w.reported_over) {
    w.reported_over = true;
    spdlog::warn("[{}] uses {} of memory, above its ceiling of {}", model, format_bytes(*mem.rss),
                 format_bytes(*mem.ceiling));
    on_over_(model, *mem.rss, *mem.ceiling);
  }
}

}  // namespace llmux

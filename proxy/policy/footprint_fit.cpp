#include "proxy/policy/footprint_fit.hpp"

#include <cmath>

namespace llmux {

namespace {

std::string gpu_words(const Footprint& f) {
  return f.gpu_part() > 0 ? ", of which " + format_bytes(f.gpu_part()) + " on the GPU" : "";
}

}  // namespace

std::string describe_footprint(const Footprint& f) {
  if (f.uses_learned()) {
    return format_bytes(f.total()) + " (learned peak + slack" + gpu_words(f) + "; estimate " +
           format_bytes(f.estimated()) + ")";
  }
  std::string text = format_bytes(f.total()) + " (weights " + format_bytes(f.weights) + ", KV " + format_bytes(f.kv) +
                     ", overhead " + format_bytes(f.overhead);
  if (f.cache > 0) text += ", prompt cache " + format_bytes(f.cache);
  return text + gpu_words(f) + ")";
}

std::optional<std::string> budget_refusal_text(const std::string& model, const Footprint& f, const MemoryNow& now,
                                               const MemoryConfig& cfg) {
  const uint64_t budget = cfg.budget.resolve(now.total);
  if (f.host() <= budget) return std::nullopt;
  return "model '" + model + "' needs " + describe_footprint(f) + (f.gpu_part() > 0 ? " in system memory " : "") +
         " but memory.budget allows " + format_bytes(budget) + " of " + format_bytes(now.total) +
         "; lower its context or kvReservation, use a smaller quantization, or raise memory.budget";
}

FitVerdict check_fit(const std::string& model, const Footprint& f, const MemoryNow& now, const MemoryConfig& cfg,
                     bool final_try) {
  if (auto refused = budget_refusal_text(model, f, now, cfg)) return {FitOutcome::refused, *refused};
  const uint64_t reserve = cfg.reserve.resolve(now.total);
  const uint64_t usable = now.available > reserve ? now.available - reserve : 0;
  if (f.host() > usable) {
    if (!final_try) return {FitOutcome::wait, ""};
    return {FitOutcome::refused, "model '" + model + "' needs " + describe_footprint(f) + " but only " +
                                     format_bytes(usable) + " is available now (" + format_bytes(now.available) +
                                     " free minus memory.reserve " + format_bytes(reserve) +
                                     "); close other applications or lower its context or kvReservation"};
  }
  if (f.gpu_part() == 0 || !now.gpu_free) return {FitOutcome::fits, ""};
  if (now.gpu_total && f.gpu_part() + cfg.gpu_reserve > *now.gpu_total) {
    return {FitOutcome::refused, "model '" + model + "' needs " + format_bytes(f.gpu_part()) +
                                     " of GPU memory but the GPU has " + format_bytes(*now.gpu_total) +
                                     " (memory.gpuReserve " + format_bytes(cfg.gpu_reserve) +
                                     " kept free); offload fewer layers (-ngl) or lower its context"};
  }
  const uint64_t gpu_usable = *now.gpu_free > cfg.gpu_reserve ? *now.gpu_free - cfg.gpu_reserve : 0;
  if (f.gpu_part() <= gpu_usable) return {FitOutcome::fits, ""};
  if (!final_try) return {FitOutcome::wait, ""};
  return {FitOutcome::refused, "model '" + model + "' needs " + format_bytes(f.gpu_part()) +
                                   " of GPU memory but only " + format_bytes(gpu_usable) + " is free on the GPU (" +
                                   format_bytes(*now.gpu_free) + " free minus memory.gpuReserve " +
                                   format_bytes(cfg.gpu_reserve) + "); stop other GPU programs or offload fewer layers"};
}

std::optional<uint64_t> memory_ceiling(const ModelConfig& m, const Footprint& f, double ceiling_slack) {
  if (m.max_memory) return m.max_memory;
  if (f.weights == 0 && !f.uses_learned()) return std::nullopt;  // an estimate without weights is meaningless
  const uint64_t growth = f.cache_limit > f.cache ? f.cache_limit - f.cache : 0;
  return static_cast<uint64_t>(std::llround(static_cast<double>(f.host() + growth) * ceiling_slack));
}

bool fits_budget(const Footprint& f, const MemoryConfig& cfg, const std::optional<SystemMemory>& mem) {
  return !mem || f.host() <= cfg.budget.resolve(mem->total);
}

bool fits_beside(const Footprint& f, const std::vector<MemoryShare>& staying, const MemoryConfig& cfg,
                 const std::optional<SystemMemory>& mem, std::optional<uint64_t> gpu_total) {
  uint64_t host = f.host(), gpu = f.gpu_part();
  for (const MemoryShare& s : staying) {
    host += s.host;
    gpu += s.gpu;
  }
  if (mem && host > cfg.budget.resolve(mem->total)) return false;
  return gpu == 0 || !gpu_total || gpu + cfg.gpu_reserve <= *gpu_total;
}

ApiError insufficient_memory(std::string message) {
  return ApiError{507, "server_error", "insufficient_memory", std::move(message)};
}

ApiError pressure_refusal(const std::string& model) {
  return ApiError{503, "server_error", "memory_pressure",
                  "system memory pressure is critical: not loading model '" + model +
                      "' now; retry when memory has been freed",
                  10};
}

}  // namespace llmux

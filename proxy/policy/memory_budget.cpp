#include "proxy/policy/memory_budget.hpp"

#include <utility>

namespace llmux {

namespace {

ApiError insufficient(std::string message) {
  return ApiError{507, "server_error", "insufficient_memory", std::move(message)};
}

}  // namespace

std::string describe_footprint(const Footprint& f) {
  return format_bytes(f.total()) + " (weights " + format_bytes(f.weights) + ", KV " + format_bytes(f.kv) +
         ", overhead " + format_bytes(f.overhead) + ")";
}

bool fits_budget(const Footprint& f, const MemoryConfig& cfg, const std::optional<SystemMemory>& mem) {
  return !mem || f.total() <= cfg.budget.resolve(mem->total);
}

std::optional<ApiError> budget_refusal(const ModelConfig& m, const Footprint& f, const MemoryConfig& cfg,
                                       const std::optional<SystemMemory>& mem) {
  if (!mem) return std::nullopt;
  const uint64_t budget = cfg.budget.resolve(mem->total);
  if (f.total() <= budget) return std::nullopt;
  return insufficient("model '" + m.id + "' needs " + describe_footprint(f) + " but memory.budget allows " +
                      format_bytes(budget) + " of " + format_bytes(mem->total) +
                      "; lower its kvReservation, use a smaller quantization, or raise memory.budget");
}

FitVerdict fit_now(const ModelConfig& m, const Footprint& f, const MemoryConfig& cfg,
                   const std::optional<SystemMemory>& mem, bool final_try) {
  using Kind = FitVerdict::Kind;
  if (!mem) return {};  // the platform cannot tell: do not block loads on it
  if (auto refused = budget_refusal(m, f, cfg, mem)) return {Kind::refused, *refused};
  const uint64_t reserve = cfg.reserve.resolve(mem->total);
  const uint64_t usable = mem->available > reserve ? mem->available - reserve : 0;
  if (f.total() <= usable) return {};
  if (!final_try) return {Kind::not_yet, {}};
  return {Kind::refused, insufficient("model '" + m.id + "' needs " + describe_footprint(f) + " but only " + format_bytes(usable) +
                      " is available now (" + format_bytes(mem->available) + " free minus memory.reserve " +
                      format_bytes(reserve) + "); close other applications or lower its kvReservation")};
}

ApiError pressure_refusal(const std::string& model) {
  return ApiError{503, "server_error", "memory_pressure",
                  "system memory pressure is critical: not loading model '" + model +
                      "' now; retry when memory has been freed",
                  10};
}

std::optional<uint64_t> memory_ceiling(const ModelConfig& m, const Footprint& f, double ceiling_slack) {
  if (m.max_memory) return m.max_memory;
  if (f.weights == 0) return std::nullopt;  // unknown weights: an estimate-based ceiling would be meaningless
  return static_cast<uint64_t>(static_cast<double>(f.total()) * ceiling_slack);
}

}  // namespace llmux

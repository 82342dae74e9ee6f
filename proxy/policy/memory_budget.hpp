// Memory-fit arithmetic, pure: does a model's footprint estimate fit memory.budget, what is usable now (available
// minus memory.reserve), what ceiling a resident engine is held to, and the words of each refusal. The facts come
// in as values (`mem` is nullopt where the platform cannot tell: then nothing is refused); MemoryGovernor
// (proxy/daemon) measures them and waits. Never throws.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/config.hpp"
#include "common/errors.hpp"
#include "common/footprint.hpp"
#include "common/sysmem.hpp"

namespace llmux {

std::string describe_footprint(const Footprint& f);  // "1.2 GiB (weights ..., KV ..., overhead ...)"

// Whether the estimate fits the budget (not counting what is free right now).
bool fits_budget(const Footprint& f, const MemoryConfig& cfg, const std::optional<SystemMemory>& mem);

// The 507 a model gets when its estimate exceeds memory.budget (nullopt when it fits or the OS cannot tell).
std::optional<ApiError> budget_refusal(const ModelConfig& m, const Footprint& f, const MemoryConfig& cfg,
                                       const std::optional<SystemMemory>& mem);

// Whether `m` can be spawned now: it fits, not yet (memory of an unloaded engine may still be coming back;
// `final_try` turns that into the 507), or refused.
struct FitVerdict {
  enum class Kind { fits, not_yet, refused } kind = Kind::fits;
  ApiError refusal;  // when refused
};
FitVerdict fit_now(const ModelConfig& m, const Footprint& f, const MemoryConfig& cfg,
                   const std::optional<SystemMemory>& mem, bool final_try);

// The 503 for a load asked while system memory pressure is critical.
ApiError pressure_refusal(const std::string& model);

// The ceiling a resident engine is held to: maxMemory, else estimate x ceilingSlack when the weights are known.
std::optional<uint64_t> memory_ceiling(const ModelConfig& m, const Footprint& f, double ceiling_slack);

}  // namespace llmux

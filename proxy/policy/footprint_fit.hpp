// Whether a model's footprint fits the machine now: the part in system memory against memory.budget and against
// what is available minus memory.reserve; the part on a discrete GPU against that GPU's free memory minus
// memory.gpuReserve. Also the ceiling a running engine is held to, and the words of a refusal. Pure: the caller
// reads the OS figures (common/sysmem, worker/gpu) and passes them in.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/config.hpp"
#include "common/errors.hpp"
#include "common/footprint.hpp"
#include "common/sysmem.hpp"

namespace llmux {

struct MemoryNow {
  uint64_t total = 0, available = 0;             // system memory
  std::optional<uint64_t> gpu_free, gpu_total;  // the discrete GPU engines run on (nullopt: none or unknown)
};

enum class FitOutcome { fits, wait, refused };

struct FitVerdict {
  FitOutcome outcome = FitOutcome::fits;
  std::string message;  // for refused (and for the last wait): what is short and what to change
};

// "900 MiB (weights 400 MiB, KV 256 MiB, buffers 100 MiB, prompt cache 144 MiB)", or for a learned figure
// "560 MiB (learned peak + 10 %; estimate 900 MiB)"; a GPU share is said too.
std::string describe_footprint(const Footprint& f);

// Whether the system-memory part fits memory.budget (not counting what is free right now); true when the platform
// cannot tell (`mem` nullopt): nothing is refused blind.
bool fits_budget(const Footprint& f, const MemoryConfig& cfg, const std::optional<SystemMemory>& mem);

// What a resident worker holds, or is expected to: system memory and discrete-GPU memory.
struct MemoryShare {
  uint64_t host = 0, gpu = 0;
};

// Co-residency: whether `f` fits beside the workers that stay resident (`staying`): the system-memory parts
// together within memory.budget, the GPU parts together within the GPU's total (`gpu_total`, nullopt: no discrete
// GPU known) minus memory.gpuReserve. What is free right now is check_fit's, at the spawn. True where the platform
// cannot tell.
bool fits_beside(const Footprint& f, const std::vector<MemoryShare>& staying, const MemoryConfig& cfg,
                 const std::optional<SystemMemory>& mem, std::optional<uint64_t> gpu_total);

// The 507 of a refusal (`message` from budget_refusal_text or check_fit), and the 503 for a load asked while system
// memory pressure is critical.
ApiError insufficient_memory(std::string message);
ApiError pressure_refusal(const std::string& model);

// The refusal when the system-memory part exceeds memory.budget (nullopt when it fits).
std::optional<std::string> budget_refusal_text(const std::string& model, const Footprint& f, const MemoryNow& now,
                                               const MemoryConfig& cfg);

// fits / wait (memory may still be coming back) / refused; `final_try` turns a wait into a refusal.
FitVerdict check_fit(const std::string& model, const Footprint& f, const MemoryNow& now, const MemoryConfig& cfg,
                     bool final_try);

// The system-memory ceiling: maxMemory; else (system-memory part + the prompt cache's room to grow) x
// memory.ceilingSlack, when the weights or a learned peak are known (a weights-on-GPU engine is held only to
// what it keeps in system memory); else none.
std::optional<uint64_t> memory_ceiling(const ModelConfig& m, const Footprint& f, double ceiling_slack);

}  // namespace llmux

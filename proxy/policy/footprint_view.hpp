// How a footprint is shown: the `footprint` object of /v1/models and /status, and the what-if report of `llmux fit`
// and GET /fit (weights, KV for the context, buffers, prompt cache, total against the budget and what is free
// now). Pure: JSON in, JSON or text out.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/config.hpp"
#include "common/footprint.hpp"
#include "proxy/policy/footprint_fit.hpp"

namespace llmux {

// {estimateBytes, estimate, source, weightsSource, weightsBytes, kvBytes, kvSource, overheadBytes,
//  promptCacheBytes, gpuBytes, engine, contextTokens, learnedBytes?, notes}
nlohmann::json footprint_json(const Footprint& f);

// footprint_json + {model, budgetBytes, availableBytes, reserveBytes, usableBytes, gpuFreeBytes?, fits, verdict}.
nlohmann::json fit_json(const std::string& model, const Footprint& f, const MemoryNow& now, const MemoryConfig& cfg);

// The report `llmux fit` prints, from fit_json's object.
std::string fit_text(const nlohmann::json& fit);

// The engine flags that set a what-if context, KV type and slot count for an engine kind ("llama-server",
// "mlx_lm.server", "vllm", ...); `kv_bits` is "8", "4", "(8, 4)" or a llama.cpp type ("q8_0"). Empty values are
// left out. An error (one line) when the engine kind has no such flag or a value is malformed.
struct FitArgs {
  std::vector<std::string> args;
  std::string error;
};
FitArgs fit_engine_args(const std::string& engine, const std::string& ctx, const std::string& kv_bits,
                        const std::string& parallel);

}  // namespace llmux

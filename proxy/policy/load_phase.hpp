// What an engine is doing while it loads, told from its last output line, in words a person reads (the loading
// feedback of streaming clients, `sendLoadingState`). Pure: no I/O. Engines print no standard progress, so this
// recognises the usual lines of llama.cpp, vLLM, SGLang, MLX and Hugging Face downloads and falls back to
// "starting the engine"; a percentage is taken only from the line itself.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace llmux {

struct LoadPhase {
  std::string_view phase;        // "downloading", "loading weights", "allocating the KV cache", ...
  std::optional<int> percent;    // 0..100 when the line shows one
};

LoadPhase load_phase(std::string_view last_line);

// "loading qwen: loading weights, 45% (12s)" — `what` is "loading", "waiting for" or "queued for".
std::string load_feedback_text(std::string_view what, std::string_view model, double elapsed_seconds,
                               const LoadPhase* phase);

}  // namespace llmux

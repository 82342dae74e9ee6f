// Loading feedback in words: the phase and percentage told from engines' usual output lines.
#include "proxy/policy/load_phase.hpp"

#include <gtest/gtest.h>

using namespace llmux;

TEST(LoadPhase, UsualEngineLinesAreToldInWords) {
  struct Case {
    const char* line;
    const char* phase;
    std::optional<int> percent;
  };
  const Case cases[] = {
      {"Fetching 9 files:  33%|███▎      | 3/9 [00:04<00:08,  1.42s/it]", "downloading", 33},
      {"Downloading shards: 100%|██████████| 4/4", "downloading", 100},
      {"load_tensors: offloading 28 repeating layers to GPU", "loading weights", std::nullopt},
      {"Loading safetensors checkpoint shards:  50% Completed | 2/4 [00:03<00:03,  1.6s/it]", "loading weights", 50},
      {"llama_context: n_ctx_per_seq (4096) < n_ctx_train (32768)", "allocating the KV cache", std::nullopt},
      {"llama_kv_cache: size = 448.00 MiB", "allocating the KV cache", std::nullopt},
      {"Capturing CUDA graph shapes: 45%", "compiling", 45},
      {"common_init_from_params: warming up the model with an empty run", "warming up", std::nullopt},
      {"main: model loaded", "almost ready", std::nullopt},
      {"srv  update_slots: all slots are idle", "starting the engine", std::nullopt},
      {"", "starting the engine", std::nullopt},
      {"version 1.5% of 2024", "starting the engine", std::nullopt},  // 1.5%: not a whole percentage
      {"ratio 250%", "starting the engine", std::nullopt},            // over 100: not progress
  };
  for (const Case& c : cases) {
    const LoadPhase p = load_phase(c.line);
    EXPECT_EQ(p.phase, c.phase) << c.line;
    EXPECT_EQ(p.percent, c.percent) << c.line;
  }
}

TEST(LoadPhase, FeedbackTextNamesModelPhaseAndTime) {
  const LoadPhase p{"loading weights", 45};
  EXPECT_EQ(load_feedback_text("loading", "qwen", 12.4, &p), "llmux: loading qwen: loading weights, 45% (12s)");
  const LoadPhase q{"warming up", std::nullopt};
  EXPECT_EQ(load_feedback_text("loading", "qwen", 3, &q), "llmux: loading qwen: warming up (3s)");
  EXPECT_EQ(load_feedback_text("waiting for", "b", 1, nullptr), "llmux: waiting for b (1s)");
}

#include "common/hf_config.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "common/engine_estimate.hpp"

namespace llmux {
namespace {

namespace fs = std::filesystem;

std::optional<ModelShape> parse(const std::string& json) {
  std::string error;
  auto s = parse_hf_config(json, error);
  EXPECT_TRUE(s) << error;
  return s;
}

TEST(HfConfig, GqaWithExplicitHeadDim) {
  auto s = parse(R"({"architectures":["Qwen3ForCausalLM"],"num_hidden_layers":28,"num_attention_heads":16,
                     "num_key_value_heads":8,"head_dim":128,"hidden_size":1024,"max_position_embeddings":40960,
                     "vocab_size":151936,"sliding_window":null,"use_sliding_window":false})");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->architecture, "Qwen3ForCausalLM");
  EXPECT_EQ(s->layers, 28u);
  EXPECT_EQ(s->kv[0], (LayerKv{8, 128, 128, false}));
  EXPECT_EQ(s->context_length, 40960u);
  EXPECT_EQ(s->sliding_window, 0u);
  // 28 x 8 x 128 x 2 x 2 bytes = 112 KiB per token.
  EXPECT_EQ(kv_bytes_per_token(*s, 16, 16), 112.0 * 1024);
}

TEST(HfConfig, HeadDimFromHiddenSizeAndMlxQuantization) {
  auto s = parse(R"({"model_type":"llama","num_hidden_layers":2,"num_attention_heads":32,"hidden_size":4096,
                     "quantization":{"group_size":64,"bits":4}})");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->architecture, "llama");
  EXPECT_EQ(s->kv[1], (LayerKv{32, 128, 128, false}));  // no num_key_value_heads: as many as attention heads
  EXPECT_EQ(s->quant_bits, 4);
  EXPECT_EQ(s->quant_group, 64u);
}

TEST(HfConfig, HybridLayerTypesAndTextConfig) {
  auto s = parse(R"({"architectures":["Gemma3ForConditionalGeneration"],
    "text_config":{"num_hidden_layers":4,"num_attention_heads":8,"num_key_value_heads":4,"head_dim":256,
      "sliding_window":1024,
      "layer_types":["sliding_attention","sliding_attention","sliding_attention","full_attention"]}})");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->layers, 4u);
  EXPECT_TRUE(s->kv[0].swa);
  EXPECT_FALSE(s->kv[3].swa);
  EXPECT_EQ(s->sliding_window, 1024u);
  auto q = parse(R"({"num_hidden_layers":4,"num_attention_heads":16,"num_key_value_heads":2,"head_dim":256,
    "layer_types":["linear_attention","linear_attention","linear_attention","full_attention"]})");
  ASSERT_TRUE(q);
  EXPECT_EQ(q->kv_layer_count(), 1u);
  auto n = parse(R"({"num_hidden_layers":5,"num_attention_heads":8,"num_key_value_heads":2,"hidden_size":1024,
    "hybrid_override_pattern":"M-M*-"})");
  ASSERT_TRUE(n);
  EXPECT_EQ(n->kv_layer_count(), 1u);
  EXPECT_GT(n->kv[3].kv_heads, 0u);
}

TEST(HfConfig, ErrorsAreOneLine) {
  std::string error;
  EXPECT_FALSE(parse_hf_config("[1,2]", error));
  EXPECT_EQ(error, "config.json is not a JSON object");
  EXPECT_FALSE(parse_hf_config(R"({"hidden_size":4})", error));
  EXPECT_EQ(error, "config.json names no usable num_hidden_layers");
  EXPECT_FALSE(parse_hf_config(R"({"num_hidden_layers":1e12})", error));
}

TEST(HfConfig, SafetensorsHeadersSplitTheWeights) {
  std::string tmpl = (fs::temp_directory_path() / "llmux-hf-XXXXXX").string();
  const fs::path dir = ::mkdtemp(tmpl.data());
  std::ofstream(dir / "config.json") << R"({"num_hidden_layers":1,"num_attention_heads":2,"hidden_size":8})";
  auto write_st = [&](const std::string& name, const std::string& header, size_t data) {
    std::ofstream out(dir / name, std::ios::binary);
    const uint64_t n = header.size();
    out.write(reinterpret_cast<const char*>(&n), 8);
    out << header << std::string(data, '\0');
  };
  write_st("model-1.safetensors",
           R"({"__metadata__":{"format":"pt"},
               "model.embed_tokens.weight":{"dtype":"F16","shape":[10,8],"data_offsets":[0,160]},
               "model.layers.0.self_attn.q_proj.weight":{"dtype":"F16","shape":[8,8],"data_offsets":[160,288]}})",
           288);
  write_st("model-2.safetensors", R"({"lm_head.weight":{"dtype":"F16","shape":[10,8],"data_offsets":[0,160]}})", 160);
  std::string error;
  auto s = read_hf_shape(dir.string(), error);
  ASSERT_TRUE(s) << error;
  EXPECT_EQ(s->token_embd_bytes, 160u);
  EXPECT_EQ(s->layer_bytes, 128u);
  EXPECT_EQ(s->output_bytes, 160u);
  EXPECT_EQ(s->weights_bytes, 448u);
  write_st("model-3.safetensors", R"({"x":1})", 0);  // header claims more than the file holds
  {
    std::ofstream out(dir / "model-3.safetensors", std::ios::binary);
    const uint64_t n = 1ull << 40;
    out.write(reinterpret_cast<const char*>(&n), 8);
  }
  EXPECT_FALSE(read_hf_shape(dir.string(), error));
  EXPECT_NE(error.find("model-3.safetensors: bad safetensors header length"), std::string::npos) << error;
  fs::remove_all(dir);
}

}  // namespace
}  // namespace llmux

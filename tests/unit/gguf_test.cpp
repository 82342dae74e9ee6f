#include "common/gguf.hpp"
#include "common/footprint.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/support/gguf_writer.hpp"

namespace llmux {
namespace {

namespace fs = std::filesystem;
using test::GgufWriter;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "llmux-gguf-XXXXXX").string();
    root_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() { fs::remove_all(root_); }
  std::string path(const std::string& rel) const { return (root_ / rel).string(); }

 private:
  fs::path root_;
};

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A llama-architecture model with GQA: 4 layers, 8 heads, 2 KV heads, embedding 256 (head dim 32).
GgufWriter small_llama(uint32_t vocab = 1000) {
  GgufWriter w;
  w.add_str("general.architecture", "llama")
      .add_u32("llama.block_count", 4)
      .add_u32("llama.context_length", 2048)
      .add_u32("llama.embedding_length", 256)
      .add_u32("llama.feed_forward_length", 688)
      .add_u32("llama.attention.head_count", 8)
      .add_u32("llama.attention.head_count_kv", 2)
      .add_f32("llama.attention.layer_norm_rms_epsilon", 1e-5f)
      .add_str_array("tokenizer.ggml.tokens", std::vector<std::string>(vocab, "tok"));
  w.add_tensor("token_embd.weight", {256, vocab}, GgufWriter::F16);
  for (int i = 0; i < 4; ++i) {
    const std::string b = "blk." + std::to_string(i) + ".";
    w.add_tensor(b + "attn_q.weight", {256, 256}, GgufWriter::F16);
    w.add_tensor(b + "attn_k.weight", {256, 64}, GgufWriter::F16);
    w.add_tensor(b + "attn_norm.weight", {256}, GgufWriter::F32);
  }
  w.add_tensor("output_norm.weight", {256}, GgufWriter::F32);
  w.add_tensor("output.weight", {256, vocab}, GgufWriter::Q8_0);
  return w;
}

TEST(Gguf, ReadsMetadataAndTensorSizes) {
  TempDir d;
  small_llama().write(d.path("m.gguf"));
  GgufResult r = read_gguf_file(d.path("m.gguf"));
  ASSERT_TRUE(r.file) << r.error;
  EXPECT_EQ(r.file->version, 3u);
  EXPECT_EQ(r.file->tensors.size(), 1u + 4 * 3 + 2);
  ModelShape s = gguf_shape(*r.file);
  EXPECT_EQ(s.architecture, "llama");
  EXPECT_EQ(s.layers, 4u);
  EXPECT_EQ(s.context_length, 2048u);
  EXPECT_EQ(s.vocab, 1000u);
  EXPECT_EQ(s.feed_forward, 688u);
  ASSERT_EQ(s.kv.size(), 4u);
  EXPECT_EQ(s.kv[0], (LayerKv{2, 32, 32, false}));
  // Sizes come from the offsets: every tensor padded to 32 bytes, exactly what the writer laid out.
  EXPECT_EQ(s.token_embd_bytes, 256u * 1000 * 2);
  EXPECT_EQ(s.output_bytes, 256u * 1000 / 32 * 34);
  EXPECT_EQ(s.layer_bytes, 4u * (256 * 256 * 2 + 256 * 64 * 2 + 256 * 4));
  EXPECT_EQ(s.weights_bytes, s.token_embd_bytes + s.output_bytes + s.layer_bytes + 256 * 4);
}

TEST(Gguf, PerLayerArraysAndHybridLayers) {
  TempDir d;
  GgufWriter w;
  w.add_str("general.architecture", "lfm2")
      .add_u32("lfm2.block_count", 4)
      .add_u32("lfm2.embedding_length", 512)
      .add_u32("lfm2.attention.head_count", 8)
      .add_i32_array("lfm2.attention.head_count_kv", {0, 4, 0, 2})  // zero: a convolution layer, no KV
      .add_u32("lfm2.attention.key_length", 128)
      .add_u32("lfm2.attention.value_length", 96);
  w.write(d.path("h.gguf"));
  std::string error;
  auto s = read_gguf_shape(d.path("h.gguf"), error);
  ASSERT_TRUE(s) << error;
  EXPECT_EQ(s->kv_layer_count(), 2u);
  EXPECT_EQ(s->kv[1], (LayerKv{4, 128, 96, false}));
  EXPECT_EQ(s->kv[3].kv_heads, 2u);

  GgufWriter q;  // Qwen3-Next: every 4th layer is full attention, the others are linear (no KV cache)
  q.add_str("general.architecture", "qwen3next")
      .add_u32("qwen3next.block_count", 8)
      .add_u32("qwen3next.embedding_length", 1024)
      .add_u32("qwen3next.attention.head_count", 16)
      .add_u32("qwen3next.attention.head_count_kv", 2)
      .add_u32("qwen3next.attention.key_length", 256)
      .add_u32("qwen3next.full_attention_interval", 4);
  q.write(d.path("q.gguf"));
  s = read_gguf_shape(d.path("q.gguf"), error);
  ASSERT_TRUE(s) << error;
  EXPECT_EQ(s->kv_layer_count(), 2u);
  EXPECT_GT(s->kv[3].kv_heads, 0u);
  EXPECT_GT(s->kv[7].kv_heads, 0u);
}

TEST(Gguf, SlidingWindowPatterns) {
  TempDir d;
  GgufWriter g;  // gemma3 names no pattern: llama.cpp's default is 5 sliding layers, then one global
  g.add_str("general.architecture", "gemma3")
      .add_u32("gemma3.block_count", 12)
      .add_u32("gemma3.embedding_length", 640)
      .add_u32("gemma3.attention.head_count", 4)
      .add_u32("gemma3.attention.head_count_kv", 1)
      .add_u32("gemma3.attention.key_length", 256)
      .add_u32("gemma3.attention.sliding_window", 512);
  g.write(d.path("g.gguf"));
  std::string error;
  auto s = read_gguf_shape(d.path("g.gguf"), error);
  ASSERT_TRUE(s) << error;
  EXPECT_EQ(s->sliding_window, 512u);
  for (uint32_t il = 0; il < 12; ++il) EXPECT_EQ(s->kv[il].swa, il % 6 != 5) << il;

  GgufWriter p;  // an explicit per-layer pattern wins
  p.add_str("general.architecture", "gemma3")
      .add_u32("gemma3.block_count", 3)
      .add_u32("gemma3.attention.head_count", 4)
      .add_u32("gemma3.attention.sliding_window", 128)
      .add_bool_array("gemma3.attention.sliding_window_pattern", {false, true, false});
  p.write(d.path("p.gguf"));
  s = read_gguf_shape(d.path("p.gguf"), error);
  ASSERT_TRUE(s) << error;
  EXPECT_FALSE(s->kv[0].swa);
  EXPECT_TRUE(s->kv[1].swa);
  EXPECT_FALSE(s->kv[2].swa);

  GgufWriter l;  // llama ignores a window key: no layer slides
  l.add_str("general.architecture", "llama").add_u32("llama.block_count", 2).add_u32("llama.attention.sliding_window", 64);
  l.write(d.path("l.gguf"));
  s = read_gguf_shape(d.path("l.gguf"), error);
  ASSERT_TRUE(s) << error;
  EXPECT_FALSE(s->kv[0].swa);
}

TEST(Gguf, SplitModelCountsEveryPart) {
  TempDir d;
  small_llama().write(d.path("m-00001-of-00002.gguf"));
  GgufWriter second;
  second.add_tensor("blk.4.attn_q.weight", {256, 256}, GgufWriter::F16);
  second.write(d.path("m-00002-of-00002.gguf"));
  std::string error;
  auto s = read_gguf_shape(d.path("m-00001-of-00002.gguf"), error);
  ASSERT_TRUE(s) << error;
  auto first = read_gguf_shape(d.path("m-00002-of-00002.gguf"), error);  // not a first part: itself only
  ASSERT_TRUE(first);
  EXPECT_EQ(first->weights_bytes, 256u * 256 * 2);
  auto one = read_gguf_file(d.path("m-00001-of-00002.gguf"));
  EXPECT_EQ(s->weights_bytes, gguf_shape(*one.file).weights_bytes + 256u * 256 * 2);
  fs::remove(d.path("m-00002-of-00002.gguf"));
  EXPECT_FALSE(read_gguf_shape(d.path("m-00001-of-00002.gguf"), error));
  EXPECT_NE(error.find("m-00002-of-00002.gguf"), std::string::npos) << error;
}

TEST(Gguf, RejectsWhatIsNotAGgufHeader) {
  auto parse = [](const std::string& bytes) {
    MemorySource src(bytes);
    return read_gguf(src);
  };
  EXPECT_EQ(parse("").error, "not a GGUF file");
  EXPECT_EQ(parse("GGML\3\0\0\0").error, "not a GGUF file");
  EXPECT_EQ(parse(std::string("GGUF\1\0\0\0", 8)).error, "unsupported GGUF version");
  std::string absurd("GGUF\3\0\0\0", 8);
  absurd += std::string("\xff\xff\xff\xff\xff\xff\xff\x7f", 8) + std::string(8, '\0');
  EXPECT_EQ(parse(absurd).error, "absurd tensor or key count");
}

TEST(Gguf, EveryTruncationIsAnErrorNeverACrash) {
  TempDir d;
  small_llama(50).write(d.path("m.gguf"));
  const std::string bytes = slurp(d.path("m.gguf"));
  auto full = read_gguf_file(d.path("m.gguf"));
  ASSERT_TRUE(full.file);
  const uint64_t header = full.file->data_offset;
  for (uint64_t n = 0; n < header - 32; ++n) {  // the last 32 bytes may be alignment padding
    MemorySource src(std::string_view(bytes).substr(0, n));
    EXPECT_FALSE(read_gguf(src).file) << "prefix of " << n << " bytes parsed";
  }
}

TEST(Gguf, HugeLengthsAreRefusedBeforeAllocating) {
  GgufWriter w;
  w.add_str("general.architecture", "llama");
  TempDir d;
  w.write(d.path("m.gguf"));
  std::string bytes = slurp(d.path("m.gguf"));
  // The key's length field (after magic, version and two counts): claim 2^62 bytes.
  const uint64_t huge = 1ull << 62;
  std::memcpy(bytes.data() + 24, &huge, 8);
  MemorySource src(bytes);
  EXPECT_EQ(read_gguf(src).error, "bad string length");
}

TEST(Gguf, MissingFileSaysWhich) {
  GgufResult r = read_gguf_file("/no/such/model.gguf");
  EXPECT_FALSE(r.file);
  EXPECT_EQ(r.error, "cannot open /no/such/model.gguf: No such file or directory");
}

TEST(Gguf, FootprintFromALlamaServerCommandLine) {
  TempDir d;
  small_llama().write(d.path("m.gguf"));
  ModelConfig m;
  m.argv = {"llama-server", "--port", "${PORT}", "-m", d.path("m.gguf"), "-c", "1024", "-np", "1", "-ctv", "q8_0"};
  Footprint f = estimate_footprint(m, EstimateEnv{0, std::nullopt});
  // 4 layers x 2 KV heads x 32 dims x 1024 cells x (16 + 8.5 bits) / 8.
  EXPECT_EQ(f.kv, 4u * 2 * 32 * 1024 * 49 / 16);
  EXPECT_EQ(f.kv_source, "llama-server: 1024 tokens, K f16 / V 8.5-bit");
  EXPECT_EQ(f.cache, 0u);
  EXPECT_EQ(f.cache_limit, 8ull << 30);
  EXPECT_EQ(f.engine, "llama-server");
  EXPECT_EQ(f.source, "estimate");
  EXPECT_EQ(f.gpu, 0u);
  EXPECT_LT(f.overhead, 64ull << 20);  // a 1000-token vocabulary needs a small compute buffer
  m.kv_reservation = 1ull << 30;
  f = estimate_footprint(m);
  EXPECT_EQ(f.kv, 1ull << 30);
  EXPECT_EQ(f.source, "override");
  EXPECT_EQ(f.kv_source, "kvReservation");

  std::ofstream(d.path("bad.gguf")) << "not a model";
  m = ModelConfig{};
  m.argv = {"llama-server", "-m", d.path("bad.gguf")};
  f = estimate_footprint(m);
  EXPECT_EQ(f.kv, 0u);
  EXPECT_EQ(f.overhead, 512ull << 20);
  ASSERT_EQ(f.notes.size(), 1u);
  EXPECT_EQ(f.notes[0], "metadata: " + d.path("bad.gguf") + ": not a GGUF file (KV not computed)");
}

}  // namespace
}  // namespace llmux

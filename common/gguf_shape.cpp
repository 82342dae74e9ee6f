// gguf_shape / read_gguf_shape: the llama.cpp metadata keys a memory estimate needs (see common/gguf.hpp).
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>

#include "common/gguf.hpp"

namespace llmux {

namespace {

// Sliding-window patterns llama.cpp applies when the file names none (src/models/*.cpp: load_swa_pattern):
// of every n layers, the last is full attention and the others slide; `dense_first` puts the full one first.
struct SwaDefault {
  uint32_t period;
  bool dense_first;
};
const std::map<std::string, SwaDefault> kSwaDefaults = {
    {"gemma2", {2, false}},  {"gemma3", {6, false}},   {"gemma3n", {5, false}}, {"gemma-embedding", {6, false}},
    {"cohere2", {4, false}}, {"gpt-oss", {2, false}},  {"llama4", {4, false}},  {"exaone4", {4, false}},
    {"olmo2", {4, false}},   {"afmoe", {4, false}},    {"smallthinker", {4, true}},
};

bool is_swa(uint32_t il, uint32_t period, bool dense_first) {
  if (period == 0) return true;
  return dense_first ? il % period != 0 : il % period < period - 1;
}

// A per-layer value: array item `il`, or the scalar, or `fallback`.
double per_layer(const GgufValue* v, uint32_t il, double fallback) {
  if (v == nullptr) return fallback;
  if (v->kind == GgufValue::Kind::number) return v->number;
  if (v->kind == GgufValue::Kind::array && il < v->items.size()) return v->items[il];
  return fallback;
}

// A count read as a number: 0 unless it is in range (a file's value may be negative, NaN or huge; converting such
// a double to an integer is undefined).
uint32_t count_of(double v) { return v > 0 && v < 4294967296.0 ? static_cast<uint32_t>(v) : 0; }

uint64_t uint_of(const GgufValue* v) { return v != nullptr && v->kind == GgufValue::Kind::number ? v->uint : 0; }

void add_tensors(const GgufFile& f, ModelShape& s) {
  for (const GgufTensor& t : f.tensors) {
    s.weights_bytes += t.bytes;
    if (t.name.starts_with("blk.")) s.layer_bytes += t.bytes;
    else if (t.name.starts_with("token_embd.")) s.token_embd_bytes += t.bytes;
    else if (t.name.starts_with("output.")) s.output_bytes += t.bytes;
  }
}

void apply_swa(const GgufFile& f, const std::string& p, ModelShape& s) {
  s.sliding_window = static_cast<uint32_t>(uint_of(f.find(p + "attention.sliding_window")));
  if (s.sliding_window == 0) return;
  const GgufValue* pattern = f.find(p + "attention.sliding_window_pattern");
  if (pattern != nullptr && pattern->kind == GgufValue::Kind::array) {
    for (uint32_t il = 0; il < s.layers && il < pattern->items.size(); ++il) s.kv[il].swa = pattern->items[il] != 0;
    return;
  }
  SwaDefault d{0, false};
  if (auto it = kSwaDefaults.find(s.architecture); it != kSwaDefaults.end()) d = it->second;
  if (pattern != nullptr && pattern->kind == GgufValue::Kind::number) d.period = static_cast<uint32_t>(pattern->uint);
  else if (d.period == 0) return;  // an architecture llama.cpp does not run with a window
  for (uint32_t il = 0; il < s.layers; ++il) s.kv[il].swa = is_swa(il, d.period, d.dense_first);
}

}  // namespace

ModelShape gguf_shape(const GgufFile& f) {
  ModelShape s;
  s.format = "gguf";
  if (const GgufValue* a = f.find("general.architecture"); a && a->kind == GgufValue::Kind::string) s.architecture = a->text;
  const std::string p = s.architecture + ".";
  s.layers = static_cast<uint32_t>(std::min<uint64_t>(uint_of(f.find(p + "block_count")), 1u << 16));
  s.context_length = uint_of(f.find(p + "context_length"));
  s.embedding = static_cast<uint32_t>(uint_of(f.find(p + "embedding_length")));
  s.feed_forward = count_of(per_layer(f.find(p + "feed_forward_length"), 0, 0));
  s.vocab = static_cast<uint32_t>(uint_of(f.find(p + "vocab_size")));
  if (const GgufValue* t = f.find("tokenizer.ggml.tokens"); t != nullptr && s.vocab == 0)
    s.vocab = static_cast<uint32_t>(std::min<uint64_t>(t->count, 1u << 24));
  const GgufValue* heads = f.find(p + "attention.head_count");
  const GgufValue* kv_heads = f.find(p + "attention.head_count_kv");
  const uint64_t key_len = uint_of(f.find(p + "attention.key_length"));
  const uint64_t value_len = uint_of(f.find(p + "attention.value_length"));
  const uint64_t key_swa = uint_of(f.find(p + "attention.key_length_swa"));
  const uint64_t value_swa = uint_of(f.find(p + "attention.value_length_swa"));
  const uint64_t mla_rank = uint_of(f.find(p + "attention.kv_lora_rank"));
  const uint64_t rope_dim = uint_of(f.find(p + "rope.dimension_count"));
  const uint64_t full_every = uint_of(f.find(p + "full_attention_interval"));
  s.heads = count_of(per_layer(heads, 0, 0));
  s.kv.resize(s.layers);
  for (uint32_t il = 0; il < s.layers; ++il) {
    LayerKv& l = s.kv[il];
    const double h = per_layer(heads, il, 0);
    const double hkv = per_layer(kv_heads, il, h);
    l.kv_heads = hkv > 0 && hkv < 1e6 ? static_cast<uint32_t>(hkv) : 0;
    const uint64_t head_dim = key_len != 0 ? key_len : (h >= 1 ? static_cast<uint64_t>(s.embedding / h) : 0);
    l.k_dim = static_cast<uint32_t>(head_dim);
    l.v_dim = static_cast<uint32_t>(value_len != 0 ? value_len : head_dim);
    if (mla_rank != 0) {  // DeepSeek MLA: one compressed latent (plus the rope part) per token and layer
      l.kv_heads = 1;
      l.k_dim = static_cast<uint32_t>(mla_rank + rope_dim);
      l.v_dim = static_cast<uint32_t>(mla_rank);
    }
    if (full_every != 0 && (il + 1) % full_every != 0) l.kv_heads = 0;  // a recurrent layer of a hybrid
  }
  apply_swa(f, p, s);
  for (LayerKv& l : s.kv) {
    if (!l.swa) continue;
    if (key_swa != 0) l.k_dim = static_cast<uint32_t>(key_swa);
    if (value_swa != 0) l.v_dim = static_cast<uint32_t>(value_swa);
  }
  add_tensors(f, s);
  return s;
}

std::optional<ModelShape> read_gguf_shape(const std::string& path, std::string& error) {
  GgufResult first = read_gguf_file(path);
  if (!first.file) {
    error = first.error;
    return std::nullopt;
  }
  ModelShape s = gguf_shape(*first.file);
  // "x-00001-of-00003.gguf": the tensors of parts 2..3 are in their own files' tables.
  static constexpr std::string_view kFirst = "-00001-of-";
  const size_t at = path.rfind(kFirst);
  if (at == std::string::npos || path.size() != at + kFirst.size() + 10) return s;
  const int parts = std::atoi(path.substr(at + kFirst.size(), 5).c_str());
  for (int i = 2; i <= parts && i < 100000; ++i) {
    char part[8];
    std::snprintf(part, sizeof part, "%05d", i);
    GgufResult r = read_gguf_file(path.substr(0, at + 1) + part + path.substr(at + 6));
    if (!r.file) {
      error = r.error;
      return std::nullopt;
    }
    add_tensors(*r.file, s);
  }
  return s;
}

}  // namespace llmux

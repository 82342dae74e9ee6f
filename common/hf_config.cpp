#include "common/hf_config.hpp"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

namespace llmux {

namespace {

using nlohmann::json;
constexpr uint64_t kMaxHeader = 100ull << 20;   // safetensors JSON header
constexpr uint64_t kMaxConfig = 16ull << 20;    // config.json
constexpr uint32_t kMaxLayers = 1u << 16;

uint64_t uint_at(const json& j, std::initializer_list<const char*> keys, uint64_t fallback = 0) {
  for (const char* k : keys) {
    auto it = j.find(k);
    if (it != j.end() && it->is_number_unsigned()) return it->get<uint64_t>();
    if (it != j.end() && it->is_number_integer() && it->get<int64_t>() >= 0) return it->get<uint64_t>();
  }
  return fallback;
}

// Which layers keep a KV cache, from `layer_types` ("full_attention", "sliding_attention", anything else: none),
// Nemotron-H's `hybrid_override_pattern` ('*' is attention), or Qwen3-Next's `full_attention_interval`.
void apply_layer_kinds(const json& c, ModelShape& s) {
  if (auto lt = c.find("layer_types"); lt != c.end() && lt->is_array()) {
    for (size_t il = 0; il < s.layers && il < lt->size(); ++il) {
      const std::string kind = (*lt)[il].is_string() ? (*lt)[il].get<std::string>() : "";
      if (kind == "sliding_attention" || kind == "chunked_attention") s.kv[il].swa = true;
      else if (kind != "full_attention" && kind != "attention") s.kv[il].kv_heads = 0;
    }
    return;
  }
  if (auto hp = c.find("hybrid_override_pattern"); hp != c.end() && hp->is_string()) {
    const std::string pattern = hp->get<std::string>();
    for (size_t il = 0; il < s.layers && il < pattern.size(); ++il) {
      if (pattern[il] != '*') s.kv[il].kv_heads = 0;
    }
    return;
  }
  if (const uint64_t every = uint_at(c, {"full_attention_interval"}); every != 0) {
    for (uint32_t il = 0; il < s.layers; ++il) {
      if ((il + 1) % every != 0) s.kv[il].kv_heads = 0;
    }
  }
  // Gemma 2/3 without layer_types: of every `sliding_window_pattern` layers the last is global.
  if (const uint64_t period = uint_at(c, {"sliding_window_pattern"}); period > 1 && s.sliding_window != 0) {
    for (uint32_t il = 0; il < s.layers; ++il) s.kv[il].swa = il % period < period - 1;
  }
}

void read_quantization(const json& top, ModelShape& s) {
  for (const char* key : {"quantization", "quantization_config"}) {
    auto q = top.find(key);
    if (q == top.end() || !q->is_object()) continue;
    if (const uint64_t bits = uint_at(*q, {"bits"}); bits != 0 && bits <= 32) s.quant_bits = static_cast<int>(bits);
    s.quant_group = static_cast<uint32_t>(uint_at(*q, {"group_size"}));
    return;
  }
}

void classify(const std::string& name, uint64_t bytes, ModelShape& s) {
  s.weights_bytes += bytes;
  if (name.find("layers.") != std::string::npos || name.find(".h.") != std::string::npos) s.layer_bytes += bytes;
  else if (name.find("embed_tokens") != std::string::npos || name.find("wte") != std::string::npos)
    s.token_embd_bytes += bytes;
  else if (name.find("lm_head") != std::string::npos) s.output_bytes += bytes;
}

}  // namespace

std::optional<ModelShape> parse_hf_config(std::string_view text, std::string& error) {
  const json top = json::parse(text, nullptr, false);
  if (top.is_discarded() || !top.is_object()) {
    error = "config.json is not a JSON object";
    return std::nullopt;
  }
  auto tc = top.find("text_config");
  const json& c = tc != top.end() && tc->is_object() && tc->contains("num_hidden_layers") ? *tc : top;
  ModelShape s;
  s.format = "config.json";
  if (auto a = top.find("architectures"); a != top.end() && a->is_array() && !a->empty() && (*a)[0].is_string())
    s.architecture = (*a)[0].get<std::string>();
  else if (auto mt = c.find("model_type"); mt != c.end() && mt->is_string())
    s.architecture = mt->get<std::string>();
  const uint64_t layers = uint_at(c, {"num_hidden_layers", "n_layer", "num_layers"});
  if (layers == 0 || layers > kMaxLayers) {
    error = "config.json names no usable num_hidden_layers";
    return std::nullopt;
  }
  s.layers = static_cast<uint32_t>(layers);
  s.embedding = static_cast<uint32_t>(uint_at(c, {"hidden_size", "n_embd", "d_model"}));
  s.feed_forward = static_cast<uint32_t>(uint_at(c, {"intermediate_size", "n_inner"}));
  s.vocab = static_cast<uint32_t>(uint_at(c, {"vocab_size"}, uint_at(top, {"vocab_size"})));
  s.context_length = uint_at(c, {"max_position_embeddings", "n_positions", "max_seq_len"});
  const uint64_t heads = uint_at(c, {"num_attention_heads", "n_head"});
  const uint64_t kv_heads = uint_at(c, {"num_key_value_heads", "num_kv_heads"}, heads);
  s.heads = static_cast<uint32_t>(std::min<uint64_t>(heads, 1u << 20));
  const uint64_t head_dim = uint_at(c, {"head_dim"}, heads != 0 ? s.embedding / heads : 0);
  const bool window_on = !c.contains("use_sliding_window") || c["use_sliding_window"] == true;
  if (window_on) s.sliding_window = static_cast<uint32_t>(uint_at(c, {"sliding_window"}));
  s.kv.assign(s.layers, LayerKv{static_cast<uint32_t>(kv_heads), static_cast<uint32_t>(head_dim),
                                static_cast<uint32_t>(head_dim), false});
  apply_layer_kinds(c, s);
  if (s.sliding_window == 0) {
    for (LayerKv& l : s.kv) l.swa = false;
  }
  read_quantization(top, s);
  return s;
}

bool add_safetensors(const std::string& path, ModelShape& s, std::string& error) {
  std::ifstream in(path, std::ios::binary);
  uint8_t len_bytes[8];
  if (!in.read(reinterpret_cast<char*>(len_bytes), 8)) {
    error = path + ": truncated safetensors header";
    return false;
  }
  uint64_t len = 0;
  for (int i = 7; i >= 0; --i) len = len << 8 | len_bytes[i];
  std::error_code ec;
  const uint64_t file_size = std::filesystem::file_size(path, ec);
  if (ec || len > kMaxHeader || len + 8 > file_size) {
    error = path + ": bad safetensors header length";
    return false;
  }
  std::string header(len, '\0');
  const json j = in.read(header.data(), static_cast<std::streamsize>(len)) ? json::parse(header, nullptr, false)
                                                                            : json();
  if (!j.is_object()) {
    error = path + ": safetensors header is not a JSON object";
    return false;
  }
  for (const auto& [name, t] : j.items()) {
    auto off = t.is_object() ? t.find("data_offsets") : t.end();
    if (off == t.end() || !off->is_array() || off->size() != 2 || !(*off)[0].is_number_unsigned() ||
        !(*off)[1].is_number_unsigned())
      continue;  // __metadata__
    const uint64_t b = (*off)[0].get<uint64_t>(), e = (*off)[1].get<uint64_t>();
    if (e >= b && e <= file_size) classify(name, e - b, s);
  }
  return true;
}

std::optional<ModelShape> read_hf_shape(const std::string& dir, std::string& error) {
  namespace fs = std::filesystem;
  const fs::path config = fs::path(dir) / "config.json";
  std::error_code ec;
  const uint64_t size = fs::file_size(config, ec);
  if (ec || size > kMaxConfig) {
    error = ec ? "no config.json in " + dir : config.string() + " is too large";
    return std::nullopt;
  }
  std::ifstream in(config);
  std::stringstream text;
  text << in.rdbuf();
  std::optional<ModelShape> s = parse_hf_config(text.str(), error);
  if (!s) {
    error = config.string() + ": " + error;
    return std::nullopt;
  }
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().extension() != ".safetensors") continue;
    if (!add_safetensors(it->path().string(), *s, error)) return std::nullopt;
  }
  return s;
}

}  // namespace llmux

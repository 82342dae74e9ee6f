#include "common/engine_flags.hpp"

#include <charconv>
#include <functional>
#include <map>

namespace llmux {

namespace {

std::string basename_of(const std::string& arg) {
  const size_t slash = arg.rfind('/');
  return slash == std::string::npos ? arg : arg.substr(slash + 1);
}

template <class T>
std::optional<T> number(const std::string& s) {
  T v{};
  const char* end = s.data() + s.size();
  auto [p, ec] = std::from_chars(s.data(), end, v);
  if (ec != std::errc() || p != end) return std::nullopt;
  return v;
}

std::optional<double> real(const std::string& s) {
  try {
    size_t used = 0;
    const double v = std::stod(s, &used);
    return used == s.size() ? std::optional<double>(v) : std::nullopt;
  } catch (...) {
    return std::nullopt;
  }
}

using Handler = std::function<bool(EngineSettings&, const std::string&)>;

template <class T, class F>
Handler num(F set) {
  return [set](EngineSettings& s, const std::string& v) {
    auto n = number<T>(v);
    if (n) set(s, *n);
    return n.has_value();
  };
}

bool cache_type(EngineSettings& s, const std::string& v, bool key) {
  auto bits = llama_cache_type_bits(v);
  if (!bits) return false;
  (key ? s.k_bits : s.v_bits) = *bits;
  s.kv_quantized = s.kv_quantized || *bits < 16;
  return true;
}

const std::map<std::string, Handler>& llama_flags() {
  static const std::map<std::string, Handler> m = {
      {"-c", num<uint64_t>([](EngineSettings& s, uint64_t n) { s.ctx = n; })},
      {"-np", num<int64_t>([](EngineSettings& s, int64_t n) { s.parallel = n; })},
      {"-ctk", [](EngineSettings& s, const std::string& v) { return cache_type(s, v, true); }},
      {"-ctv", [](EngineSettings& s, const std::string& v) { return cache_type(s, v, false); }},
      {"-ngl", num<int64_t>([](EngineSettings& s, int64_t n) { s.gpu_layers = n; })},
      {"-b", num<uint32_t>([](EngineSettings& s, uint32_t n) { s.batch = n; })},
      {"-ub", num<uint32_t>([](EngineSettings& s, uint32_t n) { s.ubatch = n; })},
      {"-cram", num<int64_t>([](EngineSettings& s, int64_t n) { s.cache_ram_mib = n; })},
      {"-fa", [](EngineSettings& s, const std::string& v) { s.flash_attn = v; return true; }},
  };
  return m;
}

const std::map<std::string, std::string>& llama_aliases() {
  static const std::map<std::string, std::string> m = {
      {"--ctx-size", "-c"},      {"--parallel", "-np"},       {"--cache-type-k", "-ctk"},
      {"--cache-type-v", "-ctv"}, {"--gpu-layers", "-ngl"},   {"--n-gpu-layers", "-ngl"},
      {"--batch-size", "-b"},    {"--ubatch-size", "-ub"},    {"--cache-ram", "-cram"},
      {"--flash-attn", "-fa"},
  };
  return m;
}

const std::map<std::string, Handler>& mlx_flags() {
  static const std::map<std::string, Handler> m = {
      {"--max-kv-size", num<uint64_t>([](EngineSettings& s, uint64_t n) { s.ctx = n; })},
      {"--kv-group-size", num<uint32_t>([](EngineSettings& s, uint32_t n) { s.kv_group = n > 0 ? n : 64; })},
      {"--prompt-cache-size", num<uint64_t>([](EngineSettings& s, uint64_t n) { s.prompt_cache_size = n; })},
      {"--prompt-cache-bytes", num<uint64_t>([](EngineSettings& s, uint64_t n) { s.prompt_cache_bytes = n; })},
      {"--kv-bits",
       [](EngineSettings& s, const std::string& v) {
         auto bits = parse_kv_bits(v);
         if (!bits) return false;
         s.k_bits = bits->first;  // group scales are added once the group size is known (below)
         s.v_bits = bits->second;
         s.kv_quantized = true;
         return true;
       }},
  };
  return m;
}

const std::map<std::string, Handler>& vllm_flags() {
  static const std::map<std::string, Handler> m = {
      {"--max-model-len", num<uint64_t>([](EngineSettings& s, uint64_t n) { s.ctx = n; })},
      {"--max-num-seqs", num<int64_t>([](EngineSettings& s, int64_t n) { s.parallel = n; })},
      {"--gpu-memory-utilization",
       [](EngineSettings& s, const std::string& v) {
         auto f = real(v);
         if (f && *f > 0 && *f <= 1) s.gpu_utilization = *f;
         return f && *f > 0 && *f <= 1;
       }},
      {"--kv-cache-dtype",
       [](EngineSettings& s, const std::string& v) {
         const bool fp8 = v.starts_with("fp8");
         s.k_bits = s.v_bits = fp8 ? 8 : 16;
         s.kv_quantized = fp8;
         return fp8 || v == "auto" || v == "bfloat16" || v == "float16";
       }},
  };
  return m;
}

void apply(EngineSettings& s, const std::vector<std::string>& argv, const std::map<std::string, Handler>& flags,
           const std::map<std::string, std::string>& aliases) {
  for (size_t i = 1; i < argv.size(); ++i) {
    std::string flag = argv[i], value;
    bool inline_value = false;
    if (const size_t eq = flag.find('='); flag.starts_with("--") && eq != std::string::npos) {
      value = flag.substr(eq + 1);
      flag.resize(eq);
      inline_value = true;
    }
    if (auto a = aliases.find(flag); a != aliases.end()) flag = a->second;
    if (flag == "-kvu" || flag == "--kv-unified") s.kv_unified = true;
    if (flag == "-no-kvu" || flag == "--no-kv-unified") s.kv_unified = false;
    if (flag == "--swa-full") s.swa_full = true;
    auto h = flags.find(flag);
    if (h == flags.end()) continue;
    if (!inline_value) {
      if (i + 1 >= argv.size()) {
        if (flag == "-fa") s.flash_attn = "on";  // older llama-server: a bare -fa switch
        continue;
      }
      value = argv[++i];
    }
    if (!h->second(s, value)) s.problems.push_back(flag + ": cannot read '" + value + "'");
  }
}

}  // namespace

const char* engine_kind_name(EngineKind k) {
  switch (k) {
    case EngineKind::llama_server: return "llama-server";
    case EngineKind::mlx_lm: return "mlx_lm.server";
    case EngineKind::vllm: return "vllm";
    case EngineKind::vllm_mlx: return "vllm-mlx";
    default: return "unknown";
  }
}

EngineKind detect_engine(const std::vector<std::string>& argv) {
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string name = basename_of(argv[i]);
    if (name.starts_with("llama-server")) return EngineKind::llama_server;
    if (name == "mlx_lm.server" || (name == "mlx_lm" && i + 1 < argv.size() && argv[i + 1] == "server"))
      return EngineKind::mlx_lm;
    if (name == "vllm-mlx") return EngineKind::vllm_mlx;
    if (name == "vllm") return EngineKind::vllm;
  }
  return EngineKind::unknown;
}

EngineSettings parse_engine_args(const std::vector<std::string>& argv) {
  EngineSettings s;
  s.kind = detect_engine(argv);
  static const std::map<std::string, std::string> none;
  switch (s.kind) {
    case EngineKind::llama_server: apply(s, argv, llama_flags(), llama_aliases()); break;
    case EngineKind::mlx_lm:
      apply(s, argv, mlx_flags(), none);
      if (s.kv_quantized) {
        s.k_bits += 32.0 / s.kv_group;
        s.v_bits += 32.0 / s.kv_group;
      }
      break;
    case EngineKind::vllm:
    case EngineKind::vllm_mlx: apply(s, argv, vllm_flags(), none); break;
    default: break;
  }
  return s;
}

std::optional<double> llama_cache_type_bits(const std::string& type) {
  static const std::map<std::string, double> bits = {
      {"f32", 32},  {"f16", 16},    {"bf16", 16},   {"q8_0", 8.5}, {"q4_0", 4.5},
      {"q4_1", 5},  {"q5_0", 5.5},  {"q5_1", 6},    {"iq4_nl", 4.5},
  };
  auto it = bits.find(type);
  return it == bits.end() ? std::nullopt : std::optional<double>(it->second);
}

std::optional<std::pair<int, int>> parse_kv_bits(const std::string& text) {
  std::string s;
  for (char c : text) {
    if (c != '(' && c != ')' && c != ' ' && c != '[' && c != ']') s += c;
  }
  const size_t comma = s.find(',');
  auto k = number<int>(s.substr(0, comma));
  auto v = comma == std::string::npos ? k : number<int>(s.substr(comma + 1));
  if (!k || !v || *k < 1 || *k > 16 || *v < 1 || *v > 16) return std::nullopt;
  return std::make_pair(*k, *v);
}

}  // namespace llmux

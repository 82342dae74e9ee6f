#include "proxy/policy/footprint_view.hpp"

#include <cstdio>

#include "common/engine_flags.hpp"

namespace llmux {

namespace {

using nlohmann::json;

bool digits(const std::string& s) {
  return !s.empty() && s.size() <= 12 && s.find_first_not_of("0123456789") == std::string::npos;
}

std::string row(const std::string& label, uint64_t bytes, const std::string& note = "") {
  char line[160];
  std::snprintf(line, sizeof line, "  %-14s %10s%s%s\n", label.c_str(), format_bytes(bytes).c_str(),
                note.empty() ? "" : "   ", note.c_str());
  return line;
}

uint64_t u(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number_unsigned() ? it->get<uint64_t>() : 0;
}

std::string s(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

}  // namespace

json footprint_json(const Footprint& f) {
  json j = {{"estimateBytes", f.total()},        {"estimate", format_bytes(f.total())},
            {"source", f.source},                {"weightsSource", f.weights_source},
            {"weightsBytes", f.weights},         {"kvBytes", f.kv},
            {"kvSource", f.kv_source},           {"overheadBytes", f.overhead},
            {"promptCacheBytes", f.cache},       {"gpuBytes", f.gpu_part()},
            {"engine", f.engine},                {"contextTokens", f.ctx},
            {"estimatedBytes", f.estimated()},   {"notes", f.notes}};
  if (f.cache_limit > 0) j["promptCacheLimitBytes"] = f.cache_limit;
  if (f.learned_host) j["learnedBytes"] = *f.learned_host + f.learned_gpu.value_or(0);
  return j;
}

json fit_json(const std::string& model, const Footprint& f, const MemoryNow& now, const MemoryConfig& cfg) {
  json j = footprint_json(f);
  j["model"] = model;
  const uint64_t reserve = cfg.reserve.resolve(now.total);
  j["totalBytes"] = now.total;
  j["budgetBytes"] = cfg.budget.resolve(now.total);
  j["availableBytes"] = now.available;
  j["reserveBytes"] = reserve;
  j["usableBytes"] = now.available > reserve ? now.available - reserve : 0;
  if (now.gpu_free) j["gpuFreeBytes"] = *now.gpu_free;
  if (now.gpu_total) j["gpuTotalBytes"] = *now.gpu_total;
  const FitVerdict v = check_fit(model, f, now, cfg, true);
  j["fits"] = v.outcome == FitOutcome::fits;
  j["verdict"] = v.outcome == FitOutcome::fits ? "fits now" : v.message;
  return j;
}

std::string fit_text(const json& j) {
  std::string out = s(j, "model") + " on " + s(j, "engine") + (u(j, "contextTokens") ? ", " + std::to_string(u(j, "contextTokens")) + " tokens of context" : "") + "\n";
  out += row("weights", u(j, "weightsBytes"), s(j, "weightsSource"));
  out += row("KV cache", u(j, "kvBytes"), s(j, "kvSource"));
  out += row("buffers", u(j, "overheadBytes"), "compute buffers + runtime");
  if (u(j, "promptCacheBytes") > 0) {
    const uint64_t limit = u(j, "promptCacheLimitBytes");
    out += row("prompt cache", u(j, "promptCacheBytes"), limit ? "may grow to " + format_bytes(limit) : "");
  }
  out += row("estimate", u(j, "estimatedBytes"));
  if (j.contains("learnedBytes")) out += row("learned", u(j, "learnedBytes"), "measured peak + learnedSlack");
  out += row("counted", u(j, "estimateBytes"), "source: " + s(j, "source"));
  if (u(j, "gpuBytes") > 0) out += row("  on the GPU", u(j, "gpuBytes"));
  out += "\n";
  out += row("budget", u(j, "budgetBytes"), "memory.budget of " + format_bytes(u(j, "totalBytes")));
  out += row("free now", u(j, "usableBytes"),
             format_bytes(u(j, "availableBytes")) + " available minus memory.reserve " + format_bytes(u(j, "reserveBytes")));
  if (j.contains("gpuFreeBytes")) out += row("GPU free now", u(j, "gpuFreeBytes"), "of " + format_bytes(u(j, "gpuTotalBytes")));
  for (const auto& n : j.value("notes", json::array())) out += "  note: " + (n.is_string() ? n.get<std::string>() : "") + "\n";
  out += (j.value("fits", false) ? "fits: " : "does not fit: ") + s(j, "verdict") + "\n";
  return out;
}

FitArgs fit_engine_args(const std::string& engine, const std::string& ctx, const std::string& kv_bits,
                        const std::string& parallel) {
  FitArgs r;
  if (!ctx.empty() && !digits(ctx)) return {{}, "--ctx: expected a number of tokens, got '" + ctx + "'"};
  if (!parallel.empty() && !digits(parallel)) return {{}, "--parallel: expected a number, got '" + parallel + "'"};
  const bool known = engine == "llama-server" || engine == "mlx_lm.server" || engine == "vllm" || engine == "vllm-mlx";
  if (!known && (!ctx.empty() || !kv_bits.empty() || !parallel.empty()))
    return {{}, "--ctx, --kv-bits and --parallel need a known engine (llama-server, mlx_lm.server, vllm, vllm-mlx); "
                "this model's cmd runs '" + engine + "'"};
  if (engine == "llama-server") {
    if (!ctx.empty()) r.args.insert(r.args.end(), {"-c", ctx});
    if (!parallel.empty()) r.args.insert(r.args.end(), {"-np", parallel});
    if (!kv_bits.empty()) {
      static const char* kTypes[][2] = {{"16", "f16"}, {"8", "q8_0"}, {"4", "q4_0"}, {"5", "q5_0"}};
      std::string type = kv_bits;
      for (auto& t : kTypes) if (kv_bits == t[0]) type = t[1];
      if (!llama_cache_type_bits(type)) return {{}, "--kv-bits: expected 16, 8, 5, 4 or a llama.cpp cache type (q8_0, ...), got '" + kv_bits + "'"};
      r.args.insert(r.args.end(), {"-ctk", type, "-ctv", type});
    }
  } else if (engine == "mlx_lm.server") {
    if (!ctx.empty()) r.args.insert(r.args.end(), {"--max-kv-size", ctx});
    if (!parallel.empty()) return {{}, "--parallel: mlx_lm.server has no slot count"};
    if (!kv_bits.empty()) {
      if (!parse_kv_bits(kv_bits)) return {{}, "--kv-bits: expected bits such as 8, 4 or \"(8, 4)\", got '" + kv_bits + "'"};
      r.args.insert(r.args.end(), {"--kv-bits", kv_bits});
    }
  } else if (known) {
    if (!ctx.empty()) r.args.insert(r.args.end(), {"--max-model-len", ctx});
    if (!parallel.empty()) r.args.insert(r.args.end(), {"--max-num-seqs", parallel});
    if (!kv_bits.empty()) {
      if (kv_bits != "8" && kv_bits != "16") return {{}, "--kv-bits: vLLM caches 16 or 8 (fp8) bits, got '" + kv_bits + "'"};
      r.args.insert(r.args.end(), {"--kv-cache-dtype", kv_bits == "8" ? "fp8" : "auto"});
    }
  }
  return r;
}

}  // namespace llmux

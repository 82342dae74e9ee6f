// estimate_footprint: weights measured on disk, then the engine-aware KV / buffers / prompt-cache figures from the
// model's metadata and the engine's command line (common/footprint.hpp has the contract).
#include <filesystem>

#include "common/engine_estimate.hpp"
#include "common/footprint.hpp"
#include "common/gguf.hpp"
#include "common/hf_config.hpp"

namespace llmux {

namespace {

namespace fs = std::filesystem;
constexpr uint64_t kFallbackOverhead = 512ull << 20;
constexpr uint64_t kBridgeOverhead = 32ull << 20;  // `llmux bridge`, a remote model's local process (~10 MiB RSS)

void measure_weights(const ModelConfig& m, const std::string& detected, Footprint& f) {
  if (m.weights_bytes) {
    f.weights = *m.weights_bytes;
    f.weights_source = "weights: " + format_bytes(f.weights);
    return;
  }
  if (!m.weights_path.empty()) {
    if (const std::optional<uint64_t> bytes = weights_size(m.weights_path)) {
      f.weights = *bytes;
      f.weights_source = "weights: " + m.weights_path;
      return;
    }
  }
  const std::optional<uint64_t> bytes = detected.empty() ? std::nullopt : weights_size(detected);
  if (bytes) {
    f.weights = *bytes;
    f.weights_source = "detected from cmd: " + detected;
  } else {
    f.weights_source = m.weights_path.empty() ? "unknown" : "unknown (nothing to measure at " + m.weights_path + ")";
  }
}

// The metadata at a model path: a .gguf file, or a directory with config.json (a directory holding one .gguf
// is read as that file).
std::optional<ModelShape> read_shape(const std::string& path, std::string& error) {
  std::error_code ec;
  if (path.empty()) {
    error = "no model path in the command line";
    return std::nullopt;
  }
  if (!fs::is_directory(path, ec)) return read_gguf_shape(path, error);
  if (fs::exists(fs::path(path) / "config.json", ec)) return read_hf_shape(path, error);
  std::string only;
  for (fs::directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().extension() != ".gguf") continue;
    if (!only.empty()) {
      error = path + " holds several .gguf files and no config.json";
      return std::nullopt;
    }
    only = it->path().string();
  }
  if (only.empty()) {
    error = "no config.json or .gguf in " + path;
    return std::nullopt;
  }
  return read_gguf_shape(only, error);
}

Accelerator accelerator_of(const EstimateEnv& env) {
  if (env.accelerator >= 0) return static_cast<Accelerator>(env.accelerator);
#ifdef __APPLE__
  return Accelerator::unified;
#else
  return Accelerator::none;
#endif
}

std::string bits_text(double bits) {
  if (bits == 16) return "f16";
  std::string t = std::to_string(bits);
  t.erase(t.find_last_not_of('0') + 1);
  if (t.ends_with('.')) t.pop_back();
  return t + "-bit";
}

void apply_estimate(const EngineEstimate& e, Footprint& f) {
  f.kv = e.kv;
  f.overhead = e.buffers;
  f.cache = e.cache;
  f.cache_limit = e.cache_limit;
  f.gpu = e.gpu;
  f.ctx = e.ctx;
  f.kv_source = std::string(engine_kind_name(e.kind)) + ": " + std::to_string(e.ctx) + " tokens";
  if (e.sequences > 1) f.kv_source += ", " + std::to_string(e.sequences) + " slots";
  f.kv_source += ", K " + bits_text(e.k_bits) + " / V " + bits_text(e.v_bits);
  f.notes.insert(f.notes.end(), e.notes.begin(), e.notes.end());
}

}  // namespace

void apply_learned(Footprint& f, uint64_t host_peak, uint64_t gpu_peak, double slack) {
  f.learned_host = static_cast<uint64_t>(static_cast<double>(host_peak) * (1 + slack));
  f.learned_gpu = static_cast<uint64_t>(static_cast<double>(gpu_peak) * (1 + slack));
  if (f.source != "override") f.source = "learned";
}

Footprint estimate_footprint(const ModelConfig& m, const EstimateEnv& env) { return estimate_footprint_with(m, {}, env); }

Footprint estimate_footprint_with(const ModelConfig& m, const std::vector<std::string>& extra_args,
                                  const EstimateEnv& env) {
  std::vector<std::string> argv = m.argv;
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  Footprint f;
  if (!m.remote.empty()) {  // the model's memory is the upstream's; here only its bridge counts (co-residency)
    f.engine = "remote";
    f.weights_source = "remote upstream";
    f.kv_source = "none (remote upstream)";
    f.overhead = m.overhead.value_or(kBridgeOverhead);
    if (m.overhead) f.source = "override";
    return f;
  }
  const std::string detected = detect_weights_path(argv);
  measure_weights(m, detected, f);
  const EngineSettings settings = parse_engine_args(argv);
  f.engine = engine_kind_name(settings.kind);
  for (const std::string& p : settings.problems) f.notes.push_back("cmd: " + p);
  std::string error;
  std::optional<ModelShape> shape;
  if (settings.kind != EngineKind::unknown) shape = read_shape(detected, error);
  if (shape) {
    apply_estimate(estimate_engine(*shape, f.weights, settings, accelerator_of(env), env.gpu_total), f);
  } else {
    f.overhead = kFallbackOverhead;
    f.kv_source = "none";
    if (!error.empty()) f.notes.push_back("metadata: " + error + " (KV not computed)");
  }
  if (m.kv_reservation) {
    f.kv = *m.kv_reservation;
    f.kv_source = "kvReservation";
    f.source = "override";
  }
  if (m.overhead) {
    f.overhead = *m.overhead;
    f.cache = 0;
    f.source = "override";
  }
  f.gpu = std::min(f.gpu, f.total());
  return f;
}

}  // namespace llmux

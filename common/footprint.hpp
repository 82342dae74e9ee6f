// Memory footprint estimate of a model's engine: weights measured on disk + KV reservation + overhead.
// Pure: filesystem reads (stat, readdir, glob) and arithmetic, no Asio. Never throws: a path that cannot be read
// counts as absent. Weights files are .gguf, .safetensors and .npz; a file named directly counts whatever its
// extension. Directories are walked recursively following symlinks (Hugging Face snapshots link into blobs/),
// each file counted once.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/config.hpp"

namespace llmux {

struct Footprint {
  uint64_t weights = 0, kv = 0, overhead = 0;
  uint64_t cache = 0;  // prompt cache the engine is expected to keep (llama-server --cache-ram, mlx prompt cache)
  uint64_t gpu = 0;    // of total(), the part expected in a discrete GPU's memory (0: all in system memory)
  // A measured peak of this model and command line (host and GPU), already raised by memory.learnedSlack: when
  // set and nothing was overridden, it replaces the estimate for admission and ceilings.
  std::optional<uint64_t> learned_host, learned_gpu;
  uint64_t estimated() const { return weights + kv + overhead + cache; }
  bool uses_learned() const { return learned_host.has_value() && source == "learned"; }
  uint64_t total() const { return uses_learned() ? *learned_host + learned_gpu.value_or(0) : estimated(); }
  uint64_t gpu_part() const { return uses_learned() ? learned_gpu.value_or(0) : gpu; }
  uint64_t host() const { return total() > gpu_part() ? total() - gpu_part() : 0; }
  // Where `weights` comes from: "weights: 4.2 GiB" (configured size), "weights: /path" (configured path),
  // "detected from cmd: /path/x.gguf", "unknown" (weights counted as 0).
  std::string weights_source;
  // Where the total comes from: "estimate" (metadata + command line), "override" (kvReservation or overhead
  // given), "learned" (a measured peak of this model and command line; see proxy/daemon/footprint_ledger).
  std::string source = "estimate";
  std::string kv_source;       // "llama-server: 4096 tokens x 4 slots, f16/f16", "kvReservation", "none"
  std::string engine = "unknown";  // engine kind (common/engine_flags)
  uint64_t ctx = 0;                // tokens the KV figure is for (0 = not computed)
  uint64_t cache_limit = 0;        // the most the prompt cache may grow to (0 = none or unknown)
  std::vector<std::string> notes;  // assumptions and metadata problems, for `llmux fit` and /v1/models
};

// Records a measured peak (host and GPU bytes) on an estimate: learned_* = peak x (1 + slack); the source becomes
// "learned" unless kvReservation or overhead were given ("override" stays: the user's figures win).
void apply_learned(Footprint& f, uint64_t host_peak, uint64_t gpu_peak, double slack);

// What the machine offers engines, for the estimate (see common/engine_estimate.hpp: Accelerator).
struct EstimateEnv {
  int accelerator = -1;                 // -1: the platform default (unified on macOS, none elsewhere)
  std::optional<uint64_t> gpu_total;    // the GPU's memory, when known
};

// Bytes of weights at a file, in a directory, or matching a glob (`*`, `?`, `[...]`); `~` is expanded. A file
// named "x-00001-of-00003.gguf" also counts its sibling parts. nullopt if nothing was found.
std::optional<uint64_t> weights_size(const std::string& path_or_glob);

// The local model path an engine command line names: the value of -m / --model / --model-path (also written
// --model=PATH), or the positional of `vllm serve PATH` / `vllm-mlx serve PATH`. A value that is not an existing
// path but looks like a Hugging Face id ("org/name") is looked up in the Hugging Face cache
// ($HF_HUB_CACHE, else $HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub):
// models--org--name/snapshots/<refs/main, else newest>. Returns "" when nothing local is found.
std::string detect_weights_path(const std::vector<std::string>& argv);

// weights: explicit size > `weights` path > detected from argv > 0 ("unknown"). KV, buffers and prompt cache come
// from the model's metadata (a .gguf header, or config.json + safetensors of a model directory) and the engine's
// command line (common/engine_estimate); kvReservation and overhead, when given, replace the computed figures.
// Without readable metadata: kv = kvReservation or 0, overhead = m.overhead or 512 MiB. Reads file headers only.
Footprint estimate_footprint(const ModelConfig& m, const EstimateEnv& env = {});
// The same for a command line with engine settings changed (`llmux fit --ctx ...`), given as extra argv words
// appended to the model's (the engines take the last occurrence of a flag).
Footprint estimate_footprint_with(const ModelConfig& m, const std::vector<std::string>& extra_args,
                                  const EstimateEnv& env = {});

// "4.2 GiB", "512 MiB", "900 KiB", "12 B": binary units, one decimal at most.
std::string format_bytes(uint64_t bytes);

// The Hugging Face hub cache: $HF_HUB_CACHE, else $HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub, else
// ~/.cache/huggingface/hub ("" when none can be told).
std::string hf_hub_cache();

// "~" and "~/..." with $HOME (unchanged when HOME is unset or the path does not start with ~).
std::string expand_home(const std::string& path);

}  // namespace llmux

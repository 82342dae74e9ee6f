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
  uint64_t total() const { return weights + kv + overhead; }
  // Where `weights` comes from: "weights: 4.2 GiB" (configured size), "weights: /path" (configured path),
  // "detected from cmd: /path/x.gguf", "unknown" (weights counted as 0).
  std::string weights_source;
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

// weights: explicit size > `weights` path > detected from argv > 0 ("unknown"); kv: kv_reservation or 0;
// overhead: m.overhead.
Footprint estimate_footprint(const ModelConfig& m);

// "4.2 GiB", "512 MiB", "900 KiB", "12 B": binary units, one decimal at most.
std::string format_bytes(uint64_t bytes);

// The Hugging Face hub cache: $HF_HUB_CACHE, else $HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub, else
// ~/.cache/huggingface/hub ("" when none can be told).
std::string hf_hub_cache();

// "~" and "~/..." with $HOME (unchanged when HOME is unset or the path does not start with ~).
std::string expand_home(const std::string& path);

}  // namespace llmux

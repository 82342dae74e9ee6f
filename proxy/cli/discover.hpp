// Model files on this machine that llmux could serve (`llmux models --discover`): Hugging Face cache snapshots
// (MLX or plain safetensors, and .gguf files kept there) and .gguf files under model directories; which of them
// a config's engine commands already name; a YAML snippet for the rest. Pure filesystem reads, no sockets; never
// throws: unreadable directories and files are skipped.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace llmux {

struct FoundModel {
  std::string id;      // suggested model id ("qwen3-8b-q4_k_m"), unique within one scan result
  std::string name;    // "org/name" for a Hugging Face snapshot; the file name without .gguf (and split suffix)
  std::string format;  // "gguf", "mlx" or "safetensors"
  std::string path;    // the snapshot directory, or the .gguf file (the first part of a split model)
  uint64_t bytes = 0;  // weights on disk: blobs reached through the snapshot's links and split parts, each once
  bool configured = false;
};

// One entry per `models--ORG--NAME` repo (snapshot: refs/main, else the newest) holding *.safetensors, and one
// per .gguf model in a snapshot without safetensors. "mlx" when the org is mlx-community, the repo name says mlx,
// or config.json has a top-level "quantization" object. `hub`: usually hf_hub_cache() (common/footprint.hpp).
std::vector<FoundModel> scan_hf_cache(const std::string& hub);

// .gguf models under `dirs` (searched 3 levels deep, symlinks followed). `mmproj*` projector files are skipped;
// a split model `x-00001-of-00003.gguf` is one model whose size sums its parts (other parts are skipped).
std::vector<FoundModel> scan_gguf_dirs(const std::vector<std::string>& dirs);

// The non-empty entries of a colon-separated list ($LLMUX_MODEL_DIRS), `~` expanded.
std::vector<std::string> split_dirs(const std::string& colon_list);

// Existing directories that hold the .gguf files these engine command lines (word-split argv) name.
std::vector<std::string> gguf_dirs_of(const std::vector<std::vector<std::string>>& argvs);

// Drops entries whose files are the same (a directory given twice, a gguf also reached through the HF cache),
// sets `configured` on those a command line names (by path, or by Hugging Face repo id), and makes ids unique.
void finalize(std::vector<FoundModel>& found, const std::vector<std::vector<std::string>>& argvs);

// Whether ~1.2 × bytes (weights plus a working margin) fits in `budget`; nullopt when the budget is unknown.
std::optional<bool> fits(uint64_t bytes, std::optional<uint64_t> budget);

// YAML for the models not configured yet, in the shape of configs/llama-server.yaml, mlx-lm.yaml and vllm.yaml,
// ready to paste under `models:`; "" when every found model is configured.
std::string config_snippet(const std::vector<FoundModel>& found);

}  // namespace llmux

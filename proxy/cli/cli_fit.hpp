// `llmux fit MODEL [--ctx N] [--kv-bits B] [--parallel N] [--json] [--url URL] [--config FILE] [--engine KIND]`:
// what a model would take (weights, KV cache for the context, buffers, prompt cache) against memory.budget and
// what is free now. MODEL is a configured model (asked of the running daemon, GET /fit; when none answers, the
// config file is read here) or a path to a .gguf file or a model directory (estimated here; --engine picks the
// engine, default llama-server for .gguf, mlx_lm.server on macOS and vllm elsewhere for a directory).
// Exit codes: 0 fits, 1 does not fit or cannot be estimated (one line on stderr), 2 usage error.
#pragma once

#include <string>
#include <vector>

namespace llmux {

int cli_fit(const std::vector<std::string>& args);

}  // namespace llmux

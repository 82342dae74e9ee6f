// Hugging Face / MLX model directories: config.json (layers, KV heads, head dim, hybrid layer types, sliding
// window, quantization; a `text_config` object of a multimodal model is read in place of the top level) and the
// headers of its *.safetensors files (tensor sizes split into per-layer, output and token-embedding parts). Each
// safetensors header is bounded (100 MiB) and read alone, never the tensor data. Never throws; pure (no Asio).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/model_shape.hpp"

namespace llmux {

// The shape a config.json text describes (weights left 0). nullopt with `error` set when it is not a JSON object
// or names no layer count.
std::optional<ModelShape> parse_hf_config(std::string_view json, std::string& error);

// Adds the tensors of one safetensors file (its header) to `s`'s weight figures; false with `error` set when the
// header is malformed or truncated.
bool add_safetensors(const std::string& path, ModelShape& s, std::string& error);

// config.json of `dir`, plus every *.safetensors file directly in it.
std::optional<ModelShape> read_hf_shape(const std::string& dir, std::string& error);

}  // namespace llmux

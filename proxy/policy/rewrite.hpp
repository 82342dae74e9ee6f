// Inspection and rewrite of an inference request body. Pure. parse_inference() scans the JSON's top level (no DOM)
// and finds the model a request names (falling back to defaultModel); apply_model_rules() parses the body only
// when the model has maxTokens/params rules; forward_body() produces the bytes sent to the engine with `model` set
// to what the engine expects, splicing the original bytes when nothing else changed. Errors come back as
// OpenAI-shaped ApiError values, never exceptions.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <optional>
#include <string_view>
#include <variant>

#include "common/config.hpp"
#include "common/errors.hpp"
#include "proxy/http/json_scan.hpp"

namespace llmux {

struct InferenceRequest {
  TopLevelScan scan;               // where "model" sits in the original bytes
  nlohmann::json body;             // parsed JSON object: only when the model has caps/params rules
  const ModelConfig* model = nullptr;
  std::string requested;           // the name the client used ("" when defaulted)
  bool stream = false;             // "stream": true
  bool modified = false;           // body changed beyond `model`: must be re-serialized
  std::string clamp_note;          // "max_tokens 9000 -> 4096" when a cap lowered the request's limit
  bool form = false;               // multipart/form-data: scan.model_begin/model_end bound the raw field value
};

// 404 "model 'x' not found; available: a, b": the one wording for every place a name does not resolve.
ApiError unknown_model(const std::string& name, const Config& config);

std::variant<InferenceRequest, ApiError> parse_inference(const std::string& body, const Config& config);

// Applies the model's maxTokens caps and params rules (defaults, force, strip) for the route `path`.
// Returns an error (400) when the request exceeds a limit configured with onExceed: reject.
std::optional<ApiError> apply_model_rules(InferenceRequest& req, const std::string& original, std::string_view path);

// The body to send to the engine. Returns `original` untouched when nothing needs to change.
std::string forward_body(InferenceRequest& req, const std::string& original);
// Same, consuming the original: an unchanged body is moved, not copied.
std::string forward_body(InferenceRequest& req, std::string&& original);

}  // namespace llmux

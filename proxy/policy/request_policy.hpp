// Per-model request policy applied to a parsed JSON request body before it is forwarded: output-token caps
// (`maxTokens`) and parameter rules (`params`, llama-swap `filters`). Pure: no Asio, no I/O; never throws.
// Both functions leave `model` alone and do nothing to a body that is not a JSON object.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/config.hpp"
#include "common/errors.hpp"

namespace llmux {

struct CapResult {
  bool clamped = false;           // a present output limit was lowered to the model's limit
  std::string field;              // the spelling clamped or inserted ("" when nothing changed)
  int64_t requested = 0;          // its value in the request (negative = unlimited; 0 when inserted)
  int64_t applied = 0;            // its value now
  std::optional<ApiError> error;  // set: answer the client with it, do not forward (reject, or a non-integer)
};

// Output-token limit spellings: max_tokens, max_completion_tokens, max_output_tokens (Responses API), n_predict
// (llama.cpp). A negative value (n_predict -1) means unlimited and counts as above any limit.
// - None present (or all null): on routes that generate text, the route's spelling is set to caps.default_tokens,
//   or to caps.limit when only a limit is configured (an absent limit would let the engine generate without
//   bound): "/v1/responses" → max_output_tokens; chat/completions, completions, messages → max_tokens.
// - Present and above caps.limit: every such spelling is clamped to the limit, or with caps.reject nothing is
//   changed and `error` is a 400 "max_tokens 9000 exceeds this model's limit of 4096" (code max_tokens_exceeded).
// `route_path` may carry the /v1 prefix, a trailing slash or a query.
CapResult apply_token_caps(nlohmann::json& body, std::string_view route_path, const TokenCaps& caps);

// strip: top-level fields removed; defaults: set where absent (objects deep-merged, the request's values win);
// force: always set (objects deep-merged, the rule's values win); then by_name[`requested`] (llama-swap's
// setParamsByID: the id or alias the request named) forced likewise. Applied in that order. Returns the top-level
// names changed, each once, for logging.
std::vector<std::string> apply_param_rules(nlohmann::json& body, const ParamRules& rules,
                                           const std::string& requested = {});

}  // namespace llmux

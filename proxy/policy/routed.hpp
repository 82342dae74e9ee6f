// Requests on the routes that are not JSON inference but still go to a model's engine (proxy/http/routes.hpp):
// multipart/form-data (the `model` field), GET /props (?model=), /upstream/<model>/<path>. Finds the model (or the
// default one) and what the engine receives; the body is relayed as it is, but for a multipart `model` value that
// becomes the model's useModelName. Errors are OpenAI-shaped, never exceptions. Pure.
#pragma once

#include <string>
#include <string_view>
#include <variant>

#include "common/config.hpp"
#include "proxy/http/routes.hpp"
#include "proxy/policy/rewrite.hpp"

namespace llmux {

// `engine_target` is set for /upstream (the engine's own path and query); left empty otherwise (the route's path).
std::variant<InferenceRequest, ApiError> parse_routed(Route route, std::string_view target,
                                                      std::string_view content_type, const std::string& body,
                                                      const Config& config, std::string& engine_target);

}  // namespace llmux

// Requests on the routes that are not JSON inference but still go to a model's engine (proxy/http/routes.hpp):
// multipart/form-data (the `model` field), GET /props (?model=), /upstream/<model>/<path>. Finds the model (or the
// default one) and what the engine receives; the body is relayed as it is, but for a multipart `model` value that
// becomes the model's useModelName. Errors are OpenAI-shaped, never exceptions. Pure.
#pragma once

#include <string>
#include <string_view>
#include <variant>

#include "common/config.hpp"
#include "proxy/http/multipart.hpp"
#include "proxy/http/routes.hpp"
#include "proxy/policy/rewrite.hpp"

namespace llmux {

// `engine_target` is set for /upstream (the engine's own path and query); left empty otherwise (the route's path).
std::variant<InferenceRequest, ApiError> parse_routed(Route route, std::string_view target,
                                                      std::string_view content_type, const std::string& body,
                                                      const Config& config, std::string& engine_target);

// A multipart request from its `model` field scan, which has ended (found, absent or bad): the model named, or
// the default one when the form has no model field; bad: 400 invalid_multipart. The scan's offsets are the field's
// place in the body (forward_body() splices useModelName there). A body streamed to the engine is resolved by this
// as soon as the field is found (proxy/session/session_form.cpp).
std::variant<InferenceRequest, ApiError> form_scanned(const MultipartModelScan& scan, const Config& config);
// A multipart route whose Content-Type is not multipart/form-data with a boundary.
ApiError form_content_type_error();

}  // namespace llmux

#include "proxy/policy/routed.hpp"

#include "proxy/http/multipart.hpp"

namespace llmux {

namespace {

// The model `name` names, or the default model when `name` is empty; `requested` keeps what the client wrote.
std::variant<InferenceRequest, ApiError> resolved(const std::string& name, const Config& config) {
  InferenceRequest ir;
  ir.requested = name;
  const std::string& wanted = name.empty() ? config.default_model : name;
  if (wanted.empty())
    return bad_request("request names no model and no defaultModel is configured; available: " +
                           config.available_names(), "model_required");
  ir.model = config.resolve(wanted);
  if (ir.model == nullptr) return unknown_model(wanted, config);
  return ir;
}

std::variant<InferenceRequest, ApiError> form_request(std::string_view content_type, const std::string& body,
                                                      const Config& config) {
  const std::optional<std::string> boundary = multipart_boundary(content_type);
  if (!boundary) return form_content_type_error();
  MultipartModelScan scan(*boundary);
  scan.feed(body);
  scan.finish();
  return form_scanned(scan, config);
}

std::variant<InferenceRequest, ApiError> upstream_request(std::string_view target, const Config& config,
                                                          std::string& engine_target) {
  const std::vector<UpstreamCandidate> candidates = upstream_candidates(target);
  for (const UpstreamCandidate& c : candidates) {
    if (config.resolve(c.model) == nullptr) continue;
    engine_target = c.target;
    return resolved(c.model, config);
  }
  return not_found("no model in " + std::string(normalize_path(target)) + "; use /upstream/<model>/<path> with a "
                   "model id or alias; available: " + config.available_names(), "model_not_found");
}

}  // namespace

ApiError form_content_type_error() {
  return bad_request("expected a multipart/form-data body with a boundary", "invalid_content_type");
}

std::variant<InferenceRequest, ApiError> form_scanned(const MultipartModelScan& scan, const Config& config) {
  if (scan.state() == MultipartModelScan::State::bad)
    return bad_request(std::string("malformed multipart body: ") + scan.why(), "invalid_multipart");
  const bool found = scan.state() == MultipartModelScan::State::found;
  auto out = resolved(found ? scan.value() : std::string(), config);
  if (auto* ir = std::get_if<InferenceRequest>(&out)) {
    ir->form = found;
    ir->scan.model_begin = static_cast<size_t>(scan.value_begin());
    ir->scan.model_end = static_cast<size_t>(scan.value_end());
    // No field to splice into: the engine serves the model it runs whatever the name.
    if (!found) ir->requested = ir->model->forwarded_name();
  }
  return out;
}

std::variant<InferenceRequest, ApiError> parse_routed(Route route, std::string_view target,
                                                      std::string_view content_type, const std::string& body,
                                                      const Config& config, std::string& engine_target) {
  std::variant<InferenceRequest, ApiError> out = bad_request("not a model route");
  if (route == Route::form) out = form_request(content_type, body, config);
  if (route == Route::model_query) out = resolved(query_param(target, "model"), config);
  if (route == Route::upstream) out = upstream_request(target, config, engine_target);
  if (auto* ir = std::get_if<InferenceRequest>(&out); ir != nullptr && !ir->form)
    ir->requested = ir->model->forwarded_name();  // the body is relayed untouched
  return out;
}

}  // namespace llmux

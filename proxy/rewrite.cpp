#include "proxy/rewrite.hpp"

#include "proxy/request_policy.hpp"
#include "proxy/routes.hpp"

namespace llmux {

namespace {

ApiError unknown_model(const std::string& name, const Config& config) {
  return not_found("model '" + name + "' not found; available: " + config.available_names(), "model_not_found");
}

}  // namespace

std::variant<InferenceRequest, ApiError> parse_inference(const std::string& body, const Config& config) {
  InferenceRequest req;
  req.body = nlohmann::json::parse(body, nullptr, false);
  if (req.body.is_discarded()) return bad_request("request body is not valid JSON", "invalid_json");
  if (!req.body.is_object()) return bad_request("request body must be a JSON object", "invalid_json");
  auto it = req.body.find("model");
  if (it != req.body.end() && !it->is_null()) {
    if (!it->is_string()) return bad_request("'model' must be a string", "invalid_model");
    req.requested = it->get<std::string>();
  }
  std::string name = req.requested.empty() ? config.default_model : req.requested;
  if (name.empty())
    return bad_request("request names no 'model' and no defaultModel is configured; available: " +
                           config.available_names(),
                       "model_required");
  req.model = config.resolve(name);
  if (req.model == nullptr) return unknown_model(name, config);
  auto s = req.body.find("stream");
  req.stream = s != req.body.end() && s->is_boolean() && s->get<bool>();
  return req;
}

std::optional<ApiError> apply_model_rules(InferenceRequest& req, std::string_view path) {
  CapResult caps = apply_token_caps(req.body, normalize_path(path), req.model->max_tokens);
  if (caps.error) return caps.error;
  if (!caps.field.empty()) req.modified = true;
  if (caps.clamped)
    req.clamp_note = caps.field + " " + std::to_string(caps.requested) + " -> " + std::to_string(caps.applied);
  if (!apply_param_rules(req.body, req.model->params).empty()) req.modified = true;
  return std::nullopt;
}

std::string forward_body(InferenceRequest& req, const std::string& original) {
  const std::string& want = req.model->forwarded_name();
  if (req.requested == want && !req.modified) return original;
  req.body["model"] = want;
  return req.body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace llmux

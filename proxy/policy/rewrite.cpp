#include "proxy/policy/rewrite.hpp"

#include "proxy/http/json_scan.hpp"
#include "proxy/policy/request_policy.hpp"
#include "proxy/http/routes.hpp"

namespace llmux {

namespace {

ApiError invalid_json(const std::string& body) {
  auto parsed = nlohmann::json::parse(body, nullptr, false);  // only on the error path: for a precise message
  if (!parsed.is_discarded() && !parsed.is_object())
    return bad_request("request body must be a JSON object", "invalid_json");
  try {
    auto discarded = nlohmann::json::parse(body);
    (void)discarded;
  } catch (const nlohmann::json::exception& e) {
    return bad_request(std::string("request body is not valid JSON: ") + e.what(), "invalid_json");
  }
  return bad_request("request body is not valid JSON", "invalid_json");
}

bool has_rules(const ModelConfig& m) {
  return m.max_tokens.default_tokens || m.max_tokens.limit || !m.params.empty();
}

}  // namespace

ApiError unknown_model(const std::string& name, const Config& config) {
  return not_found("model '" + name + "' not found; available: " + config.available_names(), "model_not_found");
}

std::variant<InferenceRequest, ApiError> parse_inference(const std::string& body, const Config& config) {
  auto scan = scan_top_level(body);
  if (!scan) return invalid_json(body);
  if (scan->has_model && !scan->model_is_string) return bad_request("'model' must be a string", "invalid_model");
  InferenceRequest req;
  req.scan = std::move(*scan);
  if (req.scan.has_model) req.requested = req.scan.model;
  req.stream = req.scan.stream;
  const std::string& name = req.requested.empty() ? config.default_model : req.requested;
  if (name.empty())
    return bad_request("request names no 'model' and no defaultModel is configured; available: " +
                           config.available_names(),
                       "model_required");
  req.model = config.resolve(name);
  if (req.model == nullptr) return unknown_model(name, config);
  return req;
}

std::optional<ApiError> apply_model_rules(InferenceRequest& req, const std::string& original, std::string_view path) {
  if (!has_rules(*req.model)) return std::nullopt;  // the common case: no DOM at all
  req.body = nlohmann::json::parse(original, nullptr, false);
  if (!req.body.is_object()) return bad_request("request body is not valid JSON", "invalid_json");
  CapResult caps = apply_token_caps(req.body, normalize_path(path), req.model->max_tokens);
  if (caps.error) return caps.error;
  if (!caps.field.empty()) req.modified = true;
  if (caps.clamped)
    req.clamp_note = caps.field + " " + std::to_string(caps.requested) + " -> " + std::to_string(caps.applied);
  const std::string& named = req.requested.empty() ? req.model->id : req.requested;
  if (!apply_param_rules(req.body, req.model->params, named).empty()) req.modified = true;
  return std::nullopt;
}

std::string forward_body(InferenceRequest& req, const std::string& original) {
  const std::string& want = req.model->forwarded_name();
  if (req.modified) {
    req.body["model"] = want;
    return req.body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  if (req.requested == want) return original;
  const TopLevelScan& s = req.scan;
  if (req.form) return original.substr(0, s.model_begin) + want + original.substr(s.model_end);
  std::string quoted = json_quote(want);
  if (s.has_model || s.model_end > s.model_begin)  // replace the value in place ("model": null included)
    return original.substr(0, s.model_begin) + quoted + original.substr(s.model_end);
  std::string member = "\"model\":" + quoted + (s.empty_object ? "" : ",");
  return original.substr(0, s.open_brace + 1) + member + original.substr(s.open_brace + 1);
}

std::string forward_body(InferenceRequest& req, std::string&& original) {
  if (!req.modified && req.requested == req.model->forwarded_name()) return std::move(original);
  return forward_body(req, static_cast<const std::string&>(original));
}

}  // namespace llmux

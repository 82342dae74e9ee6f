// The session's routes other than inference: the access guard (its decisions are proxy/policy/access.hpp), admin
// and discovery answers (JSON from the coordinator's snapshot: proxy/policy/admin_json.hpp), POST /models/load and /models/unload, /logs and
// /logs/stream.
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>
#include <vector>

#include "common/seconds.hpp"
#include "proxy/policy/admin_json.hpp"
#include "proxy/session/admin_fit.hpp"
#include "proxy/session/session.hpp"
#include "proxy/session/streams.hpp"
#include "proxy/session/ui_assets.hpp"

namespace llmux {

namespace {

RouteClass route_class(Route r) {
  switch (r) {
    case Route::health: return RouteClass::open;
    case Route::ui: return RouteClass::page;
    case Route::inference:
    case Route::form:
    case Route::model_query:
    case Route::upstream:
    case Route::model_info:
    case Route::models:
    case Route::not_found:
    case Route::method_not_allowed: return RouteClass::user;
    default: return RouteClass::admin;
  }
}

// A count in a query (`limit`, `tail`): digits only, at most `max`. nullopt when absent; `bad` when malformed.
std::optional<size_t> query_count(std::string_view target, std::string_view name, size_t max, bool& bad) {
  const std::string v = query_param(target, name);
  if (v.empty()) return std::nullopt;
  size_t n = 0;
  for (char c : v) {
    if (c < '0' || c > '9' || n > max) {
      bad = true;
      return std::nullopt;
    }
    n = n * 10 + static_cast<size_t>(c - '0');
  }
  if (n > max) bad = true;
  return n;
}

}  // namespace

// The access guard for req_, routed to `route`: true when it may go on. A CORS preflight is judged for the route
// it announces. Sets the CORS fields of req_'s responses; takes llmux's own keys off the request so that engines
// never see them.
bool Session::admit(Route route) {
  const Request& req = req_;
  std::string_view preflight;
  if (req.method_string() == "OPTIONS" && req.head().has_origin) {
    preflight = req.field("access-control-request-method");
    if (!preflight.empty()) route = match_route(preflight, req.target()).route;
  }
  const auto& cfg = *srv_.coordinator.config();
  verdict_ = check_access(cfg.access, srv_.listen_facts, req.head(), route_class(route), preflight);
  extra_fields_.clear();
  if (!verdict_.allow_origin.empty()) {
    extra_fields_ = verdict_.status == 204
                        ? cors_preflight_fields(verdict_.allow_origin, req.field("access-control-request-headers"),
                                                iequal(req.field("access-control-request-private-network"), "true"))
                        : cors_response_fields(verdict_.allow_origin);
  }
  if (verdict_.allowed() && (!cfg.access.api_keys.empty() || !cfg.access.admin_keys.empty())) req_.drop_credentials();
  return verdict_.allowed();
}

// Answers a request the guard stopped: 204 for an allowed preflight, else 401/403 with an OpenAI-shaped body.
net::awaitable<bool> Session::refuse_access() {
  const Request& req = req_;
  if (verdict_.status == 204) {
    Reply r{http::status::no_content, "", ""};
    co_return co_await write_reply(req, r, req.keep_alive());
  }
  const bool key = verdict_.status == 401;
  spdlog::debug("refused {} {}: {}", req.method_string(), normalize_path(req.target()), verdict_.code);
  ApiError e{verdict_.status, key ? "authentication_error" : "permission_error", std::string(verdict_.code),
             verdict_.message};
  co_return co_await write_error(req.version(), req.keep_alive(), e);
}

// POST /models/load {"model"} and POST /models/unload {"model"?, "force"?}.
net::awaitable<Reply> Session::model_admin(Route route, const std::string& body) {
  auto& c = srv_.coordinator;
  auto j = nlohmann::json::parse(body.empty() ? "{}" : body, nullptr, false);
  if (!j.is_object()) co_return error_reply(bad_request("body must be a JSON object", "invalid_json"));
  if (j.contains("model") && !j["model"].is_string())
    co_return error_reply(bad_request("\"model\" must be a string (a model id or alias)", "invalid_type"));
  if (j.contains("force") && !j["force"].is_boolean())
    co_return error_reply(bad_request("\"force\" must be true or false", "invalid_type"));
  if (j.contains("stream") && !j["stream"].is_boolean())
    co_return error_reply(bad_request("\"stream\" must be true or false", "invalid_type"));
  std::string name = j.value("model", "");
  const ModelConfig* m = name.empty() ? nullptr : c.config()->resolve(name);
  if (!name.empty() && m == nullptr)
    co_return error_reply(unknown_model(name, *c.config()));
  if (route == Route::model_load) {
    if (m == nullptr) co_return error_reply(bad_request("body must name a \"model\" to load", "model_required"));
    auto started = std::chrono::steady_clock::now();
    auto error = co_await c.load(*m);
    if (error) co_return error_reply(*error);
    co_return json_reply(nlohmann::json{{"model", m->id}, {"state", "ready"}, {"seconds", seconds_since(started)}}.dump());
  }
  // Without a model, every resident worker; `unloaded` names the first of them (older clients read one name),
  // `models` every one.
  std::vector<std::string> models = c.resident_models();
  if (m != nullptr) std::erase_if(models, [&](const std::string& id) { return id != m->id; });
  if (models.empty())
    co_return json_reply(nlohmann::json{{"unloaded", nullptr}, {"models", models}, {"reason", "not loaded"}}.dump());
  const std::string which = m != nullptr ? m->id : std::string();  // GCC 12: no temporaries in a co_await statement
  const bool force = j.value("force", false);
  co_await c.unload(which, force);
  co_return json_reply(nlohmann::json{{"unloaded", models.front()}, {"models", models}}.dump());
}

const ModelConfig* Session::wants_load_stream(Route route, const Request& req) const {
  if (route != Route::model_load) return nullptr;
  auto j = nlohmann::json::parse(req.body().empty() ? "{}" : req.body(), nullptr, false);
  if (!j.is_object() || !j.contains("model") || !j["model"].is_string()) return nullptr;
  bool stream = (j.contains("stream") && j["stream"] == true) ||
                req.field("accept").find("text/event-stream") != std::string_view::npos;
  return stream ? srv_.coordinator.config()->resolve(j["model"].get<std::string>()) : nullptr;
}

Reply Session::admin(Route route, std::string_view target) {
  switch (route) {
    case Route::logs: {
      bool bad = false;
      const size_t limit = query_count(target, "limit", 100000, bad).value_or(200);
      if (bad) return error_reply(bad_request("limit must be a whole number from 0 to 100000", "invalid_query"));
      LogFilter f{query_param(target, "source"), query_param(target, "model")};
      bool text = query_param(target, "format") == "text";
      return Reply{http::status::ok, logs_body(srv_.info.logs->recent(f, limit), text),
                   text ? "text/plain; charset=utf-8" : "application/json"};
    }
    case Route::models: return json_reply(models_json(srv_.coordinator.snapshot(srv_.info)));
    case Route::fit: {
      std::optional<ApiError> refused;
      std::string body = fit_json_body(srv_.coordinator, target, refused);
      return refused ? error_reply(*refused) : json_reply(std::move(body));
    }
    case Route::model_info: {
      const std::string id = model_info_id(target);
      if (auto body = model_json(srv_.coordinator.snapshot(srv_.info), id)) return json_reply(std::move(*body));
      return error_reply(unknown_model(id, *srv_.coordinator.config()));
    }
    case Route::activity: return json_reply(srv_.coordinator.metrics().activity().json());
    case Route::ui:
      if (const UiAsset* a = find_ui_asset(normalize_path(target))) {
        extra_fields_.append(kUiHeaderFields);
        return Reply{http::status::ok, std::string(a->body), std::string(a->content_type)};
      }
      break;
    case Route::health: return Reply{http::status::ok, "OK", "text/plain"};
    case Route::running: return json_reply(running_json(srv_.coordinator.snapshot(srv_.info)));
    case Route::status: return json_reply(status_json(srv_.coordinator.snapshot(srv_.info)));
    case Route::config: return json_reply(config_json(srv_.coordinator.snapshot(srv_.info)));
    case Route::prefix: {
      bool bad = false;
      const size_t limit = query_count(target, "limit", 1000, bad).value_or(20);
      if (bad) return error_reply(bad_request("limit must be a whole number from 0 to 1000", "invalid_query"));
      return json_reply(srv_.info.prefix->json(limit));
    }
    case Route::metrics:
      return Reply{http::status::ok, metrics_text(srv_.coordinator.snapshot(srv_.info), srv_.coordinator.metrics()),
                   "text/plain; version=0.0.4; charset=utf-8"};
    default: break;
  }
  return error_reply(not_found("no such endpoint; inference routes are /v1/chat/completions, /v1/completions, "
                               "/v1/embeddings, /v1/responses; see also /v1/models, /status, /health",
                               "unknown_route"));
}

net::awaitable<bool> Session::log_stream(const Request& req) {
  bool bad = false;
  const size_t tail = query_count(req.target(), "tail", 5000, bad).value_or(0);
  if (bad) {
    co_await write_error(req.version(), false, bad_request("tail must be a whole number from 0 to 5000", "invalid_query"));
    co_return false;
  }
  ClientWatch& w = watch();
  w.start();
  co_await serve_log_stream(writer(), req, tail, srv_.info.logs, w, extra_fields_);
  co_await w.stop();
  co_return false;
}

}  // namespace llmux

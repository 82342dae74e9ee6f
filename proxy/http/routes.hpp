// Maps an HTTP method and target to what llmux does with it. Pure. Inference routes are accepted with or without
// the /v1 prefix and with a trailing slash; the query string is ignored for matching.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace llmux {

enum class Route {
  inference,        // POST, JSON body names the model: relayed to the model's engine (llama.cpp's own /completion,
                    // /infill, /tokenize, /detokenize too: sent on their own path, without /v1)
  form,             // POST multipart/form-data naming the model in its `model` field (audio transcriptions, image
                    // edits): relayed untouched but for that field
  model_query,      // GET routed by ?model= or the default model (llama.cpp's /props)
  upstream,         // any method on /upstream/<model>/<path>: relayed to <path> on the model's engine
  model_info,       // GET /v1/models/<id>
  models,           // GET /v1/models
  health,           // GET /health
  running,          // GET /running (llama-swap)
  unload,           // GET|POST /unload (llama-swap)
  status,           // GET /status
  config,           // GET /config: the serving config's path and text
  metrics,          // GET /metrics: Prometheus text format
  logs,             // GET /logs?source=&model=&limit=&format=text: recent log lines
  logs_stream,      // GET /logs/stream?source=&model=&tail=: live log lines as SSE
  model_load,       // POST /models/load {"model"}: returns when the model is ready
  model_unload,     // POST /models/unload {"model"?, "force"?}: drains unless force
  activity,         // GET /activity: recent requests and load/evict events (the dashboard's timeline)
  ui,               // GET /ui, /ui/...: the dashboard's embedded files
  prefix,           // GET /prefix?limit=: recent conversations, their prefix reuse and chain breaks
  fit,              // GET /fit?model=&ctx=&kvBits=&parallel=: what-if memory estimate of a configured model
  not_found,
  method_not_allowed,
};

struct RouteMatch {
  Route route = Route::not_found;
  std::string_view allow;  // for method_not_allowed: the Allow header value
};

RouteMatch match_route(std::string_view method, std::string_view target);

// For /upstream/<model>/<rest>: the model names it may mean, longest first ("a/b/c" → "a/b/c", "a/b", "a"; ids may
// hold '/'); each with the engine target that follows it ("/" + rest + query). Empty when not such a path.
struct UpstreamCandidate {
  std::string model;
  std::string target;
};
std::vector<UpstreamCandidate> upstream_candidates(std::string_view target);

// The id in a /v1/models/<id> target (percent-decoded; may hold '/').
std::string model_info_id(std::string_view target);

// The path part of a target: no query, no trailing slash (except "/").
std::string_view normalize_path(std::string_view target);

// The decoded value of query parameter `name` in `target` ("" when absent; '+' and %XX decoded).
std::string query_param(std::string_view target, std::string_view name);

// The target an engine receives for an inference route: "/v1" + canonical path, query kept
// ("/chat/completions/?a=1" → "/v1/chat/completions?a=1"). Engines differ in what aliases they accept.
std::string engine_target(std::string_view target);
// Its pieces, views into `target` or literals: "/v1" or "", the canonical path, the query ("?..." or "").
struct EngineTarget {
  std::string_view prefix, path, query;
};
EngineTarget engine_target_parts(std::string_view target);

}  // namespace llmux

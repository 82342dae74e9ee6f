#include "proxy/http/routes.hpp"

#include <array>
#include <cstring>

namespace llmux {

std::string_view normalize_path(std::string_view target) {
  // Two memchr calls: find_first_of("?#") would call memchr once per character of the target.
  if (target.empty()) return target;
  if (const void* q = std::memchr(target.data(), '?', target.size()))
    target = target.substr(0, static_cast<size_t>(static_cast<const char*>(q) - target.data()));
  if (const void* h = std::memchr(target.data(), '#', target.size()))
    target = target.substr(0, static_cast<size_t>(static_cast<const char*>(h) - target.data()));
  while (target.size() > 1 && target.back() == '/') target.remove_suffix(1);
  return target;
}

namespace {

constexpr std::array<std::string_view, 8> kInferencePaths = {
    "/chat/completions", "/completions", "/embeddings", "/responses",
    "/rerank",           "/reranking",   "/messages",   "/messages/count_tokens",
};

bool is_inference_path(std::string_view path) {
  if (path.starts_with("/v1/")) path.remove_prefix(3);
  for (auto p : kInferencePaths)
    if (path == p) return true;
  return false;
}

RouteMatch only(std::string_view method, std::string_view want, Route r, std::string_view allow) {
  if (method == want || (want == "GET" && method == "HEAD")) return {r, {}};
  return {Route::method_not_allowed, allow};
}

}  // namespace

EngineTarget engine_target_parts(std::string_view target) {
  EngineTarget t;
  t.path = normalize_path(target);
  if (!t.path.starts_with("/v1/")) t.prefix = "/v1";
  if (const auto q = target.find('?'); q != std::string_view::npos) t.query = target.substr(q);
  return t;
}

std::string engine_target(std::string_view target) {
  const EngineTarget t = engine_target_parts(target);
  std::string out;
  out.append(t.prefix).append(t.path).append(t.query);
  return out;
}

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string url_decode(std::string_view v) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i] == '+') out += ' ';
    else if (v[i] == '%' && i + 2 < v.size() && hex_value(v[i + 1]) >= 0 && hex_value(v[i + 2]) >= 0) {
      out += static_cast<char>(hex_value(v[i + 1]) * 16 + hex_value(v[i + 2]));
      i += 2;
    } else out += v[i];
  }
  return out;
}

}  // namespace

std::string query_param(std::string_view target, std::string_view name) {
  auto q = target.find('?');
  if (q == std::string_view::npos) return {};
  std::string_view rest = target.substr(q + 1);
  rest = rest.substr(0, rest.find('#'));
  while (!rest.empty()) {
    auto amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    auto eq = pair.find('=');
    if (pair.substr(0, eq) == name) return eq == std::string_view::npos ? std::string() : url_decode(pair.substr(eq + 1));
    if (amp == std::string_view::npos) break;
    rest.remove_prefix(amp + 1);
  }
  return {};
}

RouteMatch match_route(std::string_view method, std::string_view target) {
  std::string_view path = normalize_path(target);
  if (is_inference_path(path)) return only(method, "POST", Route::inference, "POST");
  if (path == "/v1/models" || path == "/models") return only(method, "GET", Route::models, "GET, HEAD");
  if (path == "/health" || path == "/healthz") return only(method, "GET", Route::health, "GET, HEAD");
  if (path == "/running") return only(method, "GET", Route::running, "GET, HEAD");
  if (path == "/status") return only(method, "GET", Route::status, "GET, HEAD");
  if (path == "/config") return only(method, "GET", Route::config, "GET, HEAD");
  if (path == "/fit") return only(method, "GET", Route::fit, "GET, HEAD");
  if (path == "/metrics") return only(method, "GET", Route::metrics, "GET, HEAD");
  if (path == "/prefix") return only(method, "GET", Route::prefix, "GET, HEAD");
  if (path == "/logs") return only(method, "GET", Route::logs, "GET, HEAD");
  if (path == "/logs/stream") return only(method, "GET", Route::logs_stream, "GET");
  if (path == "/models/load") return only(method, "POST", Route::model_load, "POST");
  if (path == "/models/unload") return only(method, "POST", Route::model_unload, "POST");
  if (path == "/activity") return only(method, "GET", Route::activity, "GET, HEAD");
  if (path == "/ui" || path.starts_with("/ui/")) return only(method, "GET", Route::ui, "GET, HEAD");
  if (path == "/unload") {
    if (method == "GET" || method == "POST") return {Route::unload, {}};
    return {Route::method_not_allowed, "GET, POST"};
  }
  return {Route::not_found, {}};
}

}  // namespace llmux

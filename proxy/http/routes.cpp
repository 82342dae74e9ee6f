#include "proxy/http/routes.hpp"

#include <array>
#include <algorithm>
#include <cstring>

#include "common/ascii.hpp"

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

// JSON routes of OpenAI's API beyond the text ones (TTS, image generation servers).
constexpr std::array<std::string_view, 2> kMediaJsonPaths = {"/audio/speech", "/images/generations"};
// llama.cpp's own routes: relayed on their path as they are (llama-server has no /v1 form of them).
constexpr std::array<std::string_view, 5> kNativePaths = {"/completion", "/infill", "/tokenize", "/detokenize",
                                                          "/apply-template"};
constexpr std::array<std::string_view, 4> kFormPaths = {"/audio/transcriptions", "/audio/translations",
                                                        "/images/edits", "/images/variations"};

template <size_t N>
bool listed(const std::array<std::string_view, N>& paths, std::string_view path) {
  for (auto p : paths)
    if (path == p) return true;
  return false;
}

bool is_native_path(std::string_view path) { return listed(kNativePaths, path); }

bool is_inference_path(std::string_view path) {
  if (is_native_path(path)) return true;
  if (path.starts_with("/v1/")) path.remove_prefix(3);
  return listed(kInferencePaths, path) || listed(kMediaJsonPaths, path);
}

bool is_form_path(std::string_view path) {
  if (path.starts_with("/v1/")) path.remove_prefix(3);
  return listed(kFormPaths, path);
}

RouteMatch only(std::string_view method, std::string_view want, Route r, std::string_view allow) {
  if (method == want || (want == "GET" && method == "HEAD")) return {r, {}};
  return {Route::method_not_allowed, allow};
}

}  // namespace

EngineTarget engine_target_parts(std::string_view target) {
  EngineTarget t;
  t.path = normalize_path(target);
  if (!t.path.starts_with("/v1/") && !is_native_path(t.path) && t.path != "/props") t.prefix = "/v1";
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

// Percent-decoding of a path segment ('+' stays '+').
std::string url_decode_path(std::string_view v) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i] == '%' && i + 2 < v.size() && hex_value(v[i + 1]) >= 0 && hex_value(v[i + 2]) >= 0) {
      out += static_cast<char>(hex_value(v[i + 1]) * 16 + hex_value(v[i + 2]));
      i += 2;
    } else {
      out += v[i];
    }
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

std::vector<UpstreamCandidate> upstream_candidates(std::string_view target) {
  std::vector<UpstreamCandidate> out;
  constexpr std::string_view prefix = "/upstream/";
  if (!target.starts_with(prefix)) return out;
  std::string_view rest = target.substr(prefix.size());
  const size_t query_at = std::min(rest.find('?'), rest.size());
  const std::string_view query = rest.substr(query_at);
  const std::string_view path = rest.substr(0, query_at);
  for (size_t end = path.size(); end != 0 && end != std::string_view::npos;) {
    const std::string_view name = path.substr(0, end);
    if (!name.empty()) {
      std::string engine = "/";
      engine.append(end < path.size() ? path.substr(end + 1) : std::string_view{}).append(query);
      out.push_back({url_decode_path(name), std::move(engine)});
    }
    end = end == 0 ? std::string_view::npos : path.rfind('/', end - 1);
  }
  return out;
}

std::string model_info_id(std::string_view target) {
  std::string_view path = normalize_path(target);
  if (path.starts_with("/v1")) path.remove_prefix(3);
  if (!path.starts_with("/models/")) return {};
  return url_decode_path(path.substr(8));
}

RouteMatch match_route(std::string_view method, std::string_view target) {
  std::string_view path = normalize_path(target);
  if (is_inference_path(path)) return only(method, "POST", Route::inference, "POST");
  if (path == "/v1/models" || path == "/models") return only(method, "GET", Route::models, "GET, HEAD");
  if (is_form_path(path)) return only(method, "POST", Route::form, "POST");
  if (path == "/props") return only(method, "GET", Route::model_query, "GET, HEAD");
  if (path.starts_with("/upstream/") && path.size() > 10) return {Route::upstream, {}};
  if ((path.starts_with("/v1/models/") && path.size() > 11) || (path.starts_with("/models/") && path.size() > 8 &&
                                                                 path != "/models/load" && path != "/models/unload"))
    return only(method, "GET", Route::model_info, "GET, HEAD");
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

#include "proxy/http/sse_events.hpp"

#include <nlohmann/json.hpp>

namespace llmux {

std::string sse_error_event(const ApiError& e) { return "event: error\ndata: " + error_body(e) + "\n\n"; }

std::string committed_sse_tail(int status, const std::string& body, bool whole) {
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (status < 400 && whole && body.size() < 64 * 1024 && !j.is_discarded())
    return "data: " + j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n\ndata: [DONE]\n\n";
  if (j.is_object() && j.contains("error"))
    return "event: error\ndata: " + j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n\n";
  std::string what = status >= 400 ? "engine answered HTTP " + std::to_string(status) + ": " + body.substr(0, 500)
                                   : "engine answered a body llmux cannot pass on as an event stream";
  return sse_error_event(server_error(status >= 400 ? status : 502, what, "engine_error"));
}

}  // namespace llmux

// A small blocking HTTP/1.1 client for the CLI commands that talk to a running llmux (`llmux config diff`, ...).
// Plain request/response; every socket operation is bounded by `timeout`. Throws std::runtime_error with one line
// ("cannot reach llmux at http://127.0.0.1:8484: Connection refused") when the daemon cannot be reached.
#pragma once

#include <chrono>
#include <functional>
#include <string_view>
#include <string>

namespace llmux {

struct ClientResponse {
  int status = 0;
  std::string body;
};

// base_url: "http://host:port" (from --url, LLMUX_URL, or the default http://127.0.0.1:8484).
ClientResponse http_call(const std::string& base_url, const std::string& method, const std::string& target,
                         const std::string& body = "",
                         std::chrono::milliseconds timeout = std::chrono::seconds(10));

// Streams the response: `on_data` gets each body chunk as it arrives (return false to stop reading early).
// Returns the HTTP status. `timeout` bounds the connect and every single read, so an SSE stream must send
// something (events or comment heartbeats) at least that often. Throws like http_call.
int http_stream(const std::string& base_url, const std::string& method, const std::string& target,
                const std::string& body, const std::function<bool(std::string_view)>& on_data,
                std::chrono::milliseconds timeout = std::chrono::seconds(60));

std::string default_daemon_url();  // $LLMUX_URL or http://127.0.0.1:8484

// The API key every call sends (Authorization: Bearer): set from --api-key, else $LLMUX_API_KEY; "" sends none.
void set_api_key(std::string key);

}  // namespace llmux

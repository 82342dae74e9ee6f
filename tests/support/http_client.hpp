// Blocking HTTP/1.1 client for tests: plain POSIX sockets to 127.0.0.1, no Asio/Beast, so tests compile fast.
// Decodes Content-Length, chunked and read-until-close bodies; http_stream decodes as bytes arrive and timestamps
// every Server-Sent Event on arrival. Every call is bounded by its timeout (one deadline for the whole exchange).
// Throws std::runtime_error on connect failure, on timeout, and when the peer closes before a status line.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace llmux::test {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // keys lowercased; repeated fields joined with ", "
  std::string body;
  bool complete = false;  // the body ended as framed (Content-Length reached, last chunk, or close-delimited)
  nlohmann::json json() const;  // parses body; throws nlohmann::json::parse_error
  std::string header(const std::string& name) const;  // case-insensitive; "" when absent
};

// One request on a fresh connection (Connection: close). Host and Content-Length are added unless given.
HttpResponse http_request(uint16_t port, const std::string& method, const std::string& target,
                          const std::string& body = "", const Headers& headers = {},
                          std::chrono::milliseconds timeout = std::chrono::seconds(30));
HttpResponse http_get(uint16_t port, const std::string& target,
                      std::chrono::milliseconds timeout = std::chrono::seconds(30));
// Content-Type: application/json.
HttpResponse http_post(uint16_t port, const std::string& target, const std::string& body,
                       std::chrono::milliseconds timeout = std::chrono::seconds(30));

struct SseEvent {
  std::chrono::steady_clock::time_point at;  // when the bytes completing the event arrived
  std::string data;   // text after "data:" (one optional space dropped), lines joined with \n;
                      // a comment line (":...") is an event of its own whose data is the whole line
  std::string event;  // the "event:" field, if any
};

struct StreamResult {
  int status = 0;
  std::map<std::string, std::string> headers;  // keys lowercased
  std::string body;                            // the whole decoded body
  std::vector<SseEvent> events;
  bool closed_early = false;  // on_event returned false and the client side closed the socket
  bool complete = false;      // terminal chunk / Content-Length reached / close-delimited body ended
  std::chrono::steady_clock::time_point headers_at;  // when the response header was complete
};

// Sends the request and reads the response incrementally. Each complete SSE event goes to on_event as it arrives;
// returning false closes the socket at once (a client disconnect). A peer that closes or resets mid-body is not an
// error: the result says complete=false. Throws on connect failure, on timeout, or if no status line arrives.
StreamResult http_stream(uint16_t port, const std::string& method, const std::string& target,
                         const std::string& body, std::function<bool(const SseEvent&)> on_event = {},
                         std::chrono::milliseconds timeout = std::chrono::seconds(60));
StreamResult http_stream(uint16_t port, const std::string& method, const std::string& target,
                         const std::string& body, const Headers& headers,
                         std::function<bool(const SseEvent&)> on_event = {},
                         std::chrono::milliseconds timeout = std::chrono::seconds(60));

// Several requests on one keep-alive socket. A request after the server closed the connection throws.
class HttpConnection {
 public:
  explicit HttpConnection(uint16_t port);
  ~HttpConnection();
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  HttpResponse request(const std::string& method, const std::string& target, const std::string& body = "",
                       std::chrono::milliseconds timeout = std::chrono::seconds(30));
  HttpResponse request(const std::string& method, const std::string& target, const std::string& body,
                       const Headers& headers, std::chrono::milliseconds timeout = std::chrono::seconds(30));
  int fd() const;
  // True if the server closed (or reset) the connection within `wait`; false if it is still open.
  bool peer_closed(std::chrono::milliseconds wait);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A raw connected socket to 127.0.0.1:port (TCP_NODELAY, close-on-exec); the caller closes it. Throws on failure.
int connect_tcp(uint16_t port);

}  // namespace llmux::test

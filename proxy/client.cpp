#include "proxy/client.hpp"

#include <sys/socket.h>
#include <sys/time.h>

#include <cstdlib>
#include <stdexcept>

#include "common/http.hpp"
#include "worker/endpoint.hpp"

namespace llmux {

std::string default_daemon_url() {
  const char* env = std::getenv("LLMUX_URL");
  return env && *env ? env : "http://127.0.0.1:8484";
}

ClientResponse http_call(const std::string& base_url, const std::string& method, const std::string& target,
                         const std::string& body, std::chrono::milliseconds timeout) {
  auto ep = parse_engine_url(base_url);
  if (!ep) throw std::runtime_error("daemon URL must look like http://127.0.0.1:8484, got '" + base_url + "'");
  net::io_context io;
  tcp::socket socket(io);
  error_code ec;
  auto address = net::ip::make_address(ep->host, ec);
  if (ec) throw std::runtime_error("daemon URL host must be an IP address: '" + ep->host + "'");
  socket.connect(tcp::endpoint(address, ep->port), ec);
  if (ec) throw std::runtime_error("cannot reach llmux at " + base_url + ": " + ec.message());
  timeval tv{static_cast<time_t>(timeout.count() / 1000), static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
  ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  http::request<http::string_body> req{http::string_to_verb(method), ep->base_path + target, 11};
  req.set(http::field::host, ep->host_header());
  req.set(http::field::user_agent, "llmux-cli");
  if (!body.empty()) req.set(http::field::content_type, "application/json");
  req.body() = body;
  req.prepare_payload();
  http::write(socket, req, ec);
  if (ec) throw std::runtime_error("llmux at " + base_url + ": " + ec.message());
  beast::flat_buffer buf;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64u << 20);
  http::read(socket, buf, parser, ec);
  if (ec) throw std::runtime_error("llmux at " + base_url + ": " + ec.message());
  return ClientResponse{static_cast<int>(parser.get().result_int()), parser.get().body()};
}

}  // namespace llmux

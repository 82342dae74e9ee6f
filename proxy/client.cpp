#include "proxy/client.hpp"

#include <sys/socket.h>
#include <sys/time.h>

#include <array>
#include <cstdlib>
#include <limits>
#include <stdexcept>

#include "common/http.hpp"
#include "worker/endpoint.hpp"

namespace llmux {

std::string default_daemon_url() {
  const char* env = std::getenv("LLMUX_URL");
  return env && *env ? env : "http://127.0.0.1:8484";
}

namespace {

struct Connection {
  net::io_context io;
  tcp::socket socket{io};
};

void send_request(Connection& c, const std::string& base_url, const std::string& method, const std::string& target,
                  const std::string& body, std::chrono::milliseconds timeout) {
  auto ep = parse_engine_url(base_url);
  if (!ep) throw std::runtime_error("daemon URL must look like http://127.0.0.1:8484, got '" + base_url + "'");
  error_code ec;
  auto address = net::ip::make_address(ep->host, ec);
  if (ec) throw std::runtime_error("daemon URL host must be an IP address: '" + ep->host + "'");
  c.socket.connect(tcp::endpoint(address, ep->port), ec);
  if (ec) throw std::runtime_error("cannot reach llmux at " + base_url + ": " + ec.message());
  timeval tv{static_cast<time_t>(timeout.count() / 1000), static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
  ::setsockopt(c.socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(c.socket.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  http::request<http::string_body> req{http::string_to_verb(method), ep->base_path + target, 11};
  req.set(http::field::host, ep->host_header());
  req.set(http::field::user_agent, "llmux-cli");
  if (!body.empty()) req.set(http::field::content_type, "application/json");
  req.body() = body;
  req.prepare_payload();
  http::write(c.socket, req, ec);
  if (ec) throw std::runtime_error("llmux at " + base_url + ": " + ec.message());
}

std::string read_error(const std::string& base_url, const error_code& ec) {
  bool timeout = ec == net::error::would_block || ec == net::error::try_again || ec == net::error::timed_out;
  return "llmux at " + base_url + ": " + (timeout ? std::string("no answer in time") : ec.message());
}

}  // namespace

ClientResponse http_call(const std::string& base_url, const std::string& method, const std::string& target,
                         const std::string& body, std::chrono::milliseconds timeout) {
  Connection c;
  send_request(c, base_url, method, target, body, timeout);
  error_code ec;
  beast::flat_buffer buf;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64u << 20);
  http::read(c.socket, buf, parser, ec);
  if (ec) throw std::runtime_error(read_error(base_url, ec));
  return ClientResponse{static_cast<int>(parser.get().result_int()), parser.get().body()};
}

int http_stream(const std::string& base_url, const std::string& method, const std::string& target,
                const std::string& body, const std::function<bool(std::string_view)>& on_data,
                std::chrono::milliseconds timeout) {
  Connection c;
  send_request(c, base_url, method, target, body, timeout);
  error_code ec;
  beast::flat_buffer buf;
  http::response_parser<http::buffer_body> parser;
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());
  http::read_header(c.socket, buf, parser, ec);
  if (ec) throw std::runtime_error(read_error(base_url, ec));
  int status = static_cast<int>(parser.get().result_int());
  std::array<char, 16 * 1024> chunk;
  while (!parser.is_done()) {
    parser.get().body().data = chunk.data();
    parser.get().body().size = chunk.size();
    http::read_some(c.socket, buf, parser, ec);
    if (ec == http::error::need_buffer) ec = {};
    if (ec) throw std::runtime_error(read_error(base_url, ec));
    size_t n = chunk.size() - parser.get().body().size;
    if (n > 0 && !on_data(std::string_view(chunk.data(), n))) break;
  }
  return status;
}

}  // namespace llmux

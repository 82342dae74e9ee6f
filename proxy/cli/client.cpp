#include "proxy/cli/client.hpp"

#include <array>
#include <cstdlib>
#include <optional>
#include <limits>
#include <stdexcept>

#include "common/http.hpp"
#include "common/endpoint.hpp"

namespace llmux {

std::string default_daemon_url() {
  const char* env = std::getenv("LLMUX_URL");
  return env && *env ? env : "http://127.0.0.1:8484";
}

namespace {

// One connection driven by its own io_context: every step is an async operation bounded by a tcp_stream expiry
// (a blocking socket with SO_RCVTIMEO would not do: Asio's sync reads poll again forever after EAGAIN).
struct Connection {
  net::io_context io;
  beast::tcp_stream stream{io};
  std::chrono::milliseconds timeout;
  beast::flat_buffer buf;

  template <class Start>
  error_code step(Start&& start) {
    error_code result = net::error::timed_out;
    stream.expires_after(timeout);
    start([&result](const error_code& ec, size_t = 0) { result = ec; });
    io.restart();
    io.run();
    return result;
  }
};

std::string read_error(const std::string& base_url, const error_code& ec) {
  bool timeout = ec == beast::error::timeout;
  return "llmux at " + base_url + ": " + (timeout ? std::string("no answer in time") : ec.message());
}

std::optional<std::string>& api_key_override() {
  static std::optional<std::string> key;
  return key;
}

std::string api_key() {
  if (api_key_override()) return *api_key_override();
  const char* env = std::getenv("LLMUX_API_KEY");
  return env ? env : "";
}

void send_request(Connection& c, const std::string& base_url, const std::string& method, const std::string& target,
                  const std::string& body) {
  auto ep = parse_engine_url(base_url);
  if (!ep) throw std::runtime_error("daemon URL must look like http://127.0.0.1:8484, got '" + base_url + "'");
  error_code ec;
  auto address = net::ip::make_address(ep->host, ec);
  if (ec) throw std::runtime_error("daemon URL host must be an IP address: '" + ep->host + "'");
  tcp::endpoint to(address, ep->port);
  ec = c.step([&](auto h) { c.stream.async_connect(to, [h](const error_code& e) { h(e); }); });
  if (ec) throw std::runtime_error("cannot reach llmux at " + base_url + ": " + ec.message());
  http::request<http::string_body> req{http::string_to_verb(method), ep->base_path + target, 11};
  req.set(http::field::host, ep->host_header());
  req.set(http::field::user_agent, "llmux-cli");
  if (const std::string key = api_key(); !key.empty()) req.set(http::field::authorization, "Bearer " + key);
  if (!body.empty()) req.set(http::field::content_type, "application/json");
  req.body() = body;
  req.prepare_payload();
  ec = c.step([&](auto h) { http::async_write(c.stream, req, h); });
  if (ec) throw std::runtime_error(read_error(base_url, ec));
}

}  // namespace

void set_api_key(std::string key) { api_key_override() = std::move(key); }

ClientResponse http_call(const std::string& base_url, const std::string& method, const std::string& target,
                         const std::string& body, std::chrono::milliseconds timeout) {
  Connection c;
  c.timeout = timeout;
  send_request(c, base_url, method, target, body);
  http::response_parser<http::string_body> parser;
  parser.body_limit(64u << 20);
  error_code ec = c.step([&](auto h) { http::async_read(c.stream, c.buf, parser, h); });
  if (ec) throw std::runtime_error(read_error(base_url, ec));
  return ClientResponse{static_cast<int>(parser.get().result_int()), parser.get().body()};
}

int http_stream(const std::string& base_url, const std::string& method, const std::string& target,
                const std::string& body, const std::function<bool(std::string_view)>& on_data,
                std::chrono::milliseconds timeout) {
  Connection c;
  c.timeout = timeout;
  send_request(c, base_url, method, target, body);
  http::response_parser<http::buffer_body> parser;
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());
  error_code ec = c.step([&](auto h) { http::async_read_header(c.stream, c.buf, parser, h); });
  if (ec) throw std::runtime_error(read_error(base_url, ec));
  int status = static_cast<int>(parser.get().result_int());
  std::array<char, 16 * 1024> chunk;
  while (!parser.is_done()) {
    parser.get().body().data = chunk.data();
    parser.get().body().size = chunk.size();
    ec = c.step([&](auto h) { http::async_read_some(c.stream, c.buf, parser, h); });
    if (ec == http::error::need_buffer) ec = {};
    if (ec) throw std::runtime_error(read_error(base_url, ec));
    size_t n = chunk.size() - parser.get().body().size;
    if (n > 0 && !on_data(std::string_view(chunk.data(), n))) break;
  }
  return status;
}

}  // namespace llmux

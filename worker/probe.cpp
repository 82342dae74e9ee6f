#include "worker/probe.hpp"

#include <nlohmann/json.hpp>

#include "common/http.hpp"

namespace llmux {

namespace {

http::request<http::string_body> probe_request(const ProbeTarget& t) {
  http::request<http::string_body> req;
  req.version(11);
  req.set(http::field::host, t.endpoint.host_header());
  req.set(http::field::user_agent, "llmux-probe");
  if (t.mode == Readiness::completion) {
    nlohmann::json body = {{"model", t.model_name}, {"prompt", "ping"}, {"max_tokens", 1}, {"stream", false}};
    req.method(http::verb::post);
    req.target(t.endpoint.base_path + "/v1/completions");
    req.set(http::field::content_type, "application/json");
    req.body() = body.dump();
  } else {
    req.method(http::verb::get);
    req.target(t.endpoint.base_path + t.path);
  }
  req.prepare_payload();
  return req;
}

net::awaitable<ProbeResult> probe(ProbeTarget t) {
  auto ex = co_await net::this_coro::executor;
  beast::tcp_stream stream(ex);
  error_code ec;
  auto address = net::ip::make_address(t.endpoint.host, ec);
  if (ec) co_return ProbeResult{false, "engine host must be an IP address, got '" + t.endpoint.host + "'"};
  stream.expires_after(t.timeout);
  co_await stream.async_connect(tcp::endpoint(address, t.endpoint.port), net::redirect_error(net::use_awaitable, ec));
  if (ec) co_return ProbeResult{false, ec == beast::error::timeout ? "connect timeout" : ec.message()};
  if (t.mode == Readiness::tcp) co_return ProbeResult{true, {}};
  auto req = probe_request(t);
  co_await http::async_write(stream, req, net::redirect_error(net::use_awaitable, ec));
  if (ec) co_return ProbeResult{false, "write: " + ec.message()};
  beast::flat_buffer buf;
  http::response_parser<http::string_body> parser;
  parser.body_limit(1 << 20);
  co_await http::async_read(stream, buf, parser, net::redirect_error(net::use_awaitable, ec));
  if (ec) co_return ProbeResult{false, ec == beast::error::timeout ? "probe timeout" : "read: " + ec.message()};
  stream.socket().shutdown(tcp::socket::shutdown_both, ec);
  int status = parser.get().result_int();
  if (status == 200) co_return ProbeResult{true, {}};
  co_return ProbeResult{false, "HTTP " + std::to_string(status)};
}

}  // namespace

void async_probe(net::io_context& io, ProbeTarget target, std::function<void(ProbeResult)> done) {
  net::co_spawn(io, probe(std::move(target)),
                [done = std::move(done)](std::exception_ptr e, ProbeResult r) {
                  if (e) {
                    try {
                      std::rethrow_exception(e);
                    } catch (const std::exception& ex) {
                      r = ProbeResult{false, std::string("probe failed: ") + ex.what()};
                    }
                  }
                  done(std::move(r));
                });
}

}  // namespace llmux

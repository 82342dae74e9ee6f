#include "tests/fake_engine/engine.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>

#include <algorithm>

#include "tests/support/fnv.hpp"

namespace fake {

namespace {

namespace http = beast::http;
using Request = http::request<http::string_body>;
using namespace std::chrono_literals;

constexpr std::uint64_t kMaxBody = 256ull << 20;  // bench/form_upload_bench sends 100 MiB
constexpr std::size_t kEchoBody = 64 * 1024;  // an echoed body larger than this is reported by length and digest

void log_request(const Engine& e, const Request& req, std::string_view model, bool stream) {
  if (e.opt.quiet || req.target() == "/health") return;  // readiness probes would drown the log
  std::string line(req.method_string());
  line.push_back(' ');
  line += req.target();
  line += " model=";
  line += model;
  line += stream ? " stream=1" : " stream=0";
  log_line(line);
}

// ---------------------------------------------------------------------------------------------- routing

net::awaitable<void> wait_loaded(Engine& e) {
  while (!e.loaded) {
    beast::error_code ec;
    co_await e.load_gate.async_wait(net::redirect_error(net::use_awaitable, ec));
  }
}

net::awaitable<bool> serve_inference(Engine& e, Conn& c, Request& req, Kind kind, bool keep_alive) {
  ++e.total;
  ++e.requests;
  ActiveCount active(e);
  const bool skim = e.opt.skim && kind != Kind::embed;
  const auto j = skim ? nlohmann::json() : nlohmann::json::parse(req.body(), nullptr, false);
  Gen g;
  g.kind = kind;
  g.model = e.opt.model;
  const std::string error = skim              ? skim_gen(req.body(), e.opt, g)
                            : j.is_discarded() ? "malformed JSON in request body"
                                               : read_gen(j, e.opt, g);
  log_request(e, req, g.model, g.stream);
  if (error.empty() && !skim && e.opt.slots > 0 && kind != Kind::embed) {
    const fake::PrefixCache::Hit hit = e.cache.process(j);
    g.prompt_tokens = std::max<std::int64_t>(hit.prompt, 1);
    if (g.cached_tokens < 0) g.cached_tokens = hit.cached;  // --cached-tokens wins
    g.timings = true;
    g.prefill_us = (g.prompt_tokens - hit.cached) * e.opt.prefill_us;
  }
  e.last_body = std::move(req.body());
  e.last_headers = nlohmann::json::object();
  for (const auto& f : req) e.last_headers[std::string(f.name_string())] = std::string(f.value());
  if (!e.loaded && e.opt.readiness == Readiness::http503) {
    const bool keep = co_await send_loading(e, c, keep_alive);
    co_return keep;
  }
  co_await wait_loaded(e);
  bool keep = false;
  if (!error.empty()) {
    keep = co_await send_error(e, c, 400, "invalid_request_error", error, keep_alive);
  } else if (e.opt.name_check && g.model_given && g.model != *e.opt.name_check) {
    const std::string message = "model '" + g.model + "' not found";
    keep = co_await send_error(e, c, 404, "not_found_error", message, keep_alive);
  } else if (kind == Kind::embed) {
    build_embedding_body(j, g, c.body);
    keep = co_await send(e, c, 200, keep_alive, "application/json", true);
  } else if (g.stream) {
    keep = co_await stream_reply(e, c, g, keep_alive);
  } else {
    keep = co_await complete_reply(e, c, g, keep_alive);
  }
  co_return keep;
}

net::awaitable<bool> serve_debug(Engine& e, Conn& c, std::string_view path, bool keep_alive) {
  if (path == "/debug/stats") {
    const nlohmann::json stats = {{"requests", e.requests}, {"active", e.active},   {"pid", e.pid},
                                  {"cancelled", e.cancelled}, {"health", e.health}, {"total", e.total},
                                  {"loaded", e.loaded}};
    c.body = stats.dump();
  } else if (path == "/debug/last-request" && e.last_body) {
    c.body = *e.last_body;
  } else if (path == "/debug/last-headers" && e.last_body) {
    c.body = e.last_headers.dump();
  } else {
    const bool keep = co_await send_error(e, c, 404, "not_found_error", "no POST request received yet", keep_alive);
    co_return keep;
  }
  const bool keep = co_await send(e, c, 200, keep_alive);
  co_return keep;
}

// llama.cpp's own routes, OpenAI's multipart and media routes, and anything under /echo/ (for /upstream/).
bool echoed(std::string_view path) {
  for (std::string_view p : {"/completion", "/infill", "/tokenize", "/detokenize", "/props", "/audio/transcriptions",
                             "/audio/translations", "/audio/speech", "/images/edits", "/images/variations",
                             "/images/generations"}) {
    if (path == p) return true;
  }
  return path.starts_with("/echo");
}

net::awaitable<bool> serve(Engine& e, Conn& c, Request& req) {
  std::string_view path = req.target();
  path = path.substr(0, path.find('?'));
  if (path.starts_with("/v1/")) path.remove_prefix(3);
  const bool keep_alive = req.keep_alive();
  const bool get = req.method() == http::verb::get, post = req.method() == http::verb::post;
  bool keep = false;
  if (post && (path == "/chat/completions" || path == "/completions" || path == "/embeddings")) {
    const Kind kind = path == "/chat/completions" ? Kind::chat : path == "/completions" ? Kind::text : Kind::embed;
    keep = co_await serve_inference(e, c, req, kind, keep_alive);
    co_return keep;
  }
  log_request(e, req, e.opt.model, false);
  if (get && path.starts_with("/debug/")) {
    keep = co_await serve_debug(e, c, path, keep_alive);
    co_return keep;
  }
  ++e.total;
  if (get && path == "/health") ++e.health;
  if (!e.loaded && e.opt.readiness == Readiness::http503) {
    keep = co_await send_loading(e, c, keep_alive);
  } else if (get && path == "/health") {
    c.body = R"({"status":"ok"})";
    keep = co_await send(e, c, 200, keep_alive);
  } else if (get && path == "/models") {
    c.body = R"({"object":"list","data":[{"id":)";
    append_json_string(c.body, e.opt.model);
    c.body += R"(,"object":"model","owned_by":"fake"}]})";
    keep = co_await send(e, c, 200, keep_alive);
  } else if (echoed(path)) {  // routes llmux relays without reading them: what arrived, as JSON
    nlohmann::json echo = {{"engine", e.opt.model},
                           {"method", std::string(req.method_string())},
                           {"target", std::string(req.target())},
                           {"content_type", std::string(req[http::field::content_type])},
                           {"length", req.body().size()},
                           {"fnv1a64", llmux::test::fnv1a64_hex(req.body())}};
    if (req.body().size() <= kEchoBody) echo["body"] = req.body();  // a large body: its length and digest only
    c.body = echo.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    keep = co_await send(e, c, 200, keep_alive);
  } else {
    const std::string message = "unknown endpoint: " + std::string(req.method_string()) + " " + std::string(path);
    keep = co_await send_error(e, c, 404, "not_found_error", message, keep_alive);
  }
  co_return keep;
}

// An HTTP status for a request that could not be read; 0 when the client simply went away.
int read_failure_status(const beast::error_code& ec) {
  if (ec == http::error::body_limit) return 413;
  if (ec == http::error::header_limit) return 431;
  if (ec == http::error::end_of_stream || ec == http::error::partial_message) return 0;
  return ec.category() == http::make_error_code(http::error::bad_target).category() ? 400 : 0;
}

net::awaitable<void> session(Engine& e, tcp::socket sock) {
  Conn c(std::move(sock));
  beast::error_code ec;
  c.sock.set_option(tcp::no_delay(true), ec);  // tokens are small writes: never wait for an ACK
  std::int64_t served = 0;
  for (bool keep = true; keep;) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(1 << 20);
    parser.body_limit(kMaxBody);
    co_await http::async_read_header(c.sock, c.buf, parser, net::redirect_error(net::use_awaitable, ec));
    if (!ec && !parser.is_done()) {
      if (beast::iequals(parser.get()[http::field::expect], "100-continue")) {
        c.out = "HTTP/1.1 100 Continue\r\n\r\n";
        co_await net::async_write(c.sock, net::buffer(c.out), net::redirect_error(net::use_awaitable, ec));
      }
      if (!ec) co_await http::async_read(c.sock, c.buf, parser, net::redirect_error(net::use_awaitable, ec));
    }
    if (ec) {
      const int status = read_failure_status(ec);
      if (status != 0) co_await send_error(e, c, status, "invalid_request_error", ec.message(), false);
      break;
    }
    const bool inference = parser.get().method() == http::verb::post;
    keep = co_await serve(e, c, parser.get());
    if (inference && e.opt.close_after > 0 && ++served >= e.opt.close_after) break;
  }
  c.sock.shutdown(tcp::socket::shutdown_send, ec);
  c.sock.close(ec);
}

// ---------------------------------------------------------------------------------------------- listening

net::awaitable<void> accept_loop(Engine& e) {
  for (;;) {
    beast::error_code ec;
    tcp::socket sock = co_await e.acceptor.async_accept(net::redirect_error(net::use_awaitable, ec));
    if (ec == net::error::operation_aborted) co_return;
    if (ec) {  // e.g. EMFILE: back off instead of spinning
      log_line("accept: " + ec.message());
      net::steady_timer pause(e.io, 50ms);
      co_await pause.async_wait(net::redirect_error(net::use_awaitable, ec));
      continue;
    }
    net::co_spawn(e.io, session(e, std::move(sock)), report_exception);
  }
}

}  // namespace

void report_exception(std::exception_ptr p) {
  if (!p) return;
  try {
    std::rethrow_exception(p);
  } catch (const std::exception& ex) {
    log_line(std::string("error: ") + ex.what());
  }
}

void start_listening(Engine& e) {
  const std::string where = e.opt.host + ":" + std::to_string(*e.opt.port);
  beast::error_code ec;
  auto address = net::ip::make_address(e.opt.host, ec);
  if (ec) {  // a host name such as "localhost"
    tcp::resolver resolver(e.io);
    const auto results = resolver.resolve(e.opt.host, "", ec);
    if (!ec && !results.empty()) address = results.begin()->endpoint().address();
  }
  const tcp::endpoint endpoint(address, *e.opt.port);
  if (!ec) e.acceptor.open(endpoint.protocol(), ec);
  if (!ec) e.acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) e.acceptor.bind(endpoint, ec);
  if (!ec) e.acceptor.listen(tcp::acceptor::max_listen_connections, ec);
  if (ec) {
    log_line("error: bind " + where + ": " + ec.message());
    ::_exit(1);
  }
  const auto port = e.acceptor.local_endpoint(ec).port();  // differs from --port only for --port 0
  log_line("listening on " + e.opt.host + ":" + std::to_string(port));
  net::co_spawn(e.io, accept_loop(e), report_exception);
}

}  // namespace fake

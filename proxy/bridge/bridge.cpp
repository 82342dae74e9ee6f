#include "proxy/bridge/bridge.hpp"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <boost/asio/ssl.hpp>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>

#include "common/errors.hpp"
#include "common/net.hpp"
#include "proxy/bridge/health_probe.hpp"

namespace llmux {
namespace {

namespace ssl = net::ssl;
using TlsStream = ssl::stream<tcp::socket>;
constexpr size_t kHeadLimit = 64 * 1024;

struct Upstream {
  bool tls = false;
  std::string host;       // name or IP literal (no brackets)
  std::string port;       // "443"
  std::string base;       // "" or "/prefix"
  std::string host_field; // Host header value
  std::string url;
};

struct Options {
  uint16_t port = 0;
  Upstream up;
  std::string ca_file;
  std::chrono::milliseconds connect_timeout{10000};
  std::string headers;  // "Name: value\r\n" lines
  std::string token;    // "/<token>": every request's target starts with it (only llmux knows it)
  HealthProbeOptions health;
};

std::optional<Upstream> parse_upstream(const std::string& url) {
  Upstream u;
  u.url = url;
  std::string_view rest(url);
  if (rest.starts_with("https://")) u.tls = true, rest.remove_prefix(8);
  else if (rest.starts_with("http://")) rest.remove_prefix(7);
  else return std::nullopt;
  const size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view base = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash);
  while (!base.empty() && base.back() == '/') base.remove_suffix(1);
  u.base = std::string(base);
  u.host_field = std::string(authority);
  std::string_view port;
  if (authority.starts_with('[')) {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    u.host = std::string(authority.substr(1, close - 1));
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') return std::nullopt;
      port = authority.substr(close + 2);
    }
  } else {
    const size_t colon = authority.rfind(':');
    u.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  }
  unsigned n = 0;
  if (!port.empty()) {
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), n);
    if (ec != std::errc() || end != port.data() + port.size() || n == 0 || n > 65535) return std::nullopt;
  }
  if (u.host.empty()) return std::nullopt;
  u.port = port.empty() ? (u.tls ? "443" : "80") : std::string(port);
  return u;
}

bool iequal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  return true;
}

// A header block's field names (lowercase compare), for "is this field one we replace?".
bool named_in(std::string_view lines, std::string_view name) {
  for (size_t at = 0; at < lines.size();) {
    const size_t end = lines.find("\r\n", at);
    const std::string_view line = lines.substr(at, end - at);
    if (iequal(line.substr(0, line.find(':')), name)) return true;
    if (end == std::string_view::npos) break;
    at = end + 2;
  }
  return false;
}

// The request head for the upstream and the body length it announces; nullopt for a head the bridge cannot forward.
struct Forward {
  std::string head;
  uint64_t body = 0;
};
std::optional<Forward> rewrite_head(std::string_view head, const Options& o) {
  const size_t line_end = head.find("\r\n");
  const std::string_view line = head.substr(0, line_end);
  const size_t sp1 = line.find(' '), sp2 = line.rfind(' ');
  if (sp1 == std::string_view::npos || sp2 <= sp1) return std::nullopt;
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  if (!target.starts_with(o.token) || (target.size() > o.token.size() && target[o.token.size()] != '/' &&
                                       target[o.token.size()] != '?'))
    return std::nullopt;  // not from llmux
  target.remove_prefix(o.token.size());
  Forward f;
  f.head.append(line.substr(0, sp1 + 1)).append(o.up.base);
  if (target.empty() || target.front() == '?') f.head += '/';
  f.head.append(target);
  f.head.append(line.substr(sp2));
  f.head += "\r\n";
  for (size_t at = line_end + 2; at < head.size();) {
    const size_t end = head.find("\r\n", at);
    if (end == std::string_view::npos || end == at) break;
    const std::string_view field = head.substr(at, end - at);
    at = end + 2;
    const std::string_view name = field.substr(0, field.find(':'));
    if (iequal(name, "transfer-encoding")) return std::nullopt;  // the relay always sends Content-Length
    if (iequal(name, "content-length")) {
      std::string_view v = field.substr(name.size() + 1);
      while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
      const auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), f.body);
      if (ec != std::errc()) return std::nullopt;
    }
    if (iequal(name, "host") || named_in(o.headers, name)) continue;
    f.head.append(field).append("\r\n");
  }
  f.head.append("Host: ").append(o.up.host_field).append("\r\n").append(o.headers).append("\r\n");
  return f;
}

std::string reply_502(const std::string& why, const std::string& code) {
  const std::string body = error_body(server_error(502, why, code));
  return "HTTP/1.1 502 Bad Gateway\r\nContent-Type: application/json\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
}

// Why a TLS handshake failed, in words: OpenSSL's verification result when there is one.
std::string tls_failure(TlsStream& s, const error_code& ec) {
  const long v = SSL_get_verify_result(s.native_handle());
  if (v != X509_V_OK)
    return std::string("TLS certificate verification failed: ") + X509_verify_cert_error_string(v) +
           " (set remote.caFile to the CA that signed the server's certificate)";
  return "TLS handshake failed: " + ec.message();
}

class Bridge {
 public:
  Bridge(net::io_context& io, Options o) : io_(io), o_(std::move(o)), tls_(ssl::context::tls_client) {
    tls_.set_verify_mode(ssl::verify_peer);
    if (o_.ca_file.empty()) tls_.set_default_verify_paths();
    else tls_.load_verify_file(o_.ca_file);  // throws with the reason: reported by bridge_main
  }

  net::awaitable<void> serve(tcp::socket local);

 private:
  template <class Remote>
  net::awaitable<void> forward(tcp::socket& local, Remote& remote, std::string in);
  template <class Remote>
  static net::awaitable<void> pump_back(Remote& remote, tcp::socket& local);
  net::awaitable<std::string> connect(tcp::socket& socket, TlsStream* tls);

  net::io_context& io_;
  Options o_;
  ssl::context tls_;
};

// Reads until `in` holds a whole head; false when the connection ended first or the head is too large.
net::awaitable<bool> read_head(tcp::socket& s, std::string& in) {
  char buf[16 * 1024];
  while (in.find("\r\n\r\n") == std::string::npos) {
    if (in.size() > kHeadLimit) co_return false;
    error_code ec;
    const size_t n = co_await s.async_read_some(net::buffer(buf), net::redirect_error(net::use_awaitable, ec));
    if (ec) co_return false;
    in.append(buf, n);
  }
  co_return true;
}

// Resolves and connects (and shakes hands for https) within the connect timeout; "" on success, else why not.
net::awaitable<std::string> Bridge::connect(tcp::socket& socket, TlsStream* tls) {
  tcp::resolver resolver(io_);
  net::steady_timer timer(io_);
  bool expired = false;
  timer.expires_after(o_.connect_timeout);
  timer.async_wait([&](const error_code& ec) {
    if (ec) return;
    expired = true;
    resolver.cancel();
    error_code ignored;
    socket.close(ignored);
  });
  const std::string where = "remote upstream " + o_.up.url + ": ";
  const std::string late = where + "no connection within " + std::to_string(o_.connect_timeout.count()) + " ms";
  error_code ec;
  const auto found = co_await resolver.async_resolve(o_.up.host, o_.up.port, net::redirect_error(net::use_awaitable, ec));
  if (ec) co_return expired ? late : where + "cannot resolve " + o_.up.host + ": " + ec.message();
  co_await net::async_connect(socket, found, net::redirect_error(net::use_awaitable, ec));
  if (ec) co_return expired ? late : where + "cannot connect: " + ec.message();
  socket.set_option(tcp::no_delay(true), ec);
  if (tls != nullptr) {
    SSL* handle = tls->native_handle();
    error_code ip_ec;
    (void)net::ip::make_address(o_.up.host, ip_ec);
    X509_VERIFY_PARAM* param = SSL_get0_param(handle);
    if (ip_ec) {  // a name: SNI, and the certificate must be for it
      SSL_set_tlsext_host_name(handle, o_.up.host.c_str());
      X509_VERIFY_PARAM_set1_host(param, o_.up.host.c_str(), 0);
    } else {
      X509_VERIFY_PARAM_set1_ip_asc(param, o_.up.host.c_str());
    }
    co_await tls->async_handshake(ssl::stream_base::client, net::redirect_error(net::use_awaitable, ec));
    if (ec) co_return expired ? late : where + tls_failure(*tls, ec);
  }
  timer.cancel();
  co_return std::string();
}

net::awaitable<void> Bridge::serve(tcp::socket local) {
  std::string in;
  const bool have_head = co_await read_head(local, in);
  if (!have_head) co_return;
  if (!rewrite_head(std::string_view(in).substr(0, in.find("\r\n\r\n") + 4), o_)) {  // not from llmux: no connection out
    static const std::string refused = "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    error_code ec;
    co_await net::async_write(local, net::buffer(refused), net::redirect_error(net::use_awaitable, ec));
    co_return;
  }
  std::string failed;
  if (o_.up.tls) {
    TlsStream remote(io_, tls_);
    failed = co_await connect(remote.next_layer(), &remote);
    if (failed.empty()) co_await forward(local, remote, std::move(in));
  } else {
    tcp::socket remote(io_);
    failed = co_await connect(remote, nullptr);
    if (failed.empty()) co_await forward(local, remote, std::move(in));
  }
  if (failed.empty()) co_return;
  std::fprintf(stderr, "llmux bridge: %s\n", failed.c_str());
  const std::string reply = reply_502(failed, o_.up.tls ? "upstream_tls_error" : "upstream_unreachable");
  error_code ec;
  co_await net::async_write(local, net::buffer(reply), net::redirect_error(net::use_awaitable, ec));
}

template <class Remote>
net::awaitable<void> Bridge::pump_back(Remote& remote, tcp::socket& local) {
  char buf[32 * 1024];
  for (;;) {
    error_code ec;
    const size_t n = co_await remote.async_read_some(net::buffer(buf), net::redirect_error(net::use_awaitable, ec));
    if (n > 0) co_await net::async_write(local, net::buffer(buf, n), net::redirect_error(net::use_awaitable, ec));
    if (ec) break;
  }
  error_code ignored;
  local.shutdown(tcp::socket::shutdown_both, ignored);
}

// Requests from the relay, one after another (it never pipelines), each head rewritten; responses flow back in
// pump_back. Either side ending ends both.
template <class Remote>
net::awaitable<void> Bridge::forward(tcp::socket& local, Remote& remote, std::string in) {
  auto back_done = std::make_shared<net::steady_timer>(io_, net::steady_timer::time_point::max());
  net::co_spawn(io_, pump_back(remote, local), [back_done](std::exception_ptr) { back_done->cancel(); });
  char buf[32 * 1024];
  for (;;) {
    const size_t end = in.find("\r\n\r\n");
    const std::optional<Forward> f = rewrite_head(std::string_view(in).substr(0, end + 4), o_);
    if (!f) break;
    in.erase(0, end + 4);
    error_code ec;
    co_await net::async_write(remote, net::buffer(f->head), net::redirect_error(net::use_awaitable, ec));
    uint64_t left = f->body;
    while (!ec && left > 0) {
      if (in.empty()) {
        const size_t n = co_await local.async_read_some(net::buffer(buf), net::redirect_error(net::use_awaitable, ec));
        in.append(buf, n);
        if (ec) break;
      }
      const size_t take = static_cast<size_t>(std::min<uint64_t>(left, in.size()));
      co_await net::async_write(remote, net::buffer(in.data(), take), net::redirect_error(net::use_awaitable, ec));
      in.erase(0, take);
      left -= take;
    }
    if (ec) break;
    const bool next = co_await read_head(local, in);
    if (!next) break;
  }
  error_code ignored;
  remote.lowest_layer().close(ignored);  // ends pump_back
  local.close(ignored);
  error_code wait_ec;
  co_await back_done->async_wait(net::redirect_error(net::use_awaitable, wait_ec));
}

net::awaitable<void> accept_loop(tcp::acceptor& acceptor, Bridge& bridge) {
  for (;;) {
    error_code ec;
    tcp::socket s = co_await acceptor.async_accept(net::redirect_error(net::use_awaitable, ec));
    if (ec == net::error::operation_aborted) co_return;
    if (ec) continue;
    s.set_option(tcp::no_delay(true), ec);
    net::co_spawn(acceptor.get_executor(), bridge.serve(std::move(s)), net::detached);
  }
}

int bad_args(const std::string& why) {
  std::fprintf(stderr, "llmux bridge: %s\nusage: llmux bridge --port N --upstream http(s)://host[:port][/base] "
                       "[--ca-file FILE] [--connect-timeout-ms N] [--health-path P] [--health-interval-ms N] "
                       "[--health-timeout-ms N]\n", why.c_str());
  return 2;
}

std::optional<Options> parse_args(const std::vector<std::string>& args, std::string& why) {
  Options o;
  std::optional<Upstream> up;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& flag = args[i];
    if (i + 1 >= args.size()) return why = flag + " needs a value", std::nullopt;
    const std::string& v = args[++i];
    if (flag == "--port") o.port = static_cast<uint16_t>(std::atoi(v.c_str()));
    else if (flag == "--upstream") up = parse_upstream(v);
    else if (flag == "--ca-file") o.ca_file = v;
    else if (flag == "--connect-timeout-ms") o.connect_timeout = std::chrono::milliseconds(std::atol(v.c_str()));
    else if (flag == "--health-path") o.health.path = v;
    else if (flag == "--health-interval-ms") o.health.interval = std::chrono::milliseconds(std::atol(v.c_str()));
    else if (flag == "--health-timeout-ms") o.health.timeout = std::chrono::milliseconds(std::atol(v.c_str()));
    else return why = "unknown option " + flag, std::nullopt;
  }
  if (o.port == 0) return why = "--port is required", std::nullopt;
  if (!up) return why = "--upstream needs http(s)://host[:port][/base]", std::nullopt;
  if (o.connect_timeout.count() <= 0) return why = "--connect-timeout-ms must be positive", std::nullopt;
  if (o.health.interval.count() <= 0 || o.health.timeout.count() <= 0)
    return why = "--health-interval-ms and --health-timeout-ms must be positive", std::nullopt;
  if (!o.health.path.empty() && o.health.path.front() != '/')
    return why = "--health-path must start with /", std::nullopt;
  o.up = *up;
  if (const char* h = std::getenv("LLMUX_BRIDGE_HEADERS")) o.headers = h;
  const char* token = std::getenv("LLMUX_BRIDGE_TOKEN");
  if (token == nullptr || std::string_view(token).size() < 16) return why = "LLMUX_BRIDGE_TOKEN is not set (llmux sets it)", std::nullopt;
  o.token = std::string("/") + token;
  o.health.port = o.port;
  o.health.token = o.token;
  return o;
}

}  // namespace

int bridge_main(const std::vector<std::string>& args) {
  std::string why;
  std::optional<Options> o = parse_args(args, why);
  if (!o) return bad_args(why);
  net::io_context io;
  std::unique_ptr<Bridge> bridge;
  tcp::acceptor acceptor(io);
  try {
    bridge = std::make_unique<Bridge>(io, *o);
    const tcp::endpoint ep(net::ip::make_address("127.0.0.1"), o->port);
    acceptor.open(ep.protocol());
    acceptor.set_option(tcp::acceptor::reuse_address(true));
    acceptor.bind(ep);
    acceptor.listen();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "llmux bridge: %s%s\n", o->ca_file.empty() ? "" : ("caFile " + o->ca_file + ": ").c_str(),
                 e.what());
    return 1;
  }
  net::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([&](const error_code&, int) { io.stop(); });
  std::fprintf(stderr, "llmux bridge: 127.0.0.1:%u -> %s\n", o->port, o->up.url.c_str());
  net::co_spawn(io, accept_loop(acceptor, *bridge), net::detached);
  net::co_spawn(io, health_loop(o->health), net::detached);  // never throws
  io.run();
  return 0;
}

}  // namespace llmux

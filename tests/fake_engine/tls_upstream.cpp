// tls_upstream: a small HTTPS server for llmux's remote-upstream tests. `tls_upstream --port N --cert F --key F`
// serves every request (keep-alive, Content-Length bodies) with a JSON echo of what arrived: target, Host,
// Authorization, x-api-key and body, so a test sees what llmux's bridge sent. Blocking; one connection at a time.
#include <utility>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>

namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

namespace {

std::string field(const std::string& head, const std::string& name) {
  for (size_t at = head.find("\r\n"); at != std::string::npos && at + 2 < head.size();) {
    const size_t end = head.find("\r\n", at + 2);
    const std::string line = head.substr(at + 2, end - at - 2);
    const size_t colon = line.find(':');
    std::string key = line.substr(0, colon);
    for (char& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (colon != std::string::npos && key == name) return line.substr(line.find_first_not_of(' ', colon + 1));
    at = end;
  }
  return "";
}

void serve(ssl::stream<tcp::socket>& s) {
  std::string in;
  char buf[16384];
  boost::system::error_code ec;
  for (;;) {
    size_t end;
    while ((end = in.find("\r\n\r\n")) == std::string::npos) {
      const size_t n = s.read_some(net::buffer(buf), ec);
      if (ec) return;
      in.append(buf, n);
    }
    const std::string head = in.substr(0, end + 2);
    in.erase(0, end + 4);
    const size_t length = std::strtoul(field(head, "content-length").c_str(), nullptr, 10);
    while (in.size() < length) {
      const size_t n = s.read_some(net::buffer(buf), ec);
      if (ec) return;
      in.append(buf, n);
    }
    const nlohmann::json echo = {{"target", head.substr(head.find(' ') + 1, head.find(' ', head.find(' ') + 1) - head.find(' ') - 1)},
                                 {"host", field(head, "host")},
                                 {"authorization", field(head, "authorization")},
                                 {"x_api_key", field(head, "x-api-key")},
                                 {"body", in.substr(0, length)}};
    in.erase(0, length);
    const std::string body = echo.dump();
    const std::string reply = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
                              std::to_string(body.size()) + "\r\n\r\n" + body;
    net::write(s, net::buffer(reply), ec);
    if (ec) return;
  }
}

}  // namespace

int main(int argc, char** argv) {
  unsigned short port = 0;
  std::string cert, key;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--port") port = static_cast<unsigned short>(std::atoi(argv[i + 1]));
    else if (flag == "--cert") cert = argv[i + 1];
    else if (flag == "--key") key = argv[i + 1];
  }
  if (port == 0 || cert.empty() || key.empty()) {
    std::fputs("usage: tls_upstream --port N --cert FILE --key FILE\n", stderr);
    return 2;
  }
  net::io_context io;
  ssl::context ctx(ssl::context::tls_server);
  ctx.use_certificate_chain_file(cert);
  ctx.use_private_key_file(key, ssl::context::pem);
  tcp::acceptor acceptor(io, tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  std::fprintf(stderr, "tls_upstream: listening on %u\n", port);
  for (;;) {
    ssl::stream<tcp::socket> s(io, ctx);
    acceptor.accept(s.next_layer());
    boost::system::error_code ec;
    s.handshake(ssl::stream_base::server, ec);
    if (!ec) serve(s);
  }
}

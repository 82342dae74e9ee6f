#include "common/endpoint.hpp"

#include <arpa/inet.h>

#include <charconv>

#include "common/ascii.hpp"

namespace llmux {

std::optional<EngineEndpoint> parse_engine_url(const std::string& url) {
  constexpr std::string_view scheme = "http://";
  std::string_view rest(url);
  if (!rest.starts_with(scheme)) return std::nullopt;
  rest.remove_prefix(scheme.size());
  auto slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash);
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  EngineEndpoint ep;
  std::string_view port_text;
  if (authority.starts_with('[')) {
    auto close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    ep.host = std::string(authority.substr(1, close - 1));
    authority.remove_prefix(close + 1);
    if (!authority.empty() && !authority.starts_with(':')) return std::nullopt;
    port_text = authority.empty() ? std::string_view("80") : authority.substr(1);
  } else {
    auto colon = authority.rfind(':');
    ep.host = std::string(authority.substr(0, colon));
    port_text = colon == std::string_view::npos ? std::string_view("80") : authority.substr(colon + 1);
  }
  unsigned port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port == 0 || port > 65535 ||
      ep.host.empty())
    return std::nullopt;
  if (ep.host == "localhost") ep.host = "127.0.0.1";  // connect without a resolver thread
  ep.port = static_cast<uint16_t>(port);
  ep.base_path = std::string(path);
  return ep;
}

std::string engine_url_problem(const std::string& url) {
  const std::optional<EngineEndpoint> ep = parse_engine_url(url);
  if (!ep) return "expected http://host[:port][/path] with a port from 1 to 65535";
  unsigned char addr[16];
  const bool literal = ::inet_pton(AF_INET, ep->host.c_str(), addr) == 1 || ::inet_pton(AF_INET6, ep->host.c_str(), addr) == 1;
  if (!literal) {
    return "host '" + ep->host + "' is a name: llmux connects to engines by IP address (or localhost), without "
           "a resolver; write the address instead";
  }
  return "";
}

bool dotted_quad(std::string_view s, unsigned* first) {
  unsigned parts = 0, value = 0, digits = 0;
  for (size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == '.') {
      if (digits == 0 || digits > 3 || value > 255) return false;
      if (parts == 0 && first) *first = value;
      ++parts;
      value = digits = 0;
    } else if (s[i] >= '0' && s[i] <= '9') {
      value = value * 10 + static_cast<unsigned>(s[i] - '0');
      ++digits;
    } else {
      return false;
    }
  }
  return parts == 4;
}

bool loopback_name(std::string_view name) {
  if (iequal(name, "localhost") || iequal(name, "localhost.") || name == "::1" || name == "[::1]") return true;
  unsigned first = 0;
  return dotted_quad(name, &first) && first == 127;
}

}  // namespace llmux

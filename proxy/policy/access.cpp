#include "proxy/policy/access.hpp"

#include <algorithm>

#include "common/endpoint.hpp"

namespace llmux {

namespace {

using namespace std::string_literals;

// The host part of a Host value ("name:port", "[v6]:port", "name"), lowercase comparisons done by the callers.
std::string_view host_part(std::string_view host) {
  if (!host.empty() && host.front() == '[') {
    const size_t close = host.find(']');
    return close == std::string_view::npos ? host : host.substr(0, close + 1);
  }
  const size_t colon = host.rfind(':');
  return colon == std::string_view::npos ? host : host.substr(0, colon);
}

// The port of a Host value or origin authority: "" when none; false when what follows the host is not a port.
bool port_part(std::string_view host, std::string_view& port) {
  const std::string_view name = host_part(host);
  port = host.substr(name.size());
  if (port.empty()) return true;
  if (port.front() != ':' || port.size() < 2 || port.size() > 6) return false;
  port.remove_prefix(1);
  return std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// An IP literal (dotted quad or [v6]): a page reached by name (DNS rebinding) never sends one.
bool ip_literal(std::string_view name) {
  if (name.size() > 2 && name.front() == '[' && name.back() == ']') {
    return std::all_of(name.begin() + 1, name.end() - 1, [](char c) {
      return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' || c == '.';
    });
  }
  return dotted_quad(name, nullptr);
}

bool listed_host(const AccessConfig& a, std::string_view name) {
  for (const auto& h : a.allowed_hosts)
    if (h == "*" || iequal(h, name)) return true;
  return false;
}

// An origin of llmux's own pages: http://<loopback name>:<llmux's port>.
bool same_origin(std::string_view origin, const ListenFacts& listen) {
  if (!origin.starts_with("http://")) return false;
  const std::string_view authority = origin.substr(7);
  std::string_view port;
  return loopback_host(authority) && port_part(authority, port) && port == std::to_string(listen.port);
}

bool allowed_origin(const AccessConfig& a, std::string_view origin) {
  for (const auto& o : a.allow_origins)
    if (o == "*" || iequal(o, origin)) return true;
  return false;
}

AccessVerdict refuse(int status, std::string_view code, std::string message) {
  AccessVerdict v;
  v.status = status;
  v.code = code;
  v.message = std::move(message);
  return v;
}

// A client-supplied value quoted in a message: bounded, printable.
std::string quoted(std::string_view v) {
  std::string out(v.substr(0, 100));
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  return "'" + out + (v.size() > 100 ? "...'" : "'");
}

bool any_key_matches(const std::vector<std::string>& keys, std::string_view presented) {
  bool match = false;
  for (const auto& k : keys) match |= same_secret(k, presented);  // no early exit: every key is compared
  return match;
}

std::string_view presented_key(const RequestHead& h) {
  std::string_view auth = h.authorization;
  if (auth.size() > 7 && iequal(auth.substr(0, 7), "bearer ")) return trim_blanks(auth.substr(7));
  return h.api_key;
}

AccessVerdict check_key(const AccessConfig& a, const RequestHead& head, RouteClass route) {
  const bool admin_route = route == RouteClass::admin;
  const bool user_keys = !a.api_keys.empty(), admin_keys = !a.admin_keys.empty();
  if (!user_keys && !(admin_route && admin_keys)) return {};
  const std::string_view key = presented_key(head);
  if (key.empty()) {
    return refuse(401, "missing_api_key",
                  "this llmux needs an API key: send 'Authorization: Bearer KEY' or 'x-api-key: KEY' (the llmux CLI "
                  "takes --api-key or LLMUX_API_KEY)");
  }
  const bool is_admin = admin_keys && any_key_matches(a.admin_keys, key);
  const bool is_user = user_keys && any_key_matches(a.api_keys, key);
  if (admin_route ? (is_admin || (!admin_keys && is_user)) : (is_user || is_admin)) return {};
  if (admin_route && is_user) {
    return refuse(403, "admin_key_required", "this route shows or changes the daemon and needs one of adminKeys");
  }
  return refuse(401, "invalid_api_key", "the API key is not valid for this llmux");
}

}  // namespace

bool same_secret(std::string_view a, std::string_view b) {
  // Every byte of the longer one is compared (against 0 past the shorter's end): the time depends on lengths only.
  const size_t n = std::max(a.size(), b.size());
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < n; ++i) {
    const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= static_cast<unsigned char>(x ^ y);
  }
  return diff == 0;
}

bool loopback_host(std::string_view host) {
  std::string_view port;
  if (!port_part(host, port)) return false;
  const std::string_view name = host_part(host);
  // A Host value brackets an IPv6 literal: a bare "::1" (host_part of "::1:80") is malformed, not loopback.
  return (name.starts_with('[') || name.find(':') == std::string_view::npos) && loopback_name(name);
}

AccessVerdict check_access(const AccessConfig& a, const ListenFacts& listen, const RequestHead& head,
                           RouteClass route, std::string_view preflight_method) {
  if (route == RouteClass::open) return {};
  // Host: a page that rebinds its own name to 127.0.0.1 still sends that name.
  std::string_view port;
  const std::string_view name = host_part(head.host);
  const bool host_ok = !head.host.empty() && port_part(head.host, port) &&
                       (loopback_host(head.host) || listed_host(a, name) || (!listen.loopback && ip_literal(name)));
  if (!host_ok) {
    return refuse(403, "forbidden_host",
                  (head.host.empty() ? "a request without a Host field"s : "Host " + quoted(head.host)) +
                      " is refused: llmux answers loopback names (localhost, 127.0.0.1, [::1]) and the names in "
                      "allowedHosts; add the name to allowedHosts if you reach llmux by it");
  }
  // Pages in the user's browser: an Origin must be allowed; without one, fetch metadata tells a page's request
  // (an <img>, a form) from a tool's.
  AccessVerdict ok;
  if (head.has_origin) {
    if (!same_origin(head.origin, listen)) {
      if (!allowed_origin(a, head.origin)) {
        return refuse(403, "forbidden_origin",
                      "requests from the web page origin " + quoted(head.origin) +
                          " are refused; add it to cors.allowOrigins to let that page use llmux");
      }
      ok.allow_origin = head.origin;
    }
  } else if ((iequal(head.fetch_site, "cross-site") || iequal(head.fetch_site, "same-site")) &&
             !allowed_origin(a, "*")) {
    return refuse(403, "forbidden_origin",
                  "a web page on another site sent this request (Sec-Fetch-Site: " + std::string(head.fetch_site) +
                      "); llmux refuses those unless cors.allowOrigins allows every origin (\"*\")");
  }
  if (head.method == "OPTIONS" && head.has_origin && !preflight_method.empty()) {
    ok.status = 204;  // a preflight carries no key: the request it announces will
    return ok;
  }
  if (route == RouteClass::page) return ok;
  AccessVerdict key = check_key(a, head, route);
  if (!key.allowed()) key.allow_origin = ok.allow_origin;  // the page may read why
  return key.allowed() ? ok : key;
}

std::string cors_response_fields(std::string_view origin) {
  if (origin.empty()) return {};
  std::string out;
  out.append("Access-Control-Allow-Origin: ").append(origin).append("\r\nVary: Origin\r\n");
  out.append("Access-Control-Expose-Headers: X-Llmux-Max-Tokens-Clamped, Retry-After\r\n");
  return out;
}

std::string cors_preflight_fields(std::string_view origin, std::string_view request_headers, bool private_network) {
  std::string out = cors_response_fields(origin);
  out.append("Access-Control-Allow-Methods: GET, POST, OPTIONS\r\n");
  const bool plain = request_headers.size() <= 1024 &&
                     std::all_of(request_headers.begin(), request_headers.end(), [](char c) {
                       return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                              c == '_' || c == ',' || c == ' ';
                     });
  out.append("Access-Control-Allow-Headers: ")
      .append(plain && !request_headers.empty() ? request_headers : "Authorization, Content-Type, X-Api-Key")
      .append("\r\nAccess-Control-Max-Age: 600\r\n");
  if (private_network) out.append("Access-Control-Allow-Private-Network: true\r\n");
  return out;
}

}  // namespace llmux

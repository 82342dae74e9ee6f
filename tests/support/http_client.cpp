#include "tests/support/http_client.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string_view>

namespace llmux::test {
namespace {

using Clock = std::chrono::steady_clock;

#ifdef MSG_NOSIGNAL
constexpr int kSendFlags = MSG_NOSIGNAL;
#else
constexpr int kSendFlags = 0;  // SO_NOSIGPIPE is set on the socket instead
#endif

std::string lower(std::string s) {
  for (char& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

struct FdGuard {
  int fd = -1;
  ~FdGuard() { close_now(); }
  void close_now() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
};

// A socket read side with one deadline for the whole exchange. `in` holds bytes received but not yet consumed;
// it belongs to the caller so that a keep-alive connection keeps what arrived after one response.
struct Wire {
  Wire(int fd, std::string& in, Clock::time_point deadline, std::string what)
      : in(in), fd_(fd), deadline_(deadline), what_(std::move(what)) {}

  std::string& in;

  // Appends what arrives next; false on EOF or reset. Throws on timeout.
  bool fill() {
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - Clock::now()).count();
      if (left <= 0) throw std::runtime_error(what_ + ": timed out waiting for the response");
      pollfd p{fd_, POLLIN, 0};
      const int r = ::poll(&p, 1, static_cast<int>(std::min<long long>(left, 1 << 30)));
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) throw std::runtime_error(what_ + ": poll: " + std::strerror(errno));
      if (r == 0) continue;
      char buf[65536];
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (n < 0 && errno != ECONNRESET) throw std::runtime_error(what_ + ": recv: " + std::strerror(errno));
      if (n <= 0) return false;
      in.append(buf, static_cast<std::size_t>(n));
      return true;
    }
  }

  const std::string& what() const { return what_; }

 private:
  int fd_;
  Clock::time_point deadline_;
  std::string what_;
};

struct Head {
  int status = 0;
  std::map<std::string, std::string> headers;
};

Head parse_head(std::string_view text, const std::string& what) {
  Head h;
  const auto eol = text.find("\r\n");
  const std::string_view status_line = text.substr(0, eol);
  if (!status_line.starts_with("HTTP/1.") || status_line.size() < 12)
    throw std::runtime_error(what + ": bad status line '" + std::string(status_line) + "'");
  h.status = std::atoi(std::string(status_line.substr(9, 3)).c_str());
  for (std::size_t pos = eol + 2; pos < text.size();) {
    const auto end = text.find("\r\n", pos);
    const std::string_view line = text.substr(pos, end - pos);
    pos = end == std::string_view::npos ? text.size() : end + 2;
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    const std::string key = lower(std::string(trim(line.substr(0, colon))));
    const std::string value(trim(line.substr(colon + 1)));
    auto [it, fresh] = h.headers.emplace(key, value);
    if (!fresh) it->second += ", " + value;
  }
  return h;
}

// Reads one response header, skipping interim 1xx responses. Throws if the peer closes first.
Head read_head(Wire& w) {
  for (;;) {
    const auto end = w.in.find("\r\n\r\n");
    if (end == std::string::npos) {
      if (!w.fill())
        throw std::runtime_error(w.what() + ": connection closed by the peer before a complete response header" +
                                 (w.in.empty() ? "" : " (got '" + w.in.substr(0, 200) + "')"));
      continue;
    }
    Head h = parse_head(std::string_view(w.in).substr(0, end), w.what());
    w.in.erase(0, end + 4);
    if (h.status >= 100 && h.status < 200 && h.status != 101) continue;
    return h;
  }
}

enum class BodyEnd { complete, peer_closed, stopped };
using Sink = std::function<bool(std::string_view)>;  // false: stop reading

// Hands decoded body bytes to `sink` as they arrive (partial chunks included).
BodyEnd read_chunked(Wire& w, const Sink& sink) {
  for (;;) {
    auto eol = w.in.find("\r\n");
    while (eol == std::string::npos) {
      if (!w.fill()) return BodyEnd::peer_closed;
      eol = w.in.find("\r\n");
    }
    const std::size_t size = std::strtoull(w.in.substr(0, eol).c_str(), nullptr, 16);
    w.in.erase(0, eol + 2);
    if (size == 0) {  // trailers up to the empty line
      for (;;) {
        eol = w.in.find("\r\n");
        if (eol == std::string::npos && !w.fill()) return BodyEnd::complete;
        if (eol == std::string::npos) continue;
        w.in.erase(0, eol + 2);
        if (eol == 0) return BodyEnd::complete;
      }
    }
    for (std::size_t left = size; left > 0;) {
      if (w.in.empty() && !w.fill()) return BodyEnd::peer_closed;
      const std::size_t n = std::min(left, w.in.size());
      const bool more = sink(std::string_view(w.in).substr(0, n));
      w.in.erase(0, n);
      left -= n;
      if (!more) return BodyEnd::stopped;
    }
    while (w.in.size() < 2)
      if (!w.fill()) return BodyEnd::peer_closed;
    w.in.erase(0, 2);  // CRLF after the chunk data
  }
}

BodyEnd read_body(Wire& w, const Head& h, bool head_request, const Sink& sink) {
  if (head_request || h.status == 204 || h.status == 304 || (h.status >= 100 && h.status < 200))
    return BodyEnd::complete;
  const auto te = h.headers.find("transfer-encoding");
  if (te != h.headers.end() && lower(te->second).find("chunked") != std::string::npos) return read_chunked(w, sink);
  const auto cl = h.headers.find("content-length");
  const bool sized = cl != h.headers.end();
  std::size_t left = sized ? std::strtoull(cl->second.c_str(), nullptr, 10) : 0;
  for (;;) {
    if (sized && left == 0) return BodyEnd::complete;
    if (w.in.empty() && !w.fill()) return sized ? BodyEnd::peer_closed : BodyEnd::complete;
    const std::size_t n = sized ? std::min(left, w.in.size()) : w.in.size();
    const bool more = sink(std::string_view(w.in).substr(0, n));
    w.in.erase(0, n);
    left -= sized ? n : 0;
    if (!more) return BodyEnd::stopped;
  }
}

bool has_header(const Headers& headers, const std::string& name) {
  return std::any_of(headers.begin(), headers.end(), [&](const auto& h) { return lower(h.first) == name; });
}

std::string build_request(uint16_t port, const std::string& method, const std::string& target,
                          const std::string& body, const Headers& headers, bool close) {
  std::string out = method + " " + target + " HTTP/1.1\r\n";
  if (!has_header(headers, "host")) out += "Host: 127.0.0.1:" + std::to_string(port) + "\r\n";
  for (const auto& [k, v] : headers) out += k + ": " + v + "\r\n";
  const bool wants_length = !body.empty() || method == "POST" || method == "PUT" || method == "PATCH";
  if (wants_length && !has_header(headers, "content-length") && !has_header(headers, "transfer-encoding"))
    out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  if (close && !has_header(headers, "connection")) out += "Connection: close\r\n";
  out += "\r\n";
  out += body;
  return out;
}

// Sends everything before the deadline. A send error is returned, not thrown: the server may have answered
// early (e.g. 413) and closed, and that answer is still worth reading.
int send_all(int fd, std::string_view data, Clock::time_point deadline, const std::string& what) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), kSendFlags | MSG_DONTWAIT);
    if (n > 0) {
      data.remove_prefix(static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return errno;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) throw std::runtime_error(what + ": timed out sending the request");
    pollfd p{fd, POLLOUT, 0};
    ::poll(&p, 1, static_cast<int>(std::min<long long>(left, 1 << 30)));
  }
  return 0;
}

std::string describe(uint16_t port, const std::string& method, const std::string& target) {
  return method + " 127.0.0.1:" + std::to_string(port) + target;
}

// One exchange on `fd`; `in` carries bytes across exchanges of a keep-alive connection.
HttpResponse exchange(int fd, std::string& in, uint16_t port, const std::string& method, const std::string& target,
                      const std::string& body, const Headers& headers, bool close,
                      std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  const std::string what = describe(port, method, target);
  const int send_error = send_all(fd, build_request(port, method, target, body, headers, close), deadline, what);
  Wire w(fd, in, deadline, what);
  Head h;
  try {
    h = read_head(w);
  } catch (const std::runtime_error& e) {
    if (send_error == 0) throw;
    throw std::runtime_error(what + ": send: " + std::strerror(send_error) + "; " + e.what());
  }
  HttpResponse r;
  const BodyEnd end = read_body(w, h, method == "HEAD", [&r](std::string_view bytes) {
    r.body.append(bytes);
    return true;
  });
  r.status = h.status;
  r.headers = std::move(h.headers);
  r.complete = end == BodyEnd::complete;
  return r;
}

// Server-Sent Events decoder fed with decoded body bytes as they arrive.
class SseDecoder {
 public:
  SseDecoder(std::vector<SseEvent>& out, const std::function<bool(const SseEvent&)>& on_event)
      : out_(out), on_event_(on_event) {}

  // False when on_event asked to stop.
  bool feed(std::string_view bytes) {
    for (const char ch : bytes) {
      if (ch != '\n') {
        line_.push_back(ch);
        continue;
      }
      if (!line_.empty() && line_.back() == '\r') line_.pop_back();
      const bool more = take_line();
      line_.clear();
      if (!more) return false;
    }
    return true;
  }

 private:
  bool take_line() {
    if (line_.empty()) {
      if (!has_data_ && event_.empty()) return true;
      const bool more = emit(std::move(data_), std::move(event_));
      data_.clear();
      event_.clear();
      has_data_ = false;
      return more;
    }
    if (line_.front() == ':') return emit(line_, "");
    const auto colon = line_.find(':');
    const std::string field = line_.substr(0, colon);
    std::string value = colon == std::string::npos ? "" : line_.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.erase(0, 1);
    if (field == "data") {
      if (has_data_) data_.push_back('\n');
      data_ += value;
      has_data_ = true;
    } else if (field == "event") {
      event_ = value;
    }
    return true;
  }

  bool emit(std::string data, std::string event) {
    out_.push_back(SseEvent{Clock::now(), std::move(data), std::move(event)});
    return !on_event_ || on_event_(out_.back());
  }

  std::vector<SseEvent>& out_;
  const std::function<bool(const SseEvent&)>& on_event_;
  std::string line_, data_, event_;
  bool has_data_ = false;
};

}  // namespace

nlohmann::json HttpResponse::json() const { return nlohmann::json::parse(body); }

std::string HttpResponse::header(const std::string& name) const {
  const auto it = headers.find(lower(name));
  return it == headers.end() ? "" : it->second;
}

int connect_tcp(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  ::fcntl(fd, F_SETFD, FD_CLOEXEC);  // children spawned by the test must not hold the connection
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
#ifdef SO_NOSIGPIPE
  ::setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one);
#endif
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int r;
  do r = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  while (r < 0 && errno == EINTR);
  if (r < 0) {
    const int err = errno;
    ::close(fd);
    throw std::runtime_error("connect 127.0.0.1:" + std::to_string(port) + ": " + std::strerror(err));
  }
  return fd;
}

HttpResponse http_request(uint16_t port, const std::string& method, const std::string& target,
                          const std::string& body, const Headers& headers, std::chrono::milliseconds timeout) {
  FdGuard fd{connect_tcp(port)};
  std::string in;
  return exchange(fd.fd, in, port, method, target, body, headers, true, timeout);
}

HttpResponse http_get(uint16_t port, const std::string& target, std::chrono::milliseconds timeout) {
  return http_request(port, "GET", target, "", {}, timeout);
}

HttpResponse http_post(uint16_t port, const std::string& target, const std::string& body,
                       std::chrono::milliseconds timeout) {
  return http_request(port, "POST", target, body, {{"Content-Type", "application/json"}}, timeout);
}

StreamResult http_stream(uint16_t port, const std::string& method, const std::string& target,
                         const std::string& body, std::function<bool(const SseEvent&)> on_event,
                         std::chrono::milliseconds timeout) {
  return http_stream(port, method, target, body, Headers{}, std::move(on_event), timeout);
}

StreamResult http_stream(uint16_t port, const std::string& method, const std::string& target,
                         const std::string& body, const Headers& headers,
                         std::function<bool(const SseEvent&)> on_event, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  const std::string what = describe(port, method, target);
  Headers all = headers;
  if (!body.empty() && !has_header(all, "content-type")) all.emplace_back("Content-Type", "application/json");
  FdGuard fd{connect_tcp(port)};
  const int send_error = send_all(fd.fd, build_request(port, method, target, body, all, true), deadline, what);
  std::string in;
  Wire w(fd.fd, in, deadline, what);
  StreamResult r;
  Head h;
  try {
    h = read_head(w);
  } catch (const std::runtime_error& e) {
    if (send_error == 0) throw;
    throw std::runtime_error(what + ": send: " + std::strerror(send_error) + "; " + e.what());
  }
  r.headers_at = Clock::now();
  r.status = h.status;
  r.headers = h.headers;
  SseDecoder sse(r.events, on_event);
  const BodyEnd end = read_body(w, h, method == "HEAD", [&](std::string_view bytes) {
    r.body.append(bytes);
    return sse.feed(bytes);
  });
  if (end == BodyEnd::stopped) {
    fd.close_now();  // the client disconnect, at once
    r.closed_early = true;
  }
  r.complete = end == BodyEnd::complete;
  return r;
}

struct HttpConnection::Impl {
  uint16_t port = 0;
  FdGuard fd;
  std::string in;
  bool closed = false;
};

HttpConnection::HttpConnection(uint16_t port) : impl_(std::make_unique<Impl>()) {
  impl_->port = port;
  impl_->fd.fd = connect_tcp(port);
}

HttpConnection::~HttpConnection() = default;

int HttpConnection::fd() const { return impl_->fd.fd; }

HttpResponse HttpConnection::request(const std::string& method, const std::string& target, const std::string& body,
                                     std::chrono::milliseconds timeout) {
  Headers headers;
  if (!body.empty()) headers.emplace_back("Content-Type", "application/json");
  return request(method, target, body, headers, timeout);
}

HttpResponse HttpConnection::request(const std::string& method, const std::string& target, const std::string& body,
                                     const Headers& headers, std::chrono::milliseconds timeout) {
  if (impl_->closed)
    throw std::runtime_error(describe(impl_->port, method, target) + ": the server already closed this connection");
  HttpResponse r;
  try {
    r = exchange(impl_->fd.fd, impl_->in, impl_->port, method, target, body, headers, false, timeout);
  } catch (...) {
    impl_->closed = true;  // the stream position is unknown: no further request can be framed on it
    throw;
  }
  const bool bodiless = method == "HEAD" || r.status == 204 || r.status == 304;
  const bool close_delimited = !r.headers.count("content-length") && !r.headers.count("transfer-encoding");
  if (!r.complete || lower(r.header("connection")) == "close" || (close_delimited && !bodiless))
    impl_->closed = true;
  return r;
}

bool HttpConnection::peer_closed(std::chrono::milliseconds wait) {
  if (impl_->closed) return true;
  if (!impl_->in.empty()) return false;
  short events = POLLIN;
#ifdef POLLRDHUP
  events |= POLLRDHUP;
#endif
  pollfd p{impl_->fd.fd, events, 0};
  int r;
  do r = ::poll(&p, 1, static_cast<int>(wait.count()));
  while (r < 0 && errno == EINTR);
  if (r <= 0) return false;
  char byte;
  const ssize_t n = ::recv(impl_->fd.fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n > 0) return false;  // unsolicited bytes, but the connection is open
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return false;
  impl_->closed = true;
  return true;
}

}  // namespace llmux::test

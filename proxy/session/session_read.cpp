// Reading a client's request with llmux's own parser (proxy/http/framing): the head's fields stay one block of text
// that the relay copies to the engine as it is, with no per-field allocation. headerRead bounds the whole head and
// bodyRead the whole body (not each read); malformed or oversized requests are answered here (false: the
// connection ends).
#include <algorithm>

#include "proxy/session/request_body.hpp"
#include "proxy/session/session.hpp"

namespace llmux {

namespace {

constexpr size_t kHeaderLimit = 64 * 1024;

std::string_view bytes_of(const beast::flat_buffer& b) {
  return {static_cast<const char*>(b.data().data()), b.size()};
}

}  // namespace

// The request when it is already whole in buf_ (head and Content-Length body: a small request usually arrives
// in one read): taken without a coroutine frame. False (nothing consumed): read_request() reads or refuses it.
bool Session::take_whole_request(Request& req) {
  RequestHead head;
  std::string_view why;
  if (parse_request_head(bytes_of(buf_), head, why) != HeadParse::done || head.size > kHeaderLimit || head.chunked)
    return false;
  const uint64_t length = head.content_length.value_or(0);
  if (buf_.size() - head.size < length || length > srv_.coordinator.config()->max_request_body) return false;
  req.adopt(bytes_of(buf_), head);
  buf_.consume(head.size);
  req.body().assign(static_cast<const char*>(buf_.data().data()), static_cast<size_t>(length));
  buf_.consume(static_cast<size_t>(length));
  return true;
}

net::awaitable<bool> Session::read_request(Request& req) {
  const auto config = srv_.coordinator.config();  // held: a reload while this request is read must not free it
  const Config& cfg = *config;
  RequestHead head;
  const bool whole_head = co_await read_head(head, cfg);
  if (!whole_head) co_return false;
  req.adopt(bytes_of(buf_), head);
  buf_.consume(head.size);
  const uint64_t length = head.content_length.value_or(0);
  if (length > cfg.max_request_body) {
    co_await write_error(head.version, false, request_too_large(cfg.max_request_body));
    co_return false;
  }
  if (head.expect_continue && head.version >= 11 && (head.chunked || buf_.size() < length)) {
    static const std::string cont = "HTTP/1.1 100 Continue\r\n\r\n";
    ClientWriter out(stream_.socket(), deadline_, cfg.timeouts.client_write);
    const bool sent = co_await out.write(net::buffer(cont));
    if (!sent) co_return false;
  }
  const auto body_due = Deadline::now() + cfg.timeouts.body_read;  // the whole body
  if (streams_body(req, head)) {  // a multipart form not here whole: form_inference() reads it (session_form.cpp)
    pending_body_ = PendingBody{head.chunked, length, body_due};
    co_return true;
  }
  if (!head.chunked) co_return co_await read_sized_body(req.body(), length, body_due);
  co_return co_await read_chunked_body(req.body(), head.version, cfg, body_due);
}

// The head: usually whole in buf_ already.
net::awaitable<bool> Session::read_head(RequestHead& head, const Config& cfg) {
  std::string_view why;
  error_code ec;
  const auto head_due = Deadline::now() + cfg.timeouts.header_read;  // the whole head, not each read (slowloris)
  for (;;) {
    const HeadParse r = parse_request_head(bytes_of(buf_), head, why);
    if (r == HeadParse::done && head.size <= kHeaderLimit) co_return true;
    if (r == HeadParse::bad) {
      co_await write_error(11, false, bad_request("malformed HTTP request: " + std::string(why)));
      co_return false;
    }
    if (buf_.size() > kHeaderLimit) {
      co_await write_error(11, false, server_error(431, "request header too large", "header_too_large"));
      co_return false;
    }
    deadline_.arm_at(stream_.socket(), head_due);
    const size_t n = co_await stream_.socket().async_read_some(buf_.prepare(4096),
                                                               net::redirect_error(net::use_awaitable, ec));
    deadline_.done(ec);
    buf_.commit(n);
    if (ec) co_return false;  // timeout (slowloris), reset or end of stream: nothing to answer
  }
}

// A Content-Length body (or none): the rest is read straight into the body, which grows as bytes arrive (a stalled
// client claiming 32 MiB does not get 32 MiB): to twice what arrived, so that each byte is zeroed once by resize()
// and copied O(1) times on growth (growing it per read to what one read may bring zeroed ~4 MiB for a 1 MiB body).
net::awaitable<bool> Session::read_sized_body(std::string& body, uint64_t length, Deadline::Clock::time_point due) {
  size_t have = std::min<size_t>(buf_.size(), static_cast<size_t>(length));
  body.resize(have);
  net::buffer_copy(net::buffer(body.data(), have), buf_.data());
  buf_.consume(have);
  error_code ec;
  while (have < length && !ec) {
    if (body.size() == have)
      body.resize(std::min<size_t>(static_cast<size_t>(length), have + std::max<size_t>(64 * 1024, have)));
    deadline_.arm_at(stream_.socket(), due);
    const size_t n = co_await stream_.socket().async_read_some(net::buffer(body.data() + have, body.size() - have),
                                                               net::redirect_error(net::use_awaitable, ec));
    deadline_.done(ec);
    have += n;
  }
  body.resize(have);
  co_return !ec;
}

// A chunked body: decoded into the body, bounded by maxRequestBody.
net::awaitable<bool> Session::read_chunked_body(std::string& body, unsigned version, const Config& cfg,
                                                Deadline::Clock::time_point due) {
  BodyFraming framing;
  framing.start(BodyFraming::Kind::chunked);
  error_code ec;
  for (;;) {
    const size_t used = framing.feed(bytes_of(buf_), [&](std::string_view piece) { body.append(piece); });
    buf_.consume(used);
    if (framing.bad()) {
      co_await write_error(version, false, bad_request("malformed chunked request body"));
      co_return false;
    }
    if (body.size() > cfg.max_request_body) {
      co_await write_error(version, false, request_too_large(cfg.max_request_body));
      co_return false;
    }
    if (framing.done()) co_return true;
    deadline_.arm_at(stream_.socket(), due);
    const size_t n = co_await stream_.socket().async_read_some(buf_.prepare(16 * 1024),
                                                               net::redirect_error(net::use_awaitable, ec));
    deadline_.done(ec);
    buf_.commit(n);
    if (ec) co_return false;
  }
}

}  // namespace llmux

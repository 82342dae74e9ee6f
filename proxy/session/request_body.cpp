#include "proxy/session/request_body.hpp"

#include <cstdio>

#include "common/errors.hpp"
#include "proxy/http/relay_heads.hpp"

namespace llmux {

namespace {

constexpr size_t kRead = 64 * 1024;

std::string_view bytes_of(const beast::flat_buffer& b) {
  return {static_cast<const char*>(b.data().data()), b.size()};
}

}  // namespace

ApiError request_too_large(uint64_t limit) {
  return server_error(413, "request body exceeds maxRequestBody (" + std::to_string(limit) + " bytes)",
                      "request_too_large");
}

std::string chunk_framed(std::string_view data) {
  if (data.empty()) return {};
  char size_line[24];
  const int k = std::snprintf(size_line, sizeof size_line, "%zx\r\n", data.size());
  std::string out;
  out.reserve(static_cast<size_t>(k) + data.size() + 2);
  out.append(size_line, static_cast<size_t>(k)).append(data).append("\r\n");
  return out;
}

ClientBody::ClientBody(ClientSocket& socket, beast::flat_buffer& buf, Deadline& deadline, bool chunked,
                       uint64_t length, uint64_t max, Deadline::Clock::time_point due)
    : socket_(socket), buf_(buf), deadline_(deadline), chunked_(chunked), length_(chunked ? 0 : length), max_(max),
      due_(due) {
  framing_.start(chunked ? BodyFraming::Kind::chunked : BodyFraming::Kind::length, length_);
}

net::awaitable<ClientBody::Status> ClientBody::read_some(std::string& out) {
  if (framing_.done()) co_return Status::done;
  if (buf_.size() == 0) {
    error_code ec;
    deadline_.arm_at(socket_, due_);
    const size_t n = co_await socket_.async_read_some(buf_.prepare(kRead), net::redirect_error(net::use_awaitable, ec));
    deadline_.done(ec);
    buf_.commit(n);
    if (ec) co_return Status::client_failed;  // reset, timeout, or the end of the stream before the body's end
  }
  const size_t before = out.size();
  const size_t used = framing_.feed(bytes_of(buf_), [&](std::string_view piece) { out.append(piece); });
  buf_.consume(used);
  seen_ += out.size() - before;
  if (framing_.bad()) co_return Status::bad;
  if (seen_ > max_) co_return Status::too_large;
  co_return framing_.done() ? Status::done : Status::more;
}

net::awaitable<ClientBody::Status> ClientBody::pump(EngineSocket& engine, Duration write_timeout, ClientWatch& watch,
                                                     error_code& engine_ec) {
  Status st = Status::more;  // once at least: a chunked body's last chunk goes out even when nothing else is left
  while (st == Status::more) {
    piece_.clear();
    st = co_await read_some(piece_);
    if (st != Status::more && st != Status::done) co_return st;
    if (chunked_) {
      piece_ = chunk_framed(piece_);
      if (st == Status::done) piece_.append("0\r\n\r\n");
    }
    if (piece_.empty()) continue;
    deadline_.arm(engine, write_timeout);
    co_await net::async_write(engine, net::buffer(piece_), net::redirect_error(net::use_awaitable, engine_ec));
    deadline_.done(engine_ec);
    if (engine_ec) co_return Status::engine_failed;
  }
  if (piece_.capacity() > kRead) std::string().swap(piece_);
  watch.start();
  co_return Status::done;
}

std::string streamed_request_head(const RelayJob& job) {
  const ClientBody& b = *job.rest;
  const EngineEndpoint& engine = job.lease.worker->endpoint;
  if (b.chunked()) return engine_request_head_chunked(job.request, engine, job.engine_target);
  const uint64_t left = b.length() - b.seen();
  return engine_request_head(job.request, engine, job.body.size() + static_cast<size_t>(left), job.engine_target);
}

net::awaitable<RelayResult> rest_failed(ClientSocket& client, const RelayJob& job, ClientBody::Status why) {
  if (why == ClientBody::Status::client_failed) co_return RelayResult{499, false};  // gone, or too slow
  const ApiError e = why == ClientBody::Status::too_large
                         ? request_too_large(job.rest->max())
                         : bad_request("malformed chunked request body", "invalid_request_body");
  const Reply r = error_reply(e);
  ClientWriter w(client, job.deadline, job.timeouts.client_write);
  co_await w.reply(job.request.version(), false, r, false, {});
  co_return RelayResult{e.status, false};
}

}  // namespace llmux

#include "proxy/relay.hpp"

#include <spdlog/spdlog.h>

#include <limits>
#include <nlohmann/json.hpp>

#include "common/errors.hpp"
#include "proxy/routes.hpp"
#include "proxy/streams.hpp"

namespace llmux {

namespace {

constexpr size_t kMaxPooled = 64;
constexpr size_t kChunk = 16 * 1024;

bool hop_by_hop(http::field f) {
  switch (f) {
    case http::field::connection:
    case http::field::keep_alive:
    case http::field::proxy_authenticate:
    case http::field::proxy_authorization:
    case http::field::proxy_connection:
    case http::field::te:
    case http::field::trailer:
    case http::field::transfer_encoding:
    case http::field::upgrade:
    case http::field::content_length:
    case http::field::host:
    case http::field::expect:
      return true;
    default:
      return false;
  }
}

template <class Fields>
void copy_end_to_end(const Fields& from, http::fields& to) {
  for (const auto& f : from)
    if (!hop_by_hop(f.name())) to.insert(f.name_string(), f.value());
}

// The body pump's chunk, borrowed from the pool for one relay: a fresh 16 KiB buffer (or coroutine frame) per
// request is a large malloc on every relay.
class Chunk {
 public:
  explicit Chunk(EnginePool& pool) : pool_(pool), data_(pool.take_chunk()) {}
  ~Chunk() { pool_.give_chunk(std::move(data_)); }
  Chunk(const Chunk&) = delete;
  Chunk& operator=(const Chunk&) = delete;
  char* data() { return data_->data(); }
  size_t size() const { return data_->size(); }

 private:
  EnginePool& pool_;
  std::unique_ptr<EnginePool::ChunkBuffer> data_;
};

}  // namespace

std::unique_ptr<beast::tcp_stream> EnginePool::take(uint64_t generation, beast::flat_buffer& buffer) {
  if (generation != generation_) {
    idle_.clear();
    generation_ = generation;
  }
  if (idle_.empty()) return nullptr;
  auto s = std::move(idle_.back().stream);
  buffer = std::move(idle_.back().buffer);
  idle_.pop_back();
  return s;
}

void EnginePool::give(uint64_t generation, std::unique_ptr<beast::tcp_stream> s, beast::flat_buffer buffer) {
  if (generation != generation_ || idle_.size() >= kMaxPooled) return;
  idle_.push_back(Idle{std::move(s), std::move(buffer)});
}

std::unique_ptr<EnginePool::ChunkBuffer> EnginePool::take_chunk() {
  if (chunks_.empty()) return std::make_unique<ChunkBuffer>();
  auto c = std::move(chunks_.back());
  chunks_.pop_back();
  return c;
}

void EnginePool::give_chunk(std::unique_ptr<ChunkBuffer> c) {
  if (c && chunks_.size() < kMaxPooled) chunks_.push_back(std::move(c));
}

ClientWatch::ClientWatch(tcp::socket& client)
    : client_(client), done_(client.get_executor(), net::steady_timer::time_point::max()),
      arm_timer_(client.get_executor()) {}

void ClientWatch::arm_after(Duration delay) {
  arm_due_ = net::steady_timer::clock_type::now() + delay;
  armed_ = true;
  if (!arm_waiting_) wait_arm();  // else the waiting handler moves on to the new due time when it fires
}

void ClientWatch::wait_arm() {
  arm_waiting_ = true;
  arm_timer_.expires_at(arm_due_);
  arm_timer_.async_wait([weak = weak_from_this()](const error_code& ec) {
    auto self = weak.lock();
    if (!self) return;
    self->arm_waiting_ = false;
    if (ec || !self->armed_) return;
    if (net::steady_timer::clock_type::now() < self->arm_due_) return self->wait_arm();
    self->armed_ = false;
    self->start();
  });
}

void ClientWatch::start() {
  if (pending_) return;  // one read at a time (it may still be waiting from the last request)
  pending_ = true;
  client_.async_read_some(net::buffer(scratch_), [self = shared_from_this()](const error_code& ec, size_t n) {
    self->pending_ = false;
    if (n > 0) self->extra_.append(self->scratch_.data(), n);
    if (ec && ec != net::error::operation_aborted && !self->gone_) {
      self->gone_ = true;
      if (self->on_gone) self->on_gone();
    }
    self->done_.cancel();
  });
}

net::awaitable<void> ClientWatch::stop() {
  if (!pending_) co_return;
  error_code ec;
  client_.cancel(ec);
  if (!pending_) co_return;
  co_await done_.async_wait(net::redirect_error(net::use_awaitable, ec));
}

namespace {

// One engine exchange: connect (or reuse), send, read the response header. On success `parser` holds the header.
struct EngineExchange {
  std::unique_ptr<beast::tcp_stream> stream;
  beast::flat_buffer buffer;
  std::optional<http::response_parser<http::buffer_body>> parser;
  bool reused = false;
};

net::awaitable<error_code> connect_engine(EngineExchange& x, const Lease& lease, const Timeouts& t) {
  auto ex = co_await net::this_coro::executor;
  x.stream = std::make_unique<beast::tcp_stream>(ex);
  error_code ec;
  auto address = net::ip::make_address(lease.endpoint.host, ec);
  if (ec) co_return ec;
  x.stream->expires_after(t.engine_connect);
  tcp::endpoint ep(address, lease.endpoint.port);
  co_await x.stream->async_connect(ep, net::redirect_error(net::use_awaitable, ec));
  if (!ec) x.stream->socket().set_option(tcp::no_delay(true), ec);
  if (!ec) x.stream->socket().non_blocking(true, ec);  // for try-first writes (write_now)
  co_return ec;
}

// Writes what the (non-blocking) socket takes right now, without an async operation, its timer and their
// wake-ups: small answers usually go out whole. False when the rest must be written asynchronously (the
// serializer remembers how far it got); true when done or failed (`ec`).
template <class Serializer>
bool write_now(beast::tcp_stream& stream, Serializer& sr, error_code& ec) {
  http::write(stream.socket(), sr, ec);
  if (ec == net::error::would_block || ec == net::error::try_again) {
    ec = {};
    return false;
  }
  return true;
}

net::awaitable<error_code> send_and_read_header(EngineExchange& x, http::request<http::string_body>& req,
                                                const Timeouts& t) {
  error_code ec;
  http::request_serializer<http::string_body> sr{req};
  if (!write_now(*x.stream, sr, ec)) {
    x.stream->expires_after(t.client_write);
    co_await http::async_write(*x.stream, sr, net::redirect_error(net::use_awaitable, ec));
  }
  if (ec) co_return ec;
  x.parser.emplace();
  x.parser->body_limit(std::numeric_limits<std::uint64_t>::max());  // not boost::none: broken in 1.74
  x.buffer.reserve(kChunk);  // a flat_buffer left at its first 512 bytes would relay big bodies in 512 B reads
  x.stream->expires_after(t.engine_first_byte);
  co_await http::async_read_header(*x.stream, x.buffer, *x.parser, net::redirect_error(net::use_awaitable, ec));
  co_return ec;
}

// Connects and sends, retrying once on a fresh connection when a pooled one turns out stale.
net::awaitable<error_code> open_exchange(EngineExchange& x, http::request<http::string_body>& req,
                                         const RelayJob& job, EnginePool& pool) {
  x.stream = pool.take(job.lease.generation, x.buffer);
  x.reused = x.stream != nullptr;
  error_code ec;
  if (!x.reused) ec = co_await connect_engine(x, job.lease, job.timeouts);
  if (ec) co_return ec;
  ec = co_await send_and_read_header(x, req, job.timeouts);
  // Closed by the client watch (the client left): no retry, which would start the generation again.
  if (!ec || !x.reused || x.parser->got_some() || x.buffer.size() > 0 || !x.stream->socket().is_open()) co_return ec;
  spdlog::debug("pooled engine connection was stale ({}); retrying on a fresh one", ec.message());
  x.reused = false;
  ec = co_await connect_engine(x, job.lease, job.timeouts);
  if (ec) co_return ec;
  co_return co_await send_and_read_header(x, req, job.timeouts);
}

http::request<http::string_body> engine_request(RelayJob& job) {
  http::request<http::string_body> req{job.request.method(),
                                       job.lease.endpoint.base_path + engine_target(job.request.target()), 11};
  copy_end_to_end(job.request, req.base());
  req.set(http::field::host, job.lease.endpoint.host_header());
  req.body() = std::move(job.body);
  req.keep_alive(true);
  req.prepare_payload();
  return req;
}

ApiError engine_failure(const Lease& lease, const std::string& what, const error_code& ec) {
  bool timeout = ec == beast::error::timeout;
  std::string msg = "engine for model '" + lease.model + "' " + what + ": " +
                    (timeout ? std::string("timed out") : ec.message());
  return server_error(timeout ? 504 : 502, msg, timeout ? "engine_timeout" : "engine_error");
}

net::awaitable<bool> send_error(beast::tcp_stream& client, const http::request<http::string_body>& in, const ApiError& e,
                                const Timeouts& t) {
  http::response<http::string_body> res{static_cast<http::status>(e.status), in.version()};
  res.set(http::field::server, "llmux");
  res.set(http::field::content_type, "application/json");
  res.keep_alive(in.keep_alive());
  res.body() = error_body(e);
  res.prepare_payload();
  error_code ec;
  client.expires_after(t.client_write);
  co_await http::async_write(client, res, net::redirect_error(net::use_awaitable, ec));
  co_return !ec && in.keep_alive();
}

struct Streamed {
  bool engine_ok = true;
  bool client_ok = true;
  error_code engine_ec;
};

// Where the pump puts the engine's body: through the client response's serializer, into an event stream already
// committed to the client, or (bounded) into a string.
struct PumpTarget {
  http::response_serializer<http::buffer_body>* sr = nullptr;
  http::response<http::buffer_body>* res = nullptr;
  SseWriter* sse = nullptr;
  std::string* collect = nullptr;
};

struct BodyStats {
  UsageScanner scan;
  std::optional<std::chrono::steady_clock::time_point> first_byte;
  void note(const char* data, size_t n) {
    if (n == 0) return;
    if (!first_byte) first_byte = std::chrono::steady_clock::now();
    scan.feed(std::string_view(data, n));
  }
};

// Writes one piece through the client response's serializer (more = false ends the body).
net::awaitable<bool> write_piece(beast::tcp_stream& client, PumpTarget& to, char* data, size_t n, bool more,
                                 const Timeouts& t) {
  to.res->body().data = n ? data : nullptr;
  to.res->body().size = n;
  to.res->body().more = more;
  error_code ec;
  client.expires_after(t.client_write);
  co_await http::async_write(client, *to.sr, net::redirect_error(net::use_awaitable, ec));
  if (ec == http::error::need_buffer) ec = {};
  co_return !ec;
}

// Engine → client body pump: one fixed buffer, each chunk written as soon as it is read. The common path (read,
// then write through the serializer) is inline: a nested coroutine per step costs a frame allocation each.
net::awaitable<Streamed> pump_body(beast::tcp_stream& client, EngineExchange& x, PumpTarget to, const Timeouts& t,
                                   EnginePool& pool, BodyStats& stats) {
  Streamed out;
  Chunk buf(pool);
  auto& engine_body = x.parser->get().body();
  error_code ec;
  for (;;) {
    size_t n = 0;
    if (!x.parser->is_done()) {
      engine_body.data = buf.data();
      engine_body.size = buf.size();
      bool need_io = x.buffer.size() == 0;
      if (!need_io) {  // bytes that came with the header (often the whole body): parse them without a posted read
        const std::size_t used = x.parser->put(x.buffer.data(), ec);
        x.buffer.consume(used);
        if (ec == http::error::need_more || (!ec && used == 0)) {
          ec = {};
          need_io = true;
        }
      }
      if (need_io) {
        x.stream->expires_after(t.engine_idle);
        co_await http::async_read_some(*x.stream, x.buffer, *x.parser, net::redirect_error(net::use_awaitable, ec));
      }
      if (ec == http::error::need_buffer) ec = {};
      if (ec) {
        out.engine_ok = false;
        out.engine_ec = ec;
        co_return out;
      }
      n = buf.size() - engine_body.size;
      stats.note(buf.data(), n);
      if (n == 0 && !x.parser->is_done()) continue;
    }
    bool more = !x.parser->is_done();
    bool ok = true;
    if (to.collect) {
      if (to.collect->size() < 64 * 1024) to.collect->append(buf.data(), std::min(n, 64 * 1024 - to.collect->size()));
    } else if (to.sse) {
      ok = co_await to.sse->send(std::string_view(buf.data(), n));
    } else {
      to.res->body().data = n ? buf.data() : nullptr;
      to.res->body().size = n;
      to.res->body().more = more;
      if (!write_now(client, *to.sr, ec)) {
        client.expires_after(t.client_write);
        co_await http::async_write(client, *to.sr, net::redirect_error(net::use_awaitable, ec));
      }
      if (ec == http::error::need_buffer) ec = {};
      ok = !ec;
      if (ok && !more && !to.sr->is_done()) continue;
    }
    if (!ok) {
      out.client_ok = false;
      co_return out;
    }
    if (!more) co_return out;
  }
}

http::response<http::buffer_body> client_response(const http::response_parser<http::buffer_body>& p,
                                                  const http::request<http::string_body>& in, bool& keep_alive) {
  const auto& eres = p.get();
  http::response<http::buffer_body> res{eres.result(), in.version()};
  copy_end_to_end(eres.base(), res.base());
  if (eres[http::field::content_type].starts_with("text/event-stream")) res.set("X-Accel-Buffering", "no");
  keep_alive = in.keep_alive();
  if (p.content_length()) {
    res.content_length(*p.content_length());
  } else if (p.is_done() || eres.result() == http::status::no_content) {
    if (eres.result() != http::status::no_content) res.content_length(0);
  } else if (in.version() >= 11) {
    res.chunked(true);
  } else {
    keep_alive = false;  // HTTP/1.0 client: the body ends when the connection closes
  }
  res.keep_alive(keep_alive);
  res.body().data = nullptr;
  res.body().more = true;
  return res;
}

RelayResult finish(int status, bool keep, const BodyStats& stats) {
  RelayResult r{status, keep};
  r.first_byte = stats.first_byte;
  r.usage = stats.scan.result();
  return r;
}

void recycle(EngineExchange& x, const RelayJob& job, EnginePool& pool) {
  if (x.parser->keep_alive() && x.buffer.size() == 0)
    pool.give(job.lease.generation, std::move(x.stream), std::move(x.buffer));
}

// Streams the engine's response to the client. On an engine failure after the header went out, an SSE stream is
// ended with an `event: error` and the connection is closed; other bodies are cut (the client sees a short body).
net::awaitable<RelayResult> stream_response(beast::tcp_stream& client, const RelayJob& job, EngineExchange& x,
                                            EnginePool& pool, ClientWatch& watch) {
  bool keep = false;
  auto res = client_response(*x.parser, job.request, keep);
  if (!job.clamp_note.empty()) res.set("X-Llmux-Max-Tokens-Clamped", job.clamp_note);
  bool sse = res[http::field::content_type].starts_with("text/event-stream");
  int status = res.result_int();
  BodyStats stats{UsageScanner(sse), std::nullopt};
  http::response_serializer<http::buffer_body> sr{res};
  error_code ec;
  if (res.chunked() || !res.has_content_length()) {  // first token may be seconds away: send the header now
    client.expires_after(job.timeouts.client_write);
    co_await http::async_write_header(client, sr, net::redirect_error(net::use_awaitable, ec));
    if (ec) co_return finish(status, false, stats);
  }
  Streamed st = co_await pump_body(client, x, PumpTarget{&sr, &res}, job.timeouts, pool, stats);
  if (watch.gone() || !st.client_ok) co_return finish(status, false, stats);
  if (st.engine_ok) {
    recycle(x, job, pool);
    co_return finish(status, keep, stats);
  }
  auto e = engine_failure(job.lease, "failed mid-response", st.engine_ec);
  spdlog::warn("{}", e.message);
  if (!sr.is_header_done()) {
    co_await send_error(client, job.request, e, job.timeouts);
    co_return finish(e.status, false, stats);
  }
  if (sse && res.chunked()) {
    std::string event = sse_error_event(e);
    PumpTarget to{&sr, &res};
    if (co_await write_piece(client, to, event.data(), event.size(), true, job.timeouts))
      co_await write_piece(client, to, nullptr, 0, false, job.timeouts);
  }
  co_return finish(status, false, stats);
}

// A non-SSE engine answer on a stream already committed to SSE: one compact event (JSON has no raw newlines in a
// `data:` line), or an error event when it is an error, cut at 64 KiB, or not JSON.
std::string committed_tail(int status, const std::string& body, bool whole) {
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (status < 400 && whole && body.size() < 64 * 1024 && !j.is_discarded())
    return "data: " + j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n\ndata: [DONE]\n\n";
  if (j.is_object() && j.contains("error"))
    return "event: error\ndata: " + j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n\n";
  std::string what = status >= 400 ? "engine answered HTTP " + std::to_string(status) + ": " + body.substr(0, 500)
                                   : "engine answered a body llmux cannot pass on as an event stream";
  return sse_error_event(server_error(status >= 400 ? status : 502, what, "engine_error"));
}

// The engine's answer when loading feedback already committed the client to a 200 event stream: an SSE answer
// continues it; anything else (an error, a JSON body) becomes one event, and the stream is ended.
net::awaitable<RelayResult> continue_committed(const RelayJob& job, EngineExchange& x, EnginePool& pool,
                                               ClientWatch& watch) {
  SseWriter& w = *job.committed;
  const auto& eres = x.parser->get();
  int status = eres.result_int();
  bool sse = status == 200 && eres[http::field::content_type].starts_with("text/event-stream");
  BodyStats stats{UsageScanner(true), std::nullopt};
  std::string collected;
  PumpTarget to;
  if (sse) to.sse = &w;
  else to.collect = &collected;
  Streamed st = co_await pump_body(w.stream(), x, to, job.timeouts, pool, stats);
  if (watch.gone() || !st.client_ok) co_return finish(status, false, stats);
  std::string tail;
  if (!st.engine_ok) {
    tail = sse_error_event(engine_failure(job.lease, "failed mid-response", st.engine_ec));
  } else if (!sse) {
    tail = committed_tail(status, collected, x.parser->is_done());
  }
  if (st.engine_ok) recycle(x, job, pool);
  bool ok = true;
  if (!tail.empty()) ok = co_await w.send(tail);
  if (ok) ok = co_await w.end();
  co_return finish(status, ok && st.engine_ok, stats);
}

}  // namespace

net::awaitable<RelayResult> relay(beast::tcp_stream& client, RelayJob job, EnginePool& pool, ClientWatch& watch) {
  auto req = engine_request(job);
  EngineExchange x;
  // Client gone → close the engine connection at once so the engine stops generating.
  watch.on_gone = [&x] {
    spdlog::debug("client disconnected; closing engine connection");
    if (x.stream) x.stream->socket().close();
  };
  struct Reset {
    ClientWatch& w;
    ~Reset() { w.on_gone = nullptr; }
  } reset{watch};
  error_code ec = co_await open_exchange(x, req, job, pool);
  if (watch.gone()) co_return RelayResult{0, false};
  if (ec) {
    auto e = engine_failure(job.lease, ec == beast::error::timeout ? "sent no response" : "failed", ec);
    spdlog::warn("{}", e.message);
    if (job.committed) {
      std::string event = sse_error_event(e);
      bool ok = co_await job.committed->send(event);
      if (ok) ok = co_await job.committed->end();
      co_return RelayResult{e.status, ok};
    }
    bool keep = co_await send_error(client, job.request, e, job.timeouts);
    co_return RelayResult{e.status, keep};
  }
  if (job.committed) co_return co_await continue_committed(job, x, pool, watch);
  co_return co_await stream_response(client, job, x, pool, watch);
}

}  // namespace llmux

#include "proxy/session/relay.hpp"

#include <spdlog/spdlog.h>

#include <boost/container/small_vector.hpp>
#include <cstdio>

#include "common/errors.hpp"
#include "proxy/http/framing.hpp"
#include "proxy/http/relay_heads.hpp"
#include "proxy/http/routes.hpp"
#include "proxy/http/sse_events.hpp"
#include "proxy/session/request_body.hpp"

namespace llmux {

using namespace std::string_view_literals;

namespace {

constexpr size_t kMaxHead = 64 * 1024;
constexpr size_t kChunk = 16 * 1024;

// One engine exchange: connect (or reuse), send, read the response head. On success `head` describes it (views
// into `buffer`, valid until the head is consumed) and `body` follows the body's framing.
struct EngineExchange {
  std::optional<EngineSocket> socket;
  beast::flat_buffer buffer;
  ResponseHead head;
  BodyFraming body;
  bool reused = false;
  std::string_view why;  // what was wrong with a malformed response
  std::string_view bytes() const { return {static_cast<const char*>(buffer.data().data()), buffer.size()}; }
};

// A message written in one gathering sendmsg (head, chunk size line, data pieces, CRLF, last chunk).
using Gather = boost::container::small_vector<net::const_buffer, 8>;

net::awaitable<error_code> connect_engine(EngineExchange& x, const Lease& lease, const Timeouts& t, Deadline& d,
                                          const net::io_context::executor_type& ex) {
  x.socket.emplace(ex);
  error_code ec;
  auto address = net::ip::make_address(lease.worker->endpoint.host, ec);
  if (ec) co_return ec;
  tcp::endpoint ep(address, lease.worker->endpoint.port);
  d.arm(*x.socket, t.engine_connect);
  co_await x.socket->async_connect(ep, net::redirect_error(net::use_awaitable, ec));
  d.done(ec);
  if (!ec) x.socket->set_option(tcp::no_delay(true), ec);
  if (!ec) x.socket->non_blocking(true, ec);  // for send_now()
  co_return ec;
}

// What the bytes read so far say of the response head: parsed (false, ec clear), malformed or too large (false,
// ec set), or incomplete (true: read more). Interim responses (100 Continue, 103 Early Hints) are skipped.
bool head_needs_more(EngineExchange& x, error_code& ec) {
  while (x.buffer.size() > 0) {
    const HeadParse r = parse_response_head(x.bytes(), x.head, x.why);
    if (r == HeadParse::done && x.head.status >= 100 && x.head.status < 200 && x.head.status != 101) {
      x.buffer.consume(x.head.size);  // an interim response: the final one follows
      continue;
    }
    if (r == HeadParse::done) return false;
    if (r == HeadParse::bad || x.buffer.size() > kMaxHead) {
      if (r != HeadParse::bad) x.why = "response head larger than 64 KiB";
      ec = net::error::make_error_code(net::error::invalid_argument);
      return false;
    }
    return true;
  }
  return true;
}


ApiError engine_failure(const Lease& lease, const std::string& what, const error_code& ec, std::string_view why = {}) {
  bool timeout = ec == beast::error::timeout;
  std::string msg = "engine for model '" + lease.worker->model + "' " + what + ": " +
                    (timeout ? std::string("timed out") : !why.empty() ? std::string(why) : ec.message());
  return server_error(timeout ? 504 : 502, msg, timeout ? "engine_timeout" : "engine_error");
}

net::awaitable<bool> send_error(ClientSocket& client, const RelayJob& job, const ApiError& e) {
  const Reply r = error_reply(e);  // rare: Beast writes it
  ClientWriter w(client, job.deadline, job.timeouts.client_write);
  co_return co_await w.reply(job.request.version(), false, r, job.request.keep_alive(), {});
}

struct Streamed {
  bool engine_ok = true;
  bool client_ok = true;
  error_code engine_ec;
};

// The client response written by hand: its head goes out with the first piece of the body (one sendmsg for a
// whole small answer), or alone when a stream's first event may be seconds away.
struct ClientOut {
  explicit ClientOut(ClientWriter writer) : w(writer) {}
  ClientWriter w;  // the socket, the session's Deadline, the client-write timeout
  Framing framing = Framing::length;
  bool passthrough = false;  // the engine's body bytes go out as they are (both sides delimit it by length or close)
  std::string head;
  bool head_sent = false;
  Gather g;
  size_t sent = 0;
  char size_line[24]{};
};

// Starts writing the next pieces of the body (and the head, if it has not gone out): true when it all went out at
// once or failed (`ec`); false when send_rest() must write the rest. A chunked client body gets the pieces as one
// chunk, so that the client's decoder is always at a chunk boundary between writes (an error event can follow
// whatever the engine did). `last` ends a chunked body.
template <class Pieces>
bool send_pieces_now(ClientOut& o, const Pieces& pieces, bool last, error_code& ec) {
  o.g.clear();
  if (!o.head_sent) o.g.push_back(net::buffer(o.head));
  o.head_sent = true;
  size_t n = 0;
  for (std::string_view p : pieces) n += p.size();
  const bool chunked = o.framing == Framing::chunked;
  if (chunked && n > 0) {
    int k = std::snprintf(o.size_line, sizeof o.size_line, "%zx\r\n", n);
    o.g.push_back(net::buffer(o.size_line, static_cast<size_t>(k)));
  }
  if (o.framing != Framing::none)
    for (std::string_view p : pieces)
      if (!p.empty()) o.g.push_back(net::buffer(p.data(), p.size()));
  if (chunked && n > 0) o.g.push_back(net::buffer("\r\n", 2));
  if (chunked && last) o.g.push_back(net::buffer("0\r\n\r\n", 5));
  const size_t total = net::buffer_size(o.g);
  o.sent = total == 0 ? 0 : send_now(o.w.socket(), o.g, ec);
  return ec || o.sent == total;
}

net::awaitable<bool> write_piece(ClientOut& o, std::string_view data, bool last) {
  error_code ec;
  std::array<std::string_view, 1> pieces{data};
  if (!send_pieces_now(o, pieces, last, ec)) ec = co_await send_rest(o.w.socket(), o.g, o.sent, o.w.deadline(), o.w.timeout());
  co_return !ec;
}

// Where the pump puts the engine's body: the hand-written client response, an event stream already committed to
// the client, or (bounded) a string.
struct PumpTarget {
  ClientOut* out = nullptr;
  SseWriter* sse = nullptr;
  std::string* collect = nullptr;
};

struct BodyStats {
  UsageScanner scan;
  std::optional<std::chrono::steady_clock::time_point> first_byte;
  bool done_written = false;  // the end marker [DONE] was in what the client was sent
  void note(const char* data, size_t n) {
    if (n == 0) return;
    if (!first_byte) first_byte = std::chrono::steady_clock::now();
    scan.feed(std::string_view(data, n));
  }
  void written() { done_written = done_written || scan.done(); }  // everything noted so far went out
};

// Engine → client body pump: each piece is written as soon as it is read, straight from the read buffer when the
// client gets the engine's own framing (no copy); otherwise decoded and framed anew. The common path (feed what
// was read, write it) is inline: a nested coroutine per step costs a frame allocation each.
net::awaitable<Streamed> pump_body(EngineExchange& x, PumpTarget to, const Timeouts& t, Deadline& d, BodyStats& stats) {
  Streamed out;
  error_code ec;
  const bool pass = to.out && to.out->passthrough;
  boost::container::small_vector<std::string_view, 8> pieces;  // decoded body data, views into x.buffer
  std::string joined;
  for (;;) {
    if (x.buffer.size() == 0 && !x.body.done()) {
      d.arm(*x.socket, t.engine_idle);
      const size_t n = co_await x.socket->async_read_some(x.buffer.prepare(kChunk),
                                                          net::redirect_error(net::use_awaitable, ec));
      d.done(ec);
      x.buffer.commit(n);
      if (ec == net::error::eof) {  // ends a body delimited by the connection's close, cuts any other
        x.body.end_of_input();
        if (x.body.done()) ec = {};
      }
      if (ec) {
        out.engine_ok = false;
        out.engine_ec = ec;
        co_return out;
      }
    }
    const std::string_view in = x.bytes();
    pieces.clear();
    const size_t used = x.body.feed(in, [&](std::string_view piece) {
      stats.note(piece.data(), piece.size());
      if (!pass) pieces.push_back(piece);
    });
    if (pass && used > 0) pieces.push_back(in.substr(0, used));
    if (x.body.bad()) {
      out.engine_ok = false;
      out.engine_ec = net::error::make_error_code(net::error::invalid_argument);
      x.why = "malformed chunked body";
      co_return out;
    }
    const bool last = x.body.done();
    bool ok = true;
    if (to.collect) {
      for (std::string_view p : pieces)
        if (to.collect->size() < 64 * 1024) to.collect->append(p.substr(0, 64 * 1024 - to.collect->size()));
    } else if (to.sse) {
      joined.clear();
      for (std::string_view p : pieces) joined.append(p);
      if (!joined.empty()) ok = co_await to.sse->send(joined);
    } else {
      if (!send_pieces_now(*to.out, pieces, last, ec))
        ec = co_await send_rest(to.out->w.socket(), to.out->g, to.out->sent, d, to.out->w.timeout());
      ok = !ec;
    }
    x.buffer.consume(used);
    if (!ok) {
      out.client_ok = false;
      co_return out;
    }
    if (!to.collect) stats.written();
    if (last) co_return out;
  }
}

// The client response's head and the engine body's framing. Call before the engine's head is consumed (views
// into its buffer).
void client_head(ClientOut& o, EngineExchange& x, const RelayJob& job, bool& keep) {
  ClientHead h = client_response_head(x.head, job.request.version(), job.request.keep_alive(), job.clamp_note,
                                      job.extra_fields);
  o.head = std::move(h.text);
  o.framing = h.framing;
  o.passthrough = h.passthrough;
  keep = h.keep_alive;
  x.body.start(h.engine_body, x.head.content_length.value_or(0));
}

// The engine body's framing, without a client head (the committed event stream path).
void start_body(EngineExchange& x) {
  const ResponseHead& e = x.head;
  if (e.bodiless()) x.body.start(BodyFraming::Kind::none);
  else if (e.content_length) x.body.start(BodyFraming::Kind::length, *e.content_length);
  else x.body.start(e.chunked ? BodyFraming::Kind::chunked : BodyFraming::Kind::close);
}

RelayResult finish(int status, bool keep, const BodyStats& stats) {
  RelayResult r{status, keep};
  r.first_byte = stats.first_byte;
  r.usage = stats.scan.result();
  r.streamed = stats.scan.sse();
  r.done = stats.done_written;
  return r;
}

void recycle(EngineExchange& x, const RelayJob& job, EnginePool& pool) {
  if (x.head.keep_alive && x.body.done() && x.buffer.size() == 0 && x.socket->is_open())
    pool.give(job.lease.worker->generation, std::move(*x.socket), std::move(x.buffer));
}

// Streams the engine's response to the client. On an engine failure after the header went out, an SSE stream is
// ended with an `event: error` and the connection is closed; other bodies are cut (the client sees a short body).
net::awaitable<RelayResult> stream_response(ClientSocket& client, const RelayJob& job, EngineExchange& x,
                                            EnginePool& pool, ClientWatch& watch) {
  bool keep = false;
  const bool sse = x.head.event_stream;
  const int status = x.head.status;
  ClientOut out(ClientWriter(client, job.deadline, job.timeouts.client_write));
  client_head(out, x, job, keep);
  x.buffer.consume(x.head.size);  // x.head's views end here
  BodyStats stats{UsageScanner(sse), std::nullopt};
  if ((out.framing == Framing::chunked || out.framing == Framing::close) && x.buffer.size() == 0) {
    // The first event may be seconds away: the head goes now.
    if (!co_await write_piece(out, {}, false)) co_return finish(status, false, stats);
  }
  Streamed st;
  const bool whole = x.body.kind() == BodyFraming::Kind::none ||
                     (out.passthrough && x.body.kind() == BodyFraming::Kind::length && x.head.content_length &&
                      x.buffer.size() >= *x.head.content_length);
  if (whole) {  // a small answer, already read whole: written here (the pump's one step, without its frame)
    const std::string_view in = x.bytes();
    const size_t used = x.body.feed(in, [&](std::string_view piece) { stats.note(piece.data(), piece.size()); });
    const std::array<std::string_view, 1> pieces{in.substr(0, used)};
    error_code wec;
    if (!send_pieces_now(out, pieces, true, wec))
      wec = co_await send_rest(out.w.socket(), out.g, out.sent, job.deadline, out.w.timeout());
    x.buffer.consume(used);
    st.client_ok = !wec;
    if (st.client_ok) stats.written();
  } else {
    st = co_await pump_body(x, PumpTarget{&out}, job.timeouts, job.deadline, stats);
  }
  if (watch.gone() || !st.client_ok) co_return finish(status, false, stats);
  if (st.engine_ok) {
    recycle(x, job, pool);
    co_return finish(status, keep, stats);
  }
  auto e = engine_failure(job.lease, "failed mid-response", st.engine_ec, x.why);
  spdlog::warn("{}", e.message);
  if (!out.head_sent) {
    co_await send_error(client, job, e);
    co_return finish(e.status, false, stats);
  }
  if (sse && out.framing == Framing::chunked) {
    std::string event = sse_error_event(e);
    co_await write_piece(out, event, true);
  }
  co_return finish(status, false, stats);
}

// The engine's answer when loading feedback already committed the client to a 200 event stream: an SSE answer
// continues it; anything else (an error, a JSON body) becomes one event, and the stream is ended.
net::awaitable<RelayResult> continue_committed(const RelayJob& job, EngineExchange& x, EnginePool& pool,
                                               ClientWatch& watch) {
  SseWriter& w = *job.committed;
  const int status = x.head.status;
  const bool sse = status == 200 && x.head.event_stream;
  start_body(x);
  x.buffer.consume(x.head.size);
  BodyStats stats{UsageScanner(true), std::nullopt};
  std::string collected;
  PumpTarget to;
  if (sse) to.sse = &w;
  else to.collect = &collected;
  Streamed st = co_await pump_body(x, to, job.timeouts, job.deadline, stats);
  if (watch.gone() || !st.client_ok) co_return finish(status, false, stats);
  std::string tail;
  if (!st.engine_ok) {
    tail = sse_error_event(engine_failure(job.lease, "failed mid-response", st.engine_ec, x.why));
  } else if (!sse) {
    tail = committed_sse_tail(status, collected, x.body.done());
  }
  if (st.engine_ok) recycle(x, job, pool);
  bool ok = true;
  if (!tail.empty()) ok = co_await w.send(tail);
  if (ok) ok = co_await w.end();
  co_return finish(status, ok && st.engine_ok, stats);
}

// The engine could not be reached or sent no usable response head: an error to the client (or the end of a
// committed event stream).
net::awaitable<RelayResult> exchange_failed(ClientStream& client, const RelayJob& job, const EngineExchange& x,
                                            const error_code& ec) {
  auto e = engine_failure(job.lease, ec == beast::error::timeout ? "sent no response" : "failed", ec, x.why);
  spdlog::warn("{}", e.message);
  if (job.committed) {
    std::string event = sse_error_event(e);
    bool ok = co_await job.committed->send(event);
    if (ok) ok = co_await job.committed->end();
    co_return RelayResult{e.status, ok};
  }
  bool keep = co_await send_error(client.socket(), job, e);
  co_return RelayResult{e.status, keep};
}

}  // namespace

net::awaitable<RelayResult> relay(ClientStream& client, RelayJob job, EnginePool& pool, ClientWatch& watch) {
  const std::string head = job.rest ? streamed_request_head(job)
                                    : engine_request_head(job.request, job.lease.worker->endpoint, job.body.size(),
                                                          job.engine_target);
  EngineExchange x;
  struct Forget {
    Deadline& d;
    ~Forget() { d.forget(); }  // the engine socket it may bound dies with `x`
  } forget{job.deadline};
  // Client gone → close the engine connection at once so the engine stops generating.
  const ClientWatch::OnGone on_gone(watch, [&x] {
    spdlog::debug("client disconnected; closing engine connection");
    error_code ignored;
    if (x.socket) x.socket->close(ignored);
  });
  // Connect (or reuse a pooled connection), send the request, read the response head; a pooled connection that
  // turns out stale is retried once on a fresh one. Inline: a nested coroutine costs a frame per request.
  if (!job.rest) x.socket = pool.take(job.lease.worker->generation, x.buffer);  // a streamed body cannot be resent
  x.reused = x.socket.has_value();
  Deadline& d = job.deadline;
  const std::array<net::const_buffer, 2> request{net::buffer(head), net::buffer(job.body)};
  error_code ec;
  ClientBody::Status rest = ClientBody::Status::done;
  bool answered = false;  // some response byte came (even an interim response): a retry could repeat the request
  for (;;) {
    if (!x.socket) ec = co_await connect_engine(x, job.lease, job.timeouts, d, pool.executor());
    if (ec) break;
    const size_t sent = send_now(*x.socket, request, ec);
    if (!ec && sent < head.size() + job.body.size())
      ec = co_await send_rest(*x.socket, request, sent, d, job.timeouts.client_write);
    if (!ec && job.rest) {
      rest = co_await job.rest->pump(*x.socket, job.timeouts.client_write, watch, ec);
      if (rest != ClientBody::Status::done && !ec) break;  // the client's body failed: no answer to wait for
    }
    while (!ec && head_needs_more(x, ec)) {
      d.arm(*x.socket, job.timeouts.engine_first_byte);
      const size_t n = co_await x.socket->async_read_some(x.buffer.prepare(kChunk),
                                                          net::redirect_error(net::use_awaitable, ec));
      d.done(ec);
      x.buffer.commit(n);
      answered = answered || n > 0;
    }
    // Closed by the client watch (the client left) or the deadline: no retry, which would start the generation
    // again. A malformed head is not retried either.
    if (!ec || !x.reused || answered || !x.socket->is_open() || ec == net::error::invalid_argument) break;
    spdlog::debug("pooled engine connection was stale ({}); retrying on a fresh one", ec.message());
    x.reused = false;
    x.socket.reset();
    x.buffer.clear();
    ec = {};
  }
  if (watch.gone()) co_return RelayResult{0, false};
  if (rest != ClientBody::Status::done && !ec) co_return co_await rest_failed(client.socket(), job, rest);
  if (ec) co_return co_await exchange_failed(client, job, x, ec);
  if (job.committed) co_return co_await continue_committed(job, x, pool, watch);
  co_return co_await stream_response(client.socket(), job, x, pool, watch);
}

}  // namespace llmux

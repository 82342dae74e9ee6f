#include "proxy/session/server.hpp"

#include <spdlog/spdlog.h>

#include <variant>

#include "common/errors.hpp"
#include "common/seconds.hpp"
#include "proxy/http/sse_events.hpp"
#include "proxy/policy/routed.hpp"
#include "proxy/session/admission.hpp"
#include "proxy/session/session.hpp"
#include "proxy/session/streams.hpp"

namespace llmux {

static_assert(std::is_same_v<Listener::Socket, ClientSocket>);

namespace {

// Routes whose request goes to a model's engine without being JSON inference (proxy/policy/routed.hpp).
bool is_model_route(Route r) { return r == Route::form || r == Route::model_query || r == Route::upstream; }

}  // namespace

net::awaitable<void> Session::run() {
  for (;;) {
    // Idle phase between requests: wait (bounded) for the first byte of the next request. Inline: a coroutine
    // call per request costs a frame and two resumptions.
    take_watch_bytes();  // bytes of this request that the last request's disconnect watch read (pipelining)
    if (buf_.size() == 0) {
      const auto& t = srv_.coordinator.config()->timeouts;
      error_code ec;
      if (first_) deadline_.arm(stream_.socket(), t.header_read);
      else deadline_.arm_idle(stream_.socket(), t.keep_alive);
      srv_.listener->idle(slot_);  // at the connection cap, it may be closed to make room: the read then ends
      const size_t n = co_await stream_.socket().async_read_some(buf_.prepare(4096),
                                                                 net::redirect_error(net::use_awaitable, ec));
      srv_.listener->busy(slot_);
      deadline_.done(ec);
      buf_.commit(n);
      if (ec || n == 0) break;
    }
    first_ = false;
    extra_fields_.clear();  // CORS fields are the guard's answer for one request (errors before it get none)
    // The usual request (an inference request read whole) goes straight to inference(), without serve_one()'s
    // coroutine frame (a few hundred instructions a request: callgrind).
    const bool taken = take_whole_request(req_);
    bool keep = false;
    if (taken && match_route(req_.method_string(), req_.target()).route == Route::inference &&
        admit(Route::inference)) {
      keep = co_await inference(req_);
    } else {
      keep = co_await serve_one(taken);
    }
    if (!keep) break;
  }
  if (watch_) watch_->disarm();
  error_code ec;
  stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  stream_.close();
}

// Bytes of the next request that the disconnect watch read go in front of the parser's buffer.
void Session::take_watch_bytes() {
  if (!watch_) return;
  std::string extra = watch_->take_extra();
  if (extra.empty()) return;
  auto dst = buf_.prepare(extra.size());
  net::buffer_copy(dst, net::buffer(extra));
  buf_.commit(extra.size());
}

ClientWatch& Session::watch() {
  if (!watch_) watch_ = std::make_shared<ClientWatch>(stream_.socket());  // one per connection, reused
  return *watch_;
}

// One request; `taken`: take_whole_request() already read it.
net::awaitable<bool> Session::serve_one(bool taken) {
  Request& req = req_;  // reused: its head buffer keeps its capacity from one request to the next
  pending_body_.reset();
  if (!taken) {
    const bool ok = co_await read_request(req);
    if (!ok) co_return false;
  }
  RouteMatch m = match_route(req.method_string(), req.target());
  if (!admit(m.route)) {
    const bool keep = co_await refuse_access();
    co_return keep && !pending_body_;  // an unread body is not the next request
  }
  if (pending_body_) co_return co_await form_inference(req);
  if (m.route == Route::inference || is_model_route(m.route)) co_return co_await inference(req, m.route);
  if (m.route == Route::unload) {
    co_await srv_.coordinator.unload();
    Reply ok(http::status::ok, "OK", "text/plain");
    co_return co_await write_reply(req, ok, req.keep_alive());
  }
  if (m.route == Route::model_load || m.route == Route::model_unload) {
    if (const ModelConfig* mc = wants_load_stream(m.route, req))
      co_return co_await serve_load_progress(writer(), req, srv_.coordinator, *mc, extra_fields_);
    Reply r = co_await model_admin(m.route, req.body());
    co_return co_await write_reply(req, r, req.keep_alive());
  }
  if (m.route == Route::logs_stream) co_return co_await log_stream(req);
  Reply r;
  if (m.route == Route::method_not_allowed) {
    r = error_reply(ApiError{405, "invalid_request_error", "method_not_allowed",
                             "method " + std::string(req.method_string()) + " is not allowed on " +
                                 std::string(normalize_path(req.target())) + "; allowed: " + std::string(m.allow)});
    r.allow = m.allow;
  } else {
    r = admin(m.route, req.target());
  }
  co_return co_await write_reply(req, r, req.keep_alive());
}

net::awaitable<bool> Session::write_reply(const Request& req, const Reply& r, bool keep_alive) {
  co_return co_await writer().reply(req.version(), req.method_string() == "HEAD", r, keep_alive, extra_fields_);
}

net::awaitable<bool> Session::write_error(unsigned version, bool keep_alive, const ApiError& e) {
  const Reply r = error_reply(e);
  co_return co_await writer().reply(version, false, r, keep_alive, extra_fields_);
}

namespace {

std::string count_text(const std::optional<int64_t>& v, bool approximate) {
  if (!v) return "-";
  return (approximate ? "~" : "") + std::to_string(*v);
}

}  // namespace

// One PERF line per request, and the request's metrics.
void Session::record(const std::string& model, int status, std::chrono::steady_clock::time_point started,
                     const Admission* adm, const RelayResult* r) const {
  const double total = seconds_since(started);
  std::optional<double> ttft;
  if (r && r->first_byte) ttft = seconds_between(started, *r->first_byte);
  TokenUsage u = r ? r->usage : TokenUsage{};
  srv_.coordinator.metrics().request(model, status, total, ttft, &u);
  const PrefixDiff& p = prefix_.diff;
  if (prefix_.diagnosed) srv_.coordinator.metrics().prefix(model, p.chain_break, p.reused_bytes, p.prompt_bytes);
  const double queue = adm ? seconds(adm->queue_wait) : 0;
  const double load = adm ? seconds(adm->load_wait) : 0;
  auto tps = generation_rate(u.completion, ttft, total, r && r->streamed, queue + load);
  srv_.coordinator.metrics().activity().request({Activity::Clock::now(), model, status, total, ttft, u.completion, tps});
  if (!srv_.coordinator.config()->log_requests || !spdlog::should_log(spdlog::level::info)) return;
  std::string rate = tps ? fmt::format("{:.1f}", *tps) : std::string("-");
  spdlog::info("[{}] PERF status={} queue={:.3f}s load={:.3f}s ttft={} total={:.3f}s prompt={} cached={} "
               "completion={} tok/s={}{}",
               model, status, queue, load, ttft ? fmt::format("{:.3f}s", *ttft) : std::string("-"), total,
               count_text(u.prompt, false), count_text(u.cached, false), count_text(u.completion, u.approximate), rate,
               prefix_perf_fields(prefix_));
  if (p.chain_break) spdlog::info("[{}] PREFIX {}", model, prefix_break_text(prefix_));
}

// An inference request, or another request routed to a model's engine (a form, llama.cpp's routes, /upstream:
// proxy/policy/routed): parsed and rewritten (proxy/policy/rewrite), admitted (admission.hpp), relayed, recorded.
net::awaitable<bool> Session::inference(Request& req, Route route) {
  const auto started = std::chrono::steady_clock::now();
  prefix_ = {};
  auto cfg = srv_.coordinator.config();  // this request's config snapshot
  std::string engine_target;             // /upstream: the engine's own path
  auto parsed = route == Route::inference
                    ? parse_inference(req.body(), *cfg)
                    : parse_routed(route, req.target(), req.field("content-type"), req.body(), *cfg, engine_target);
  if (auto* e = std::get_if<ApiError>(&parsed)) co_return co_await refuse_inference(req, *e, nullptr, started);
  auto& ir = std::get<InferenceRequest>(parsed);
  if (auto e = route == Route::inference ? apply_model_rules(ir, req.body(), req.target()) : std::nullopt)
    co_return co_await refuse_inference(req, *e, ir.model, started);
  prefix_ = srv_.info.prefix->observe(ir.model->id, req, req.body(), ir.scan);  // hashes only (docs/agents.md)
  std::string body = forward_body(ir, std::move(req.body()));
  req.body().clear();
  req.body().shrink_to_fit();

  ClientWatch& watch = this->watch();
  SseWriter early(writer());  // used only when a streaming request waits for a load
  early.set_extra_fields(extra_fields_);
  RequestAdmission door(srv_.coordinator, watch, ir, req, early);
  Admission adm;
  if (!door.now(adm)) {
    if (auto refused = srv_.coordinator.over_concurrency_limit(*ir.model)) adm.error = std::move(*refused);
    else adm = co_await door.wait();  // (llama-swap's concurrencyLimit answers 429 at once, without a queue)
  }
  if (!adm.lease) co_return co_await not_admitted(req, ir, adm, door.watching(), early, started);
  struct Release {
    Coordinator& c;
    Lease lease;
    ~Release() { c.release(lease); }
  } release{srv_.coordinator, std::move(*adm.lease)};
  RelayJob job{req, std::move(body), release.lease, cfg->timeouts, ir.clamp_note,  // named: g++ 12 double-destroys
               early.started() ? &early : nullptr, deadline_, extra_fields_,      // a braced temporary
               engine_target};
  RelayResult r = co_await relay(stream_, std::move(job), srv_.pool, watch);  // temporaries in co_await
  watch.disarm();
  bool keep = r.keep_alive && !watch.gone();
  if (watch.pending()) co_await watch.stop();  // (kept pending as the keep-alive wait, it cost more CPU: measured)
  record(ir.model->id, watch.gone() && !r.done ? 499 : r.status, started, &adm, &r);  // [DONE] read: completed
  co_return keep;  // bytes of a pipelined next request that the watch read: run() takes them
}

// A request refused before admission (bad body, unknown model, a model rule); `model` is null when none resolved.
net::awaitable<bool> Session::refuse_inference(const Request& req, const ApiError& error, const ModelConfig* model,
                                               std::chrono::steady_clock::time_point started) {
  ApiError e = error;
  if (model == nullptr) {
    if (e.code == "model_not_found" && !srv_.info.config.error.empty())  // maybe added by the refused edit
      e.message += "; the last edit of " + srv_.info.config.path + " was refused, so models it adds are not "
                   "served yet: " + srv_.info.config.error;
    srv_.coordinator.metrics().request("", e.status, seconds_since(started), std::nullopt);
  } else {
    record(model->id, e.status, started, nullptr, nullptr);
  }
  const Reply r = error_reply(e);
  co_return co_await write_reply(req, r, req.keep_alive());
}

// Denied, timed out or abandoned: an error reply, or the end of an event stream that loading feedback began.
net::awaitable<bool> Session::not_admitted(const Request& req, const InferenceRequest& ir, Admission& adm,
                                           bool watching, SseWriter& early,
                                           std::chrono::steady_clock::time_point started) {
  if (watching) co_await watch_->stop();
  record(ir.model->id, adm.abandoned ? 499 : adm.error.status, started, &adm, nullptr);
  if (adm.abandoned || watch_->gone()) co_return false;
  if (early.started()) {
    std::string event = sse_error_event(adm.error);
    bool ok = co_await early.send(event);
    if (ok) ok = co_await early.end();
    co_return ok;
  }
  const Reply r = error_reply(adm.error);
  co_return co_await write_reply(req, r, req.keep_alive());
}

net::awaitable<void> Server::Impl::session(ClientSocket socket, Listener::Slot slot) {
  auto self = shared_from_this();
  Session s(*this, std::move(socket), slot);
  listener->bind(slot, &s.stream().socket());
  struct Unlist {
    Listener& l;
    Listener::Slot slot;
    ~Unlist() { l.ended(slot); }
  } unlist{*listener, slot};
  co_await s.run();
}

Server::Server(net::io_context& io, Coordinator& coordinator, DaemonInfo& info)
    : impl_(std::make_shared<Impl>(io, coordinator, info)) {
  auto max = [&coordinator] { return static_cast<size_t>(coordinator.config()->max_connections); };
  auto start = [&io, w = std::weak_ptr<Impl>(impl_)](ClientSocket socket, Listener::Slot slot) {
    auto impl = w.lock();
    if (!impl) return;
    net::co_spawn(io, impl->session(std::move(socket), slot), [](std::exception_ptr e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        spdlog::error("session ended by exception: {}", ex.what());
      }
    });
  };
  impl_->listener = std::make_shared<Listener>(io, std::move(max), std::move(start));
}

Server::~Server() = default;

tcp::endpoint Server::listen(const std::string& host, uint16_t port) {
  const tcp::endpoint ep = impl_->listener->listen(host, port);
  impl_->listen_facts = ListenFacts{ep.port(), ep.address().is_loopback()};
  return ep;
}

void Server::stop_accepting() { impl_->listener->stop(); }

void Server::close_sessions() { impl_->listener->close_all(); }

size_t Server::sessions() const { return impl_->listener->sessions(); }

}  // namespace llmux

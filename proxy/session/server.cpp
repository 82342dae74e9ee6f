#include "proxy/session/server.hpp"

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>
#include <variant>

#include "common/errors.hpp"
#include "common/http.hpp"
#include "proxy/policy/access.hpp"
#include "proxy/http/framing.hpp"
#include "proxy/session/listener.hpp"
#include "proxy/session/relay.hpp"
#include "proxy/policy/rewrite.hpp"
#include "proxy/http/routes.hpp"
#include "proxy/session/streams.hpp"
#include "proxy/session/ui_assets.hpp"

namespace llmux {

namespace {

constexpr size_t kHeaderLimit = 64 * 1024;

struct Reply {
  Reply(http::status s = http::status::ok, std::string b = {}, std::string ct = "application/json")
      : status(s), body(std::move(b)), content_type(std::move(ct)) {}
  http::status status;
  std::string body;
  std::string content_type;
  std::string allow;
  std::string retry_after;
  bool challenge = false;  // 401: WWW-Authenticate
};

Reply json_reply(std::string body) { return Reply{http::status::ok, std::move(body)}; }

Reply error_reply(const ApiError& e) {
  Reply r{static_cast<http::status>(e.status), error_body(e)};
  if (e.retry_after > 0) r.retry_after = std::to_string(e.retry_after);
  r.challenge = e.status == 401;
  return r;
}

RouteClass route_class(Route r) {
  switch (r) {
    case Route::health: return RouteClass::open;
    case Route::ui: return RouteClass::page;
    case Route::inference:
    case Route::models:
    case Route::not_found:
    case Route::method_not_allowed: return RouteClass::user;
    default: return RouteClass::admin;
  }
}

// A count in a query (`limit`, `tail`): digits only, at most `max`. nullopt when absent; `bad` when malformed.
std::optional<size_t> query_count(std::string_view target, std::string_view name, size_t max, bool& bad) {
  const std::string v = query_param(target, name);
  if (v.empty()) return std::nullopt;
  size_t n = 0;
  for (char c : v) {
    if (c < '0' || c > '9' || n > max) {
      bad = true;
      return std::nullopt;
    }
    n = n * 10 + static_cast<size_t>(c - '0');
  }
  if (n > max) bad = true;
  return n;
}

ApiError request_too_large(uint64_t limit) {
  return server_error(413, "request body exceeds maxRequestBody (" + std::to_string(limit) + " bytes)",
                      "request_too_large");
}

}  // namespace

static_assert(std::is_same_v<Listener::Socket, ClientSocket>);

struct Server::Impl : std::enable_shared_from_this<Server::Impl> {
  Impl(net::io_context& io, Coordinator& c, DaemonInfo& d) : io(io), coordinator(c), info(d), pool(io) {}

  net::io_context& io;
  Coordinator& coordinator;
  DaemonInfo& info;
  EnginePool pool;
  std::shared_ptr<Listener> listener;  // accepts, and keeps the open connections under the cap
  ListenFacts listen_facts;            // for the access guard

  net::awaitable<void> session(ClientSocket socket, Listener::Slot slot);
};

namespace {

class Session {
 public:
  Session(Server::Impl& srv, ClientSocket socket, Listener::Slot slot)
      : srv_(srv), stream_(std::move(socket)), deadline_(stream_.get_executor()), slot_(slot) {}
  net::awaitable<void> run();
  ClientStream& stream() { return stream_; }

 private:
  void take_watch_bytes();
  net::awaitable<bool> serve_one(bool taken);
  bool admit(Route route);
  net::awaitable<bool> refuse_access();
  bool take_whole_request(Request& req);
  net::awaitable<bool> read_request(Request& req);
  net::awaitable<bool> write_reply(const Request& req, const Reply& r, bool keep_alive);
  net::awaitable<bool> write_response(unsigned version, bool head, const Reply& r, bool keep_alive);
  net::awaitable<bool> write_error(unsigned version, bool keep_alive, const ApiError& e);
  net::awaitable<bool> inference(Request& req);
  net::awaitable<Admission> wait_for_worker(const InferenceRequest& ir, const Request& req, SseWriter& early,
                                            bool& watching);
  Reply admin(Route route, std::string_view target);
  const ModelConfig* wants_load_stream(Route route, const Request& req) const;
  net::awaitable<bool> log_stream(const Request& req);
  void record(const std::string& model, int status, std::chrono::steady_clock::time_point started,
              const Admission* adm, const RelayResult* r) const;
  net::awaitable<Reply> model_admin(Route route, const std::string& body);

  Server::Impl& srv_;
  ClientStream stream_;
  beast::flat_buffer buf_;
  Deadline deadline_;  // bounds every read and write of the session's hot path
  std::shared_ptr<ClientWatch> watch_;  // shared: its pending read's handler keeps it alive
  Request req_;  // the request being served
  AccessVerdict verdict_;     // the access guard's, for req_
  std::string extra_fields_;  // CORS header lines for req_'s responses (an allowed cross-origin page), or ""
  bool first_ = true;
  Listener::Slot slot_;  // this connection in the listener's table (idle between requests: closed first at the cap)
  PrefixReport prefix_;  // req_'s prefix diagnosis (PERF line, metrics)
};

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

std::string_view bytes_of(const beast::flat_buffer& b) {
  return {static_cast<const char*>(b.data().data()), b.size()};
}

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

// Reads the request (head, then body) with llmux's own parser (http_framing): the head's fields stay one block of
// text that the relay copies to the engine as it is, with no per-field allocation. Answers malformed requests
// itself (false: the connection ends).
net::awaitable<bool> Session::read_request(Request& req) {
  const auto config = srv_.coordinator.config();  // held: a reload while this request is read must not free it
  const Config& cfg = *config;
  RequestHead head;
  std::string_view why;
  error_code ec;
  const auto head_due = Deadline::now() + cfg.timeouts.header_read;  // the whole head, not each read (slowloris)
  for (;;) {  // the head: usually whole in buf_ already
    const HeadParse r = parse_request_head(bytes_of(buf_), head, why);
    if (r == HeadParse::done && head.size <= kHeaderLimit) break;
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
  req.adopt(bytes_of(buf_), head);
  buf_.consume(head.size);
  const uint64_t length = head.content_length.value_or(0);
  if (length > cfg.max_request_body) {
    co_await write_error(head.version, false, request_too_large(cfg.max_request_body));
    co_return false;
  }
  if (head.expect_continue && head.version >= 11 && (head.chunked || buf_.size() < length)) {
    static const std::string cont = "HTTP/1.1 100 Continue\r\n\r\n";
    deadline_.arm(stream_.socket(), cfg.timeouts.client_write);
    co_await net::async_write(stream_.socket(), net::buffer(cont), net::redirect_error(net::use_awaitable, ec));
    deadline_.done(ec);
    if (ec) co_return false;
  }
  std::string& body = req.body();
  const auto body_due = Deadline::now() + cfg.timeouts.body_read;  // the whole body
  if (!head.chunked) {  // Content-Length (or no body): the rest is read straight into the body
    size_t have = std::min<size_t>(buf_.size(), static_cast<size_t>(length));
    body.resize(have);
    net::buffer_copy(net::buffer(body.data(), have), buf_.data());
    buf_.consume(have);
    while (have < length) {  // grown as bytes arrive: a stalled client claiming 32 MiB does not get 32 MiB
      const size_t want = std::min<size_t>(static_cast<size_t>(length) - have, std::max<size_t>(64 * 1024, have));
      body.resize(have + want);
      deadline_.arm_at(stream_.socket(), body_due);
      const size_t n = co_await stream_.socket().async_read_some(net::buffer(body.data() + have, want),
                                                                 net::redirect_error(net::use_awaitable, ec));
      deadline_.done(ec);
      have += n;
      body.resize(have);
      if (ec) co_return false;
    }
    co_return true;
  }
  BodyFraming framing;  // chunked: decoded into the body, bounded by maxRequestBody
  framing.start(BodyFraming::Kind::chunked);
  for (;;) {
    const size_t used = framing.feed(bytes_of(buf_), [&](std::string_view piece) { body.append(piece); });
    buf_.consume(used);
    if (framing.bad()) {
      co_await write_error(head.version, false, bad_request("malformed chunked request body"));
      co_return false;
    }
    if (body.size() > cfg.max_request_body) {
      co_await write_error(head.version, false, request_too_large(cfg.max_request_body));
      co_return false;
    }
    if (framing.done()) co_return true;
    deadline_.arm_at(stream_.socket(), body_due);
    const size_t n = co_await stream_.socket().async_read_some(buf_.prepare(16 * 1024),
                                                               net::redirect_error(net::use_awaitable, ec));
    deadline_.done(ec);
    buf_.commit(n);
    if (ec) co_return false;
  }
}

// One request; `taken`: take_whole_request() already read it.
net::awaitable<bool> Session::serve_one(bool taken) {
  Request& req = req_;  // reused: its head buffer keeps its capacity from one request to the next
  if (!taken) {
    const bool ok = co_await read_request(req);
    if (!ok) co_return false;
  }
  RouteMatch m = match_route(req.method_string(), req.target());
  if (!admit(m.route)) co_return co_await refuse_access();
  if (m.route == Route::inference) co_return co_await inference(req);
  if (m.route == Route::unload) {
    co_await srv_.coordinator.unload();
    Reply ok(http::status::ok, "OK", "text/plain");
    co_return co_await write_reply(req, ok, req.keep_alive());
  }
  if (m.route == Route::model_load || m.route == Route::model_unload) {
    if (const ModelConfig* mc = wants_load_stream(m.route, req)) co_return co_await serve_load_progress(stream_, req, srv_.coordinator, *mc, extra_fields_);
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

// The access guard (proxy/access.hpp) for req_, routed to `route`: true when it may go on. A CORS preflight is
// judged for the route it announces. Sets the CORS fields of req_'s responses; takes llmux's own keys off the
// request so that engines never see them.
bool Session::admit(Route route) {
  const Request& req = req_;
  std::string_view preflight;
  if (req.method_string() == "OPTIONS" && req.head().has_origin) {
    preflight = req.field("access-control-request-method");
    if (!preflight.empty()) route = match_route(preflight, req.target()).route;
  }
  const auto& cfg = *srv_.coordinator.config();
  verdict_ = check_access(cfg.access, srv_.listen_facts, req.head(), route_class(route), preflight);
  extra_fields_.clear();
  if (!verdict_.allow_origin.empty()) {
    extra_fields_ = verdict_.status == 204
                        ? cors_preflight_fields(verdict_.allow_origin, req.field("access-control-request-headers"),
                                                iequal(req.field("access-control-request-private-network"), "true"))
                        : cors_response_fields(verdict_.allow_origin);
  }
  if (verdict_.allowed() && (!cfg.access.api_keys.empty() || !cfg.access.admin_keys.empty())) req_.drop_credentials();
  return verdict_.allowed();
}

// Answers a request the guard stopped: 204 for an allowed preflight, else 401/403 with an OpenAI-shaped body.
net::awaitable<bool> Session::refuse_access() {
  const Request& req = req_;
  if (verdict_.status == 204) {
    Reply r{http::status::no_content, "", ""};
    co_return co_await write_reply(req, r, req.keep_alive());
  }
  const bool key = verdict_.status == 401;
  spdlog::debug("refused {} {}: {}", req.method_string(), normalize_path(req.target()), verdict_.code);
  ApiError e{verdict_.status, key ? "authentication_error" : "permission_error", std::string(verdict_.code),
             verdict_.message};
  co_return co_await write_error(req.version(), req.keep_alive(), e);
}

// POST /models/load {"model"} and POST /models/unload {"model"?, "force"?}.
net::awaitable<Reply> Session::model_admin(Route route, const std::string& body) {
  auto& c = srv_.coordinator;
  auto j = nlohmann::json::parse(body.empty() ? "{}" : body, nullptr, false);
  if (!j.is_object()) co_return error_reply(bad_request("body must be a JSON object", "invalid_json"));
  if (j.contains("model") && !j["model"].is_string())
    co_return error_reply(bad_request("\"model\" must be a string (a model id or alias)", "invalid_type"));
  if (j.contains("force") && !j["force"].is_boolean())
    co_return error_reply(bad_request("\"force\" must be true or false", "invalid_type"));
  if (j.contains("stream") && !j["stream"].is_boolean())
    co_return error_reply(bad_request("\"stream\" must be true or false", "invalid_type"));
  std::string name = j.value("model", "");
  const ModelConfig* m = name.empty() ? nullptr : c.config()->resolve(name);
  if (!name.empty() && m == nullptr)
    co_return error_reply(unknown_model(name, *c.config()));
  if (route == Route::model_load) {
    if (m == nullptr) co_return error_reply(bad_request("body must name a \"model\" to load", "model_required"));
    auto started = std::chrono::steady_clock::now();
    auto error = co_await c.load(*m);
    if (error) co_return error_reply(*error);
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    co_return json_reply(nlohmann::json{{"model", m->id}, {"state", "ready"}, {"seconds", secs}}.dump());
  }
  std::string resident = c.supervisor().info().model;
  bool running = c.supervisor().state() != WorkerState::stopped;
  if (!running || (m != nullptr && m->id != resident))
    co_return json_reply(nlohmann::json{{"unloaded", nullptr}, {"reason", "not loaded"}}.dump());
  co_await c.unload(j.value("force", false));
  co_return json_reply(nlohmann::json{{"unloaded", resident}}.dump());
}

Reply Session::admin(Route route, std::string_view target) {
  switch (route) {
    case Route::logs: {
      bool bad = false;
      const size_t limit = query_count(target, "limit", 100000, bad).value_or(200);
      if (bad) return error_reply(bad_request("limit must be a whole number from 0 to 100000", "invalid_query"));
      LogFilter f{query_param(target, "source"), query_param(target, "model")};
      bool text = query_param(target, "format") == "text";
      return Reply{http::status::ok, logs_body(srv_.info.logs->recent(f, limit), text),
                   text ? "text/plain; charset=utf-8" : "application/json"};
    }
    case Route::models: return json_reply(models_json(srv_.coordinator));
    case Route::activity: return json_reply(srv_.coordinator.metrics().activity().json());
    case Route::ui:
      if (const UiAsset* a = find_ui_asset(normalize_path(target))) {
        extra_fields_.append(kUiHeaderFields);
        return Reply{http::status::ok, std::string(a->body), std::string(a->content_type)};
      }
      break;
    case Route::health: return Reply{http::status::ok, "OK", "text/plain"};
    case Route::running: return json_reply(running_json(srv_.coordinator));
    case Route::status: return json_reply(status_json(srv_.coordinator, srv_.info));
    case Route::config: return json_reply(config_json(srv_.info));
    case Route::fit: {
      std::optional<ApiError> refused;
      std::string body = fit_json_body(srv_.coordinator, target, refused);
      return refused ? error_reply(*refused) : json_reply(std::move(body));
    }
    case Route::prefix: {
      bool bad = false;
      const size_t limit = query_count(target, "limit", 1000, bad).value_or(20);
      if (bad) return error_reply(bad_request("limit must be a whole number from 0 to 1000", "invalid_query"));
      return json_reply(srv_.info.prefix->json(limit));
    }
    case Route::metrics:
      return Reply{http::status::ok, metrics_text(srv_.coordinator, srv_.info), "text/plain; version=0.0.4; charset=utf-8"};
    default: break;
  }
  return error_reply(not_found("no such endpoint; inference routes are /v1/chat/completions, /v1/completions, "
                               "/v1/embeddings, /v1/responses; see also /v1/models, /status, /health",
                               "unknown_route"));
}

net::awaitable<bool> Session::write_reply(const Request& req, const Reply& r, bool keep_alive) {
  co_return co_await write_response(req.version(), req.method_string() == "HEAD", r, keep_alive);
}

net::awaitable<bool> Session::write_error(unsigned version, bool keep_alive, const ApiError& e) {
  Reply r = error_reply(e);
  co_return co_await write_response(version, false, r, keep_alive);
}

net::awaitable<bool> Session::write_response(unsigned version, bool head, const Reply& r, bool keep_alive) {
  http::response<http::string_body> res{r.status, version};
  res.set(http::field::server, "llmux");
  res.set(http::field::content_type, r.content_type);
  if (!r.allow.empty()) res.set(http::field::allow, r.allow);
  if (!r.retry_after.empty()) res.set(http::field::retry_after, r.retry_after);
  if (r.challenge) res.set(http::field::www_authenticate, "Bearer realm=\"llmux\"");
  for_each_field(extra_fields_, [&](std::string_view name, std::string_view value) { res.set(name, value); });
  res.keep_alive(keep_alive);
  if (!head) res.body() = r.body;
  res.prepare_payload();
  if (head) res.content_length(r.body.size());
  error_code ec;
  deadline_.arm(stream_.socket(), srv_.coordinator.config()->timeouts.client_write);
  co_await http::async_write(stream_.socket(), res, net::redirect_error(net::use_awaitable, ec));
  deadline_.done(ec);
  co_return !ec && keep_alive;
}

bool chat_route(std::string_view target) { return normalize_path(target).ends_with("/chat/completions"); }

double seconds_between(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

std::string count_text(const std::optional<int64_t>& v, bool approximate) {
  if (!v) return "-";
  return (approximate ? "~" : "") + std::to_string(*v);
}

// One PERF line per request, and the request's metrics.
void Session::record(const std::string& model, int status, std::chrono::steady_clock::time_point started,
                     const Admission* adm, const RelayResult* r) const {
  auto now = std::chrono::steady_clock::now();
  double total = seconds_between(started, now);
  std::optional<double> ttft;
  if (r && r->first_byte) ttft = seconds_between(started, *r->first_byte);
  TokenUsage u = r ? r->usage : TokenUsage{};
  srv_.coordinator.metrics().request(model, status, total, ttft, &u);
  const PrefixDiff& p = prefix_.diff;
  if (prefix_.diagnosed) srv_.coordinator.metrics().prefix(model, p.chain_break, p.reused_bytes, p.prompt_bytes);
  double queue = adm ? std::chrono::duration<double>(adm->queue_wait).count() : 0;
  double load = adm ? std::chrono::duration<double>(adm->load_wait).count() : 0;
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

net::awaitable<bool> Session::inference(Request& req) {
  const auto started = std::chrono::steady_clock::now();
  prefix_ = {};
  auto cfg = srv_.coordinator.config();  // this request's config snapshot
  auto parsed = parse_inference(req.body(), *cfg);
  if (auto* e = std::get_if<ApiError>(&parsed)) {
    if (e->code == "model_not_found" && !srv_.info.config.error.empty())  // maybe added by the refused edit
      e->message += "; the last edit of " + srv_.info.config.path + " was refused, so models it adds are not "
                    "served yet: " + srv_.info.config.error;
    srv_.coordinator.metrics().request("", e->status, seconds_between(started, std::chrono::steady_clock::now()),
                                       std::nullopt);
    Reply r = error_reply(*e);
    co_return co_await write_reply(req, r, req.keep_alive());
  }
  auto& ir = std::get<InferenceRequest>(parsed);
  if (auto e = apply_model_rules(ir, req.body(), req.target())) {
    record(ir.model->id, e->status, started, nullptr, nullptr);
    Reply r = error_reply(*e);
    co_return co_await write_reply(req, r, req.keep_alive());
  }
  prefix_ = srv_.info.prefix->observe(ir.model->id, req, req.body(), ir.scan);  // hashes only (docs/agents.md)
  std::string body = forward_body(ir, std::move(req.body()));
  req.body().clear();
  req.body().shrink_to_fit();

  if (!watch_) watch_ = std::make_shared<ClientWatch>(stream_.socket());  // one per connection, reused
  ClientWatch* watch = watch_.get();  // not gone (else the connection ended), not pending (stopped below)
  // The client socket is read (so that a client that leaves is noticed at once) while its request waits in the
  // queue or for a load, and during streams, where the engine may be silent for long. A non-streamed request
  // granted at once is watched only once it has run for 200 ms: for quick requests that read, its cancel and
  // their wake-ups cost about a third of the relay's CPU per request (bench/relay_bench).
  bool watching = false;
  SseWriter early(stream_, cfg->timeouts);  // used only when a streaming request waits for a load
  early.set_extra_fields(extra_fields_);
  Admission adm;
  if (auto lease = srv_.coordinator.try_grant(ir.model->id)) {  // resident, ready, room, nobody waiting
    adm.lease = std::move(lease);
    if (ir.stream) {
      watch->start();
      watching = true;
    } else {
      watch->arm_after(std::chrono::milliseconds(200));
    }
  } else {
    adm = co_await wait_for_worker(ir, req, early, watching);
  }
  if (!adm.lease) {
    if (watching) co_await watch->stop();
    record(ir.model->id, adm.abandoned ? 499 : adm.error.status, started, &adm, nullptr);
    if (adm.abandoned || watch->gone()) co_return false;
    if (early.started()) {
      std::string event = sse_error_event(adm.error);
      bool ok = co_await early.send(event);
      if (ok) ok = co_await early.end();
      co_return ok;
    }
    Reply r = error_reply(adm.error);
    co_return co_await write_reply(req, r, req.keep_alive());
  }
  struct Release {
    Coordinator& c;
    Lease lease;
    ~Release() { c.release(lease); }
  } release{srv_.coordinator, std::move(*adm.lease)};
  RelayJob job{req, std::move(body), release.lease, cfg->timeouts, ir.clamp_note,  // named: g++ 12 double-destroys
               early.started() ? &early : nullptr, deadline_, extra_fields_};                        // a braced temporary
  RelayResult r = co_await relay(stream_, std::move(job), srv_.pool, *watch);  // temporaries in co_await
  watch->disarm();
  bool keep = r.keep_alive && !watch->gone();
  if (watch->pending()) co_await watch->stop();  // (kept pending as the keep-alive wait, it cost more CPU: measured)
  record(ir.model->id, watch->gone() && !r.done ? 499 : r.status, started, &adm, &r);  // [DONE] read: completed
  co_return keep;  // bytes of a pipelined next request that the watch read: run() takes them
}

// A request that is not granted at once: a ticket in the scheduler's queue, waiting for a load, a swap or room,
// with the client watched meanwhile (a client that leaves abandons its ticket) and, for streams, load feedback.
net::awaitable<Admission> Session::wait_for_worker(const InferenceRequest& ir, const Request& req, SseWriter& early,
                                                   bool& watching) {
  ClientWatch* watch = watch_.get();
  auto ticket = srv_.coordinator.make_ticket(*ir.model);
  // A raw pointer: the ticket outlives every call (on_gone is cleared before this frame ends, even by an exception),
  // and a 16-byte capture fits std::function's small buffer (no allocation).
  watch->on_gone = [&c = srv_.coordinator, t = ticket.get()] {
    spdlog::debug("client disconnected while waiting for model {}", t->model);
    c.abandon(*t);
  };
  struct ClearOnGone {
    ClientWatch& w;
    ~ClearOnGone() { w.on_gone = nullptr; }
  } clear_on_gone{*watch};
  if (ir.stream) {
    watch->start();
    watching = true;
  }
  auto feedback = [&] {  // built only when a stream has to wait
    return LoadingFeedback{ir.model->id, ir.requested.empty() ? ir.model->id : ir.requested,
                           ir.model->send_loading_state && chat_route(req.target())};
  };
  Admission adm;
  if (ir.stream && !srv_.coordinator.ready_for(ir.model->id)) {
    LoadingFeedback fb = feedback();  // named: no temporaries in a co_await expression (g++ 12)
    adm = co_await acquire_with_feedback(srv_.coordinator, ticket, early, req, std::move(fb));
  } else if (auto decided = srv_.coordinator.begin_acquire(ticket)) {
    adm = std::move(*decided);
    if (!watching && adm.lease) watch->arm_after(std::chrono::milliseconds(200));
  } else if (ir.stream) {  // queued behind the resident model's maxConcurrency: heartbeats too
    LoadingFeedback fb = feedback();
    adm = co_await acquire_with_feedback(srv_.coordinator, ticket, early, req, std::move(fb), true);
  } else {
    if (!watching) watch->start();
    watching = true;
    adm = co_await srv_.coordinator.finish_acquire(ticket);
  }
  co_return adm;
}

const ModelConfig* Session::wants_load_stream(Route route, const Request& req) const {
  if (route != Route::model_load) return nullptr;
  auto j = nlohmann::json::parse(req.body().empty() ? "{}" : req.body(), nullptr, false);
  if (!j.is_object() || !j.contains("model") || !j["model"].is_string()) return nullptr;
  bool stream = (j.contains("stream") && j["stream"] == true) ||
                req.field("accept").find("text/event-stream") != std::string_view::npos;
  return stream ? srv_.coordinator.config()->resolve(j["model"].get<std::string>()) : nullptr;
}

net::awaitable<bool> Session::log_stream(const Request& req) {
  bool bad = false;
  const size_t tail = query_count(req.target(), "tail", 5000, bad).value_or(0);
  if (bad) {
    co_await write_error(req.version(), false, bad_request("tail must be a whole number from 0 to 5000", "invalid_query"));
    co_return false;
  }
  if (!watch_) watch_ = std::make_shared<ClientWatch>(stream_.socket());
  watch_->start();
  co_await serve_log_stream(stream_, req, tail, srv_.info.logs, srv_.coordinator.config()->timeouts, *watch_,
                            extra_fields_);
  co_await watch_->stop();
  co_return false;
}

}  // namespace

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

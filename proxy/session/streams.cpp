#include "proxy/session/streams.hpp"

#include <spdlog/spdlog.h>

#include <array>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "proxy/session/admin.hpp"
#include "proxy/policy/load_phase.hpp"
#include "proxy/session/relay.hpp"
#include "proxy/http/routes.hpp"

namespace llmux {

using nlohmann::json;

namespace {

constexpr auto kFeedbackInterval = std::chrono::seconds(1);
constexpr auto kLogHeartbeat = std::chrono::seconds(15);

double since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

}  // namespace

std::string sse_error_event(const ApiError& e) { return "event: error\ndata: " + error_body(e) + "\n\n"; }

net::awaitable<bool> SseWriter::begin(unsigned version, bool keep_alive) {
  started_ = true;
  chunked_ = version >= 11;
  keep_alive_ = keep_alive;
  std::string head = std::string(chunked_ ? "HTTP/1.1" : "HTTP/1.0") +
                     " 200 OK\r\nServer: llmux\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
                     "X-Accel-Buffering: no\r\n";
  head += extra_;
  head += chunked_ ? "Transfer-Encoding: chunked\r\n" : "";
  head += keep_alive_ && chunked_ ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n";
  error_code ec;
  stream_.expires_after(timeouts_.client_write);
  co_await net::async_write(stream_, net::buffer(head), net::redirect_error(net::use_awaitable, ec));
  ok_ = !ec;
  co_return ok_;
}

net::awaitable<bool> SseWriter::send(std::string_view data) {
  if (!ok_ || data.empty()) co_return ok_;
  error_code ec;
  stream_.expires_after(timeouts_.client_write);
  if (chunked_) {
    char size[20];
    int n = std::snprintf(size, sizeof size, "%zx\r\n", data.size());
    std::array<net::const_buffer, 3> bufs{net::buffer(size, static_cast<size_t>(n)), net::buffer(data),
                                          net::buffer("\r\n", 2)};
    co_await net::async_write(stream_, bufs, net::redirect_error(net::use_awaitable, ec));
  } else {
    co_await net::async_write(stream_, net::buffer(data), net::redirect_error(net::use_awaitable, ec));
  }
  ok_ = !ec;
  co_return ok_;
}

net::awaitable<bool> SseWriter::end() {
  if (!ok_ || !chunked_) co_return false;
  error_code ec;
  stream_.expires_after(timeouts_.client_write);
  co_await net::async_write(stream_, net::buffer("0\r\n\r\n", 5), net::redirect_error(net::use_awaitable, ec));
  ok_ = !ec;
  co_return keep_alive();
}

namespace {

struct PendingAdmission {
  explicit PendingAdmission(const net::any_io_executor& ex) : tick(ex) {}
  std::optional<Admission> result;
  net::steady_timer tick;
};

net::awaitable<void> run_acquire(Coordinator& c, std::shared_ptr<Ticket> t, std::shared_ptr<PendingAdmission> p,
                                 bool submitted) {
  Admission a;  // one co_await per statement (g++ 12)
  if (submitted) a = co_await c.finish_acquire(std::move(t));
  else a = co_await c.acquire(std::move(t));
  p->result = std::move(a);
  p->tick.cancel();
}

std::string feedback_text(const Coordinator& c, const LoadingFeedback& f, double elapsed) {
  bool resident = c.supervisor().info().model == f.model;
  WorkerState state = resident ? c.supervisor().state() : WorkerState::stopped;
  const char* what = state == WorkerState::starting ? "loading"
                     : state == WorkerState::ready  ? "queued for"  // behind the model's maxConcurrency
                                                    : "waiting for";
  // The engine's own lines stay in the logs: the client is told the phase they show, in words.
  if (state != WorkerState::starting) return load_feedback_text(what, f.model, elapsed, nullptr);
  const LoadPhase phase = load_phase(c.supervisor().log().last());
  return load_feedback_text(what, f.model, elapsed, &phase);
}

std::string feedback_event(const Coordinator& c, const LoadingFeedback& f, double elapsed, uint64_t id) {
  std::string text = feedback_text(c, f, elapsed);
  if (!f.reasoning) {
    for (auto& ch : text)
      if (ch == '\n' || ch == '\r') ch = ' ';
    return ": " + text + "\n\n";
  }
  auto created = std::chrono::duration_cast<std::chrono::seconds>(
                     std::chrono::system_clock::now().time_since_epoch()).count();
  json delta = {{"role", "assistant"}, {"reasoning_content", text + "\n"}};
  json chunk = {{"id", "llmux-load-" + std::to_string(id)}, {"object", "chat.completion.chunk"},
                {"created", created}, {"model", f.client_name},
                {"choices", json::array({{{"index", 0}, {"delta", delta}, {"finish_reason", nullptr}}})}};
  return "data: " + dump(chunk) + "\n\n";
}

}  // namespace

net::awaitable<Admission> acquire_with_feedback(Coordinator& c, std::shared_ptr<Ticket> t, SseWriter& w,
                                                const Request& req, LoadingFeedback f,
                                                bool submitted) {
  auto ex = co_await net::this_coro::executor;
  auto p = std::make_shared<PendingAdmission>(ex);
  auto started = std::chrono::steady_clock::now();
  net::co_spawn(ex, run_acquire(c, t, p, submitted), [](std::exception_ptr e) {
    if (e) spdlog::error("acquire ended by an exception");
  });
  bool writing = true;
  while (!p->result) {
    error_code ec;
    p->tick.expires_after(kFeedbackInterval);
    co_await p->tick.async_wait(net::redirect_error(net::use_awaitable, ec));
    if (p->result || !writing) continue;
    bool ok = true;
    if (!w.started()) ok = co_await w.begin(req.version(), req.keep_alive());
    std::string event = feedback_event(c, f, since(started), t->id);
    if (ok) ok = co_await w.send(event);
    if (!ok) {  // the client is gone: stop waiting; a load it triggered goes on
      writing = false;
      c.abandon(*t);
    }
  }
  co_return std::move(*p->result);
}

namespace {

// `cfg` keeps the model's config alive while it loads, even if a reload replaces it.
net::awaitable<void> run_load(Coordinator& c, std::shared_ptr<const Config> cfg, const ModelConfig* m,
                              std::shared_ptr<std::optional<std::optional<ApiError>>> out,
                              std::shared_ptr<net::steady_timer> tick) {
  auto error = co_await c.load(*m);
  cfg.reset();
  *out = std::move(error);
  tick->cancel();
}

}  // namespace

net::awaitable<bool> serve_load_progress(ClientStream& s, const Request& req,
                                         Coordinator& c, const ModelConfig& m, std::string_view extra_fields) {
  auto ex = co_await net::this_coro::executor;
  auto out = std::make_shared<std::optional<std::optional<ApiError>>>();
  auto tick = std::make_shared<net::steady_timer>(ex);
  auto cfg = c.config();
  SseWriter w(s, cfg->timeouts);
  w.set_extra_fields(extra_fields);
  auto started = std::chrono::steady_clock::now();
  net::co_spawn(ex, run_load(c, cfg, &m, out, tick), [](std::exception_ptr e) {
    if (e) spdlog::error("load ended by an exception");
  });
  std::string id = m.id;
  bool ok = co_await w.begin(req.version(), req.keep_alive());
  while (!out->has_value()) {
    LoadingFeedback f{id, id, false};
    double elapsed = since(started);
    json progress = {{"model", id}, {"state", c.supervisor().info().model == id ? to_string(c.supervisor().state())
                                                                                  : std::string("waiting")},
                     {"elapsedSeconds", elapsed}, {"text", feedback_text(c, f, elapsed)}};
    if (auto line = c.supervisor().log().last(); c.supervisor().info().model == id && !line.empty())
      progress["lastLine"] = std::string(line);
    std::string event = "data: " + dump(progress) + "\n\n";
    if (ok) ok = co_await w.send(event);  // a client that left does not cancel the load
    if (out->has_value()) break;          // finished during the write: its wake found nobody waiting
    error_code ec;
    tick->expires_after(kFeedbackInterval);
    co_await tick->async_wait(net::redirect_error(net::use_awaitable, ec));
  }
  const auto& error = **out;
  std::string last = error ? sse_error_event(*error)
                           : "data: " + dump({{"model", id}, {"state", "ready"}, {"seconds", since(started)}}) + "\n\n";
  if (ok) ok = co_await w.send(last);
  if (ok) ok = co_await w.end();
  co_return ok;
}

net::awaitable<bool> serve_log_stream(ClientStream& s, const Request& req, size_t tail,
                                      std::shared_ptr<LogHub> hub_ptr, const Timeouts& t, ClientWatch& watch,
                                      std::string_view extra_fields) {
  LogHub& hub = *hub_ptr;
  auto ex = co_await net::this_coro::executor;
  LogFilter filter{query_param(req.target(), "source"), query_param(req.target(), "model")};
  auto wake = std::make_shared<net::steady_timer>(ex);
  std::weak_ptr<net::steady_timer> weak = wake;
  auto id = hub.subscribe(filter, [weak, ex] {
    net::post(ex, [weak] {
      if (auto w = weak.lock()) w->cancel();
    });
  });
  struct Unsubscribe {
    LogHub& hub;
    LogHub::SubscriberId id;
    ~Unsubscribe() { hub.unsubscribe(id); }
  } unsubscribe{hub, id};
  watch.on_gone = [wake] { wake->cancel(); };
  SseWriter w(s, t);
  w.set_extra_fields(extra_fields);
  bool ok = co_await w.begin(req.version(), false);
  std::vector<LogLine> lines = hub.recent(filter, std::min<size_t>(tail, 5000));
  uint64_t last_seq = 0;  // a line can be both in the history and queued for us
  while (ok && !watch.gone()) {
    std::string events;
    uint64_t dropped = hub.take(id, lines);
    if (dropped > 0) events += ": " + std::to_string(dropped) + " lines dropped (reader too slow)\n\n";
    for (const auto& l : lines) {
      if (l.seq <= last_seq) continue;
      last_seq = l.seq;
      events += "data: " + log_line_json(l) + "\n\n";
    }
    lines.clear();
    if (!events.empty()) {
      ok = co_await w.send(events);
      continue;
    }
    error_code ec;
    wake->expires_after(kLogHeartbeat);
    co_await wake->async_wait(net::redirect_error(net::use_awaitable, ec));
    if (!ec) ok = co_await w.send(": keep-alive\n\n");
  }
  watch.on_gone = nullptr;
  co_return false;
}

}  // namespace llmux

#include "proxy/session/streams.hpp"

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "common/seconds.hpp"
#include "proxy/http/routes.hpp"
#include "proxy/http/sse_events.hpp"
#include "proxy/policy/admin_json.hpp"
#include "proxy/policy/load_feedback.hpp"

namespace llmux {

using nlohmann::json;

namespace {

constexpr auto kProgressInterval = std::chrono::seconds(1);
constexpr auto kLogHeartbeat = std::chrono::seconds(15);

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

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

net::awaitable<bool> serve_load_progress(ClientWriter writer, const Request& req, Coordinator& c, const ModelConfig& m,
                                         std::string_view extra_fields) {
  auto ex = co_await net::this_coro::executor;
  auto out = std::make_shared<std::optional<std::optional<ApiError>>>();
  auto tick = std::make_shared<net::steady_timer>(ex);
  auto cfg = c.config();
  SseWriter w(writer);
  w.set_extra_fields(extra_fields);
  auto started = std::chrono::steady_clock::now();
  net::co_spawn(ex, run_load(c, cfg, &m, out, tick), [](std::exception_ptr e) {
    if (e) spdlog::error("load ended by an exception");
  });
  std::string id = m.id;
  bool ok = co_await w.begin(req.version(), req.keep_alive());
  while (!out->has_value()) {
    std::string event = load_progress_event(c.worker_snapshot(id), id, seconds_since(started));
    if (ok) ok = co_await w.send(event);  // a client that left does not cancel the load
    if (out->has_value()) break;          // finished during the write: its wake found nobody waiting
    error_code ec;
    tick->expires_after(kProgressInterval);
    co_await tick->async_wait(net::redirect_error(net::use_awaitable, ec));
  }
  const auto& error = **out;
  std::string last = error ? sse_error_event(*error)
                           : "data: " + dump({{"model", id}, {"state", "ready"}, {"seconds", seconds_since(started)}}) + "\n\n";
  if (ok) ok = co_await w.send(last);
  if (ok) ok = co_await w.end();
  co_return ok;
}

net::awaitable<bool> serve_log_stream(ClientWriter writer, const Request& req, size_t tail,
                                      std::shared_ptr<LogHub> hub_ptr, ClientWatch& watch,
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
  const ClientWatch::OnGone on_gone(watch, [wake] { wake->cancel(); });
  SseWriter w(writer);
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
  co_return false;
}

}  // namespace llmux

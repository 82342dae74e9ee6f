#include "proxy/bridge/health_probe.hpp"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <ctime>
#include <optional>

#include "common/remote_health.hpp"

namespace llmux {
namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kAnswerLimit = 64 * 1024;
constexpr auto kRefresh = std::chrono::minutes(5);  // a state that holds is reported again this often

struct Check {
  bool healthy = false;
  int status = 0;  // 0: no HTTP answer
  double latency_ms = 0;
  std::string error;
};

std::string iso_utc(std::chrono::system_clock::time_point t) {
  const std::time_t s = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&s, &tm);
  char out[32];
  std::strftime(out, sizeof out, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return out;
}

// What a non-2xx answer says: the bridge's own 502 names why the upstream could not be reached.
std::string answer_error(int status, std::string_view answer, const std::string& path) {
  const size_t body_at = answer.find("\r\n\r\n");
  if (body_at != std::string_view::npos) {
    const auto j = nlohmann::json::parse(answer.substr(body_at + 4), nullptr, false);
    if (j.is_object() && j.contains("error") && j["error"].is_object() && j["error"].contains("message") &&
        j["error"]["message"].is_string() && status == 502)
      return j["error"]["message"].get<std::string>();
  }
  return "HTTP " + std::to_string(status) + " from GET " + path;
}

// One GET through the bridge, read until the upstream closes (Connection: close) or 64 KiB.
net::awaitable<Check> check_once(const HealthProbeOptions& o) {
  auto ex = co_await net::this_coro::executor;
  tcp::socket s(ex);
  net::steady_timer timer(ex);
  bool expired = false;
  timer.expires_after(o.timeout);
  timer.async_wait([&](const error_code& ec) {
    if (ec) return;
    expired = true;
    error_code ignored;
    s.close(ignored);
  });
  const auto t0 = Clock::now();
  std::optional<Clock::time_point> head_at;
  error_code ec;
  co_await s.async_connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), o.port),
                           net::redirect_error(net::use_awaitable, ec));
  const std::string request = "GET " + o.token + o.path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: */*\r\n"
                              "Content-Length: 0\r\nConnection: close\r\nUser-Agent: llmux-health\r\n\r\n";
  if (!ec) co_await net::async_write(s, net::buffer(request), net::redirect_error(net::use_awaitable, ec));
  std::string answer;
  char buf[4096];
  while (!ec && answer.size() < kAnswerLimit) {
    const size_t n = co_await s.async_read_some(net::buffer(buf), net::redirect_error(net::use_awaitable, ec));
    answer.append(buf, n);
    if (!head_at && answer.find("\r\n\r\n") != std::string::npos) head_at = Clock::now();
  }
  timer.cancel();
  Check c;
  c.latency_ms = std::chrono::duration<double, std::milli>(head_at.value_or(Clock::now()) - t0).count();
  if (answer.starts_with("HTTP/1.") && answer.size() >= 12) c.status = std::atoi(answer.c_str() + 9);
  if (c.status >= 200 && c.status < 300) {
    c.healthy = true;
  } else if (c.status != 0) {
    c.error = answer_error(c.status, answer, o.path);
  } else {
    c.error = expired ? "no answer within " + std::to_string(o.timeout.count()) + " ms"
                      : "no HTTP answer: " + (ec ? ec.message() : std::string("empty response"));
  }
  co_return c;
}

void report(const Check& c, const HealthProbeOptions& o, std::chrono::system_clock::time_point since) {
  const nlohmann::json line = {{"healthy", c.healthy},
                               {"checkedAt", iso_utc(std::chrono::system_clock::now())},
                               {"since", iso_utc(since)},
                               {"latencyMs", static_cast<double>(static_cast<int64_t>(c.latency_ms * 10)) / 10},
                               {"status", c.status == 0 ? nlohmann::json(nullptr) : nlohmann::json(c.status)},
                               {"error", c.error.empty() ? nlohmann::json(nullptr) : nlohmann::json(c.error)},
                               {"path", o.path},
                               {"intervalSeconds", static_cast<double>(o.interval.count()) / 1000}};
  const std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  std::fprintf(stderr, "llmux bridge: %.*s%s\n", static_cast<int>(kRemoteHealthMarker.size()),
               kRemoteHealthMarker.data(), text.c_str());
  std::fflush(stderr);
}

}  // namespace

net::awaitable<void> health_loop(HealthProbeOptions o) {
  if (o.path.empty()) co_return;
  auto ex = co_await net::this_coro::executor;
  net::steady_timer wait(ex);
  std::optional<Check> last;
  Clock::time_point reported{};
  std::chrono::system_clock::time_point since{};
  for (;;) {
    const Check c = co_await check_once(o);
    const bool changed = !last || last->healthy != c.healthy || last->error != c.error;
    if (changed) since = std::chrono::system_clock::now();
    if (changed || Clock::now() - reported >= kRefresh) {
      report(c, o, since);
      reported = Clock::now();
    }
    last = c;
    error_code ec;
    wait.expires_after(o.interval);
    co_await wait.async_wait(net::redirect_error(net::use_awaitable, ec));
    if (ec) co_return;
  }
}

}  // namespace llmux

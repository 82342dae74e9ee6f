// Component test of the session: a real Server (listener, sessions, admission, relay) and Coordinator on one
// io_context, with a real fake-engine process, driven by clients on loopback sockets. A failure is injected at
// every step of a request: the client leaves after each prefix of its request (inside the head, at its end, inside
// the body) and after each piece of a streamed answer; the daemon must close those connections, keep nothing
// waiting, and serve the next client normally.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "common/config.hpp"
#include "proxy/daemon/coordinator.hpp"
#include "proxy/daemon/daemon_info.hpp"
#include "proxy/session/server.hpp"
#include "worker/reaper.hpp"

namespace llmux {
namespace {

using namespace std::chrono_literals;

struct Daemon {
  net::io_context io;
  ChildReaper reaper{io};
  DaemonInfo info;
  std::unique_ptr<Coordinator> coordinator;
  std::unique_ptr<Server> server;
  tcp::endpoint ep;
  Daemon() {
    auto cfg = load_config_text(std::string("models:\n  a:\n    cmd: ") + FAKE_ENGINE_BIN +
                                    " --port ${PORT} --model a --token-ms 20 --tokens 50\n",
                                "t.yaml");
    coordinator = std::make_unique<Coordinator>(io, reaper, cfg);
    server = std::make_unique<Server>(io, *coordinator, info);
    ep = server->listen("127.0.0.1", 0);
  }
  ~Daemon() {
    server->stop_accepting();
    server->close_sessions();
    bool stopped = false;
    auto stop = [&]() -> net::awaitable<void> {
      co_await coordinator->stop_worker_now();
      stopped = true;
    };
    net::co_spawn(io, stop(), net::detached);
    for (int i = 0; i < 500 && (!stopped || server->sessions() > 0); ++i) io.run_for(10ms);
  }
  // Runs `body` (a coroutine) on the daemon's loop until it ends.
  template <class F>
  void run(F body) {
    bool done = false;
    auto whole = [&]() -> net::awaitable<void> {
      co_await body();
      done = true;
    };
    net::co_spawn(io, whole(), [](std::exception_ptr e) {
      if (e) std::rethrow_exception(e);
    });
    for (int i = 0; i < 2000 && !done; ++i) io.run_for(10ms);
    EXPECT_TRUE(done) << "the client script did not finish";
  }
};

std::string request(bool stream) {
  const std::string body = std::string(R"({"model":"a","messages":[{"role":"user","content":"hi"}],"stream":)") +
                           (stream ? "true" : "false") + "}";
  return "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
         "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

// Sends `bytes`, then reads until `want` bytes came or the connection ends (want 0: to the end); returns what came.
net::awaitable<std::string> exchange(tcp::endpoint ep, std::string bytes, size_t want, bool half_close) {
  auto ex = co_await net::this_coro::executor;
  tcp::socket s(ex);
  error_code ec;
  co_await s.async_connect(ep, net::redirect_error(net::use_awaitable, ec));
  if (ec) co_return "connect failed: " + ec.message();
  co_await net::async_write(s, net::buffer(bytes), net::redirect_error(net::use_awaitable, ec));
  if (half_close) s.shutdown(tcp::socket::shutdown_send, ec);
  std::string got;
  char buf[4096];
  while (!ec && (want == 0 || got.size() < want)) {
    const size_t n = co_await s.async_read_some(net::buffer(buf), net::redirect_error(net::use_awaitable, ec));
    got.append(buf, n);
    if (want == 0 && got.find("\r\n0\r\n\r\n") != std::string::npos) break;  // a chunked answer ended
    if (want == 0 && got.find("\"choices\"") != std::string::npos && got.ends_with("}")) break;
  }
  s.close(ec);
  co_return got;
}

TEST(SessionComponent, ClientLeavesAtEveryStepOfItsRequestThenTheNextIsServed) {
  Daemon d;
  const std::string whole = request(false);
  const size_t head_end = whole.find("\r\n\r\n") + 4;
  const std::vector<size_t> cuts = {0, 1, 10, head_end - 2, head_end, head_end + 5, whole.size() - 1};
  d.run([&]() -> net::awaitable<void> {
    for (size_t cut : cuts) {
      std::string part = whole.substr(0, cut);
      const std::string got = co_await exchange(d.ep, part, 0, true);  // sends a prefix, then half-closes
      EXPECT_EQ(got.find("HTTP/1.1 200"), std::string::npos) << "cut at " << cut << ": " << got;
    }
    const std::string ok = co_await exchange(d.ep, whole, 0, false);
    EXPECT_TRUE(ok.starts_with("HTTP/1.1 200")) << ok;
    EXPECT_NE(ok.find("\"choices\""), std::string::npos) << ok;
  });
  EXPECT_EQ(d.coordinator->snapshot(d.info).in_flight, 0u);
}

TEST(SessionComponent, ClientLeavesAtEveryStepOfAStreamAndTheEngineIsFreed) {
  Daemon d;
  d.run([&]() -> net::awaitable<void> {
    const std::string full = co_await exchange(d.ep, request(true), 0, false);  // loads the model, streams whole
    EXPECT_TRUE(full.starts_with("HTTP/1.1 200")) << full;
    EXPECT_NE(full.find("data: [DONE]"), std::string::npos) << full;
    if (full.find("data: [DONE]") == std::string::npos) co_return;
    const size_t head_end = full.find("\r\n\r\n") + 4;
    for (size_t want : {head_end / 2, head_end, head_end + 40, full.size() / 2, full.size() - 10}) {
      const std::string got = co_await exchange(d.ep, request(true), want, false);  // reads `want` bytes, leaves
      EXPECT_GE(got.size(), 1u);
      // The relay noticed at once (the stream would last a second more): nothing stays in flight.
      auto ex = co_await net::this_coro::executor;
      net::steady_timer t(ex);
      for (int i = 0; i < 30 && d.coordinator->snapshot(d.info).in_flight > 0; ++i) {
        t.expires_after(5ms);
        co_await t.async_wait(net::use_awaitable);
      }
      EXPECT_EQ(d.coordinator->snapshot(d.info).in_flight, 0u) << "left after " << want << " bytes";
    }
    const std::string again = co_await exchange(d.ep, request(true), 0, false);
    EXPECT_NE(again.find("data: [DONE]"), std::string::npos) << again;
  });
}

}  // namespace
}  // namespace llmux

// Component test of the relay: the real relay() over real loopback sockets on one io_context, between a client the
// test drives and an engine the test scripts piece by piece. A failure is injected at every step: the engine cuts
// its connection after each piece of its answer, the client leaves after each piece it received, and an engine
// that never answers runs into the deadline. Each run checks what the client saw, what relay() reported, and that
// nothing was left waiting (the io_context runs dry).
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "proxy/http/framing.hpp"
#include "proxy/session/client_io.hpp"
#include "proxy/session/engine_pool.hpp"
#include "proxy/session/relay.hpp"

namespace llmux {
namespace {

using namespace std::chrono_literals;

const std::string kRequestBody = R"({"model":"m","stream":true})";

const std::vector<std::string> kSse = {
    "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n",
    "9\r\ndata: 1\n\n\r\n",
    "9\r\ndata: 2\n\n\r\n",
    "0\r\n\r\n",
};

const std::vector<std::string> kJson = {
    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 20\r\n\r\n",
    R"({"choices":[],)",
    R"("x":1})",
};

struct Scenario {
  explicit Scenario(std::vector<std::string> pieces, size_t sends = SIZE_MAX)
      : engine_pieces(std::move(pieces)), engine_sends(sends) {}
  std::vector<std::string> engine_pieces;
  size_t engine_sends = SIZE_MAX;      // pieces written before the engine closes (SIZE_MAX: all, kept open)
  size_t client_reads = SIZE_MAX;      // bytes the client takes before it leaves (SIZE_MAX: to the end)
  std::string client_leaves_at;        // the client leaves once it has seen this ("" = never)
  bool engine_waits = false;           // after its pieces the engine keeps the connection open, silent
  Timeouts timeouts;
};

struct Outcome {
  RelayResult result;
  std::string client_saw;      // every byte the client received
  bool engine_got_request = false;
  bool engine_saw_close = false;  // the engine's connection was closed by llmux (client gone)
  bool finished = false;       // relay() returned
};

net::awaitable<void> run_engine(tcp::acceptor& acc, const Scenario& sc, Outcome& out) {
  auto ex = co_await net::this_coro::executor;
  error_code ec;
  tcp::socket s(ex);
  co_await acc.async_accept(s, net::redirect_error(net::use_awaitable, ec));
  if (ec) co_return;
  std::string got;
  char buf[4096];
  while (got.find("\r\n\r\n") == std::string::npos || got.size() < got.find("\r\n\r\n") + 4 + kRequestBody.size()) {
    const size_t n = co_await s.async_read_some(net::buffer(buf), net::redirect_error(net::use_awaitable, ec));
    if (ec) co_return;
    got.append(buf, n);
  }
  out.engine_got_request = got.ends_with(kRequestBody);
  const size_t sends = std::min(sc.engine_sends, sc.engine_pieces.size());
  for (size_t i = 0; i < sends; ++i) {
    co_await net::async_write(s, net::buffer(sc.engine_pieces[i]), net::redirect_error(net::use_awaitable, ec));
    if (ec) co_return;
    net::steady_timer pause(ex, 5ms);  // each piece its own read on the relay's side
    co_await pause.async_wait(net::redirect_error(net::use_awaitable, ec));
  }
  if (!sc.engine_waits) co_return;  // closed here (the failure injected, or after a whole answer)
  const size_t n = co_await s.async_read_some(net::buffer(buf), net::redirect_error(net::use_awaitable, ec));
  (void)n;
  out.engine_saw_close = ec == net::error::eof || ec == net::error::connection_reset;
}

net::awaitable<void> run_client(tcp::endpoint ep, const Scenario& sc, Outcome& out) {
  auto ex = co_await net::this_coro::executor;
  error_code ec;
  tcp::socket s(ex);
  co_await s.async_connect(ep, net::redirect_error(net::use_awaitable, ec));
  if (ec) co_return;
  char buf[4096];
  for (;;) {
    const size_t want = std::min(sizeof buf, sc.client_reads - out.client_saw.size());
    if (want == 0) break;  // the failure injected: the client leaves here
    const size_t n = co_await s.async_read_some(net::buffer(buf, want), net::redirect_error(net::use_awaitable, ec));
    out.client_saw.append(buf, n);
    if (ec) break;
    if (!sc.client_leaves_at.empty() && out.client_saw.find(sc.client_leaves_at) != std::string::npos) break;
  }
  s.close(ec);
}

net::awaitable<void> run_relay(net::io_context& io, tcp::acceptor& client_acc, tcp::endpoint engine,
                               const Scenario& sc, Outcome& out, EnginePool& pool) {
  auto ex = co_await net::this_coro::executor;
  error_code ec;
  ClientSocket server_side(io.get_executor());
  co_await client_acc.async_accept(server_side, net::redirect_error(net::use_awaitable, ec));
  if (ec) co_return;
  server_side.non_blocking(true, ec);
  ClientStream stream(std::move(server_side));
  const std::string raw = "POST /v1/chat/completions HTTP/1.1\r\nHost: llmux\r\nContent-Length: " +
                          std::to_string(kRequestBody.size()) + "\r\n\r\n";
  RequestHead head;
  std::string_view why;
  EXPECT_EQ(parse_request_head(raw, head, why), HeadParse::done);
  Request req;
  req.adopt(raw, head);
  Lease lease{1, std::make_shared<const WorkerAddress>(
                     WorkerAddress{"m", EngineEndpoint{"127.0.0.1", engine.port(), ""}, 1})};
  Deadline deadline(ex);
  auto watch = std::make_shared<ClientWatch>(stream.socket());
  watch->start();  // as for a stream: a client that leaves is noticed at once
  RelayJob job{req, kRequestBody, lease, sc.timeouts, "", nullptr, deadline, ""};
  out.result = co_await relay(stream, std::move(job), pool, *watch);
  out.finished = true;
  watch->disarm();
  co_await watch->stop();
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  stream.close();
}

Outcome run(const Scenario& sc) {
  net::io_context io;
  tcp::acceptor client_acc(io, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
  tcp::acceptor engine_acc(io, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
  EnginePool pool(io);
  Outcome out;
  auto fail = [](std::exception_ptr e) {
    if (e) std::rethrow_exception(e);
  };
  net::co_spawn(io, run_engine(engine_acc, sc, out), fail);
  net::co_spawn(io, run_relay(io, client_acc, engine_acc.local_endpoint(), sc, out, pool), fail);
  net::co_spawn(io, run_client(client_acc.local_endpoint(), sc, out), fail);
  io.run_for(5s);
  EXPECT_TRUE(out.finished) << "relay() did not return";
  return out;
}

size_t prefix_size(const std::vector<std::string>& pieces, size_t n) {
  size_t total = 0;
  for (size_t i = 0; i < n && i < pieces.size(); ++i) total += pieces[i].size();
  return total;
}

TEST(RelayComponent, WholeStreamPassesAndTheEngineConnectionIsKept) {
  Outcome o = run(Scenario{kSse});
  EXPECT_TRUE(o.engine_got_request);
  EXPECT_EQ(o.result.status, 200);
  EXPECT_TRUE(o.result.keep_alive);
  EXPECT_TRUE(o.result.streamed);
  EXPECT_NE(o.client_saw.find("data: 1\n\n"), std::string::npos) << o.client_saw;
  EXPECT_TRUE(o.client_saw.ends_with("0\r\n\r\n")) << o.client_saw;
  EXPECT_EQ(o.client_saw.find("event: error"), std::string::npos);
}

// The engine cuts its connection after each piece of an event stream: before its head, the client gets a 502 (and
// keeps its connection); after it, the stream ends with an error event, and the connection is not kept.
TEST(RelayComponent, EngineCutAtEveryStepOfAStream) {
  for (size_t k = 0; k < kSse.size(); ++k) {
    SCOPED_TRACE("engine closes after " + std::to_string(k) + " pieces");
    Outcome o = run(Scenario{kSse, k});
    EXPECT_EQ(o.result.keep_alive, k == 0);  // an error answered whole keeps the client's connection
    if (k == 0) {
      EXPECT_EQ(o.result.status, 502);
      EXPECT_TRUE(o.client_saw.starts_with("HTTP/1.1 502")) << o.client_saw;
      EXPECT_NE(o.client_saw.find("engine_error"), std::string::npos) << o.client_saw;
      continue;
    }
    EXPECT_EQ(o.result.status, 200);
    EXPECT_TRUE(o.client_saw.starts_with("HTTP/1.1 200")) << o.client_saw;
    EXPECT_NE(o.client_saw.find("event: error"), std::string::npos) << o.client_saw;
    EXPECT_TRUE(o.client_saw.ends_with("0\r\n\r\n")) << o.client_saw;  // the chunked body ends cleanly
    if (k >= 2) {
      EXPECT_NE(o.client_saw.find("data: 1"), std::string::npos);
    }
  }
}

// The same for a Content-Length answer (its head goes out with the first piece of the body): before any body byte
// the client gets a 502; after, the body is cut short and the connection closed.
TEST(RelayComponent, EngineCutAtEveryStepOfALengthBody) {
  for (size_t k = 0; k < kJson.size(); ++k) {
    SCOPED_TRACE("engine closes after " + std::to_string(k) + " pieces");
    Outcome o = run(Scenario{kJson, k});
    EXPECT_EQ(o.result.keep_alive, k == 0);  // a head that came but no body: the 502 closes the connection
    if (k < 2) {  // nothing of the body came: the head had not gone out yet, so the client gets the 502
      EXPECT_EQ(o.result.status, 502);
      EXPECT_TRUE(o.client_saw.starts_with("HTTP/1.1 502")) << o.client_saw;
      continue;
    }
    EXPECT_EQ(o.result.status, 200);
    EXPECT_TRUE(o.client_saw.ends_with(kJson[1])) << o.client_saw;  // cut short: the client sees a short body
    EXPECT_EQ(o.client_saw.find("event: error"), std::string::npos);
  }
  Outcome whole = run(Scenario{kJson});
  EXPECT_EQ(whole.result.status, 200);
  EXPECT_TRUE(whole.result.keep_alive);
  EXPECT_TRUE(whole.client_saw.ends_with(R"({"choices":[],"x":1})")) << whole.client_saw;
}

// The client leaves in the middle of each piece it receives: the next write fails, relay() returns at once without
// keeping the connection, and the engine's connection is closed.
TEST(RelayComponent, ClientLeavesAtEveryStep) {
  for (size_t k = 0; k + 1 < kSse.size(); ++k) {
    SCOPED_TRACE("client leaves after " + std::to_string(k) + " pieces");
    Scenario sc{kSse};
    sc.client_reads = k == 0 ? 1 : prefix_size(kSse, k) - 1;  // leaves in the middle of a piece
    sc.engine_pieces = {kSse[0], kSse[1]};
    sc.engine_waits = true;
    Outcome o = run(sc);
    EXPECT_FALSE(o.result.keep_alive);
    EXPECT_TRUE(o.engine_saw_close) << "the engine's connection stayed open";
  }
}

// The client leaves after all it was sent, while the engine is silent: no write fails, so only the disconnect watch
// can notice. relay() returns at once and closes the engine's connection (the engine stops generating).
TEST(RelayComponent, ClientLeavesWhileTheEngineIsSilent) {
  Scenario sc{{kSse[0], kSse[1]}};
  sc.engine_waits = true;
  sc.client_leaves_at = "data: 1\n\n\r\n";
  const auto started = std::chrono::steady_clock::now();
  Outcome o = run(sc);
  EXPECT_FALSE(o.result.keep_alive);
  EXPECT_TRUE(o.engine_saw_close) << "the engine's connection stayed open";
  EXPECT_LT(std::chrono::steady_clock::now() - started, 2s);
}

// An engine that never answers runs into engine_first_byte: 504 to the client.
TEST(RelayComponent, SilentEngineRunsIntoTheDeadline) {
  Scenario sc{{}, SIZE_MAX};
  sc.engine_waits = true;
  sc.timeouts.engine_first_byte = Duration(200);
  const auto started = std::chrono::steady_clock::now();
  Outcome o = run(sc);
  EXPECT_EQ(o.result.status, 504);
  EXPECT_TRUE(o.client_saw.starts_with("HTTP/1.1 504")) << o.client_saw;
  EXPECT_NE(o.client_saw.find("engine_timeout"), std::string::npos);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 3s);
}

}  // namespace
}  // namespace llmux

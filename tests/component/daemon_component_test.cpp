// Component tests of the daemon layer, each on a real io_context: LazyTimer and Deadline with real timers and
// sockets; MemoryGovernor with the pressure file tests use and this process's own memory; the Coordinator with real
// fake-engine processes (grant, refusal, a failed start, a client that leaves while waiting, the fast door, stop).
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>

#include "proxy/daemon/coordinator.hpp"
#include "proxy/daemon/lazy_timer.hpp"
#include "proxy/daemon/memory_governor.hpp"
#include "proxy/session/client_io.hpp"
#include "worker/reaper.hpp"

namespace llmux {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// --- LazyTimer ---

TEST(LazyTimer, FiresOnceAtTheLatestDueTimeAndNeverAfterClear) {
  net::io_context io;
  int fired = 0;
  Clock::time_point at{};
  LazyTimer t(io.get_executor(), [&] {
    ++fired;
    at = Clock::now();
  });
  const auto start = Clock::now();
  t.set(LazyTimer::Clock::now() + 30ms);
  t.set(LazyTimer::Clock::now() + 120ms);  // moved later: the pending wait waits again
  io.run_for(400ms);
  EXPECT_EQ(fired, 1);
  EXPECT_GE(at - start, 110ms);
  EXPECT_FALSE(t.armed());

  io.restart();
  t.set(LazyTimer::Clock::now() + 200ms);
  t.set(LazyTimer::Clock::now() + 20ms);  // earlier: re-armed
  io.run_for(100ms);
  EXPECT_EQ(fired, 2);

  io.restart();
  t.set(LazyTimer::Clock::now() + 20ms);
  t.clear();
  io.run_for(100ms);
  EXPECT_EQ(fired, 2);
}

TEST(LazyTimer, DestroyedBeforeItsDueTimeCallsNothing) {
  net::io_context io;
  int fired = 0;
  {
    LazyTimer t(io.get_executor(), [&] { ++fired; });
    t.set(LazyTimer::Clock::now() + 20ms);
  }
  io.run_for(100ms);  // the pending wait ends (cancelled) and releases its state
  EXPECT_EQ(fired, 0);
  EXPECT_TRUE(io.stopped());
}

// --- Deadline ---

TEST(Deadline, AnOverdueReadIsClosedAndReportsTimeout) {
  net::io_context io;
  tcp::acceptor acc(io, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
  tcp::socket peer(io);
  peer.connect(acc.local_endpoint());
  tcp::socket s = acc.accept();
  Deadline d(io.get_executor());
  error_code result;
  char buf[16];
  d.arm(s, Duration(100));
  s.async_read_some(net::buffer(buf), [&](error_code ec, size_t) {
    d.done(ec);
    result = ec;
  });
  const auto start = Clock::now();
  io.run_for(2s);
  EXPECT_EQ(result, beast::error::timeout) << result.message();
  EXPECT_GE(Clock::now() - start, 90ms);
  EXPECT_FALSE(s.is_open());

  // In time: the operation's own outcome, and the socket stays open.
  io.restart();
  tcp::socket peer2(io);
  peer2.connect(acc.local_endpoint());
  tcp::socket s2 = acc.accept();
  net::write(peer2, net::buffer("hi", 2));
  d.arm(s2, Duration(100));
  s2.async_read_some(net::buffer(buf), [&](error_code ec, size_t) {
    d.done(ec);
    result = ec;
  });
  io.run_for(300ms);
  EXPECT_FALSE(result);
  EXPECT_TRUE(s2.is_open());
}

// --- MemoryGovernor ---

struct PressureFile {
  std::filesystem::path path = std::filesystem::temp_directory_path() / ("llmux-pressure-" + std::to_string(getpid()));
  explicit PressureFile(const char* level) {
    set(level);
    setenv("LLMUX_PRESSURE_FILE", path.c_str(), 1);
  }
  ~PressureFile() {
    unsetenv("LLMUX_PRESSURE_FILE");
    std::filesystem::remove(path);
  }
  void set(const char* level) { std::ofstream(path) << level << "\n"; }
};

std::shared_ptr<const Config> config(const std::string& yaml) { return load_config_text(yaml, "t.yaml"); }

TEST(MemoryGovernor, RefusesOverBudgetAndUnderCriticalPressureAndReportsACeilingOnce) {
  PressureFile pressure("critical");
  net::io_context io;
  std::vector<Pressure> levels;
  int over = 0;
  MemoryGovernor g(io, [&](Pressure p) { levels.push_back(p); }, [&](const std::string&, uint64_t, uint64_t) { ++over; });
  auto cfg = config("memory:\n  budget: 1MiB\n  sampleInterval: 100ms\nmodels:\n  big:\n    cmd: x --port ${PORT}\n    kvReservation: 2MiB\n"
                    "  small:\n    cmd: x --port ${PORT}\n    kvReservation: 1KiB\n    overhead: 1KiB\n"
                    "    maxMemory: 4KiB\n");
  g.configure(*cfg);
  const ModelConfig& big = *cfg->find_model("big");
  const ModelConfig& small = *cfg->find_model("small");
  EXPECT_FALSE(g.fits_budget(g.footprint(big)));
  ASSERT_TRUE(g.budget_refusal(big));
  EXPECT_EQ(g.budget_refusal(big)->status, 507);

  std::optional<std::optional<ApiError>> verdict;
  auto admit = [&](const ModelConfig& m) -> net::awaitable<void> { verdict = co_await g.admit(m); };
  net::co_spawn(io, admit(small), [](std::exception_ptr e) { if (e) std::rethrow_exception(e); });
  io.run_for(300ms);
  ASSERT_TRUE(verdict && *verdict);
  EXPECT_EQ((*verdict)->code, "memory_pressure");  // critical: nothing loads

  pressure.set("normal");
  io.restart();
  io.run_for(400ms);  // the file is read every 100 ms
  ASSERT_FALSE(levels.empty());
  EXPECT_EQ(levels.back(), Pressure::normal);
  verdict.reset();
  io.restart();
  net::co_spawn(io, admit(big), [](std::exception_ptr e) { if (e) std::rethrow_exception(e); });
  io.run_for(300ms);
  ASSERT_TRUE(verdict && *verdict);
  EXPECT_EQ((*verdict)->code, "insufficient_memory");  // over the budget: refused for good, at once

  // This process's own group is far above a 4 KiB ceiling: reported once, however often it is sampled.
  g.worker_started("small", getpgrp(), small, true);  // busy: sampled every 100 ms
  ASSERT_TRUE(g.worker("small"));
  EXPECT_EQ(g.worker("small")->ceiling, 4096u);
  EXPECT_EQ(over, 1);
  io.restart();
  io.run_for(450ms);
  ASSERT_TRUE(g.worker("small")->rss);
  EXPECT_GT(*g.worker("small")->rss, 4096u);
  EXPECT_EQ(over, 1);
  g.worker_stopped("small");
  EXPECT_FALSE(g.worker("small"));
}

// --- Coordinator ---

struct Daemon {
  net::io_context io;
  ChildReaper reaper{io};
  std::unique_ptr<Coordinator> c;
  explicit Daemon(const std::string& models) {
    c = std::make_unique<Coordinator>(io, reaper, config("models:\n" + models));
  }
  // Runs `body` as a coroutine to its end, then stops the worker (no engine outlives a test).
  template <class F>
  void run(F body) {
    auto whole = [&]() -> net::awaitable<void> {
      co_await body();
      co_await c->stop_worker_now();
    };
    bool done = false;
    net::co_spawn(io, whole(), [&](std::exception_ptr e) {
      done = true;
      io.stop();  // the reaper's signal wait never ends by itself
      if (e) std::rethrow_exception(e);
    });
    io.run_for(20s);
    EXPECT_TRUE(done) << "the coordinator test did not finish";
  }
};

std::string fake(const std::string& tag, const std::string& extra = "") {
  return std::string("    cmd: ") + FAKE_ENGINE_BIN + " --port ${PORT} --model " + tag + (extra.empty() ? "" : " " + extra) +
         "\n";
}

TEST(Coordinator, GrantsAfterAStartThenAtTheFastDoor) {
  Daemon d("  a:\n" + fake("a"));
  d.run([&]() -> net::awaitable<void> {
    auto ticket = d.c->make_ticket(*d.c->config()->find_model("a"));
    Admission a = co_await d.c->acquire(ticket);
    EXPECT_TRUE(a.lease);
    EXPECT_GT(a.load_wait, Duration(0));
    EXPECT_EQ(d.c->worker_snapshot("a").state, WorkerPhase::ready);
    EXPECT_TRUE(d.c->ready_for("a"));
    auto fast = d.c->try_grant("a");  // resident, ready, room (maxConcurrency unset), nobody waiting
    EXPECT_TRUE(fast);
    if (fast) d.c->release(*fast);
    if (a.lease) d.c->release(*a.lease);
  });
  EXPECT_EQ(d.c->worker_snapshot("a").state, WorkerPhase::none);
}

TEST(Coordinator, AFailedStartDeniesWithTheEnginesWords) {
  Daemon d("  bad:\n" + fake("bad", "--exit-at-start 3"));
  d.run([&]() -> net::awaitable<void> {
    auto ticket = d.c->make_ticket(*d.c->config()->find_model("bad"));
    Admission a = co_await d.c->acquire(ticket);
    EXPECT_FALSE(a.lease);
    EXPECT_EQ(a.error.code, "engine_start_failed");
    EXPECT_NE(a.error.message.find("failed to start"), std::string::npos) << a.error.message;
    EXPECT_FALSE(d.c->try_grant("bad"));
  });
}

TEST(Coordinator, AClientThatLeavesWhileWaitingAbandonsItsTicket) {
  Daemon d("  a:\n" + fake("a"));
  d.run([&]() -> net::awaitable<void> {
    auto ticket = d.c->make_ticket(*d.c->config()->find_model("a"));
    auto decided = d.c->begin_acquire(ticket);
    EXPECT_FALSE(decided);  // waits for the start
    d.c->abandon(*ticket);
    Admission a = co_await d.c->finish_acquire(ticket);
    EXPECT_TRUE(a.abandoned);
    EXPECT_FALSE(a.lease);
    // The start it triggered goes on (another request may want it); the test waits for it before stopping it.
    auto ex = co_await net::this_coro::executor;
    net::steady_timer wait(ex);
    for (int i = 0; i < 500 && d.c->worker_snapshot("a").state != WorkerPhase::ready; ++i) {
      wait.expires_after(10ms);
      co_await wait.async_wait(net::use_awaitable);
    }
    EXPECT_EQ(d.c->worker_snapshot("a").state, WorkerPhase::ready);
  });
}

}  // namespace
}  // namespace llmux

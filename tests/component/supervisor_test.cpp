// Component test of the Supervisor (worker/supervisor.*) driven through its states by real scripted engines: `sh`
// scripts that never become ready, exit during start, ignore SIGTERM, leave a grandchild in their group, print a
// lot, or close their output and keep running; and the fake engine for the HTTP readiness path. One real
// io_context and ChildReaper per test. Timings are asserted as orderings (what was logged or reported before what),
// never as durations; at the end of every test no process of it is left (kill(pid, 0), process start times).
#include "worker/supervisor.hpp"

#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tests/component/log_capture.hpp"
#include "worker/platform.hpp"
#include "worker/process.hpp"
#include "worker/reaper.hpp"

namespace llmux {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Reaped (our own child) or never existed.
bool gone(pid_t pid) { return ::kill(pid, 0) != 0 && errno == ESRCH; }
// Not running: gone, or a zombie of whoever adopted it.
bool not_running(pid_t pid) { return !process_start_time(pid).has_value(); }

// Where `needle` first appears in `log`; npos when it does not.
size_t at(const std::string& log, const std::string& needle) { return log.find(needle); }

class SupervisorTest : public ::testing::Test {
 protected:
  SupervisorTest() {
    timeouts.probe = 200ms;
    timeouts.probe_interval = 10ms;
    sup.on_line([this](const std::string&, std::string_view line) { lines.emplace_back(line); });
    sup.on_unexpected_exit([this](const std::string&, int status) { exits.push_back(status); });
  }
  ~SupervisorTest() override {
    if (sup.state() != WorkerState::stopped) {
      bool done = false;
      sup.stop([&] { done = true; });
      run_until([&] { return done; });
    }
    for (pid_t pid : pids) {
      EXPECT_TRUE(run_until([&] { return gone(pid); })) << "engine " << pid << " was left running";
      signal_group(pid, SIGKILL);
    }
    fs::remove_all(dir);
  }

  // A model whose engine is `sh -c script`, ready as soon as it runs unless `readiness` says otherwise.
  ModelConfig script_model(const std::string& script, Readiness readiness = Readiness::none) {
    ModelConfig m;
    m.id = "m";
    m.argv = {"sh", "-c", script};
    m.proxy = "http://127.0.0.1:${PORT}";
    m.readiness = readiness;
    m.check_endpoint = "/health";
    m.start_timeout = 10s;
    m.stop_grace = 10s;
    return m;
  }

  // Starts `m`; the outcome lands in `started` / `failure`. Records the engine's pid for the final check.
  void start(const ModelConfig& m) {
    sup.start(m, timeouts, [this](const StartFailure* f) {
      start_reported = true;
      if (f) failure = *f;
      else started = true;
    });
    if (sup.info().pid > 0) pids.push_back(sup.info().pid);
  }
  void start_ready(const ModelConfig& m) {
    start(m);
    ASSERT_TRUE(run_until([&] { return start_reported; }));
    ASSERT_TRUE(started) << failure.reason;
    ASSERT_EQ(sup.state(), WorkerState::ready);
  }
  void stop() {
    stopped = false;
    sup.stop([this] { stopped = true; });
  }
  bool saw_line(const std::string& text) {
    return run_until([&] { return std::find(lines.begin(), lines.end(), text) != lines.end(); });
  }
  // Runs the loop until `pred` holds (true) or 10 s pass (false).
  template <class Pred>
  bool run_until(Pred pred, Clock::duration limit = 10s) {
    const auto deadline = Clock::now() + limit;
    while (!pred()) {
      if (Clock::now() >= deadline) return false;
      io.restart();
      io.run_for(5ms);
    }
    return true;
  }

  std::string dir = [] {
    std::string t = (fs::temp_directory_path() / "llmux-sup-XXXXXX").string();
    if (!::mkdtemp(t.data())) throw std::runtime_error("mkdtemp failed");
    return t;
  }();
  LogCapture log;
  net::io_context io;
  ChildReaper reaper{io};
  Supervisor sup{io, reaper};
  Timeouts timeouts;
  std::vector<pid_t> pids;
  std::vector<std::string> lines;
  std::vector<int> exits;
  bool start_reported = false, started = false, stopped = false;
  StartFailure failure;
};

TEST_F(SupervisorTest, AnEngineThatNeverBecomesReadyIsKilledAtTheStartDeadline) {
  auto m = script_model("echo loading weights; exec sleep 60", Readiness::http);
  m.start_timeout = 300ms;
  start(m);
  EXPECT_EQ(sup.state(), WorkerState::starting);
  ASSERT_EQ(pids.size(), 1u);
  ASSERT_TRUE(run_until([&] { return start_reported; }));
  EXPECT_FALSE(started);
  EXPECT_TRUE(failure.timed_out);
  EXPECT_EQ(failure.reason.rfind("not ready after 300ms (healthCheckTimeout, or the model's startTimeout); last probe: ",
                                 0),
            0u)
      << failure.reason;
  EXPECT_EQ(failure.last_lines, std::vector<std::string>{"loading weights"});
  EXPECT_EQ(sup.state(), WorkerState::stopped);
  EXPECT_TRUE(run_until([&] { return gone(pids[0]); }));
}

TEST_F(SupervisorTest, AnEngineThatExitsDuringStartFailsWithItsStatusAndLastLines) {
  start(script_model("echo loading model.gguf; echo 'error: model file is corrupt' >&2; exit 3", Readiness::http));
  ASSERT_TRUE(run_until([&] { return start_reported; }));
  EXPECT_FALSE(started);
  EXPECT_FALSE(failure.timed_out);
  EXPECT_EQ(failure.reason, "engine exited with status 3 during start");
  EXPECT_EQ(failure.last_lines, (std::vector<std::string>{"loading model.gguf", "error: model file is corrupt"}));
  EXPECT_EQ(sup.state(), WorkerState::stopped);
}

// Spawn errors are start failures reported at once (not a later exit), and never from inside start().
TEST_F(SupervisorTest, AnEngineThatCannotBeExecutedFailsToStartAtOnce) {
  auto m = script_model("");
  m.argv = {"llmux-test-no-such-engine", "--port", "${PORT}"};
  start(m);
  EXPECT_FALSE(start_reported) << "the start handler ran inside start()";
  EXPECT_TRUE(pids.empty());
  ASSERT_TRUE(run_until([&] { return start_reported; }));
  EXPECT_EQ(failure.reason, "executable 'llmux-test-no-such-engine' not found in PATH");
  EXPECT_EQ(sup.state(), WorkerState::stopped);

  const std::string plain = dir + "/engine";
  std::ofstream(plain) << "#!/bin/sh\n";  // not executable
  m.argv = {plain};
  start_reported = false;
  start(m);
  ASSERT_TRUE(run_until([&] { return start_reported; }));
  EXPECT_EQ(failure.reason, "cannot execute '" + plain + "': Permission denied");
}

TEST_F(SupervisorTest, AStopEndsAWellBehavedEngineWithSigtermWithinTheGrace) {
  start_ready(script_model("echo serving; exec sleep 60"));
  ASSERT_TRUE(saw_line("serving"));
  stop();
  EXPECT_EQ(sup.state(), WorkerState::stopping);
  ASSERT_TRUE(run_until([&] { return stopped; }));
  EXPECT_EQ(sup.state(), WorkerState::stopped);
  const auto text = log.text();
  EXPECT_NE(at(text, "[m] engine killed by signal 15 (SIGTERM)"), std::string::npos) << text;
  EXPECT_EQ(at(text, "sending SIGKILL"), std::string::npos) << text;
  EXPECT_TRUE(exits.empty());
}

// llama-server may hang on SIGTERM while generating: the stop escalates to SIGKILL once stopGrace has passed.
TEST_F(SupervisorTest, AnEngineThatIgnoresSigtermIsKilledAfterTheStopGrace) {
  auto m = script_model("trap '' TERM; echo generating; while :; do sleep 1; done");
  m.stop_grace = 300ms;
  start_ready(m);
  ASSERT_TRUE(saw_line("generating"));  // the trap is set
  stop();
  EXPECT_EQ(sup.state(), WorkerState::stopping);
  ASSERT_TRUE(run_until([&] { return stopped; }));
  const auto text = log.text();
  const size_t term = at(text, "[m] stopping pid"), kill = at(text, "after the stop request; sending SIGKILL"),
               reaped = at(text, "[m] engine killed by signal 9 (SIGKILL)"), done = at(text, "[m] stopped");
  ASSERT_NE(term, std::string::npos) << text;
  ASSERT_NE(kill, std::string::npos) << text;
  ASSERT_NE(reaped, std::string::npos) << text;
  ASSERT_NE(done, std::string::npos) << text;
  EXPECT_LT(term, kill);
  EXPECT_LT(kill, reaped);
  EXPECT_LT(reaped, done);
  EXPECT_TRUE(exits.empty());
}

// The leader exits on SIGTERM, its grandchild ignores it: the sweep of the group (not the grace, an hour away)
// kills the grandchild once the leader is reaped.
TEST_F(SupervisorTest, AGrandchildLeftInTheGroupIsSweptWhenTheEngineStops) {
  auto m = script_model("(trap '' TERM; exec sleep 60) & echo grandchild=$!; exec sleep 60");
  m.stop_grace = 3600s;
  start_ready(m);
  ASSERT_TRUE(run_until([&] { return !lines.empty(); }));
  const pid_t grandchild = std::stoi(lines.front().substr(lines.front().find('=') + 1));
  ASSERT_FALSE(not_running(grandchild));
  EXPECT_EQ(::getpgid(grandchild), pids.at(0));
  stop();
  ASSERT_TRUE(run_until([&] { return stopped; }));
  EXPECT_TRUE(run_until([&] { return not_running(grandchild); })) << "grandchild " << grandchild << " survived";
  ::kill(grandchild, SIGKILL);  // when it did
  EXPECT_EQ(at(log.text(), "sending SIGKILL"), std::string::npos);
}

TEST_F(SupervisorTest, AnEngineThatExitsWhileServingIsReportedAndItsGroupSwept) {
  const std::string trigger = dir + "/crash";
  start_ready(script_model("(trap '' TERM; exec sleep 60) & echo grandchild=$!; while [ ! -e " + trigger +
                           " ]; do sleep 0.02; done; exit 7"));
  ASSERT_TRUE(run_until([&] { return !lines.empty(); }));
  const pid_t grandchild = std::stoi(lines.front().substr(lines.front().find('=') + 1));
  std::ofstream(trigger) << "";
  ASSERT_TRUE(run_until([&] { return !exits.empty(); }));
  EXPECT_TRUE(WIFEXITED(exits[0]) && WEXITSTATUS(exits[0]) == 7) << describe_wait_status(exits[0]);
  EXPECT_EQ(sup.state(), WorkerState::stopped);
  EXPECT_TRUE(run_until([&] { return not_running(grandchild); })) << "grandchild " << grandchild << " survived";
  ::kill(grandchild, SIGKILL);  // when it did
}

// 20,000 lines and one of 10,000 bytes: the pipe is drained as the engine writes (it never blocks on a full pipe),
// every line arrives once and in order, long lines are split at 4 KiB, and the ring keeps the newest.
TEST_F(SupervisorTest, ALotOfOutputIsReadAsItComesAndSplitIntoLines) {
  start_ready(script_model(
      "seq -f 'line %g of the engine output' 1 20000; head -c 10000 /dev/zero | tr '\\0' x; echo; echo done; "
      "exec sleep 60"));
  ASSERT_TRUE(saw_line("done"));
  ASSERT_EQ(lines.size(), 20000u + 3 + 1);
  EXPECT_EQ(lines[0], "line 1 of the engine output");
  EXPECT_EQ(lines[19999], "line 20000 of the engine output");
  EXPECT_EQ(lines[20000], std::string(4096, 'x'));
  EXPECT_EQ(lines[20002], std::string(10000 - 2 * 4096, 'x'));
  EXPECT_EQ(sup.log().last(), "done");
  EXPECT_EQ(sup.state(), WorkerState::ready);
}

// End of output is not the end of the engine: it stays ready until it exits, and stops as usual.
TEST_F(SupervisorTest, AnEngineThatClosesItsOutputButKeepsRunningStaysReady) {
  start_ready(script_model("echo bye; exec sleep 60 >&- 2>&-"));
  ASSERT_TRUE(saw_line("bye"));
  bool waited = false;
  net::steady_timer quiet(io, 200ms);  // long enough for the pump to see EOF and for a wrong exit report
  quiet.async_wait([&](const error_code&) { waited = true; });
  ASSERT_TRUE(run_until([&] { return waited; }));
  EXPECT_EQ(sup.state(), WorkerState::ready);
  EXPECT_TRUE(exits.empty());
  EXPECT_FALSE(gone(pids.at(0)));
  stop();
  ASSERT_TRUE(run_until([&] { return stopped; }));
  EXPECT_NE(at(log.text(), "[m] engine killed by signal 15 (SIGTERM)"), std::string::npos) << log.text();
}

// The HTTP readiness path with the fake engine: 503 while it loads, then ready; a stop while starting fails the
// start first, then ends the engine.
TEST_F(SupervisorTest, BecomesReadyWhenTheProbeAnswers200AndAStopWhileStartingFailsTheStart) {
  ModelConfig m = script_model("", Readiness::http);
  m.argv = {FAKE_ENGINE_BIN, "--port", "${PORT}", "--load-delay-ms", "150", "--readiness", "503", "--quiet"};
  start(m);
  EXPECT_EQ(sup.state(), WorkerState::starting);
  ASSERT_TRUE(run_until([&] { return start_reported; }));
  ASSERT_TRUE(started) << failure.reason;
  EXPECT_EQ(sup.state(), WorkerState::ready);
  EXPECT_GT(sup.info().endpoint.port, 0);
  const auto text = log.text();
  EXPECT_LT(at(text, "[m] spawned pid"), at(text, "[m] ready in")) << text;
  stop();
  ASSERT_TRUE(run_until([&] { return stopped; }));

  m.argv[4] = "60000";  // loads for a minute
  start_reported = started = stopped = false;
  start(m);
  bool start_failed_first = false;
  sup.stop([&] {
    stopped = true;
    start_failed_first = start_reported;
  });
  EXPECT_EQ(sup.state(), WorkerState::stopping);
  EXPECT_FALSE(start_reported) << "the start handler ran inside stop()";
  ASSERT_TRUE(run_until([&] { return stopped; }));
  EXPECT_TRUE(start_failed_first);
  EXPECT_FALSE(started);
  EXPECT_EQ(failure.reason, "stopped while starting");
  EXPECT_EQ(sup.state(), WorkerState::stopped);
}

}  // namespace
}  // namespace llmux

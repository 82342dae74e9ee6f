// Component test of the state file and stale reaping over real processes: engines are `sleep`s spawned as llmux
// spawns engines (own process group), "a gone llmux" is a real process that has exited, and the state file lives
// in a temp directory. Also the platform's process start times, which the reaping trusts.
#include "worker/stale_reaper.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "worker/engine_ledger.hpp"
#include "worker/platform.hpp"
#include "worker/process.hpp"
#include "tests/component/log_capture.hpp"

namespace llmux {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

const StaleReapOptions kQuick{std::chrono::milliseconds(300), std::chrono::milliseconds(1000),
                              std::chrono::milliseconds(10)};

std::string temp_dir() {
  std::string templ = (fs::temp_directory_path() / "llmux-stale-XXXXXX").string();
  if (!::mkdtemp(templ.data())) throw std::runtime_error("mkdtemp failed");
  return templ;
}

std::string read_all(const fs::path& p) {
  std::ifstream f(p);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// A process spawned as llmux spawns an engine; its group is SIGKILLed and it is reaped at the end of the test.
struct Engine {
  explicit Engine(std::vector<std::string> argv) : spawned(spawn_process(SpawnRequest{std::move(argv), {}})) {}
  ~Engine() {
    signal_group(spawned.pid, SIGKILL);
    ::waitpid(spawned.pid, nullptr, 0);
    ::close(spawned.output_fd);
  }
  pid_t pid() const { return spawned.pid; }
  uint64_t start() const { return process_start_time(spawned.pid).value(); }
  // Runs, and is not a zombie (an engine of the test process stays one until the destructor reaps it).
  bool alive() const { return process_start_time(spawned.pid).has_value(); }
  Spawned spawned;
};

// A process that has been and gone: its pid and start time, as a dead llmux leaves them in the state file.
std::pair<pid_t, uint64_t> gone_process() {
  int fds[2];
  if (::pipe(fds) != 0) throw std::runtime_error("pipe");
  pid_t pid = ::fork();
  if (pid == 0) {
    char c;
    ::close(fds[1]);
    [[maybe_unused]] auto n = ::read(fds[0], &c, 1);
    ::_exit(0);
  }
  ::close(fds[0]);
  auto start = process_start_time(pid);
  ::close(fds[1]);  // it exits
  ::waitpid(pid, nullptr, 0);
  return {pid, start.value()};
}

class StaleReaper : public ::testing::Test {
 protected:
  void TearDown() override { fs::remove_all(dir); }
  // A record of `engine` as llmux `owner` would have written it.
  void plant(const std::string& model, const Engine& engine, std::pair<pid_t, uint64_t> owner) {
    EngineRecord r{model, engine.pid(), engine.pid(), engine.start(), owner.first, owner.second, ledger.boot()};
    ASSERT_TRUE(ledger.update([&](std::vector<EngineRecord>& records) { records.push_back(r); }));
  }
  std::vector<EngineRecord> records() { return parse_engine_state(read_all(ledger.path())).records; }

  std::string dir = temp_dir();
  EngineLedger ledger{dir + "/llmux"};
  LogCapture log;
};

TEST(ProcessStartTime, IsKnownForALiveProcessAndNotForAZombieOrAGoneOne) {
  auto own = process_start_time(::getpid());
  ASSERT_TRUE(own.has_value());
  EXPECT_EQ(process_start_time(::getpid()), own);
  EXPECT_FALSE(process_start_time(0).has_value());
  EXPECT_FALSE(process_start_time(-1).has_value());
  pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  // A zombie until reaped: it has exited, so it is no engine to protect or to reap.
  auto deadline = std::chrono::steady_clock::now() + 2s;
  while (process_start_time(child) && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(5ms);
  EXPECT_FALSE(process_start_time(child).has_value());
  ::waitpid(child, nullptr, 0);
  EXPECT_FALSE(process_start_time(child).has_value());
#ifdef __linux__
  EXPECT_EQ(boot_id().size(), 36u) << boot_id();
#endif
}

TEST_F(StaleReaper, EngineOfAGoneLlmuxIsStoppedAndItsRecordDropped) {
  Engine engine({"sleep", "60"});
  plant("qwen", engine, gone_process());
  EXPECT_EQ(reap_stale_engines(ledger, kQuick), 1u);
  EXPECT_FALSE(engine.alive());
  EXPECT_TRUE(records().empty());
  std::string id = std::to_string(engine.pid());
  EXPECT_NE(log.text().find("[qwen] reaped stale engine pid " + id + " (pgid " + id + ")"), std::string::npos)
      << log.text();
  EXPECT_NE(log.text().find("stopped by SIGTERM"), std::string::npos) << log.text();
}

TEST_F(StaleReaper, EngineOfALlmuxThatStillRunsIsLeftAlone) {
  Engine owner({"sleep", "60"});
  Engine engine({"sleep", "60"});
  plant("qwen", engine, {owner.pid(), owner.start()});
  EXPECT_EQ(reap_stale_engines(ledger, kQuick), 0u);
  EXPECT_TRUE(engine.alive());
  ASSERT_EQ(records().size(), 1u);
  EXPECT_EQ(records()[0].pid, engine.pid());
}

TEST_F(StaleReaper, OwnerPidReusedByAnotherProcessCountsAsGone) {
  Engine other({"sleep", "60"});
  Engine engine({"sleep", "60"});
  plant("qwen", engine, {other.pid(), other.start() + 1});  // the recorded llmux had this pid, started earlier
  EXPECT_EQ(reap_stale_engines(ledger, kQuick), 1u);
  EXPECT_FALSE(engine.alive());
  EXPECT_TRUE(other.alive());
}

TEST_F(StaleReaper, APidNowUsedByAnotherProcessIsNeverSignalled) {
  Engine engine({"sleep", "60"});
  EngineRecord r{"qwen", engine.pid(), engine.pid(), engine.start() + 1, gone_process().first, 1, ledger.boot()};
  ASSERT_TRUE(ledger.update([&](std::vector<EngineRecord>& records) { records.push_back(r); }));
  EXPECT_EQ(reap_stale_engines(ledger, kQuick), 0u);
  EXPECT_TRUE(engine.alive());
  EXPECT_TRUE(records().empty()) << "a record that proves nothing is dropped";
  EXPECT_EQ(log.text().find("reaped"), std::string::npos) << log.text();
}

TEST_F(StaleReaper, AnEngineIgnoringSigtermIsKilledAfterTheGrace) {
  Engine engine({"sh", "-c", "trap '' TERM; exec sleep 60"});  // an ignored signal stays ignored across exec
  std::this_thread::sleep_for(100ms);                          // let the trap be set before SIGTERM comes
  plant("big", engine, gone_process());
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(reap_stale_engines(ledger, kQuick), 1u);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, kQuick.grace);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, kQuick.grace + kQuick.kill_wait);
  EXPECT_FALSE(engine.alive());
  EXPECT_NE(log.text().find("killed with SIGKILL after 300 ms"), std::string::npos) << log.text();
}

TEST_F(StaleReaper, WhatIsLeftInTheGroupGoesWithItsLeader) {
  // The leader leaves on SIGTERM; its child (same group) ignores SIGTERM and prints its pid.
  Engine engine({"sh", "-c", "(trap '' TERM; exec sleep 61) & echo $!; exec sleep 60"});
  std::string out;
  char buf[64];
  auto deadline = std::chrono::steady_clock::now() + 2s;
  while (out.find('\n') == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    ssize_t n = ::read(engine.spawned.output_fd, buf, sizeof buf);
    if (n > 0) out.append(buf, static_cast<size_t>(n));
    else std::this_thread::sleep_for(5ms);
  }
  ASSERT_NE(out.find('\n'), std::string::npos);
  pid_t member = std::stoi(out);
  std::this_thread::sleep_for(100ms);
  ASSERT_TRUE(process_start_time(member).has_value());
  plant("m", engine, gone_process());
  EXPECT_EQ(reap_stale_engines(ledger, kQuick), 1u);
  deadline = std::chrono::steady_clock::now() + 2s;  // reparented: someone else reaps it
  while (process_start_time(member) && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(5ms);
  EXPECT_FALSE(process_start_time(member).has_value());
}

TEST_F(StaleReaper, RecordsOfOtherLlmuxAreKeptWhenOneAddsAndRemovesItsOwn) {
  Engine owner({"sleep", "60"});
  Engine theirs({"sleep", "60"});
  Engine mine({"sleep", "60"});
  plant("theirs", theirs, {owner.pid(), owner.start()});
  ledger.add("mine", mine.pid());
  auto both = records();
  ASSERT_EQ(both.size(), 2u);
  EXPECT_EQ(both[1], (EngineRecord{"mine", mine.pid(), mine.pid(), mine.start(), ::getpid(),
                                   process_start_time(::getpid()).value(), ledger.boot()}));
  ledger.remove(theirs.pid());  // not this llmux's record: stays
  ledger.remove(mine.pid());
  auto left = records();
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].model, "theirs");
  EXPECT_EQ(fs::status(dir + "/llmux").permissions() & fs::perms::all, fs::perms::owner_all);
}

TEST_F(StaleReaper, AStartWithNothingRecordedTouchesNothing) {
  EXPECT_EQ(reap_stale_engines(ledger, kQuick), 0u);
  EXPECT_FALSE(fs::exists(dir + "/llmux"));
  EXPECT_EQ(log.text(), "");
}

TEST_F(StaleReaper, AnUnreadableStateFileIsOneWarningAndStartedAfresh) {
  fs::create_directories(dir + "/llmux");
  std::ofstream(ledger.path()) << "{ not json";
  EXPECT_EQ(reap_stale_engines(ledger, kQuick), 0u);
  Engine mine({"sleep", "60"});
  ledger.add("mine", mine.pid());
  ASSERT_EQ(records().size(), 1u);
  EXPECT_NE(log.text().find("is unreadable"), std::string::npos) << log.text();
}

TEST(EngineLedgerFailure, AStateDirectoryThatCannotBeMadeIsOneWarningNeverAnError) {
  std::string dir = temp_dir();
  std::ofstream(dir + "/file") << "x";
  LogCapture log;
  EngineLedger ledger(dir + "/file/llmux");  // its parent is a file: mkdir fails, also for root
  Engine engine({"sleep", "60"});
  ledger.add("a", engine.pid());
  ledger.remove(engine.pid());
  EXPECT_EQ(reap_stale_engines(ledger, kQuick), 0u);
  auto text = log.text();
  EXPECT_NE(text.find("state file: cannot create"), std::string::npos) << text;
  EXPECT_EQ(text.find("state file:"), text.rfind("state file:")) << "one warning, not one per call:\n" << text;
  fs::remove_all(dir);
}

TEST(EngineLedgerFailure, NoStateDirectoryDisablesIt) {
  LogCapture log;
  EngineLedger ledger("");
  EXPECT_FALSE(ledger.enabled());
  ledger.add("a", ::getpid());
  EXPECT_EQ(reap_stale_engines(ledger, kQuick), 0u);
  EXPECT_NE(log.text().find("no state directory"), std::string::npos) << log.text();
}

}  // namespace
}  // namespace llmux

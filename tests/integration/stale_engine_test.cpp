// The second line of defence against engines outliving llmux (the only one on macOS): the state file and the
// reaping at `llmux serve` start. The parent-death signal (the first line, Linux) is turned off with the test hook
// LLMUX_TEST_NO_PDEATHSIG=1, and every llmux of a test shares one state directory through XDG_STATE_HOME.
#include <signal.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "tests/integration/harness.hpp"

using namespace llmux::test;

namespace {

// SIGKILLs an engine's process group when the test ends, however it ends: it may have outlived its llmux.
struct GroupGuard {
  pid_t pgid;
  ~GroupGuard() {
    if (pgid > 1) ::killpg(pgid, SIGKILL);
  }
};

}  // namespace

TEST(StaleEngines, EngineOfAKilledLlmuxIsReapedAtTheNextStartNotWhileItsOwnerRuns) {
  const std::string state = make_temp_dir();
  const std::string file = state + "/llmux/engines.json";
  const std::vector<std::string> env{"XDG_STATE_HOME=" + state, "LLMUX_TEST_NO_PDEATHSIG=1"};
  const auto tag = unique_tag("stale");
  const std::string yaml = "models:\n  a:\n    cmd: " + fake_cmd(tag, "--token-ms 1") + "\n";

  Llmux first(yaml, env);
  EXPECT_TRUE(first.logged("LLMUX_TEST_NO_PDEATHSIG=1 (a test hook)"));
  auto r = first.chat("a");
  ASSERT_EQ(r.status, 200) << r.body;
  const pid_t engine = std::stoi(r.header("x-fake-pid"));
  GroupGuard guard{engine};
  const std::string pid_field = "\"pid\": " + std::to_string(engine);
  ASSERT_NE(read_text_file(file).find(pid_field), std::string::npos) << read_text_file(file);

  {  // Another llmux starting while the engine's owner runs leaves the engine and its record alone.
    Llmux bystander(yaml, env);
    EXPECT_TRUE(pid_alive(engine));
    EXPECT_NE(read_text_file(file).find(pid_field), std::string::npos) << read_text_file(file);
    EXPECT_EQ(bystander.log().find("stale engine"), std::string::npos) << bystander.log();
  }

  first.process().signal(SIGKILL);
  ASSERT_TRUE(first.process().wait_exit(5s));
  std::this_thread::sleep_for(300ms);
  ASSERT_TRUE(pid_alive(engine)) << "the parent-death signal should be off: nothing left to test";

  Llmux second(yaml, env);  // reaps before it listens
  EXPECT_TRUE(eventually([&] { return !pid_alive(engine) && find_pids_with_arg(tag).empty(); }, 3s));
  const std::string id = std::to_string(engine);
  EXPECT_TRUE(second.logged("[a] reaped stale engine pid " + id + " (pgid " + id + ")")) << second.log();
  EXPECT_EQ(read_text_file(file).find(pid_field), std::string::npos) << read_text_file(file);
  EXPECT_EQ(second.log_count("reaped stale engine"), 1u);
}

TEST(StaleEngines, AnEngineStoppedByItsLlmuxLeavesNoRecord) {
  const std::string state = make_temp_dir();
  const std::string file = state + "/llmux/engines.json";
  const auto tag = unique_tag("recorded");
  Llmux l("models:\n  a:\n    cmd: " + fake_cmd(tag, "--token-ms 1") + "\n", {"XDG_STATE_HOME=" + state});
  auto r = l.chat("a");
  ASSERT_EQ(r.status, 200) << r.body;
  const std::string pid_field = "\"pid\": " + r.header("x-fake-pid");
  EXPECT_NE(read_text_file(file).find(pid_field), std::string::npos) << read_text_file(file);
  ASSERT_EQ(http_post(l.port(), "/models/unload", R"({"model":"a"})").status, 200);
  EXPECT_TRUE(eventually([&] { return read_text_file(file).find(pid_field) == std::string::npos; }, 5s))
      << read_text_file(file);
}

// Operator commands against a running llmux: status, models, load, unload (table and --json), and the one-line
// failure when the daemon cannot be reached.
#include <sys/wait.h>

#include <regex>

#include "tests/integration/harness.hpp"

using namespace llmux::test;

namespace {

CliRun cli(const Llmux& l, std::vector<std::string> args) { return run_cli(l.port(), std::move(args)); }

}  // namespace

TEST(Cli, LoadStatusModelsUnload) {
  auto ta = unique_tag("cliA"), tb = unique_tag("cliB");
  Llmux l("models:\n  a:\n    cmd: " + fake_cmd(ta, "--load-delay-ms 200") + "\n    aliases: [fast]\n" +
          "    weights: 2GiB\n  b:\n    cmd: " + fake_cmd(tb) + "\n");
  auto none = cli(l, {"status"});
  EXPECT_EQ(none.code, 0) << none.out;
  EXPECT_NE(none.out.find("\nresident   none (at most 1)\n"), std::string::npos) << none.out;

  auto load = cli(l, {"load", "fast"});
  EXPECT_EQ(load.code, 0) << load.out;
  EXPECT_NE(load.out.find("a ready"), std::string::npos) << load.out;
  EXPECT_EQ(l.worker()["state"], "ready");
  EXPECT_EQ(find_pids_with_arg(ta).size(), 1u);

  auto status = cli(l, {"status"});
  EXPECT_EQ(status.code, 0);
  EXPECT_NE(status.out.find("\nresident   1 (at most 1): "), std::string::npos) << status.out;
  EXPECT_NE(status.out.find(" measured, 2.5 GiB estimated\n"), std::string::npos) << status.out;
  EXPECT_NE(status.out.find("\n  MODEL  STATE  PID "), std::string::npos) << status.out;
  // a's row: ready, pid, port, nothing in flight or queued, its memory (measured, estimated, ceiling), its load
  // time, idle, no TTL.
  const std::regex row(R"(\n  a +ready +\d+ +\d+ +0 +0 +(-|[\d.]+ \w+) +2\.5 GiB +(-|[\d.]+ \w+) +[\d.]+s +[\d.]+s +-\n)");
  EXPECT_TRUE(std::regex_search(status.out, row)) << status.out;
  EXPECT_NE(status.out.find("\nloads      1, last took "), std::string::npos) << status.out;
  auto status_json = nlohmann::json::parse(cli(l, {"status", "--json"}).out);
  EXPECT_EQ(status_json["worker"]["model"], "a");

  auto models = cli(l, {"models"});
  EXPECT_EQ(models.code, 0);
  EXPECT_NE(models.out.find("MODEL"), std::string::npos);
  EXPECT_NE(models.out.find("ready"), std::string::npos) << models.out;
  EXPECT_NE(models.out.find("fast"), std::string::npos) << models.out;
  auto models_json = nlohmann::json::parse(cli(l, {"models", "--json"}).out);
  EXPECT_EQ(models_json["object"], "list");

  auto not_loaded = cli(l, {"unload", "b"});
  EXPECT_EQ(not_loaded.code, 0);
  EXPECT_NE(not_loaded.out.find("nothing to unload"), std::string::npos) << not_loaded.out;
  auto unload = cli(l, {"unload", "--all"});
  EXPECT_EQ(unload.code, 0) << unload.out;
  EXPECT_NE(unload.out.find("a unloaded"), std::string::npos) << unload.out;
  EXPECT_TRUE(l.worker().is_null());
  EXPECT_TRUE(find_pids_with_arg(ta).empty());

  auto unknown = cli(l, {"load", "nope"});
  EXPECT_EQ(unknown.code, 1);
  EXPECT_NE(unknown.out.find("model 'nope' not found"), std::string::npos) << unknown.out;

  auto load_json = cli(l, {"load", "b", "--json"});
  ASSERT_EQ(load_json.code, 0) << load_json.out;
  auto lj = nlohmann::json::parse(load_json.out);
  EXPECT_EQ(lj["model"], "b");
  EXPECT_EQ(lj["state"], "ready");
  auto unload_json = cli(l, {"unload", "b", "--json"});
  ASSERT_EQ(unload_json.code, 0) << unload_json.out;
  EXPECT_EQ(nlohmann::json::parse(unload_json.out)["unloaded"], "b");
}

TEST(Cli, UnreachableDaemonIsOneLineAndExit1) {
  for (std::vector<std::string> cmd : {std::vector<std::string>{"status"}, {"models"}, {"load", "a"}, {"unload", "--all"},
                                       {"logs"}, {"logs", "-f"}}) {
    cmd.insert(cmd.begin(), LLMUX_BIN);
    cmd.insert(cmd.end(), {"--url", "http://127.0.0.1:1"});
    Process p(cmd);
    auto st = p.wait_exit(10s);
    ASSERT_TRUE(st);
    EXPECT_EQ(WEXITSTATUS(*st), 1) << cmd[1];
    std::string out = p.output();
    EXPECT_NE(out.find("cannot reach llmux at http://127.0.0.1:1"), std::string::npos) << out;
    EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
  }
}

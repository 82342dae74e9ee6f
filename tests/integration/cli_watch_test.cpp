// `llmux status --watch` against a real daemon: plain blocks into a pipe (no ANSI), the model appearing once it
// loads and a request in the recent list, Ctrl-C (SIGINT) exits 0, a daemon that goes away is one line and exit 1;
// on a terminal (a pty from util-linux `script`) it redraws in place. Usage errors exit 2.
#include <csignal>

#include "tests/integration/harness.hpp"

using namespace llmux::test;

namespace {

std::string url_of(const Llmux& l) { return "http://127.0.0.1:" + std::to_string(l.port()); }

size_t count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

int exit_code(Process& p) {
  auto st = p.wait_exit(10s);
  return st && WIFEXITED(*st) ? WEXITSTATUS(*st) : -1;
}

}  // namespace

TEST(CliWatch, PlainBlocksIntoAPipeFollowTheDaemonUntilCtrlC) {
  Llmux l("models:\n  a:\n    cmd: " + fake_cmd(unique_tag("watch")) + "\n");
  Process w({LLMUX_BIN, "status", "--watch", "--interval", "0.2", "--url", url_of(l)});
  ASSERT_TRUE(w.wait_for_output("\nresident   none (at most 1)\n", 5s)) << w.output();
  ASSERT_EQ(http_post(l.port(), "/models/load", R"({"model":"a"})").status, 200);
  ASSERT_TRUE(w.wait_for_output("\n  a      ready ", 5s)) << w.output();  // a's row in the residents' table
  ASSERT_EQ(http_post(l.port(), "/v1/chat/completions", R"({"model":"a","messages":[{"role":"user","content":"hi"}]})")
                .status,
            200);
  auto row = w.wait_for_output("           a                    200 ", 5s);
  ASSERT_TRUE(row) << w.output();
  EXPECT_NE(row->find("s    "), std::string::npos) << "TTFT and total are shown: " << *row;
  EXPECT_TRUE(w.running());
  w.signal(SIGINT);
  EXPECT_EQ(exit_code(w), 0) << w.output();
  const std::string out = w.output();
  EXPECT_GE(count(out, "\n--- "), 2u) << "repeated blocks, each opened by a --- line\n" << out;
  EXPECT_EQ(out.find('\x1b'), std::string::npos) << "no terminal codes into a pipe";
  EXPECT_EQ(out.find("llmux: "), std::string::npos) << "Ctrl-C is not an error\n" << out;
}

TEST(CliWatch, DaemonGoneIsOneLineAndExit1) {
  auto l = std::make_unique<Llmux>("models:\n  a:\n    cmd: " + fake_cmd(unique_tag("watchgone")) + "\n");
  Process w({LLMUX_BIN, "status", "--watch", "--interval", "0.2", "--url", url_of(*l)});
  ASSERT_TRUE(w.wait_for_output("--- ", 5s)) << w.output();
  l->process().signal(SIGTERM);
  ASSERT_TRUE(l->process().wait_exit(10s));
  EXPECT_EQ(exit_code(w), 1) << w.output();
  EXPECT_EQ(count(w.output(), "llmux: the daemon stopped answering: cannot reach llmux at " + url_of(*l)), 1u)
      << w.output();
}

TEST(CliWatch, RedrawsInPlaceOnATerminal) {
#ifndef __linux__
  GTEST_SKIP() << "the pty comes from util-linux `script` (BSD's takes other flags): not tested here";
#endif
  if (::access("/usr/bin/script", X_OK) != 0 && ::access("/bin/script", X_OK) != 0)
    GTEST_SKIP() << "util-linux `script` is not installed: the terminal redraw was not tested";
  Llmux l("models:\n  a:\n    cmd: " + fake_cmd(unique_tag("watchtty")) + "\n");
  // Inside the pty: the watch, then Ctrl-C's signal once it has drawn a few frames, then its exit status.
  const std::string cmd = "'" + std::string(LLMUX_BIN) + "' status --watch --interval 0.2 --url " + url_of(l) +
                          " & pid=$!; sleep 1; kill -INT $pid; wait $pid; echo \"watch exited $?\"";
  Process w({"script", "-qfec", cmd, "/dev/null"});
  auto st = w.wait_exit(10s);
  ASSERT_TRUE(st) << w.output();
  const std::string out = w.output();
  EXPECT_GE(count(out, "\x1b[H\x1b[J--- "), 2u) << "each frame starts at the top of a cleared screen\n" << out;
  EXPECT_EQ(out.find("\x1b[?25l"), 0u) << "the cursor is hidden while redrawing\n" << out;
  EXPECT_NE(out.find("\x1b[?25h"), std::string::npos) << "the cursor is shown again on exit\n" << out;
  EXPECT_NE(out.find("watch exited 0"), std::string::npos) << out;
}

TEST(CliWatch, UsageErrorsAndNoDaemon) {
  auto run = [](std::vector<std::string> args) {
    args.insert(args.begin(), LLMUX_BIN);
    Process p(args);
    auto st = p.wait_exit(10s);
    return std::make_pair(st && WIFEXITED(*st) ? WEXITSTATUS(*st) : -1, p.output());
  };
  auto zero = run({"status", "--watch", "--interval", "0"});
  EXPECT_EQ(zero.first, 2);
  EXPECT_NE(zero.second.find("--interval: expected seconds from 0.1 to 3600"), std::string::npos) << zero.second;
  EXPECT_EQ(run({"status", "--watch", "--interval", "2x"}).first, 2);
  EXPECT_EQ(run({"status", "--interval", "2"}).first, 2);
  EXPECT_EQ(run({"models", "--watch"}).first, 2);
  auto down = run({"status", "--watch", "--url", "http://127.0.0.1:" + std::to_string(pick_free_port())});
  EXPECT_EQ(down.first, 1);
  EXPECT_EQ(count(down.second, "\n"), 1u) << down.second;
  EXPECT_EQ(down.second.rfind("llmux: cannot reach llmux at", 0), 0u) << down.second;
}

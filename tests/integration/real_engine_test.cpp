// Optional: the swap and streaming checks against a real llama-server, when one is installed and a model is named
// by LLMUX_TEST_GGUF. Skipped (with the reason) otherwise.
#include <cstdlib>

#include "tests/integration/harness.hpp"

using namespace llmux::test;

namespace {

std::string which(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    std::string candidate = dirs.substr(start, end - start) + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  return "";
}

}  // namespace

TEST(RealEngine, LlamaServerSwapAndStream) {
  std::string server = which("llama-server");
  const char* gguf = std::getenv("LLMUX_TEST_GGUF");
  if (server.empty() || gguf == nullptr || ::access(gguf, R_OK) != 0)
    GTEST_SKIP() << "llama-server not on PATH or LLMUX_TEST_GGUF not set to a readable .gguf: real-engine test "
                    "skipped";
  std::string cmd = server + " --host 127.0.0.1 --port ${PORT} -m " + gguf + " -c 512 -np 1";
  auto tb = unique_tag("real-b");
  Llmux l("healthCheckTimeout: 300\nmodels:\n  real:\n    cmd: " + cmd + "\n  fake:\n    cmd: " + fake_cmd(tb) + "\n");
  auto r1 = l.chat("real", R"(,"max_tokens":8)", 300s);
  ASSERT_EQ(r1.status, 200) << r1.body;
  auto s = l.stream_chat("real", {}, R"(,"max_tokens":8)", 300s);
  EXPECT_EQ(s.status, 200);
  EXPECT_TRUE(stream_done(s)) << s.body;
  EXPECT_EQ(l.chat("fake").status, 200);
  auto r2 = l.chat("real", R"(,"max_tokens":4)", 300s);
  EXPECT_EQ(r2.status, 200) << r2.body;
  EXPECT_TRUE(find_pids_with_arg(tb).empty());
}

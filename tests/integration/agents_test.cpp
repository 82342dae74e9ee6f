// Agent loops end to end (a real llmux and the fake engine with its prompt-cache model): the prefix diagnosis in
// the PERF line, /metrics, GET /prefix and `llmux prefix`; the admin key rule on /prefix; a stream the client read
// to its [DONE] and then closed is recorded as completed (200), not as a client that left (499).
#include <regex>

#include "tests/integration/harness.hpp"

using namespace llmux::test;

namespace {

const std::string kSystem = "You are an agent. Today is 2025-01-05 12:03:44. Work carefully.";

// A streamed chat request of an agent loop at turn `turns` (tool round trips after the task).
std::string agent_body(int turns, const std::string& system = kSystem) {
  nlohmann::json msgs = nlohmann::json::array({{{"role", "system"}, {"content", system}},
                                                {{"role", "user"}, {"content", "list the files"}}});
  for (int t = 0; t < turns; ++t) {
    msgs.push_back({{"role", "assistant"}, {"content", "calling ls " + std::to_string(t)}});
    msgs.push_back({{"role", "user"}, {"content", "a.c b.c c.c turn " + std::to_string(t)}});
  }
  nlohmann::json tools = nlohmann::json::array({{{"type", "function"}, {"function", {{"name", "ls"}}}}});
  return nlohmann::json{{"model", "a"},      {"stream", true}, {"stream_options", {{"include_usage", true}}},
                        {"messages", msgs}, {"tools", tools}, {"max_tokens", 2}}
      .dump();
}

// The n-th PERF line logged for model a (via GET /logs), or "".
std::string perf(Llmux& l, size_t nth) {
  auto logs = http_get(l.port(), "/logs?model=a&limit=500").json();
  size_t seen = 0;
  for (const auto& line : logs["lines"]) {
    const std::string text = line["text"];
    if (text.starts_with("PERF ") && seen++ == nth) return text;
  }
  return "";
}

std::string metric(const std::string& text, const std::string& name) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (line.starts_with(name + " ")) return line.substr(name.size() + 1);
  return "<absent>";
}

}  // namespace

TEST(AgentLoop, PrefixDiagnosisInPerfMetricsPrefixRouteAndCli) {
  auto tag = unique_tag("agent");
  Llmux l("models:\n  a:\n    cmd: " + fake_cmd(tag, "--slots 1 --token-ms 0") + "\n");
  for (int turn = 0; turn < 3; ++turn) {
    auto r = http_stream(l.port(), "POST", "/v1/chat/completions", agent_body(turn));
    ASSERT_EQ(r.status, 200);
    ASSERT_TRUE(stream_done(r));
  }
  std::string later = kSystem;
  later.replace(later.find("12:03:44"), 8, "12:05:10");
  ASSERT_EQ(http_stream(l.port(), "POST", "/v1/chat/completions", agent_body(3, later)).status, 200);
  ASSERT_TRUE(eventually([&] { return !perf(l, 3).empty(); }));

  std::smatch m;
  const std::string p0 = perf(l, 0), p1 = perf(l, 1), p2 = perf(l, 2), p3 = perf(l, 3);
  ASSERT_TRUE(std::regex_search(p0, m, std::regex(R"(conv=([0-9a-f]{8}) reuse=0/2 first_changed=- chain_break=no)")))
      << p0;
  const std::string conv = m[1];
  // Turn 1 reuses both messages of turn 0, and the engine (its cache model) reports them cached.
  ASSERT_TRUE(std::regex_search(p1, m, std::regex(R"(prompt=(\d+) cached=(\d+) .* conv=)" + conv +
                                                   R"( reuse=2/4 first_changed=- chain_break=no)")))
      << p1;
  EXPECT_GT(std::stoi(m[2]), 0);
  EXPECT_NE(p2.find("reuse=4/6 first_changed=- chain_break=no"), std::string::npos) << p2;
  // The timestamp moved: the break is at message 0, and the engine's cache is lost there too.
  ASSERT_TRUE(std::regex_search(p3, m, std::regex(R"(cached=(\d+) .* conv=)" + conv +
                                                   R"( reuse=0/8 first_changed=0 chain_break=yes)")))
      << p3;
  EXPECT_LT(std::stoi(m[1]), 10);
  EXPECT_TRUE(l.logged("PREFIX conv=" + conv + " chain break at message 0 (reused 0 of 8 messages): message 0 "
                       "(system) differs at char 41: digits only - a timestamp?"))
      << l.log();
  EXPECT_TRUE(l.logged("digits only - a timestamp?"));

  const std::string metrics = http_get(l.port(), "/metrics").body;
  EXPECT_EQ(metric(metrics, R"(llmux_prefix_requests_total{model="a"})"), "4") << metrics;
  EXPECT_EQ(metric(metrics, R"(llmux_prefix_chain_breaks_total{model="a"})"), "1");
  EXPECT_NE(metric(metrics, R"(llmux_prefix_reuse_share{model="a"})"), "<absent>");

  auto prefix = http_get(l.port(), "/prefix").json();
  ASSERT_EQ(prefix["conversations"].size(), 1u) << prefix.dump();
  const auto& c = prefix["conversations"][0];
  EXPECT_EQ(c["id"], conv);
  EXPECT_EQ(c["requests"], 4);
  EXPECT_EQ(c["chainBreaks"], 1);
  EXPECT_EQ(prefix.dump().find("list the files"), std::string::npos);  // no prompt text

  const CliRun table = run_cli(l.port(), {"prefix"});
  EXPECT_EQ(table.code, 0) << table.out;
  EXPECT_NE(table.out.find(conv + "  a "), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("break "), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("digits only - a timestamp?"), std::string::npos) << table.out;
  const CliRun js = run_cli(l.port(), {"prefix", "--json", "-n", "5"});
  EXPECT_EQ(js.code, 0) << js.out;
  EXPECT_EQ(nlohmann::json::parse(js.out)["conversations"][0]["id"], conv);
  const CliRun bad = run_cli(l.port(), {"prefix", "-n", "lots"});
  EXPECT_EQ(bad.code, 2) << bad.out;
  EXPECT_NE(bad.out.find("-n needs a number"), std::string::npos) << bad.out;
  EXPECT_EQ(http_get(l.port(), "/prefix?limit=x").status, 400);
}

TEST(AgentLoop, PrefixRouteNeedsTheAdminKey) {
  auto tag = unique_tag("agentkey");
  Llmux l("apiKeys: [user-key-1]\nadminKeys: [admin-key-1]\nmodels:\n  a:\n    cmd: " + fake_cmd(tag) + "\n");
  EXPECT_EQ(http_request(l.port(), "GET", "/prefix", "", {{"Authorization", "Bearer user-key-1"}}).status, 403);
  EXPECT_EQ(http_request(l.port(), "GET", "/prefix", "", {{"Authorization", "Bearer admin-key-1"}}).status, 200);
  EXPECT_EQ(http_get(l.port(), "/prefix").status, 401);
  const CliRun denied = run_cli(l.port(), {"prefix", "--api-key", "user-key-1"});
  EXPECT_EQ(denied.code, 1) << denied.out;
}

// The OpenAI Node SDK stops reading at `data: [DONE]` and closes; the engine's end of the chunked body comes
// later (--done-gap-ms): the request was answered whole, so it is a 200, not a 499.
TEST(AgentLoop, ClientClosingRightAfterDoneIsRecordedAsCompleted) {
  auto tag = unique_tag("donegap");
  Llmux l("models:\n  a:\n    cmd: " + fake_cmd(tag, "--tokens 3 --token-ms 50 --done-gap-ms 400") + "\n");
  for (int i = 0; i < 3; ++i) {
    bool saw_done = false;
    auto r = l.stream_chat("a", [&](const SseEvent& e) {
      saw_done = e.data == "[DONE]";
      return !saw_done;  // close at once
    });
    ASSERT_EQ(r.status, 200);
    ASSERT_TRUE(saw_done);
    ASSERT_TRUE(r.closed_early);
  }
  // A client that leaves before [DONE] is still a 499.
  auto cut = l.stream_chat("a", [](const SseEvent& e) { return e.data.find("tok1") == std::string::npos; });
  ASSERT_TRUE(cut.closed_early);
  ASSERT_TRUE(eventually([&] { return !perf(l, 3).empty(); }));
  for (size_t i = 0; i < 3; ++i) EXPECT_NE(perf(l, i).find("PERF status=200 "), std::string::npos) << perf(l, i);
  EXPECT_NE(perf(l, 3).find("PERF status=499 "), std::string::npos) << perf(l, 3);
  const std::string metrics = http_get(l.port(), "/metrics").body;
  EXPECT_EQ(metric(metrics, R"(llmux_requests_total{model="a",status="200"})"), "3") << metrics;
  EXPECT_EQ(metric(metrics, R"(llmux_requests_total{model="a",status="499"})"), "1") << metrics;
}

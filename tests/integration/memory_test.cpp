// Memory governance and request rules with real engine processes: refusal before spawn, ceiling eviction after
// the in-flight request, pressure eviction (injected through LLMUX_PRESSURE_FILE), generation caps and params.
#include <thread>

#include "tests/integration/harness.hpp"

using namespace llmux::test;

TEST(Memory, ModelThatCannotFitIsRefusedBeforeSpawning) {
  auto tag = unique_tag("huge");
  Llmux l("models:\n  huge:\n    cmd: " + fake_cmd(tag) + "\n    weights: 200GiB\n    kvReservation: 8GiB\n");
  auto r = l.chat("huge");
  EXPECT_EQ(r.status, 507) << r.body;
  EXPECT_EQ(r.json()["error"]["code"], "insufficient_memory");
  auto msg = r.json()["error"]["message"].get<std::string>();
  EXPECT_NE(msg.find("needs 208.5 GiB"), std::string::npos) << msg;
  EXPECT_NE(msg.find("memory.budget"), std::string::npos) << msg;
  EXPECT_TRUE(find_pids_with_arg(tag).empty()) << "never spawned";
  EXPECT_TRUE(l.worker().is_null());
  auto models = http_get(l.port(), "/v1/models").json();
  EXPECT_EQ(models["data"][0]["footprint"]["fitsBudget"], false);
}

TEST(Memory, WorkerAboveItsCeilingIsEvictedOnlyAfterItsRequestFinishes) {
  auto tag = unique_tag("grow");
  Llmux l("memory:\n  sampleInterval: 100ms\nmodels:\n  a:\n    cmd: " +
          fake_cmd(tag, "--memory-mb 160 --token-ms 60 --tokens 12") + "\n    maxMemory: 64MiB\n");
  auto s = l.stream_chat("a");  // loads, allocates 160 MiB, streams for ~0.7 s while sampled
  EXPECT_TRUE(stream_done(s)) << s.body;
  EXPECT_EQ(count_content_events(s), 12u) << "the in-flight request is never cut";
  ASSERT_TRUE(eventually([&] { return l.worker().is_null(); }, 3s)) << l.log();
  EXPECT_TRUE(l.logged("above its ceiling"));
  EXPECT_TRUE(l.logged("(ceiling)"));
  EXPECT_TRUE(find_pids_with_arg(tag).empty());
}

TEST(Memory, StatusShowsMeasuredMemoryOfTheWorker) {
  auto tag = unique_tag("rss");
  Llmux l("memory:\n  sampleInterval: 100ms\nmodels:\n  a:\n    cmd: " + fake_cmd(tag, "--memory-mb 96") +
          "\n    weights: 1GiB\n");
  ASSERT_EQ(l.chat("a", R"(,"max_tokens":1)").status, 200);
  ASSERT_TRUE(eventually([&] {
    auto m = l.worker()["memory"];
    return m.is_object() && m["rssBytes"].is_number() && m["rssBytes"].get<uint64_t>() > (90ull << 20);
  }, 3s)) << l.status().dump();
  auto m = l.worker()["memory"];
  EXPECT_EQ(m["estimateBytes"].get<uint64_t>(), (1ull << 30) + (512ull << 20));
  EXPECT_EQ(m["ceilingBytes"].get<uint64_t>(), static_cast<uint64_t>(1.25 * ((1ull << 30) + (512ull << 20))));
  EXPECT_GT(l.status()["system"]["totalBytes"].get<uint64_t>(), 0u);
}

TEST(Memory, PressureEvictsTheIdleWorkerAndCriticalPressureRefusesLoads) {
  auto tag = unique_tag("pressure");
  auto dir = make_temp_dir();
  std::string level = dir + "/level";
  write_file(level, "normal");
  Llmux l("models:\n  a:\n    cmd: " + fake_cmd(tag, "--token-ms 1") + "\n", {"LLMUX_PRESSURE_FILE=" + level});
  ASSERT_EQ(l.chat("a").status, 200);
  auto start = std::chrono::steady_clock::now();
  write_file(level, "warning");
  ASSERT_TRUE(eventually([&] { return l.worker().is_null(); }, 3s)) << l.log();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1500ms) << "evicted within about a second";
  EXPECT_TRUE(l.logged("(pressure)"));
  write_file(level, "critical");
  ASSERT_TRUE(eventually([&] { return l.status()["system"]["pressure"] == "critical"; }, 2s));
  auto refused = l.chat("a");
  EXPECT_EQ(refused.status, 503) << refused.body;
  EXPECT_EQ(refused.json()["error"]["code"], "memory_pressure");
  EXPECT_TRUE(find_pids_with_arg(tag).empty());
  write_file(level, "normal");
  ASSERT_TRUE(eventually([&] { return l.status()["system"]["pressure"] == "normal"; }, 2s));
  EXPECT_EQ(l.chat("a").status, 200);
}

TEST(Rules, TokenCapsAndParamRulesShapeWhatTheEngineReceives) {
  auto tag = unique_tag("rules");
  Llmux l("models:\n  a:\n    cmd: " + fake_cmd(tag, "--token-ms 1") +
          "\n    maxTokens: {default: 5, limit: 8}\n"
          "    params:\n      defaults: {frequency_penalty: 0.1}\n"
          "      force: {chat_template_kwargs: {enable_thinking: false}}\n      strip: [top_k]\n");
  auto r = http_post(l.port(), "/v1/chat/completions",
                     R"({"model":"a","max_tokens":100,"top_k":5,"messages":[{"role":"user","content":"x"}]})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.header("x-llmux-max-tokens-clamped"), "max_tokens 100 -> 8");
  EXPECT_EQ(r.json()["usage"]["completion_tokens"], 8);
  auto engine = static_cast<uint16_t>(l.worker()["port"].get<int>());
  auto got = http_get(engine, "/debug/last-request").json();
  EXPECT_EQ(got["max_tokens"], 8);
  EXPECT_FALSE(got.contains("top_k"));
  EXPECT_EQ(got["frequency_penalty"], 0.1);
  EXPECT_EQ(got["chat_template_kwargs"]["enable_thinking"], false);
  auto d = http_post(l.port(), "/v1/completions", R"({"model":"a","prompt":"x","frequency_penalty":0.5})");
  ASSERT_EQ(d.status, 200);
  EXPECT_TRUE(d.header("x-llmux-max-tokens-clamped").empty());
  got = http_get(engine, "/debug/last-request").json();
  EXPECT_EQ(got["max_tokens"], 5) << "the default applies when the request sets none";
  EXPECT_EQ(got["frequency_penalty"], 0.5) << "defaults never override the client";
  auto s = l.stream_chat("a", {}, R"(,"max_completion_tokens":50)");
  EXPECT_EQ(count_content_events(s), 8u);
  EXPECT_EQ(s.headers["x-llmux-max-tokens-clamped"], "max_completion_tokens 50 -> 8");
}

TEST(Rules, RejectModeRefusesRequestsAboveTheLimit) {
  auto tag = unique_tag("reject");
  Llmux l("models:\n  a:\n    cmd: " + fake_cmd(tag, "--token-ms 1") +
          "\n    maxTokens: {limit: 8, onExceed: reject}\n");
  auto r = l.chat("a", R"(,"max_tokens":9000)");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(r.json()["error"]["code"], "max_tokens_exceeded");
  EXPECT_TRUE(find_pids_with_arg(tag).empty()) << "rejected before any engine was started";
}

TEST(Memory, OnCeilingRestartStartsTheModelAgainOnceWithoutARestartStorm) {
  auto tag = unique_tag("restart");
  Llmux l("memory:\n  sampleInterval: 100ms\n  onCeiling: restart\nmodels:\n  a:\n    cmd: " +
          fake_cmd(tag, "--memory-mb 128 --token-ms 1") + "\n    maxMemory: 64MiB\n");
  auto r = l.chat("a");
  ASSERT_EQ(r.status, 200);
  int first = std::stoi(r.header("x-fake-pid"));
  // Restarted once; the new engine is over its ceiling before serving anything, so it is only evicted.
  ASSERT_TRUE(l.logged("not restarting it")) << l.log();
  ASSERT_TRUE(eventually([&] { return l.worker().is_null(); }, 3s));
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(l.log_count("[a] loading model"), 2u) << l.log();
  EXPECT_FALSE(pid_alive(first));
  EXPECT_TRUE(find_pids_with_arg(tag).empty());
}

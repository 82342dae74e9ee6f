// The admin answers and the loading feedback as pure functions of a DaemonSnapshot built by hand: the JSON fields
// clients and the CLI read, and the words a waiting stream is told.
#include "proxy/policy/admin_json.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "config_test_support.hpp"
#include "proxy/policy/load_feedback.hpp"

using namespace llmux;

namespace {

Footprint footprint_of(uint64_t weights, uint64_t kv, uint64_t overhead, const char* weights_source) {
  Footprint f;
  f.weights = weights;
  f.kv = kv;
  f.overhead = overhead;
  f.weights_source = weights_source;
  return f;
}

}  // namespace

using nlohmann::json;

namespace {

constexpr uint64_t GiB = 1ull << 30;

DaemonSnapshot snapshot() {
  DaemonSnapshot s;
  s.now = std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'100));
  s.started_at = s.now - std::chrono::seconds(100);
  s.config = config_test::load(config_test::lines({
      "models:",
      "  a:",
      "    cmd: llama-server --port ${PORT} -m a.gguf",
      "    aliases: [alpha]",
      "    ttl: 60s",
      "  b:",
      "    cmd: llama-server --port ${PORT} -m b.gguf",
  }));
  s.worker.state = WorkerPhase::ready;
  s.worker.model = "a";
  s.worker.pid = 4242;
  s.worker.endpoint = EngineEndpoint{"127.0.0.1", 5001, ""};
  s.worker.started_at = s.now - std::chrono::seconds(30);
  s.worker.load_seconds = 2.5;
  s.worker.last_line = "Loading safetensors checkpoint shards:  45% Completed";
  s.worker_memory = WorkerMemory{footprint_of(1 * GiB, 0, 0, "weights: 1 GiB"), 2 * GiB, 512ull << 20, std::nullopt, 0, 0};
  s.in_flight = 0;
  s.queued = 3;
  s.swaps = 7;
  s.idle_seconds = 4;
  s.ttl_remaining_seconds = 56;
  s.last_stop_reason = "swap";
  s.pressure = "normal";
  s.pressure_source = "file";
  s.memory = SystemMemory{16 * GiB, 8 * GiB};
  s.footprints["a"] = footprint_of(1 * GiB, 0, 0, "weights: 1 GiB");
  s.footprints["b"] = footprint_of(20 * GiB, 0, 0, "weights: 20 GiB");  // above the 0.8 x 16 GiB budget
  s.pid = 99;
  s.listen = "127.0.0.1:8484";
  s.config_state.path = "/etc/llmux.yaml";
  s.config_state.text = "key: s3cr3t-value\n";
  s.redactor = std::make_shared<const Redactor>(std::vector<std::string>{"s3cr3t-value"});
  return s;
}

}  // namespace

TEST(AdminJson, StatusTellsTheWorkerQueueHistoryAndSystem) {
  DaemonSnapshot s = snapshot();
  s.last_start_failure = StartFailureSnapshot{"b", "exited with status 1 (s3cr3t-value)", s.now, {"boom"}};
  const json j = json::parse(status_json(s));
  EXPECT_EQ(j["pid"], 99);
  EXPECT_EQ(j["listen"], "127.0.0.1:8484");
  EXPECT_DOUBLE_EQ(j["uptimeSeconds"].get<double>(), 100);
  EXPECT_EQ(j["queue"]["length"], 3);
  EXPECT_EQ(j["swaps"], 7);
  EXPECT_EQ(j["lastStopReason"], "swap");
  EXPECT_TRUE(j["lastLoadSeconds"].is_null());
  const json& w = j["worker"];
  EXPECT_EQ(w["model"], "a");
  EXPECT_EQ(w["state"], "ready");
  EXPECT_EQ(w["port"], 5001);
  EXPECT_DOUBLE_EQ(w["loadSeconds"].get<double>(), 2.5);
  EXPECT_DOUBLE_EQ(w["uptimeSeconds"].get<double>(), 30);
  EXPECT_DOUBLE_EQ(w["idleSeconds"].get<double>(), 4);
  EXPECT_DOUBLE_EQ(w["ttlRemainingSeconds"].get<double>(), 56);
  EXPECT_FALSE(w.contains("lastLine"));  // only while it starts
  EXPECT_EQ(w["limits"]["ttlSeconds"], 60);
  EXPECT_EQ(w["memory"]["rssBytes"], 512ull << 20);
  EXPECT_EQ(w["memory"]["ceilingBytes"], 2 * GiB);
  EXPECT_EQ(j["system"]["budgetBytes"], static_cast<uint64_t>(0.8 * static_cast<double>(16 * GiB)));
  EXPECT_EQ(j["lastStartFailure"]["reason"], "exited with status 1 ([redacted])");  // redacted on the way out
  EXPECT_EQ(j["config"]["path"], s.config->path);

  s.in_flight = 2;  // busy: not idle, whatever the history says
  s.worker.state = WorkerPhase::starting;
  const json busy = json::parse(status_json(s))["worker"];
  EXPECT_TRUE(busy["idleSeconds"].is_null());
  EXPECT_FALSE(busy.contains("loadSeconds"));
  EXPECT_EQ(busy["lastLine"], s.worker.last_line);

  s.worker.state = WorkerPhase::none;
  EXPECT_TRUE(json::parse(status_json(s))["worker"].is_null());
}

TEST(AdminJson, ModelsRunningConfigAndMetrics) {
  DaemonSnapshot s = snapshot();
  const json models = json::parse(models_json(s));
  ASSERT_EQ(models["data"].size(), 3u);  // a, its alias, b
  EXPECT_EQ(models["data"][0]["id"], "a");
  EXPECT_EQ(models["data"][0]["state"], "ready");
  EXPECT_EQ(models["data"][0]["footprint"]["fitsBudget"], true);
  EXPECT_EQ(models["data"][1]["alias_of"], "a");
  EXPECT_EQ(models["data"][2]["state"], "stopped");
  EXPECT_EQ(models["data"][2]["footprint"]["fitsBudget"], false);
  EXPECT_EQ(models["data"][0]["created"], 1'700'000'100);

  const json running = json::parse(running_json(s));
  ASSERT_EQ(running["running"].size(), 1u);
  EXPECT_EQ(running["running"][0]["proxy"], "http://127.0.0.1:5001");
  EXPECT_EQ(running["running"][0]["ttl"], 60);

  const json cfg = json::parse(config_json(s));
  EXPECT_EQ(cfg["path"], "/etc/llmux.yaml");
  EXPECT_EQ(cfg["text"].get<std::string>().find("s3cr3t-value"), std::string::npos);

  Metrics m;
  const std::string text = metrics_text(s, m);
  EXPECT_NE(text.find("llmux_queue_depth 3"), std::string::npos) << text;

  s.worker.state = WorkerPhase::none;
  EXPECT_EQ(json::parse(running_json(s))["running"].size(), 0u);
  EXPECT_EQ(json::parse(models_json(s))["data"][0]["state"], "stopped");
}

TEST(LoadFeedback, WordsFollowTheWorkerState) {
  WorkerSnapshot w;
  w.model = "a";
  w.state = WorkerPhase::starting;
  w.last_line = "Loading safetensors checkpoint shards:  45% Completed";
  EXPECT_EQ(feedback_text(w, "a", 12), "llmux: loading a: loading weights, 45% (12s)");
  EXPECT_EQ(feedback_text(w, "b", 3), "llmux: waiting for b (3s)");  // another model is loading
  w.state = WorkerPhase::ready;
  EXPECT_EQ(feedback_text(w, "a", 1), "llmux: queued for a (1s)");

  LoadingFeedback comment{"a", "alpha", false};
  EXPECT_EQ(feedback_event(w, comment, 1, 7, 1700000000), ": llmux: queued for a (1s)\n\n");
  LoadingFeedback reasoning{"a", "alpha", true};
  const std::string e = feedback_event(w, reasoning, 1, 7, 1700000000);
  ASSERT_EQ(e.rfind("data: ", 0), 0u);
  const json chunk = json::parse(e.substr(6));
  EXPECT_EQ(chunk["id"], "llmux-load-7");
  EXPECT_EQ(chunk["model"], "alpha");
  EXPECT_EQ(chunk["created"], 1700000000);
  EXPECT_EQ(chunk["choices"][0]["delta"]["reasoning_content"], "llmux: queued for a (1s)\n");

  w.state = WorkerPhase::starting;
  const json p = json::parse(load_progress_event(w, "a", 2).substr(6));
  EXPECT_EQ(p["state"], "starting");
  EXPECT_EQ(p["lastLine"], w.last_line);
  const json other = json::parse(load_progress_event(w, "b", 2).substr(6));
  EXPECT_EQ(other["state"], "waiting");
  EXPECT_FALSE(other.contains("lastLine"));
}

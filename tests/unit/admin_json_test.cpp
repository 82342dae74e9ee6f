// The admin answers and the loading feedback as pure functions of a DaemonSnapshot built by hand: the JSON fields
// clients and the CLI read, and the words a waiting stream is told.
#include "proxy/policy/admin_json.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "daemon_snapshot_support.hpp"
#include "proxy/policy/load_feedback.hpp"

using namespace llmux;
using namespace llmux::snapshot_test;
using nlohmann::json;

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

  s.workers[0].in_flight = 2;  // busy: not idle, whatever the history says
  s.workers[0].worker.state = WorkerPhase::starting;
  const json busy = json::parse(status_json(s))["worker"];
  EXPECT_TRUE(busy["idleSeconds"].is_null());
  EXPECT_FALSE(busy.contains("loadSeconds"));
  EXPECT_EQ(busy["lastLine"], s.workers[0].worker.last_line);

  s.workers.clear();
  const json none = json::parse(status_json(s));
  EXPECT_TRUE(none["worker"].is_null());
  EXPECT_EQ(none["workers"], json::array());
  EXPECT_EQ(none["system"]["residentMemory"]["rssBytes"], 0);
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

  s.workers.clear();
  EXPECT_EQ(json::parse(running_json(s))["running"].size(), 0u);
  EXPECT_EQ(json::parse(models_json(s))["data"][0]["state"], "stopped");
}

TEST(AdminJson, StatusListsEveryResidentWithItsMemory) {
  const DaemonSnapshot s = two_residents();
  const json j = json::parse(status_json(s));
  ASSERT_EQ(j["workers"].size(), 2u);
  const json& a = j["workers"][0];  // start order
  const json& b = j["workers"][1];
  EXPECT_EQ(j["worker"], a) << "older clients read the first resident as `worker`";
  EXPECT_EQ(a["model"], "a");
  EXPECT_EQ(a["state"], "ready");
  EXPECT_EQ(a["queued"], 3);
  EXPECT_EQ(a["pinned"], false);
  EXPECT_DOUBLE_EQ(a["idleSeconds"].get<double>(), 4);
  EXPECT_DOUBLE_EQ(a["ttlRemainingSeconds"].get<double>(), 56);
  EXPECT_DOUBLE_EQ(a["lastUsedSeconds"].get<double>(), 4);
  EXPECT_EQ(a["memory"]["rssBytes"], 512ull << 20);
  EXPECT_EQ(a["memory"]["estimateBytes"], 1 * GiB);
  EXPECT_EQ(b["model"], "b");
  EXPECT_EQ(b["state"], "starting");
  EXPECT_EQ(b["pid"], 4343);
  EXPECT_EQ(b["port"], 5002);
  EXPECT_EQ(b["inFlight"], 2);
  EXPECT_EQ(b["queued"], 0);
  EXPECT_EQ(b["pinned"], true);
  EXPECT_TRUE(b["idleSeconds"].is_null()) << "requests in flight: not idle";
  EXPECT_TRUE(b["ttlRemainingSeconds"].is_null());
  EXPECT_DOUBLE_EQ(b["lastUsedSeconds"].get<double>(), 0.5);
  EXPECT_FALSE(b.contains("loadSeconds"));
  EXPECT_EQ(b["memory"]["rssBytes"], 256ull << 20);
  EXPECT_EQ(b["memory"]["gpuBytes"], 1 * GiB);
  EXPECT_TRUE(b["memory"]["ceilingBytes"].is_null());
  EXPECT_EQ(j["inFlight"], 2);
  const json& sys = j["system"];
  EXPECT_EQ(sys["maxResident"], 0);
  EXPECT_EQ(sys["residentMemory"]["workers"], 2);
  EXPECT_EQ(sys["residentMemory"]["rssBytes"], (512ull << 20) + (256ull << 20));
  EXPECT_EQ(sys["residentMemory"]["estimateBytes"], 3 * GiB);
  EXPECT_EQ(sys["residentMemory"]["gpuBytes"], 1 * GiB);
}

TEST(AdminJson, ModelsAndRunningShowEveryResident) {
  const DaemonSnapshot s = two_residents();
  ASSERT_NE(s.find("b"), nullptr);
  EXPECT_EQ(s.find("b")->worker.pid, 4343);
  EXPECT_EQ(s.find("alpha"), nullptr) << "find takes model ids, not aliases";
  const json models = json::parse(models_json(s));
  EXPECT_EQ(models["data"][0]["state"], "ready");
  EXPECT_EQ(models["data"][1]["state"], "ready");  // alpha, a's alias
  EXPECT_EQ(models["data"][2]["state"], "starting");
  EXPECT_EQ(json::parse(*model_json(s, "b"))["state"], "starting");

  const json running = json::parse(running_json(s))["running"];
  ASSERT_EQ(running.size(), 2u);
  EXPECT_EQ(running[0]["model"], "a");
  EXPECT_EQ(running[0]["state"], "ready");
  EXPECT_EQ(running[0]["proxy"], "http://127.0.0.1:5001");
  EXPECT_EQ(running[0]["ttl"], 60);
  EXPECT_EQ(running[0]["memory"]["rssBytes"], 512ull << 20);
  EXPECT_EQ(running[1]["model"], "b");
  EXPECT_EQ(running[1]["state"], "starting");
  EXPECT_EQ(running[1]["proxy"], "http://127.0.0.1:5002");
  EXPECT_EQ(running[1]["ttl"], 0);
  EXPECT_EQ(running[1]["inFlight"], 2);
  EXPECT_EQ(running[1]["memory"]["estimateBytes"], 2 * GiB);
}

namespace {

// Prometheus text format: every sample's family declared once (one HELP, one TYPE, before its samples), and the
// samples of one family together.
void expect_valid_exposition(const std::string& text) {
  std::map<std::string, int> help, type;
  std::set<std::string> done;  // families whose samples ended
  std::string current;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("# HELP ", 0) == 0) { ++help[line.substr(7, line.find(' ', 7) - 7)]; continue; }
    if (line.rfind("# TYPE ", 0) == 0) { ++type[line.substr(7, line.find(' ', 7) - 7)]; continue; }
    std::string name = line.substr(0, line.find_first_of("{ "));
    for (const char* suffix : {"_bucket", "_sum", "_count"})
      if (!type.count(name) && name.size() > strlen(suffix) && name.ends_with(suffix))
        name.resize(name.size() - strlen(suffix));
    EXPECT_EQ(type.count(name), 1u) << "no TYPE before " << line;
    if (name != current) {
      EXPECT_EQ(done.count(name), 0u) << name << "'s samples are split";
      if (!current.empty()) done.insert(current);
      current = name;
    }
  }
  for (const auto& [name, n] : help) EXPECT_EQ(n, 1) << "HELP " << name;
  for (const auto& [name, n] : type) EXPECT_EQ(n, 1) << "TYPE " << name;
}

}  // namespace

TEST(AdminJson, MetricsLabelEveryResidentsGauges) {
  const DaemonSnapshot s = two_residents();
  Metrics m;
  m.request("a", 200, 0.1, 0.05);
  const std::string text = metrics_text(s, m);
  expect_valid_exposition(text);
  for (const char* line : {"llmux_resident_workers 2\n",
                           "llmux_worker_state{model=\"a\",state=\"ready\"} 1\n",
                           "llmux_worker_state{model=\"b\",state=\"starting\"} 1\n",
                           "llmux_worker_in_flight{model=\"a\"} 0\n",
                           "llmux_worker_in_flight{model=\"b\"} 2\n",
                           "llmux_worker_resident_bytes{model=\"a\"} 536870912\n",
                           "llmux_worker_resident_bytes{model=\"b\"} 268435456\n",
                           "llmux_worker_estimate_bytes{model=\"a\"} 1073741824\n",
                           "llmux_worker_estimate_bytes{model=\"b\"} 2147483648\n",
                           "llmux_worker_gpu_bytes{model=\"b\"} 1073741824\n",
                           "llmux_in_flight 2\n"})
    EXPECT_NE(text.find(line), std::string::npos) << line << text;
  EXPECT_EQ(text.find("llmux_worker_gpu_bytes{model=\"a\"}"), std::string::npos) << "a's GPU is not measured";

  DaemonSnapshot none = two_residents();
  none.workers.clear();
  const std::string empty = metrics_text(none, m);
  expect_valid_exposition(empty);
  EXPECT_NE(empty.find("llmux_resident_workers 0\n"), std::string::npos);
  EXPECT_EQ(empty.find("llmux_worker_state{"), std::string::npos);
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

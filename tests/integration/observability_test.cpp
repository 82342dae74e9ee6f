// Operator visibility: GET /metrics (checked by promtool, Prometheus' own parser), /logs and /logs/stream, PERF
// lines, loading feedback on streaming requests (comment heartbeats, sendLoadingState), and `llmux logs` /
// `llmux default`.
#include <sys/wait.h>

#include <cstdlib>
#include <regex>
#include <thread>

#include "tests/integration/harness.hpp"

using namespace llmux::test;

namespace {

std::string metric_line(const std::string& text, const std::string& prefix) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (line.starts_with(prefix + " ")) return line.substr(prefix.size() + 1);
  return "<absent>";
}

std::string two_models(const std::string& ta, const std::string& tb, const std::string& extra_a = "",
                       const std::string& extra_b = "") {
  return "models:\n  a:\n    cmd: " + fake_cmd(ta, extra_a) + "\n  b:\n    cmd: " + fake_cmd(tb, extra_b) + "\n";
}

// The PERF line logged for `model` (via GET /logs), or "".
std::string perf_line(Llmux& l, const std::string& model, size_t nth = 0) {
  auto logs = http_get(l.port(), "/logs?model=" + model + "&limit=500").json();
  size_t seen = 0;
  for (const auto& line : logs["lines"]) {
    std::string text = line["text"];
    if (text.starts_with("PERF ") && seen++ == nth) return text;
  }
  return "";
}

}  // namespace

TEST(Observability, MetricsCountRequestsSwapsAndLoadsAndPassPromtool) {
  auto ta = unique_tag("metA"), tb = unique_tag("metB");
  Llmux l(two_models(ta, tb, "--tokens 4 --cached-tokens 2", "--tokens 3"));
  ASSERT_EQ(l.chat("a").status, 200);
  ASSERT_EQ(l.chat("a").status, 200);
  ASSERT_EQ(l.chat("b").status, 200);
  ASSERT_EQ(l.chat("nope").status, 404);
  auto res = http_get(l.port(), "/metrics");
  ASSERT_EQ(res.status, 200);
  EXPECT_NE(res.header("content-type").find("text/plain"), std::string::npos);
  const std::string& m = res.body;
  EXPECT_EQ(metric_line(m, R"(llmux_requests_total{model="a",status="200"})"), "2") << m;
  EXPECT_EQ(metric_line(m, R"(llmux_requests_total{model="b",status="200"})"), "1");
  EXPECT_EQ(metric_line(m, R"(llmux_requests_total{model="",status="404"})"), "1");
  EXPECT_EQ(metric_line(m, R"(llmux_tokens_total{model="a",kind="completion"})"), "8");
  EXPECT_EQ(metric_line(m, R"(llmux_tokens_total{model="a",kind="cached"})"), "4");
  EXPECT_EQ(metric_line(m, "llmux_swaps_total"), "1");
  EXPECT_EQ(metric_line(m, R"(llmux_evictions_total{reason="swap"})"), "1");
  EXPECT_EQ(metric_line(m, R"(llmux_loads_total{model="a",outcome="ready"})"), "1");
  EXPECT_EQ(metric_line(m, R"(llmux_load_duration_seconds_count{model="b"})"), "1");
  EXPECT_EQ(metric_line(m, R"(llmux_request_duration_seconds_count{model="a"})"), "2");
  EXPECT_EQ(metric_line(m, R"(llmux_worker_state{model="b",state="ready"})"), "1");
  EXPECT_EQ(metric_line(m, R"(llmux_worker_in_flight{model="b"})"), "0");
  EXPECT_EQ(metric_line(m, "llmux_resident_workers"), "1");
  EXPECT_EQ(metric_line(m, "llmux_queue_depth"), "0");
  // The same resident in /status (`workers`, and `worker` for older clients) and /running.
  const auto status = l.status();
  const auto& workers = status["workers"];
  ASSERT_EQ(workers.size(), 1u) << status;
  EXPECT_EQ(workers[0]["model"], "b");
  EXPECT_EQ(workers[0]["pinned"], false);
  EXPECT_EQ(workers[0], status["worker"]);
  EXPECT_EQ(status["system"]["residentMemory"]["workers"], 1);
  const auto running = http_get(l.port(), "/running").json()["running"];
  ASSERT_EQ(running.size(), 1u) << running;
  EXPECT_EQ(running[0]["model"], "b");
  EXPECT_EQ(running[0]["pid"], workers[0]["pid"]);

  if (std::system("command -v promtool >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "promtool not installed (Debian package prometheus): metrics text not checked by a parser";
  std::string file = l.dir() + "/metrics.txt";
  std::ofstream(file) << m;
  Process check({"/bin/sh", "-c", "promtool check metrics < '" + file + "'"});
  auto st = check.wait_exit(30s);
  ASSERT_TRUE(st.has_value());
  EXPECT_TRUE(WIFEXITED(*st) && WEXITSTATUS(*st) == 0) << check.output();
}

TEST(Observability, LogsKeepLlmuxAndEngineLinesWithFilters) {
  auto ta = unique_tag("logA"), tb = unique_tag("logB");
  Llmux l(two_models(ta, tb));
  ASSERT_EQ(l.chat("a").status, 200);
  auto all = http_get(l.port(), "/logs").json()["lines"];
  bool ready = false, engine = false;
  for (const auto& line : all) {
    if (line["source"] == "llmux" && line["model"] == "a" && std::string(line["text"]).starts_with("ready in"))
      ready = true;
    if (line["source"] == "engine" && line["model"] == "a") engine = true;
  }
  EXPECT_TRUE(ready && engine) << all.dump(1);
  auto eng = http_get(l.port(), "/logs?source=engine&model=a").json()["lines"];
  ASSERT_FALSE(eng.empty());
  for (const auto& line : eng) EXPECT_TRUE(line["source"] == "engine" && line["model"] == "a") << line;
  auto two = http_get(l.port(), "/logs?limit=2").json()["lines"];
  EXPECT_EQ(two.size(), 2u);
  auto text = http_get(l.port(), "/logs?format=text&model=a");
  EXPECT_NE(text.body.find(" engine [a] "), std::string::npos) << text.body;
  EXPECT_EQ(http_get(l.port(), "/logs?limit=x").status, 400);
}

TEST(Observability, LogStreamDeliversLinesWrittenAfterSubscribing) {
  auto ta = unique_tag("strA"), tb = unique_tag("strB");
  Llmux l(two_models(ta, tb));
  ASSERT_EQ(l.chat("a").status, 200);
  std::atomic<int> seen{0};
  std::vector<std::string> got;
  std::mutex mu;
  std::thread reader([&] {
    http_stream(l.port(), "GET", "/logs/stream?tail=1&model=b", "", [&](const SseEvent& e) {
      if (e.data.starts_with(":")) return true;
      std::lock_guard lock(mu);
      got.push_back(e.data);
      ++seen;
      return e.data.find("PERF") == std::string::npos;  // stop after b's request is logged
    }, 20s);
  });
  ASSERT_TRUE(eventually([&] { return seen.load() == 0; }));
  std::this_thread::sleep_for(200ms);  // subscribed (no b line exists yet, so the tail is empty)
  ASSERT_EQ(l.chat("b").status, 200);
  reader.join();
  std::lock_guard lock(mu);
  ASSERT_FALSE(got.empty());
  bool spawned = false;
  for (const auto& g : got) {
    auto j = nlohmann::json::parse(g);
    EXPECT_EQ(j["model"], "b");
    if (std::string(j["text"]).starts_with("spawned pid")) spawned = true;
  }
  EXPECT_TRUE(spawned);
  EXPECT_NE(got.back().find("PERF status=200"), std::string::npos) << got.back();
}

TEST(Observability, PerfLinesCarryTheEnginesUsage) {
  auto ta = unique_tag("perfA"), tb = unique_tag("perfB");
  Llmux l(two_models(ta, tb, "--tokens 7 --cached-tokens 3 --load-delay-ms 300"));
  auto plain = l.chat("a");
  ASSERT_EQ(plain.status, 200);
  auto usage = plain.json()["usage"];
  std::string p0 = perf_line(l, "a", 0);
  std::smatch m;
  ASSERT_TRUE(std::regex_search(p0, m, std::regex(R"(status=200 queue=([0-9.]+)s load=([0-9.]+)s ttft=([0-9.]+)s total=([0-9.]+)s prompt=(\d+) cached=3 completion=7 tok/s=([0-9.]+))"))) << p0;
  EXPECT_EQ(std::stoi(m[5]), usage["prompt_tokens"].get<int>());
  // Not streamed: the rate is over the engine's time (7 tokens 5 ms apart: at most 200/s), not the instant between
  // the answer's first and last byte.
  EXPECT_GT(std::stod(m[6]), 0.0) << p0;
  EXPECT_LE(std::stod(m[6]), 250.0) << p0;
  EXPECT_GE(std::stod(m[2]), 0.25) << "the load wait is reported: " << p0;
  EXPECT_LE(std::stod(m[3]), std::stod(m[4]));

  auto with_usage = l.stream_chat("a", {}, R"(,"stream_options":{"include_usage":true})");
  ASSERT_TRUE(stream_done(with_usage));
  std::string p1 = perf_line(l, "a", 1);
  EXPECT_NE(p1.find("load=0.000s"), std::string::npos) << p1;
  EXPECT_NE(p1.find("cached=3 completion=7 tok/s="), std::string::npos) << p1;

  auto without = l.stream_chat("a");
  ASSERT_TRUE(stream_done(without));
  std::string p2 = perf_line(l, "a", 2);
  ASSERT_TRUE(std::regex_search(p2, m, std::regex(R"(prompt=- cached=- completion=~(\d+) )"))) << p2;
  EXPECT_EQ(std::stoi(m[1]), 7) << "one per text delta: not the role, finish or [DONE] events";
}

TEST(Observability, LogRequestsFalseTurnsPerfLinesOff) {
  auto ta = unique_tag("nolog"), tb = unique_tag("nologB");
  Llmux l("logRequests: false\n" + two_models(ta, tb));
  ASSERT_EQ(l.chat("a").status, 200);
  EXPECT_EQ(perf_line(l, "a"), "");
  auto m = http_get(l.port(), "/metrics").body;
  EXPECT_EQ(metric_line(m, R"(llmux_requests_total{model="a",status="200"})"), "1");
}

TEST(Observability, HeartbeatsDuringASlowLoadKeepTheStreamValid) {
  auto ta = unique_tag("hbA"), tb = unique_tag("hbB");
  Llmux l(two_models(ta, tb, "--load-delay-ms 2600 --tokens 5"));
  auto r = l.stream_chat("a");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.headers["content-type"].find("text/event-stream"), 0u);
  size_t comments = 0, first_data = r.events.size();
  for (size_t i = 0; i < r.events.size(); ++i) {
    if (r.events[i].data.starts_with(":")) {
      ++comments;
      EXPECT_LT(i, first_data) << "heartbeats come before the answer";
    } else if (first_data == r.events.size()) {
      first_data = i;
    }
  }
  EXPECT_GE(comments, 2u) << r.body;
  for (size_t i = first_data; i < r.events.size(); ++i) {
    const auto& d = r.events[i].data;
    if (d == "[DONE]") continue;
    EXPECT_TRUE(nlohmann::json::parse(d, nullptr, false).is_object()) << d;
  }
  EXPECT_TRUE(stream_done(r));
  EXPECT_EQ(count_content_events(r), 5u);
}

TEST(Observability, StreamQueuedBehindMaxConcurrencyGetsHeartbeats) {
  auto ta = unique_tag("qhbA");
  Llmux l("models:\n  a:\n    cmd: " + fake_cmd(ta, "--token-ms 100 --tokens 25") + "\n    maxConcurrency: 1\n");
  ASSERT_EQ(l.chat("a", R"(,"max_tokens":1)").status, 200);
  std::thread first([&] { l.stream_chat("a"); });  // holds the one slot for ~2.5 s
  ASSERT_TRUE(eventually([&] { return l.status()["inFlight"] == 1; }));
  auto r = l.stream_chat("a", {}, R"(,"max_tokens":2)");
  first.join();
  ASSERT_EQ(r.status, 200);
  ASSERT_FALSE(r.events.empty());
  EXPECT_TRUE(r.events.front().data.starts_with(": llmux: queued for a")) << r.body;
  EXPECT_TRUE(stream_done(r)) << r.body;
  EXPECT_EQ(count_content_events(r), 2u);
}

TEST(Observability, SendLoadingStateShowsProgressAsReasoningContent) {
  auto ta = unique_tag("slsA"), tb = unique_tag("slsB");
  Llmux l("models:\n  a:\n    cmd: " + fake_cmd(ta, "--load-delay-ms 2300 --tokens 3") +
          "\n    sendLoadingState: true\n    aliases: [alpha]\n");
  auto r = l.stream_chat("alpha");
  ASSERT_EQ(r.status, 200);
  size_t reasoning = 0;
  for (const auto& e : r.events) {
    if (e.data == "[DONE]") continue;
    auto j = nlohmann::json::parse(e.data, nullptr, false);
    ASSERT_TRUE(j.is_object()) << "every event is an OpenAI chunk: " << e.data;
    EXPECT_EQ(j["object"], "chat.completion.chunk");
    auto delta = j["choices"][0]["delta"];
    if (delta.contains("reasoning_content")) {
      ++reasoning;
      EXPECT_EQ(j["model"], "alpha");
      EXPECT_NE(std::string(delta["reasoning_content"]).find("loading a"), std::string::npos) << e.data;
    }
  }
  EXPECT_GE(reasoning, 2u) << r.body;
  EXPECT_TRUE(stream_done(r));
  EXPECT_EQ(count_content_events(r), 3u);
}

TEST(Observability, ALoadGoesOnWhenItsClientLeaves) {
  auto ta = unique_tag("leaveA"), tb = unique_tag("leaveB");
  Llmux l(two_models(ta, tb, "--load-delay-ms 2000"));
  auto r = l.stream_chat("a", [](const SseEvent&) { return false; });  // leave at the first heartbeat
  EXPECT_TRUE(r.closed_early);
  EXPECT_EQ(l.worker()["state"], "starting");
  EXPECT_TRUE(eventually([&] { return l.worker()["state"] == "ready"; }, 10s)) << l.status().dump(1);
  EXPECT_EQ(l.status()["queue"]["length"], 0);
}

TEST(Observability, LoadProgressStreamEndsReadyOrWithAnError) {
  auto ta = unique_tag("lpA"), tb = unique_tag("lpB");
  Llmux l(two_models(ta, tb, "--load-delay-ms 1500", "--exit-at-start 3"));
  auto ok = http_stream(l.port(), "POST", "/models/load", R"({"model":"a","stream":true})");
  ASSERT_EQ(ok.status, 200);
  ASSERT_GE(ok.events.size(), 2u) << ok.body;
  EXPECT_TRUE(std::any_of(ok.events.begin(), ok.events.end() - 1, [](const SseEvent& e) {
    return e.data.find("\"state\":\"starting\"") != std::string::npos && e.data.find("\"elapsedSeconds\"") != std::string::npos;
  })) << ok.body;
  EXPECT_NE(ok.events.back().data.find("\"state\":\"ready\""), std::string::npos) << ok.body;
  EXPECT_TRUE(ok.complete);
  auto bad = http_stream(l.port(), "POST", "/models/load", R"({"model":"b","stream":true})");
  ASSERT_FALSE(bad.events.empty());
  EXPECT_EQ(bad.events.back().event, "error");
  EXPECT_NE(bad.events.back().data.find("failed to start"), std::string::npos) << bad.body;
}

TEST(Observability, CliLogsAndFollow) {
  auto ta = unique_tag("clA"), tb = unique_tag("clB");
  Llmux l(two_models(ta, tb));
  ASSERT_EQ(l.chat("a").status, 200);
  auto table = run_cli(l.port(), {"logs", "--model", "a", "-n", "50"});
  EXPECT_EQ(table.code, 0) << table.out;
  EXPECT_NE(table.out.find("engine [a] fake_engine: model loaded"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("llmux  [a] PERF status=200"), std::string::npos) << table.out;
  auto js = run_cli(l.port(), {"logs", "--source", "engine", "--json", "-n", "3"});
  EXPECT_EQ(js.code, 0);
  std::istringstream in(js.out);
  int n = 0;
  for (std::string line; std::getline(in, line); ++n) EXPECT_EQ(nlohmann::json::parse(line)["source"], "engine");
  EXPECT_EQ(n, 3);
  EXPECT_EQ(run_cli(l.port(), {"logs", "--source", "kernel"}).code, 2);

  Process follow({LLMUX_BIN, "logs", "-f", "-n", "0", "--model", "b", "--url",
                  "http://127.0.0.1:" + std::to_string(l.port())});
  std::this_thread::sleep_for(300ms);
  ASSERT_EQ(l.chat("b").status, 200);
  EXPECT_TRUE(follow.wait_for_output("[b] PERF status=200", 10s).has_value()) << follow.output();
  EXPECT_EQ(follow.output().find("[a]"), std::string::npos);
}

TEST(Observability, CliDefaultPreloadsTheDefaultModel) {
  auto ta = unique_tag("defA"), tb = unique_tag("defB");
  Llmux l("defaultModel: b\n" + two_models(ta, tb, "", "--load-delay-ms 1200"));
  auto r = run_cli(l.port(), {"default"});
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("b ready"), std::string::npos) << r.out;
  EXPECT_EQ(l.worker()["model"], "b");
  EXPECT_EQ(l.worker()["state"], "ready");
  auto js = run_cli(l.port(), {"default", "--json"});
  EXPECT_EQ(js.code, 0);
  EXPECT_EQ(nlohmann::json::parse(js.out)["state"], "ready");

  Llmux none(two_models(unique_tag("defC"), unique_tag("defD")));
  auto missing = run_cli(none.port(), {"default"});
  EXPECT_EQ(missing.code, 1);
  EXPECT_NE(missing.out.find("no defaultModel"), std::string::npos) << missing.out;

  std::string home = l.dir() + "/home";
  std::filesystem::create_directories(home);
  auto down = run_cli(1, {"default"}, {"HOME=" + home, "XDG_CONFIG_HOME=" + home + "/.config"});
  EXPECT_EQ(down.code, 1);
  EXPECT_NE(down.out.find("llmux is not running at http://127.0.0.1:1"), std::string::npos) << down.out;
  EXPECT_EQ(std::count(down.out.begin(), down.out.end(), '\n'), 1) << down.out;
}

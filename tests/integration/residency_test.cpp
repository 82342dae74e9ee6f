// Co-residency with real engine processes: several workers resident at once under maxResident and memory.budget,
// least-recently-used eviction, pins, preload, in-flight requests never cut, a failed start evicting nobody.
#include <thread>

#include "tests/integration/harness.hpp"

using namespace llmux::test;

namespace {

// The models of /status `workers`, in start order.
std::vector<std::string> residents(Llmux& l) {
  std::vector<std::string> out;
  const nlohmann::json status = l.status();  // held: a range-for over a member of a temporary would dangle
  for (const auto& w : status["workers"]) out.push_back(w["model"].get<std::string>());
  return out;
}

using Names = std::vector<std::string>;

}  // namespace

TEST(Residency, TwoModelsStayResidentAndAThirdEvictsTheLeastRecentlyUsed) {
  auto ta = unique_tag("resA"), tb = unique_tag("resB"), tc = unique_tag("resC");
  Llmux l("maxResident: 2\n" + models_yaml({{"a", fake_cmd(ta, "--token-ms 1")},
                                       {"b", fake_cmd(tb, "--token-ms 1")},
                                       {"c", fake_cmd(tc, "--token-ms 1")}}));
  auto ra = l.chat("a");
  ASSERT_EQ(ra.status, 200) << ra.body;
  auto rb = l.chat("b");
  ASSERT_EQ(rb.status, 200) << rb.body;
  const int pid_a = std::stoi(ra.header("x-fake-pid")), pid_b = std::stoi(rb.header("x-fake-pid"));
  EXPECT_TRUE(pid_alive(pid_a)) << "a stays beside b";
  EXPECT_EQ(residents(l), (Names{"a", "b"}));
  auto again = l.chat("a");  // served by the same engine, no load: a is now the more recently used
  ASSERT_EQ(again.status, 200);
  EXPECT_EQ(std::stoi(again.header("x-fake-pid")), pid_a);
  EXPECT_EQ(l.status()["swaps"], 2);

  ASSERT_EQ(l.chat("c").status, 200);
  EXPECT_FALSE(pid_alive(pid_b)) << "b, the least recently used, made room";
  EXPECT_TRUE(pid_alive(pid_a));
  EXPECT_TRUE(find_pids_with_arg(tb).empty());
  EXPECT_EQ(residents(l), (Names{"a", "c"}));
  auto status = l.status();
  ASSERT_EQ(status["workers"].size(), 2u);
  EXPECT_EQ(status["system"]["maxResident"], 2);
}

TEST(Residency, InFlightStreamsAreNeverCutToMakeRoom) {
  auto ta = unique_tag("cutA"), tb = unique_tag("cutB"), tc = unique_tag("cutC");
  Llmux l("maxResident: 2\n" + models_yaml({{"a", fake_cmd(ta, "--token-ms 30 --tokens 20")},
                                       {"b", fake_cmd(tb, "--token-ms 30 --tokens 20")},
                                       {"c", fake_cmd(tc, "--token-ms 1")}}));
  ASSERT_EQ(l.chat("a", R"(,"max_tokens":1)").status, 200);
  ASSERT_EQ(l.chat("b", R"(,"max_tokens":1)").status, 200);
  StreamResult sa, sb;
  std::thread t1([&] { sa = l.stream_chat("a"); });
  std::thread t2([&] { sb = l.stream_chat("b"); });
  ASSERT_TRUE(eventually([&] { return l.status()["inFlight"] == 2; }));
  auto rc = l.chat("c");  // both residents busy: c waits for one of them to drain
  t1.join();
  t2.join();
  EXPECT_EQ(rc.status, 200) << rc.body;
  EXPECT_TRUE(stream_done(sa)) << sa.body;
  EXPECT_TRUE(stream_done(sb)) << sb.body;
  EXPECT_EQ(count_content_events(sa), 20u);
  EXPECT_EQ(count_content_events(sb), 20u);
  EXPECT_EQ(l.status()["workers"].size(), 2u);
}

// memory.budget bounds the residents (maxResident 0): 400 MiB models under a 1 GiB budget, two at a time, never
// three, through a storm of requests for all three.
TEST(Residency, TheMemoryBudgetIsNeverExceeded) {
  std::vector<std::string> tags = {unique_tag("budA"), unique_tag("budB"), unique_tag("budC")};
  Llmux l("maxResident: 0\nmemory:\n  budget: 1GiB\n" +
          models_yaml({{"a", fake_cmd(tags[0], "--token-ms 2 --tokens 3")},
                  {"b", fake_cmd(tags[1], "--token-ms 2 --tokens 3")},
                  {"c", fake_cmd(tags[2], "--token-ms 2 --tokens 3")}},
                 "    weights: 400MiB\n    overhead: 0\n"));
  std::atomic<bool> done{false};
  std::atomic<size_t> most{0};
  std::thread watcher([&] {  // counts the engine processes alive at once, as the OS sees them
    while (!done) {
      size_t alive = 0;
      for (const auto& t : tags) alive += find_pids_with_arg(t).size();
      most = std::max<size_t>(most, alive);
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  std::vector<std::thread> clients;
  std::atomic<int> ok{0};
  for (int i = 0; i < 3; ++i) {
    clients.emplace_back([&, i] {
      const char* names[] = {"a", "b", "c"};
      for (int k = 0; k < 6; ++k)
        if (l.chat(names[(i + k) % 3]).status == 200) ++ok;
    });
  }
  for (auto& c : clients) c.join();
  done = true;
  watcher.join();
  EXPECT_EQ(ok, 18);
  EXPECT_EQ(most, 2u) << "two fit the budget; the third never ran beside them";
}

TEST(Residency, AnEngineThatFailsToStartEvictsNobody) {
  auto ta = unique_tag("okA"), tb = unique_tag("okB"), tc = unique_tag("badC");
  Llmux l("maxResident: 3\n" + models_yaml({{"a", fake_cmd(ta, "--token-ms 1")},
                                       {"b", fake_cmd(tb, "--token-ms 1")},
                                       {"c", fake_cmd(tc, "--exit-at-start 3")}}));
  auto ra = l.chat("a");
  auto rb = l.chat("b");
  ASSERT_EQ(ra.status, 200);
  ASSERT_EQ(rb.status, 200);
  auto rc = l.chat("c");
  EXPECT_EQ(rc.status, 502) << rc.body;
  EXPECT_TRUE(pid_alive(std::stoi(ra.header("x-fake-pid"))));
  EXPECT_TRUE(pid_alive(std::stoi(rb.header("x-fake-pid"))));
  EXPECT_EQ(residents(l), (Names{"a", "b"}));
  EXPECT_EQ(l.chat("a").header("x-fake-pid"), ra.header("x-fake-pid")) << "still served without a reload";
}

// A pinned model is never the one evicted for another and never unloaded by its idle TTL.
TEST(Residency, APinnedModelStaysThroughEvictionsAndItsTtl) {
  auto ta = unique_tag("pinA"), tb = unique_tag("pinB"), tc = unique_tag("pinC");
  Llmux l("maxResident: 2\nmodels:\n  a:\n    cmd: " + fake_cmd(ta, "--token-ms 1") +
          "\n    pin: true\n    ttl: 1\n  b:\n    cmd: " + fake_cmd(tb, "--token-ms 1") + "\n  c:\n    cmd: " +
          fake_cmd(tc, "--token-ms 1") + "\n");
  auto ra = l.chat("a");  // the least recently used from here on
  ASSERT_EQ(ra.status, 200);
  ASSERT_EQ(l.chat("b").status, 200);
  ASSERT_EQ(l.chat("c").status, 200);
  EXPECT_TRUE(find_pids_with_arg(tb).empty()) << "b went, though a was used less recently";
  EXPECT_TRUE(pid_alive(std::stoi(ra.header("x-fake-pid"))));
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // past a's ttl
  EXPECT_TRUE(pid_alive(std::stoi(ra.header("x-fake-pid")))) << "a pin outlives the idle TTL";
  auto a = l.status()["workers"][0];
  EXPECT_EQ(a["model"], "a");
  EXPECT_EQ(a["pinned"], true);
}

TEST(Residency, PreloadStartsModelsAtStartupWithoutARequest) {
  auto ta = unique_tag("preA"), tb = unique_tag("preB");
  Llmux l("maxResident: 2\npreload: [a, b]\n" +
          models_yaml({{"a", fake_cmd(ta, "--token-ms 1")}, {"b", fake_cmd(tb, "--token-ms 1")}}));
  ASSERT_TRUE(eventually([&] {
    auto w = l.status()["workers"];
    return w.size() == 2 && w[0]["state"] == "ready" && w[1]["state"] == "ready";
  })) << l.status().dump();
  EXPECT_EQ(l.status()["swaps"], 2);
  auto r = l.chat("b");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(l.status()["swaps"], 2) << "served by the preloaded engine";
}

TEST(Residency, UnloadOfOneModelLeavesTheOthers) {
  auto ta = unique_tag("unA"), tb = unique_tag("unB");
  Llmux l("maxResident: 2\n" + models_yaml({{"a", fake_cmd(ta, "--token-ms 1")}, {"b", fake_cmd(tb, "--token-ms 1")}}));
  ASSERT_EQ(l.chat("a").status, 200);
  ASSERT_EQ(l.chat("b").status, 200);
  auto r = http_post(l.port(), "/models/unload", R"({"model":"a"})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["unloaded"], "a");
  EXPECT_TRUE(find_pids_with_arg(ta).empty());
  EXPECT_EQ(find_pids_with_arg(tb).size(), 1u);
  EXPECT_EQ(residents(l), (Names{"b"}));
  auto all = http_post(l.port(), "/models/unload", "{}");
  EXPECT_EQ(all.json()["models"], nlohmann::json::array({"b"}));
  EXPECT_TRUE(find_pids_with_arg(tb).empty());
}

// returnToDefault: once another model's idle TTL unloads it, the default model is loaded again by itself.
TEST(Residency, ReturnToDefaultLoadsTheDefaultModelAfterAnotherGoesIdle) {
  auto ta = unique_tag("defA"), tb = unique_tag("defB");
  Llmux l("defaultModel: a\nreturnToDefault: true\nmodels:\n  a:\n    cmd: " + fake_cmd(ta, "--token-ms 1") +
          "\n  b:\n    cmd: " + fake_cmd(tb, "--token-ms 1") + "\n    ttl: 1\n");
  ASSERT_EQ(l.chat("b").status, 200);
  EXPECT_TRUE(find_pids_with_arg(ta).empty()) << "nothing loads a before b has gone idle";
  ASSERT_TRUE(eventually([&] { return residents(l) == Names{"a"} && l.worker()["state"] == "ready"; }, 5s))
      << l.status().dump();
  EXPECT_TRUE(find_pids_with_arg(tb).empty());
  EXPECT_TRUE(l.logged("returning to the default model (b went idle)"));
}

// A model that cannot start beside the pinned ones is refused at once, saying why, and the pin stays.
TEST(Residency, AModelThatCannotFitBesideThePinsIsRefusedAtOnce) {
  auto ta = unique_tag("fullA"), tb = unique_tag("fullB");
  Llmux l("maxResident: 1\nmodels:\n  a:\n    cmd: " + fake_cmd(ta, "--token-ms 1") +
          "\n    pin: true\n  b:\n    cmd: " + fake_cmd(tb, "--token-ms 1") + "\n");
  ASSERT_EQ(l.chat("a").status, 200);
  auto r = l.chat("b");
  EXPECT_EQ(r.status, 507) << r.body;
  EXPECT_EQ(r.json()["error"]["code"], "insufficient_memory");
  EXPECT_NE(r.json()["error"]["message"].get<std::string>().find("pinned models (a)"), std::string::npos) << r.body;
  EXPECT_TRUE(find_pids_with_arg(tb).empty()) << "never spawned";
  EXPECT_EQ(find_pids_with_arg(ta).size(), 1u);
}

// llama-swap groups: a swap group holds one member at a time while a persistent group's model stays.
TEST(Residency, GroupsSwapTheirMembersAndLeaveAPersistentGroupAlone) {
  auto ta = unique_tag("grA"), tb = unique_tag("grB"), tp = unique_tag("grP");
  Llmux l("groups:\n  pair:\n    swap: true\n    exclusive: true\n    members: [a, b]\n  keep:\n    persistent: true\n"
          "    swap: false\n    exclusive: false\n    members: [p]\nmodels:\n  a:\n    cmd: " +
          fake_cmd(ta, "--token-ms 1") + "\n  b:\n    cmd: " + fake_cmd(tb, "--token-ms 1") + "\n  p:\n    cmd: " +
          fake_cmd(tp, "--token-ms 1") + "\n");
  ASSERT_EQ(l.chat("p").status, 200);
  ASSERT_EQ(l.chat("a").status, 200);
  EXPECT_EQ(residents(l), (Names{"p", "a"})) << "a exclusive group spares a persistent one";
  ASSERT_EQ(l.chat("b").status, 200);
  EXPECT_TRUE(find_pids_with_arg(ta).empty()) << "a and b swap";
  EXPECT_EQ(residents(l), (Names{"p", "b"}));
}

TEST(Residency, CliUnloadAllNamesEveryResident) {
  auto ta = unique_tag("cliA"), tb = unique_tag("cliB");
  Llmux l("maxResident: 2\n" + models_yaml({{"a", fake_cmd(ta, "--token-ms 1")}, {"b", fake_cmd(tb, "--token-ms 1")}}));
  ASSERT_EQ(l.chat("a").status, 200);
  ASSERT_EQ(l.chat("b").status, 200);
  CliRun r = run_cli(l.port(), {"unload", "--all"});
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("a unloaded\nb unloaded\n"), std::string::npos) << r.out;
  EXPECT_TRUE(find_pids_with_arg(ta).empty());
  EXPECT_TRUE(find_pids_with_arg(tb).empty());
}

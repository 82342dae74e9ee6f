// Bounded concurrency and queues: maxConcurrency, queue.max (429 + Retry-After), queue.timeout (503), and
// queued clients that leave never reaching the engine.
#include <thread>

#include "tests/integration/harness.hpp"

using namespace llmux::test;

TEST(Limits, MaxConcurrencyBoundsRequestsInFlightAtTheEngine) {
  auto tag = unique_tag("conc");
  Llmux l("models:\n  a:\n    cmd: " + fake_cmd(tag, "--token-ms 30 --tokens 10") + "\n    maxConcurrency: 2\n");
  ASSERT_EQ(l.chat("a", R"(,"max_tokens":1)").status, 200);
  auto engine = static_cast<uint16_t>(l.worker()["port"].get<int>());
  std::atomic<int> max_active{0}, ok{0};
  std::atomic<bool> done{false};
  std::thread sampler([&] {
    while (!done) {
      int active = http_get(engine, "/debug/stats").json()["active"];
      max_active = std::max(max_active.load(), active);
      std::this_thread::sleep_for(10ms);
    }
  });
  std::vector<std::thread> clients;
  for (int i = 0; i < 6; ++i)
    clients.emplace_back([&] {
      if (l.chat("a").status == 200) ++ok;
    });
  for (auto& c : clients) c.join();
  done = true;
  sampler.join();
  EXPECT_EQ(ok, 6);
  EXPECT_EQ(max_active, 2) << "the engine never saw more than maxConcurrency requests at once";
  auto limits = l.worker()["limits"];
  EXPECT_EQ(limits["maxConcurrency"], 2);
  EXPECT_EQ(limits["queueMax"], 64);
  EXPECT_EQ(limits["queueTimeoutSeconds"], 300.0);
}

TEST(Limits, FullQueueIsA429WithRetryAfter) {
  auto ta = unique_tag("qa"), tb = unique_tag("qb");
  Llmux l("models:\n  a:\n    cmd: " + fake_cmd(ta, "--token-ms 1") + "\n  b:\n    cmd: " +
          fake_cmd(tb, "--load-delay-ms 1500 --token-ms 1") + "\n    queue:\n      max: 2\n");
  std::vector<HttpResponse> results(3);
  std::vector<std::thread> clients;
  for (int i = 0; i < 2; ++i) clients.emplace_back([&, i] { results[i] = l.chat("b"); });
  ASSERT_TRUE(eventually([&] { return l.status()["queue"]["length"] == 2; }, 3s)) << l.status().dump();
  auto third = l.chat("b");
  EXPECT_EQ(third.status, 429) << third.body;
  EXPECT_EQ(third.json()["error"]["code"], "queue_full");
  EXPECT_EQ(third.header("retry-after"), "2");
  for (auto& c : clients) c.join();
  EXPECT_EQ(results[0].status, 200);
  EXPECT_EQ(results[1].status, 200);
}

TEST(Limits, QueueTimeoutIsA503AndTheRequestNeverReachesTheEngine) {
  auto ta = unique_tag("ta"), tb = unique_tag("tb");
  Llmux l("models:\n  a:\n    cmd: " + fake_cmd(ta, "--token-ms 100 --tokens 20") + "\n  b:\n    cmd: " +
          fake_cmd(tb, "--token-ms 1") + "\n    queue:\n      timeout: 500ms\n");
  ASSERT_EQ(l.chat("a", R"(,"max_tokens":1)").status, 200);
  StreamResult slow;
  std::thread t([&] { slow = l.stream_chat("a"); });  // holds "a" for ~2 s
  ASSERT_TRUE(eventually([&] { return l.status()["inFlight"] == 1; }));
  auto start = std::chrono::steady_clock::now();
  auto r = l.chat("b");
  auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_EQ(r.json()["error"]["code"], "queue_timeout");
  EXPECT_FALSE(r.header("retry-after").empty());
  EXPECT_LT(waited, 1900ms) << "dropped at its queue timeout, not after the stream";
  t.join();
  EXPECT_TRUE(stream_done(slow));
  EXPECT_TRUE(find_pids_with_arg(tb).empty()) << "b was never started for a request that gave up";
}

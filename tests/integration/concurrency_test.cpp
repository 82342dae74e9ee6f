// Many concurrent clients alternating between models: every request succeeds and every stream completes.
#include <thread>

#include "tests/integration/harness.hpp"

using namespace llmux::test;

TEST(Concurrency, TwentyClientsAlternatingThreeModelsAllSucceed) {
  std::vector<std::string> tags = {unique_tag("c0"), unique_tag("c1"), unique_tag("c2")};
  std::string yaml = "models:\n";
  for (int i = 0; i < 3; ++i)
    yaml += "  m" + std::to_string(i) + ":\n    cmd: " +
            fake_cmd(tags[i], "--load-delay-ms 50 --token-ms 2 --tokens 8") + "\n";
  Llmux l(yaml);
  constexpr int kClients = 20, kRequests = 6;
  std::atomic<int> ok{0}, failed{0};
  std::vector<std::string> failures(kClients);
  std::vector<std::thread> threads;
  for (int c = 0; c < kClients; ++c) {
    threads.emplace_back([&, c] {
      for (int i = 0; i < kRequests; ++i) {
        std::string model = "m" + std::to_string((c + i) % 3);
        try {
          bool stream = (c + i) % 2 == 0;
          bool good;
          if (stream) {
            auto r = l.stream_chat(model, {}, "", 120s);
            good = r.status == 200 && stream_done(r) && count_content_events(r) == 8;
            if (!good) failures[c] = model + " stream: " + std::to_string(r.status) + " " + r.body;
          } else {
            auto r = l.chat(model, "", 120s);
            good = r.status == 200 && r.json()["model"] == model;
            if (!good) failures[c] = model + ": " + std::to_string(r.status) + " " + r.body;
          }
          (good ? ok : failed)++;
        } catch (const std::exception& e) {
          failures[c] = e.what();
          failed++;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& f : failures) EXPECT_TRUE(f.empty()) << f;
  EXPECT_EQ(ok, kClients * kRequests);
  EXPECT_EQ(failed, 0);
  int resident = 0;
  for (const auto& t : tags) resident += static_cast<int>(find_pids_with_arg(t).size());
  EXPECT_EQ(resident, 1) << "exactly one engine resident at the end";
  EXPECT_EQ(l.status()["inFlight"], 0);
  EXPECT_EQ(l.status()["queue"]["length"], 0);
}

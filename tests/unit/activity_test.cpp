// Activity (the dashboard's recent past): bounded rings, oldest dropped first, the JSON the page reads, and the
// tok/s the PERF line and the page share.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "proxy/policy/activity.hpp"
#include "proxy/policy/metrics.hpp"

using namespace llmux;

TEST(Activity, RingsKeepTheNewestAndDropTheOldest) {
  Activity a;
  for (int i = 0; i < 60; ++i) a.request({Activity::Clock::now(), "m" + std::to_string(i), 200, 1.0, 0.1, 10, 5.0});
  for (int i = 0; i < 130; ++i) a.event({Activity::Clock::now(), "load", "e" + std::to_string(i), "", 0.5});
  ASSERT_EQ(a.requests().size(), Activity::kRequests);
  EXPECT_EQ(a.requests().front().model, "m10");
  EXPECT_EQ(a.requests().back().model, "m59");
  ASSERT_EQ(a.events().size(), Activity::kEvents);
  EXPECT_EQ(a.events().front().model, "e30");
}

TEST(Activity, JsonHasNullsWhereNothingWasMeasured) {
  Activity a;
  a.request({Activity::Clock::now(), "", 404, 0.001, std::nullopt, std::nullopt, std::nullopt});
  a.request({Activity::Clock::now(), "qwen", 200, 2.0, 0.25, 35, 20.0});
  auto j = nlohmann::json::parse(a.json());
  ASSERT_EQ(j["requests"].size(), 2u);
  EXPECT_TRUE(j["requests"][0]["model"].is_null());
  EXPECT_TRUE(j["requests"][0]["ttft"].is_null());
  EXPECT_TRUE(j["requests"][0]["tokensPerSecond"].is_null());
  EXPECT_EQ(j["requests"][1]["model"], "qwen");
  EXPECT_EQ(j["requests"][1]["completionTokens"], 35);
  EXPECT_DOUBLE_EQ(j["requests"][1]["tokensPerSecond"].get<double>(), 20.0);
  EXPECT_EQ(j["requests"][1]["at"].get<std::string>().size(), 24u);  // 2026-12-05T01:42:10.312Z
  EXPECT_TRUE(j["events"].is_array() && j["events"].empty());
}

TEST(Activity, MetricsRecordLoadsAndEvictionsAsEvents) {
  Metrics m;
  m.load("a", 1.5, true);
  m.eviction("swap", "a");
  m.load("b", 0, false);
  const auto& e = m.activity().events();
  ASSERT_EQ(e.size(), 3u);
  EXPECT_EQ(e[0].kind, "load");
  EXPECT_DOUBLE_EQ(e[0].seconds, 1.5);
  EXPECT_EQ(e[1].kind, "evict");
  EXPECT_EQ(e[1].model, "a");
  EXPECT_EQ(e[1].reason, "swap");
  EXPECT_EQ(e[2].kind, "load_failed");
  EXPECT_NE(m.render({}).find("llmux_evictions_total{reason=\"swap\"} 1"), std::string::npos);
}

TEST(Activity, GenerationRate) {
  // Streamed: tokens over the time after the first one.
  EXPECT_DOUBLE_EQ(*generation_rate(30, 0.5, 2.0, true, 0), 20.0);
  // Not streamed: over the engine's time, waits left out.
  EXPECT_DOUBLE_EQ(*generation_rate(30, 0.5, 2.0, false, 0.5), 20.0);
  EXPECT_FALSE(generation_rate(std::nullopt, 0.5, 2.0, true, 0));
  EXPECT_FALSE(generation_rate(0, 0.5, 2.0, true, 0));
  EXPECT_FALSE(generation_rate(30, std::nullopt, 2.0, true, 0));
  EXPECT_FALSE(generation_rate(30, 2.0, 2.0, true, 0));  // no measurable span
}

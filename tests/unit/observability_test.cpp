// UsageScanner (token counts found in a streamed body), Metrics rendering and LogHub (ring, filters, subscribers).
#include <gtest/gtest.h>

#include "common/log_hub.hpp"
#include "proxy/policy/metrics.hpp"
#include "proxy/http/usage_scan.hpp"

namespace llmux {
namespace {

const std::string kSse =
    "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}],\"usage\":null}\n\n"
    "data: {\"choices\":[{\"delta\":{\"content\":\"b\"}}],\"usage\":null}\n\n"
    "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":2,"
    "\"prompt_tokens_details\":{\"cached_tokens\":8}}}\n\n"
    "data: [DONE]\n\n";

TEST(UsageScanner, FindsUsageInOnePiece) {
  UsageScanner s(true);
  s.feed(kSse);
  auto u = s.result();
  EXPECT_EQ(u.prompt, 12);
  EXPECT_EQ(u.completion, 2);
  EXPECT_EQ(u.cached, 8);
  EXPECT_FALSE(u.approximate);
  EXPECT_EQ(s.events(), 4u);
}

TEST(UsageScanner, NotesTheEndMarkerOnlyWhenItsLineIsWhole) {
  for (size_t split = 1; split < kSse.size(); ++split) {
    UsageScanner s(true);
    s.feed(std::string_view(kSse).substr(0, split));
    EXPECT_EQ(s.done(), split >= kSse.size() - 1) << split;  // "data: [DONE]\n" complete
    s.feed(std::string_view(kSse).substr(split));
    EXPECT_TRUE(s.done()) << split;
  }
  UsageScanner other(true);
  other.feed("data: [DONE] not\n\ndata: {\"text\":\"[DONE]\"}\n\n: [DONE]\n");
  EXPECT_FALSE(other.done());
  other.feed("data:[DONE]\r\n");
  EXPECT_TRUE(other.done());
}

TEST(UsageScanner, FindsUsageFedByteByByteAndInEverySplit) {
  for (size_t split = 1; split < kSse.size(); split += 7) {
    UsageScanner s(true);
    s.feed(std::string_view(kSse).substr(0, split));
    s.feed(std::string_view(kSse).substr(split));
    EXPECT_EQ(s.result().completion, 2) << "split at " << split;
  }
  UsageScanner s(true);
  for (char c : kSse) s.feed(std::string_view(&c, 1));
  EXPECT_EQ(s.result().prompt, 12);
  EXPECT_EQ(s.result().cached, 8);
  EXPECT_EQ(s.events(), 4u);
}

TEST(UsageScanner, CountsTextEventsWhenNoUsageIsSent) {
  // The role chunk, the finish chunk, comments and [DONE] carry no token; spaced JSON (Python engines) does count.
  UsageScanner s(true);
  s.feed("data: {\"choices\":[{\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n"
         "data: {\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}\r\n\r\n: heartbeat\n\n"
         "data: {\"choices\": [{\"delta\": {\"content\": \"lo\"}}]}\n\n"
         "data: {\"choices\":[{\"delta\":{\"reasoning_content\":\"hm\"}}]}\n\n"
         "data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n");
  auto u = s.result();
  EXPECT_TRUE(u.approximate);
  EXPECT_EQ(u.completion, 3);
  EXPECT_FALSE(u.prompt);
  EXPECT_EQ(s.events(), 6u);
}

TEST(UsageScanner, CountsTextCompletionResponsesAndToolCallDeltas) {
  UsageScanner s(true);
  const std::string stream =
      "data: {\"choices\":[{\"text\":\"a\"}]}\n\n"
      "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"delta\":\"b\"}\n\n"
      "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"function\":{\"arguments\":\"{\\\"x\"}}]}}]}\n\n"
      "data: {\"choices\":[{\"text\":\"" + std::string(3000, 'z') + "\"}]}\n\n";
  for (char c : stream) s.feed(std::string_view(&c, 1));  // split anywhere
  EXPECT_EQ(s.result().completion, 4);
}

TEST(UsageScanner, CountsEventsWithCarriageReturnLineEndings) {
  UsageScanner s(true);
  s.feed("data: {\"text\":\"a\"}\r\rdata: {\"text\":\"b\"}\r\rdata: [DONE]\r\r");
  EXPECT_EQ(s.result().completion, 2);
  EXPECT_EQ(s.events(), 3u);
}

TEST(UsageScanner, NonStreamBodyAndStringsThatLookLikeKeys) {
  UsageScanner s;
  s.feed(R"({"choices":[{"message":{"content":"the \"usage\": {\"x\"} word"}}],"usage":{"prompt_tokens":3,)");
  s.feed(R"("completion_tokens":5,"total_tokens":8}})");
  EXPECT_EQ(s.result().prompt, 3);
  EXPECT_EQ(s.result().completion, 5);
  UsageScanner none;
  none.feed(R"({"data":[{"embedding":[0.1]}]})");
  EXPECT_FALSE(none.result().completion);
  EXPECT_FALSE(none.result().approximate);
}

TEST(UsageScanner, StringsInsideTheUsageObjectAreSkippedWhole) {
  const std::string body =
      R"({"usage":{"note":"a \"}\" { \\","kind":"prompt_tokens","prompt_tokens":7,"x":{"y":"}"},)"
      R"("completion_tokens" : 11}, "after":"{"})";
  for (size_t split = 0; split <= body.size(); ++split) {
    UsageScanner s;
    s.feed(std::string_view(body).substr(0, split));
    s.feed(std::string_view(body).substr(split));
    EXPECT_EQ(s.result().prompt, 7) << "split at " << split;
    EXPECT_EQ(s.result().completion, 11) << "split at " << split;
  }
}

TEST(UsageScanner, ResponsesApiNames) {
  UsageScanner s(true);
  s.feed("event: response.completed\ndata: {\"response\":{\"usage\":{\"input_tokens\":4,\"output_tokens\":9,"
         "\"input_tokens_details\":{\"cached_tokens\":1}}}}\n\n");
  EXPECT_EQ(s.result().prompt, 4);
  EXPECT_EQ(s.result().completion, 9);
  EXPECT_EQ(s.result().cached, 1);
}

TEST(UsageScanner, OversizedValueIsDropped) {
  UsageScanner s;
  s.feed("{\"usage\":{\"prompt_tokens\":1,\"pad\":\"" + std::string(5000, 'x') + "\"}}");
  EXPECT_FALSE(s.result().prompt);
}

// An oversized value is followed to its end however it arrives: fed in pieces, the scan used to give it up at the
// end of the piece that passed 4 KiB and take a "usage" key inside it for the report (usage_scan_fuzz found it).
TEST(UsageScanner, OversizedValueIsSkippedWholeInAnySplit) {
  const std::string body = "{\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4},\"usage\":{\"pad\":\"" +
                           std::string(5000, 'x') +
                           "\",\"inner\":{\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":7}}}}";
  for (size_t piece : {body.size(), size_t{1}, size_t{100}, size_t{4096}}) {
    UsageScanner s;
    for (size_t at = 0; at < body.size(); at += piece) s.feed(std::string_view(body).substr(at, piece));
    EXPECT_EQ(s.result().prompt, 3) << "pieces of " << piece;
    EXPECT_EQ(s.result().completion, 4) << "pieces of " << piece;
  }
}

TEST(Metrics, RendersCountersHistogramsAndGauges) {
  Metrics m;
  m.request("qwen \"q4\"", 200, 0.3, 0.02);
  m.request("qwen \"q4\"", 200, 1.5, std::nullopt);
  m.request("llama", 503, 0.001, std::nullopt);
  TokenUsage u;
  u.prompt = 10;
  u.completion = 20;
  m.tokens("llama", u);
  TokenUsage more;  // with the request: added to the same counters; approximate counts are not
  more.completion = 5;
  m.request("llama", 200, 0.2, std::nullopt, &more);
  more.approximate = true;
  m.request("llama", 200, 0.2, std::nullopt, &more);
  m.load("llama", 2.0, true);
  m.eviction("ttl");
  MetricsGauges g;
  g.queue_depth = 3;
  g.workers.push_back(WorkerGauges{"llama", "ready", 0, 1234, std::nullopt, std::nullopt});
  std::string text = m.render(g);
  EXPECT_NE(text.find("llmux_requests_total{model=\"qwen \\\"q4\\\"\",status=\"200\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("llmux_requests_total{model=\"llama\",status=\"503\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("llmux_request_duration_seconds_bucket{model=\"llama\",le=\"0.005\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("llmux_requests_total{model=\"llama\",status=\"200\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("llmux_request_duration_seconds_bucket{model=\"qwen \\\"q4\\\"\",le=\"0.5\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("llmux_request_duration_seconds_bucket{model=\"qwen \\\"q4\\\"\",le=\"+Inf\"} 2\n"),
            std::string::npos);
  EXPECT_NE(text.find("llmux_time_to_first_token_seconds_count{model=\"qwen \\\"q4\\\"\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("llmux_tokens_total{model=\"llama\",kind=\"completion\"} 25\n"), std::string::npos);
  EXPECT_NE(text.find("llmux_tokens_total{model=\"llama\",kind=\"prompt\"} 10\n"), std::string::npos);
  EXPECT_NE(text.find("llmux_evictions_total{reason=\"ttl\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("llmux_evictions_total{reason=\"pressure\"} 0\n"), std::string::npos);
  EXPECT_NE(text.find("llmux_load_duration_seconds_sum{model=\"llama\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("llmux_queue_depth 3\n"), std::string::npos);
  EXPECT_NE(text.find("llmux_worker_state{model=\"llama\",state=\"ready\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("llmux_worker_resident_bytes{model=\"llama\"} 1234\n"), std::string::npos);
}

TEST(LogHub, SplitsModelPrefixAndFilters) {
  LogHub hub(100);
  hub.append("llmux", "info", "[qwen] spawned pid 42");
  hub.append("engine", "info", "[qwen] loading weights");
  hub.append("engine", "info", "[llama cmdStop] bye");
  hub.append("llmux", "warning", "no model here");
  auto all = hub.recent({}, 10);
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(all[0].model, "qwen");
  EXPECT_EQ(all[0].text, "spawned pid 42");
  EXPECT_EQ(all[2].model, "llama");
  EXPECT_EQ(all[3].model, "");
  EXPECT_LT(all[0].seq, all[1].seq);
  EXPECT_EQ(hub.recent(LogFilter{"engine", ""}, 10).size(), 2u);
  EXPECT_EQ(hub.recent(LogFilter{"", "qwen"}, 10).size(), 2u);
  auto last = hub.recent({}, 1);
  ASSERT_EQ(last.size(), 1u);
  EXPECT_EQ(last[0].text, "no model here");
}

TEST(LogHub, RingIsBoundedByLinesAndBytes) {
  LogHub hub(5, 1000);
  for (int i = 0; i < 20; ++i) hub.append("llmux", "info", "line " + std::to_string(i));
  auto lines = hub.recent({}, 100);
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_EQ(lines.front().text, "line 15");
  LogHub small(100, 250);
  for (int i = 0; i < 10; ++i) small.append("llmux", "info", std::string(100, 'x'));
  EXPECT_EQ(small.recent({}, 100).size(), 2u);
}

TEST(LogHub, SubscribersGetMatchingLinesAndCountDrops) {
  LogHub hub;
  int wakes = 0;
  auto id = hub.subscribe(LogFilter{"engine", "qwen"}, [&] { ++wakes; }, 3);
  hub.append("engine", "info", "[qwen] a");
  hub.append("engine", "info", "[llama] b");
  hub.append("llmux", "info", "[qwen] c");
  std::vector<LogLine> got;
  EXPECT_EQ(hub.take(id, got), 0u);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].text, "a");
  EXPECT_EQ(wakes, 1);
  for (int i = 0; i < 5; ++i) hub.append("engine", "info", "[qwen] n" + std::to_string(i));
  got.clear();
  EXPECT_EQ(hub.take(id, got), 2u);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got.back().text, "n4");
  hub.unsubscribe(id);
  hub.append("engine", "info", "[qwen] after");
  got.clear();
  hub.take(id, got);
  EXPECT_TRUE(got.empty());
}

}  // namespace
}  // namespace llmux

// The CLI's SSE parser (any chunking, line endings, comments, multi-line data) and chat-chunk reading.
#include <gtest/gtest.h>

#include "proxy/http/sse.hpp"

using namespace llmux;

namespace {

std::vector<SseMessage> feed_in_pieces(const std::string& stream, size_t piece) {
  SseParser p;
  std::vector<SseMessage> all;
  for (size_t i = 0; i < stream.size(); i += piece)
    for (auto& e : p.feed(std::string_view(stream).substr(i, piece))) all.push_back(std::move(e));
  if (auto last = p.finish()) all.push_back(std::move(*last));
  return all;
}

}  // namespace

TEST(Sse, SameEventsWhateverTheChunking) {
  const std::string stream =
      ": heartbeat\n\ndata: {\"a\":1}\n\nevent: error\ndata: {\"error\":{\"message\":\"boom\"}}\n\ndata: [DONE]\n\n";
  for (size_t piece = 1; piece <= stream.size(); ++piece) {
    auto events = feed_in_pieces(stream, piece);
    ASSERT_EQ(events.size(), 3u) << "piece " << piece;
    EXPECT_EQ(events[0].data, "{\"a\":1}");
    EXPECT_EQ(events[0].event, "");
    EXPECT_EQ(events[1].event, "error");
    EXPECT_EQ(events[2].data, "[DONE]");
  }
}

TEST(Sse, CrLfAndBareCrLineEndings) {
  for (const std::string eol : {"\r\n", "\r", "\n"}) {
    const std::string stream = "event: x" + eol + "data: one" + eol + eol + "data: two" + eol + eol;
    for (size_t piece = 1; piece <= stream.size(); ++piece) {
      auto events = feed_in_pieces(stream, piece);
      ASSERT_EQ(events.size(), 2u) << "piece " << piece;
      EXPECT_EQ(events[0].event, "x");
      EXPECT_EQ(events[0].data, "one");
      EXPECT_EQ(events[1].data, "two");
    }
  }
}

TEST(Sse, MultiLineDataJoinedWithNewlines) {
  SseParser p;
  auto events = p.feed("data: first\ndata:second\ndata:  third\n\n");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].data, "first\nsecond\n third");  // one space after the colon is dropped, not two
}

TEST(Sse, CommentsAreCountedNotReturned) {
  SseParser p;
  EXPECT_TRUE(p.feed(": loading model\n\n:\n\n").empty());
  EXPECT_EQ(p.comments(), 2u);
  auto events = p.feed(": ping\ndata: x\n\n");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].data, "x");
}

TEST(Sse, BlankLineWithoutDataDispatchesNothingAndResetsEvent) {
  SseParser p;
  EXPECT_TRUE(p.feed("event: error\n\n").empty());
  auto events = p.feed("data: y\n\n");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].event, "");
}

TEST(Sse, UnterminatedLastEventComesFromFinish) {
  SseParser p;
  EXPECT_TRUE(p.feed("data: tail").empty());
  auto last = p.finish();
  ASSERT_TRUE(last);
  EXPECT_EQ(last->data, "tail");
  EXPECT_FALSE(p.finish());
}

TEST(Sse, PartialLineWaitsForItsEnd) {
  SseParser p;
  EXPECT_TRUE(p.feed("da").empty());
  EXPECT_TRUE(p.feed("ta: {\"x\"").empty());
  EXPECT_TRUE(p.feed(":2}\n").empty());
  auto events = p.feed("\n");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].data, "{\"x\":2}");
}

TEST(ChatChunk, ContentReasoningFinishUsage) {
  auto c = parse_chat_chunk(R"({"model":"m","choices":[{"index":0,"delta":{"content":"tok0 "},"finish_reason":null}]})");
  EXPECT_EQ(c.model, "m");
  EXPECT_EQ(c.content, "tok0 ");
  EXPECT_EQ(c.finish_reason, "");
  EXPECT_TRUE(c.usage.is_null());
  auto r = parse_chat_chunk(R"({"choices":[{"delta":{"reasoning_content":"loading m…"}}]})");
  EXPECT_EQ(r.reasoning, "loading m…");
  EXPECT_EQ(r.content, "");
  auto f = parse_chat_chunk(R"({"choices":[{"delta":{},"finish_reason":"length"}]})");
  EXPECT_EQ(f.finish_reason, "length");
  auto u = parse_chat_chunk(R"({"choices":[],"usage":{"prompt_tokens":2,"completion_tokens":16}})");
  EXPECT_EQ(u.usage["completion_tokens"], 16);
}

TEST(ChatChunk, DoneErrorMalformedAndPlainAnswer) {
  EXPECT_TRUE(parse_chat_chunk("[DONE]").done);
  EXPECT_TRUE(parse_chat_chunk("not json").malformed);
  EXPECT_TRUE(parse_chat_chunk("[1,2]").malformed);
  EXPECT_EQ(parse_chat_chunk(R"({"error":{"message":"engine crashed","type":"x"}})").error, "engine crashed");
  EXPECT_EQ(parse_chat_chunk(R"({"error":"plain"})").error, "plain");
  auto whole = parse_chat_chunk(
      R"({"choices":[{"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"total_tokens":3}})");
  EXPECT_EQ(whole.content, "hi");
  EXPECT_EQ(whole.finish_reason, "stop");
  EXPECT_EQ(whole.usage["total_tokens"], 3);
}

TEST(ChatChunk, ErrorMessageIsOneLine) {
  EXPECT_EQ(error_message(R"({"error":{"message":"model 'x' not found; available: a, b"}})"),
            "model 'x' not found; available: a, b");
  EXPECT_EQ(error_message("  Bad\nGateway \n"), "Bad Gateway");
  EXPECT_EQ(error_message(std::string(1000, 'x')).size(), 300u);
}

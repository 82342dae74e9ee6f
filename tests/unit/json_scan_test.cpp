// Top-level JSON scan (model/stream without a DOM) and the byte-splicing rewrite built on it.
#include "proxy/json_scan.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/config.hpp"
#include "proxy/rewrite.hpp"

using namespace llmux;

TEST(JsonScan, FindsModelAndStreamAtTheTopLevelOnly) {
  std::string body = R"( {"messages":[{"role":"user","content":"say \"model\": x","model":"inner"}],)"
                     R"("stream" : true, "model":"qwen\u00e9", "n":[1,2,{"stream":false}]} )";
  auto s = scan_top_level(body);
  ASSERT_TRUE(s);
  EXPECT_TRUE(s->has_model);
  EXPECT_EQ(s->model, "qwen\xC3\xA9");
  EXPECT_TRUE(s->stream);
  EXPECT_EQ(body.substr(s->model_begin, s->model_end - s->model_begin), R"("qwen\u00e9")");
}

TEST(JsonScan, NullOrMissingModelAndNonStringModel) {
  auto a = scan_top_level(R"({"model":null,"stream":false})");
  ASSERT_TRUE(a);
  EXPECT_FALSE(a->has_model);
  EXPECT_FALSE(a->stream);
  auto b = scan_top_level("{}");
  ASSERT_TRUE(b);
  EXPECT_TRUE(b->empty_object);
  auto c = scan_top_level(R"({"model":42})");
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->has_model);
  EXPECT_FALSE(c->model_is_string);
}

TEST(JsonScan, RejectsBrokenStructure) {
  for (const char* bad : {"", "[]", "{", R"({"model": )", R"({"model":"a",})", R"({"a":[1,2})", R"({"a" 1})",
                          R"({"a":"unterminated})", R"({"a":1} trailing)", "{\"a\":\"ctl\x01\"}",
                          R"({"a":"\q"})", R"({"a":})"})
    EXPECT_FALSE(scan_top_level(bad)) << bad;
}

// Strings are skipped eight bytes at a time: a quote, backslash or control character at every offset of a long
// string must still be seen (the model name after it decodes right, or the body is refused).
TEST(JsonScan, LongStringsWithSpecialsAtEveryOffset) {
  for (size_t pad = 0; pad < 24; ++pad) {
    const std::string text = std::string(pad, 'a') + "\\\"q\\\\" + std::string(17, 'b') + "\u00e9\xC3\xA9";
    std::string body = R"({"messages":[{"content":")" + text + R"("}],"model":"m)" + std::string(pad, 'x') + R"("})";
    auto s = scan_top_level(body);
    ASSERT_TRUE(s) << "pad " << pad;
    EXPECT_EQ(s->model, "m" + std::string(pad, 'x'));
    std::string bad = R"({"content":")" + std::string(pad, 'a') + "\x01" + std::string(9, 'b') + R"(","model":"m"})";
    EXPECT_FALSE(scan_top_level(bad)) << "control character at offset " << pad;
    std::string open = R"({"model":")" + std::string(pad + 9, 'a');
    EXPECT_FALSE(scan_top_level(open)) << "unterminated string, pad " << pad;
  }
}

TEST(JsonScan, EscapedKeysAreDecodedBeforeTheyAreCompared) {
  auto s = scan_top_level(R"({"mo\u0064el":"x","str\u0065am":true})");
  ASSERT_TRUE(s);
  EXPECT_TRUE(s->has_model);
  EXPECT_EQ(s->model, "x");
  EXPECT_TRUE(s->stream);
  EXPECT_FALSE(scan_top_level(R"({"mo\x":"x"})")) << "a bad escape in a key";
}

TEST(JsonScan, SurrogatePairsDecode) {
  auto s = scan_top_level(R"({"model":"\ud83d\ude00"})");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->model, "\xF0\x9F\x98\x80");
}

namespace {

InferenceRequest parsed(const std::string& body, const Config& c) {
  auto r = parse_inference(body, c);
  EXPECT_TRUE(std::holds_alternative<InferenceRequest>(r)) << body;
  return std::get<InferenceRequest>(r);
}

}  // namespace

TEST(JsonScan, SpliceKeepsEveryOtherByte) {
  auto c = load_config_text(
      "defaultModel: b\nmodels:\n  a:\n    cmd: e --port ${PORT}\n    aliases: [alias]\n"
      "  b:\n    cmd: e --port ${PORT}\n    useModelName: org/b \"q\"\n",
      "t.yaml");
  std::string body = "{\"temperature\": 0.10000000000000001,  \"model\" :\"alias\", \"x\":[ 1e400 ]}";
  auto req = parsed(body, *c);
  EXPECT_EQ(forward_body(req, body), "{\"temperature\": 0.10000000000000001,  \"model\" :\"a\", \"x\":[ 1e400 ]}");
  std::string none = R"({"messages":[]})";
  auto d = parsed(none, *c);
  EXPECT_EQ(forward_body(d, none), R"({"model":"org/b \"q\"","messages":[]})");
  std::string empty = "{ }";
  auto e = parsed(empty, *c);
  EXPECT_EQ(nlohmann::json::parse(forward_body(e, empty))["model"], "org/b \"q\"");
  std::string null_model = R"({"model":null})";
  auto n = parsed(null_model, *c);
  EXPECT_EQ(forward_body(n, null_model), R"({"model":"org/b \"q\""})");
}

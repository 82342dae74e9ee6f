// Top-level JSON scan (model/stream without a DOM) and the byte-splicing rewrite built on it.
#include "proxy/http/json_scan.hpp"

#include <gtest/gtest.h>

#include <functional>

#include <nlohmann/json.hpp>

#include "common/config.hpp"
#include "proxy/policy/rewrite.hpp"

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

// accepted_string_end() finds a string's end by its quote alone (the body was checked): an escaped quote after any
// run of backslashes, at every offset of the word it is read in, must end where the checking scan ends.
TEST(JsonScan, AcceptedStringEndAgreesWithTheCheckingScan) {
  for (size_t pad = 0; pad < 20; ++pad)
    for (const std::string tail : {"", "\\\\", "\\\"", "\\\\\\\"x", "\\\\\\\\", "\\u0022\\n", "\\/\\\\\\\"\\\\"}) {
      const std::string s = "\"" + std::string(pad, 'a') + tail + std::string(pad % 9, 'b') + "\",\"next\"";
      const size_t checked = json_string_end(s, 0);
      ASSERT_NE(checked, std::string_view::npos) << s;
      EXPECT_EQ(accepted_string_end(s, 0), checked) << s;
      EXPECT_EQ(accepted_string_end(s, checked + 1), json_string_end(s, checked + 1)) << s;
    }
  EXPECT_EQ(accepted_string_end(R"("unterminated\")", 0), std::string_view::npos);
  EXPECT_EQ(accepted_string_end(R"("abc)", 0), std::string_view::npos);
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

TEST(JsonScan, NestingAndContainersAsValues) {
  auto s = scan_top_level(" { \"a\" : { \"model\" : \"no\" , \"b\" : [ [ ] , { } , [ 1 , { \"stream\":true } ] ] } ,"
                          " \"model\" : { \"x\" : [ ] } , \"stream\" : false } ");
  ASSERT_TRUE(s);
  EXPECT_TRUE(s->has_model);
  EXPECT_FALSE(s->model_is_string);
  EXPECT_FALSE(s->stream);
  for (const char* bad : {R"({"a":[}]})", R"({"a":{]})", R"({"a":[1 2]})", R"({"a":{"b"}})", R"({"a":[,1]})",
                          R"({"a":{"b":1,}})", R"({,"a":1})", R"({"a":1}})", R"({"a":[1]]})", R"({"a"::1})"})
    EXPECT_FALSE(scan_top_level(bad)) << bad;
  std::string deep = "{\"a\":" + std::string(500, '[') + std::string(500, ']') + "}";
  EXPECT_TRUE(scan_top_level(deep));
  std::string too_deep = "{\"a\":" + std::string(600, '[') + std::string(600, ']') + "}";
  EXPECT_FALSE(scan_top_level(too_deep));
}

// Every generated document is accepted with the model and stream nlohmann finds at its top level, and every
// strict prefix of it (a document cut anywhere) is refused.
TEST(JsonScan, AgreesWithAFullParserAndRefusesEveryCut) {
  uint32_t seed = 12345;
  auto next = [&](uint32_t n) {
    seed = seed * 1664525u + 1013904223u;
    return (seed >> 8) % n;
  };
  std::function<nlohmann::json(int)> gen = [&](int depth) -> nlohmann::json {
    switch (depth > 3 ? next(5) : next(7)) {
      case 0: return nullptr;
      case 1: return next(2) == 0;
      case 2: return static_cast<int>(next(100000)) - 500;
      case 3: return 1.5 * next(100);
      case 4: return std::string("s\"\\/\n\t\u00e9x") + std::string(next(20), 'y');
      case 5: {
        auto a = nlohmann::json::array();
        for (uint32_t k = next(4); k > 0; --k) a.push_back(gen(depth + 1));
        return a;
      }
      default: {
        auto o = nlohmann::json::object();
        for (uint32_t k = next(4); k > 0; --k) o["k" + std::to_string(next(9))] = gen(depth + 1);
        if (next(3) == 0) o["model"] = "inner";
        return o;
      }
    }
  };
  for (int doc = 0; doc < 200; ++doc) {
    nlohmann::json j = nlohmann::json::object();
    for (uint32_t k = next(5); k > 0; --k) j["f" + std::to_string(next(9))] = gen(1);
    if (next(2)) j["model"] = next(2) ? nlohmann::json("m\u00e9 " + std::to_string(doc)) : gen(1);
    if (next(2)) j["stream"] = next(2) == 0;
    const std::string text = next(2) ? j.dump() : j.dump(next(3) + 1);
    auto s = scan_top_level(text);
    ASSERT_TRUE(s) << text;
    EXPECT_EQ(s->has_model, j.contains("model") && !j["model"].is_null()) << text;
    if (j.contains("model") && j["model"].is_string()) {
      EXPECT_EQ(s->model, j["model"].get<std::string>()) << text;
    }
    EXPECT_EQ(s->stream, j.contains("stream") && j["stream"] == true) << text;
    for (size_t cut = 0; cut < text.size(); ++cut)
      EXPECT_FALSE(scan_top_level(std::string_view(text).substr(0, cut))) << text.substr(0, cut);
  }
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

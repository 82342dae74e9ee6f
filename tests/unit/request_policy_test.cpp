#include "proxy/policy/request_policy.hpp"

#include <gtest/gtest.h>

namespace llmux {
namespace {

using nlohmann::json;
using Words = std::vector<std::string>;

const TokenCaps kClamp{1024, 4096, false};
const TokenCaps kReject{1024, 4096, true};

json body(const char* text) { return json::parse(text); }

TEST(TokenCaps, DefaultIsInsertedWithTheRoutesSpelling) {
  struct Case {
    const char* route;
    const char* field;
  };
  for (const Case& c : {Case{"/v1/chat/completions", "max_tokens"}, Case{"/v1/completions", "max_tokens"},
                        Case{"/v1/responses", "max_output_tokens"}, Case{"/responses/", "max_output_tokens"},
                        Case{"/chat/completions?x=1", "max_tokens"}, Case{"/v1/messages", "max_tokens"}}) {
    SCOPED_TRACE(c.route);
    json b = body(R"({"model":"m","messages":[]})");
    const CapResult r = apply_token_caps(b, c.route, kClamp);
    EXPECT_EQ(b, json::parse(std::string(R"({"model":"m","messages":[],")") + c.field + R"(":1024})"));
    EXPECT_FALSE(r.clamped);
    EXPECT_FALSE(r.error);
    EXPECT_EQ(r.field, c.field);
    EXPECT_EQ(r.applied, 1024);
  }
}

TEST(TokenCaps, NothingInsertedOnRoutesThatDoNotGenerate) {
  for (const char* route : {"/v1/embeddings", "/v1/rerank", "/v1/models"}) {
    json b = body(R"({"model":"m","input":"x"})");
    const CapResult r = apply_token_caps(b, route, kClamp);
    EXPECT_EQ(b, body(R"({"model":"m","input":"x"})")) << route;
    EXPECT_EQ(r.field, "");
  }
}

TEST(TokenCaps, LimitAloneIsInsertedWhenTheRequestNamesNone) {
  json b = body(R"({"messages":[]})");
  const CapResult r = apply_token_caps(b, "/v1/chat/completions", TokenCaps{std::nullopt, 4096, false});
  EXPECT_EQ(b["max_tokens"], 4096);
  EXPECT_EQ(r.applied, 4096);
}

TEST(TokenCaps, NothingConfiguredChangesNothing) {
  json b = body(R"({"messages":[],"max_tokens":100000})");
  const CapResult r = apply_token_caps(b, "/v1/chat/completions", TokenCaps{});
  EXPECT_EQ(b, body(R"({"messages":[],"max_tokens":100000})"));
  EXPECT_FALSE(r.clamped);
  EXPECT_EQ(r.field, "");
}

TEST(TokenCaps, NullCountsAsAbsent) {
  json b = body(R"({"messages":[],"max_tokens":null})");
  apply_token_caps(b, "/v1/chat/completions", kClamp);
  EXPECT_EQ(b["max_tokens"], 1024);
}

TEST(TokenCaps, PresentValueWithinTheLimitIsKept) {
  json b = body(R"({"messages":[],"max_completion_tokens":2000})");
  const CapResult r = apply_token_caps(b, "/v1/chat/completions", kClamp);
  EXPECT_EQ(b, body(R"({"messages":[],"max_completion_tokens":2000})"));  // no default added next to it
  EXPECT_FALSE(r.clamped);
  EXPECT_EQ(r.field, "");
}

TEST(TokenCaps, EverySpellingIsClamped) {
  for (const char* field : {"max_tokens", "max_completion_tokens", "max_output_tokens", "n_predict"}) {
    SCOPED_TRACE(field);
    json b = {{"prompt", "x"}, {field, 9000}};
    const CapResult r = apply_token_caps(b, "/v1/completions", kClamp);
    EXPECT_EQ(b, (json{{"prompt", "x"}, {field, 4096}}));
    EXPECT_TRUE(r.clamped);
    EXPECT_EQ(r.field, field);
    EXPECT_EQ(r.requested, 9000);
    EXPECT_EQ(r.applied, 4096);
    EXPECT_FALSE(r.error);
  }
}

TEST(TokenCaps, EveryPresentSpellingAboveTheLimitIsClamped) {
  json b = body(R"({"max_tokens":100,"max_completion_tokens":5000,"n_predict":-1})");
  const CapResult r = apply_token_caps(b, "/v1/chat/completions", kClamp);
  EXPECT_EQ(b, body(R"({"max_tokens":100,"max_completion_tokens":4096,"n_predict":4096})"));
  EXPECT_EQ(r.field, "max_completion_tokens");
  EXPECT_EQ(r.requested, 5000);
}

TEST(TokenCaps, UnlimitedNPredictIsAboveTheLimit) {
  json b = body(R"({"prompt":"x","n_predict":-1})");
  const CapResult r = apply_token_caps(b, "/v1/completions", kClamp);
  EXPECT_EQ(b["n_predict"], 4096);
  EXPECT_EQ(r.requested, -1);
  json rejected = body(R"({"prompt":"x","n_predict":-1})");
  const CapResult e = apply_token_caps(rejected, "/v1/completions", kReject);
  ASSERT_TRUE(e.error);
  EXPECT_EQ(e.error->message, "n_predict -1 (unlimited) exceeds this model's limit of 4096");
}

TEST(TokenCaps, RejectLeavesTheBodyAndReturnsA400) {
  json b = body(R"({"messages":[],"max_tokens":9000,"stream":true})");
  const CapResult r = apply_token_caps(b, "/v1/chat/completions", kReject);
  EXPECT_EQ(b, body(R"({"messages":[],"max_tokens":9000,"stream":true})"));
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->status, 400);
  EXPECT_EQ(r.error->type, "invalid_request_error");
  EXPECT_EQ(r.error->code, "max_tokens_exceeded");
  EXPECT_EQ(r.error->message, "max_tokens 9000 exceeds this model's limit of 4096");
  EXPECT_FALSE(r.clamped);
}

TEST(TokenCaps, RejectAcceptsValuesWithinTheLimit) {
  json b = body(R"({"messages":[],"max_output_tokens":4096})");
  EXPECT_FALSE(apply_token_caps(b, "/v1/responses", kReject).error);
  EXPECT_EQ(b["max_output_tokens"], 4096);
}

TEST(TokenCaps, StreamingBodiesAreCappedAlike) {
  json b = body(R"({"messages":[],"stream":true,"stream_options":{"include_usage":true},"max_tokens":99999})");
  apply_token_caps(b, "/v1/chat/completions", kClamp);
  EXPECT_EQ(b, body(R"({"messages":[],"stream":true,"stream_options":{"include_usage":true},"max_tokens":4096})"));
  json d = body(R"({"messages":[],"stream":true})");
  apply_token_caps(d, "/v1/chat/completions", kClamp);
  EXPECT_EQ(d, body(R"({"messages":[],"stream":true,"max_tokens":1024})"));
}

TEST(TokenCaps, IntegralFloatsCountAndOtherTypesAreRefusedUnderALimit) {
  json f = body(R"({"max_tokens":9000.0})");
  EXPECT_TRUE(apply_token_caps(f, "/v1/completions", kClamp).clamped);
  EXPECT_EQ(f["max_tokens"], 4096);
  json huge = body(R"({"max_tokens":18446744073709551615})");
  EXPECT_TRUE(apply_token_caps(huge, "/v1/completions", kClamp).clamped);
  EXPECT_EQ(huge["max_tokens"], 4096);
  for (const char* text : {R"({"max_tokens":"9000"})", R"({"max_tokens":1.5})", R"({"max_tokens":true})"}) {
    json b = body(text);
    const CapResult r = apply_token_caps(b, "/v1/completions", kClamp);
    ASSERT_TRUE(r.error) << text;
    EXPECT_EQ(r.error->status, 400);
    EXPECT_EQ(b, body(text));
  }
  json s = body(R"({"max_tokens":"9000"})");
  EXPECT_EQ(apply_token_caps(s, "/v1/completions", kClamp).error->message,
            R"(max_tokens must be an integer, got "9000")");
  json no_limit = body(R"({"max_tokens":"9000"})");  // without a limit there is nothing to enforce
  EXPECT_FALSE(apply_token_caps(no_limit, "/v1/completions", TokenCaps{100, std::nullopt}).error);
}

TEST(TokenCaps, NonObjectBodiesAreLeftAlone) {
  json b = json::array();
  const CapResult r = apply_token_caps(b, "/v1/completions", kClamp);
  EXPECT_EQ(b, json::array());
  EXPECT_FALSE(r.error);
}

ParamRules rules(const char* defaults, const char* force, Words strip) {
  ParamRules r;
  r.defaults = json::parse(defaults);
  r.force = json::parse(force);
  r.strip = std::move(strip);
  return r;
}

TEST(ParamRules, DefaultsFillOnlyWhatIsAbsent) {
  json b = body(R"({"model":"m","temperature":1.0,"top_p":null})");
  const Words changed = apply_param_rules(b, rules(R"({"temperature":0.6,"top_p":0.95,"top_k":20})", "{}", {}));
  EXPECT_EQ(b, body(R"({"model":"m","temperature":1.0,"top_p":0.95,"top_k":20})"));
  EXPECT_EQ(changed, (Words{"top_k", "top_p"}));  // json objects iterate in key order
}

TEST(ParamRules, DefaultsDeepMergeObjects) {
  json b = body(R"({"chat_template_kwargs":{"enable_thinking":true}})");
  const Words changed = apply_param_rules(
      b, rules(R"({"chat_template_kwargs":{"enable_thinking":false,"reasoning_effort":"low"}})", "{}", {}));
  EXPECT_EQ(b, body(R"({"chat_template_kwargs":{"enable_thinking":true,"reasoning_effort":"low"}})"));
  EXPECT_EQ(changed, Words{"chat_template_kwargs"});
  json same = body(R"({"chat_template_kwargs":{"enable_thinking":true,"reasoning_effort":"high"}})");
  EXPECT_EQ(apply_param_rules(same, rules(R"({"chat_template_kwargs":{"enable_thinking":false}})", "{}", {})),
            Words{});
  json scalar = body(R"({"chat_template_kwargs":"raw"})");  // the client's value wins, whatever its type
  apply_param_rules(scalar, rules(R"({"chat_template_kwargs":{"a":1}})", "{}", {}));
  EXPECT_EQ(scalar["chat_template_kwargs"], "raw");
}

TEST(ParamRules, ForceOverwritesAndDeepMerges) {
  json b = body(R"({"temperature":1.5,"chat_template_kwargs":{"enable_thinking":true,"x":1},"seed":3})");
  const Words changed = apply_param_rules(
      b, rules("{}", R"({"temperature":0.2,"chat_template_kwargs":{"enable_thinking":false},"seed":3})", {}));
  EXPECT_EQ(b, body(R"({"temperature":0.2,"chat_template_kwargs":{"enable_thinking":false,"x":1},"seed":3})"));
  EXPECT_EQ(changed, (Words{"chat_template_kwargs", "temperature"}));  // seed was already 3
  json scalar = body(R"({"chat_template_kwargs":"raw"})");
  apply_param_rules(scalar, rules("{}", R"({"chat_template_kwargs":{"a":1}})", {}));
  EXPECT_EQ(scalar["chat_template_kwargs"], json::parse(R"({"a":1})"));
}

TEST(ParamRules, StripRemovesTopLevelFields) {
  json b = body(R"({"model":"m","seed":1,"user":"u","messages":[]})");
  const Words changed = apply_param_rules(b, rules("{}", "{}", {"seed", "user", "absent", "model"}));
  EXPECT_EQ(b, body(R"({"model":"m","messages":[]})"));
  EXPECT_EQ(changed, (Words{"seed", "user"}));
}

TEST(ParamRules, StripThenDefaultsThenForce) {
  json b = body(R"({"temperature":1.9,"top_p":0.1})");
  const Words changed =
      apply_param_rules(b, rules(R"({"temperature":0.7})", R"({"top_p":0.95})", {"temperature", "top_p"}));
  EXPECT_EQ(b, body(R"({"temperature":0.7,"top_p":0.95})"));
  EXPECT_EQ(changed, (Words{"temperature", "top_p"}));
}

TEST(ParamRules, ModelIsNeverTouched) {
  json b = body(R"({"model":"m"})");
  EXPECT_EQ(apply_param_rules(b, rules(R"({"model":"x"})", R"({"model":"y"})", {"model"})), Words{});
  EXPECT_EQ(b, body(R"({"model":"m"})"));
  json none = body("{}");
  apply_param_rules(none, rules(R"({"model":"x"})", "{}", {}));
  EXPECT_EQ(none, body("{}"));
}

TEST(ParamRules, EmptyRulesAndNonObjectsChangeNothing) {
  json b = body(R"({"stream":true})");
  EXPECT_EQ(apply_param_rules(b, ParamRules{}), Words{});
  EXPECT_EQ(b, body(R"({"stream":true})"));
  json s = "text";
  EXPECT_EQ(apply_param_rules(s, rules(R"({"a":1})", "{}", {})), Words{});
  EXPECT_EQ(s, "text");
}

}  // namespace
}  // namespace llmux

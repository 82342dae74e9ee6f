// Routing table and request rewrite (model resolution, defaultModel, aliases, useModelName).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/config.hpp"
#include "proxy/policy/rewrite.hpp"
#include "proxy/http/routes.hpp"
#include "common/endpoint.hpp"

using namespace llmux;

TEST(Routes, InferencePathsWithAndWithoutV1AndTrailingSlash) {
  for (auto p : {"/v1/chat/completions", "/chat/completions", "/v1/chat/completions/", "/v1/completions",
                 "/completions", "/v1/embeddings", "/embeddings/", "/v1/responses", "/responses",
                 "/v1/chat/completions?x=1"})
    EXPECT_EQ(match_route("POST", p).route, Route::inference) << p;
}

TEST(Routes, EngineTargetIsCanonical) {
  EXPECT_EQ(engine_target("/chat/completions/"), "/v1/chat/completions");
  EXPECT_EQ(engine_target("/v1/embeddings"), "/v1/embeddings");
  EXPECT_EQ(engine_target("/completions?x=1"), "/v1/completions?x=1");
}

TEST(Routes, PathsLoseQueryFragmentAndTrailingSlashes) {
  EXPECT_EQ(normalize_path("/status?a=1#b"), "/status");
  EXPECT_EQ(normalize_path("/v1/models#frag?x=1"), "/v1/models");
  EXPECT_EQ(normalize_path("/v1/models//?x"), "/v1/models");
  EXPECT_EQ(normalize_path("/"), "/");
  EXPECT_EQ(normalize_path("?x"), "");
  EXPECT_EQ(normalize_path(""), "");
}

TEST(Routes, WrongMethodIsReportedWithAllow) {
  auto m = match_route("GET", "/v1/chat/completions");
  EXPECT_EQ(m.route, Route::method_not_allowed);
  EXPECT_EQ(m.allow, "POST");
  EXPECT_EQ(match_route("DELETE", "/status").route, Route::method_not_allowed);
}

TEST(Routes, AdminPaths) {
  EXPECT_EQ(match_route("GET", "/v1/models").route, Route::models);
  EXPECT_EQ(match_route("GET", "/v1/models/").route, Route::models);
  EXPECT_EQ(match_route("HEAD", "/health").route, Route::health);
  EXPECT_EQ(match_route("GET", "/running").route, Route::running);
  EXPECT_EQ(match_route("GET", "/unload").route, Route::unload);
  EXPECT_EQ(match_route("POST", "/unload").route, Route::unload);
  EXPECT_EQ(match_route("GET", "/status").route, Route::status);
  EXPECT_EQ(match_route("GET", "/nope").route, Route::not_found);
  EXPECT_EQ(match_route("POST", "/v2/chat/completions").route, Route::not_found);
}

namespace {

std::shared_ptr<const Config> sample_config(const std::string& extra = "") {
  return load_config_text(
      "defaultModel: fast\n" + extra +
          "models:\n"
          "  big:\n"
          "    cmd: engine --port ${PORT}\n"
          "    aliases: [large]\n"
          "  small:\n"
          "    cmd: engine --port ${PORT}\n"
          "    aliases: [fast]\n"
          "    useModelName: mlx-community/small-4bit\n"
          "  hidden:\n"
          "    cmd: engine --port ${PORT}\n"
          "    unlisted: true\n",
      "test.yaml");
}

InferenceRequest parse_ok(const std::string& body, const Config& c) {
  auto r = parse_inference(body, c);
  if (auto* e = std::get_if<ApiError>(&r)) ADD_FAILURE() << e->message;
  return std::get<InferenceRequest>(r);
}

ApiError parse_err(const std::string& body, const Config& c) {
  auto r = parse_inference(body, c);
  EXPECT_TRUE(std::holds_alternative<ApiError>(r)) << body;
  return std::holds_alternative<ApiError>(r) ? std::get<ApiError>(r) : ApiError{};
}

}  // namespace

TEST(Routes, DashboardAndActivity) {
  EXPECT_EQ(match_route("GET", "/ui").route, Route::ui);
  EXPECT_EQ(match_route("GET", "/ui/").route, Route::ui);
  EXPECT_EQ(match_route("HEAD", "/ui/app.js").route, Route::ui);
  EXPECT_EQ(match_route("GET", "/uix").route, Route::not_found);
  EXPECT_EQ(match_route("POST", "/ui").route, Route::method_not_allowed);
  EXPECT_EQ(match_route("GET", "/activity?x=1").route, Route::activity);
  EXPECT_EQ(match_route("POST", "/activity").allow, "GET, HEAD");
}

TEST(Rewrite, IdPassesThroughUnchanged) {
  auto c = sample_config();
  std::string body = R"({"model":"big","messages":[],"stream":true})";
  auto req = parse_ok(body, *c);
  EXPECT_EQ(req.model->id, "big");
  EXPECT_TRUE(req.stream);
  EXPECT_EQ(forward_body(req, body), body);  // same bytes: no re-serialization
}

TEST(Rewrite, AliasIsForwardedAsTheModelId) {
  auto c = sample_config();
  std::string body = R"({"model":"large","messages":[{"role":"user","content":"hi"}]})";
  auto req = parse_ok(body, *c);
  auto out = nlohmann::json::parse(forward_body(req, body));
  EXPECT_EQ(out["model"], "big");
  EXPECT_EQ(out["messages"][0]["content"], "hi");
}

TEST(Rewrite, UseModelNameIsForwarded) {
  auto c = sample_config();
  std::string body = R"({"model":"small","temperature":0.5})";
  auto req = parse_ok(body, *c);
  auto out = nlohmann::json::parse(forward_body(req, body));
  EXPECT_EQ(out["model"], "mlx-community/small-4bit");
  EXPECT_EQ(out["temperature"], 0.5);
}

TEST(Rewrite, MissingModelUsesDefaultModelThroughItsAlias) {
  auto c = sample_config();
  std::string body = R"({"messages":[]})";
  auto req = parse_ok(body, *c);
  EXPECT_EQ(req.model->id, "small");
  EXPECT_EQ(nlohmann::json::parse(forward_body(req, body))["model"], "mlx-community/small-4bit");
}

TEST(Rewrite, UnlistedModelsCanStillBeRequested) {
  auto c = sample_config();
  EXPECT_EQ(parse_ok(R"({"model":"hidden"})", *c).model->id, "hidden");
}

TEST(Rewrite, Errors) {
  auto c = sample_config();
  auto e = parse_err(R"({"model":"nope"})", *c);
  EXPECT_EQ(e.status, 404);
  EXPECT_EQ(e.code, "model_not_found");
  EXPECT_EQ(e.message, "model 'nope' not found; available: big, fast, large, small");
  EXPECT_EQ(parse_err("{not json", *c).status, 400);
  EXPECT_EQ(parse_err("[1,2]", *c).status, 400);
  EXPECT_EQ(parse_err(R"({"model":42})", *c).code, "invalid_model");
  auto no_default = load_config_text("models:\n  a:\n    cmd: e --port ${PORT}\n", "t.yaml");
  auto e2 = parse_err(R"({"messages":[]})", *no_default);
  EXPECT_EQ(e2.status, 400);
  EXPECT_EQ(e2.code, "model_required");
}

TEST(Endpoint, ParsesEngineUrls) {
  auto ep = parse_engine_url("http://127.0.0.1:8080");
  ASSERT_TRUE(ep);
  EXPECT_EQ(ep->host, "127.0.0.1");
  EXPECT_EQ(ep->port, 8080);
  EXPECT_EQ(ep->base_path, "");
  auto ep2 = parse_engine_url("http://localhost:9000/api/");
  ASSERT_TRUE(ep2);
  EXPECT_EQ(ep2->host, "127.0.0.1");
  EXPECT_EQ(ep2->base_path, "/api");
  auto ep3 = parse_engine_url("http://[::1]:7000");
  ASSERT_TRUE(ep3);
  EXPECT_EQ(ep3->host, "::1");
  EXPECT_FALSE(parse_engine_url("https://x:1"));
  EXPECT_FALSE(parse_engine_url("http://host"));
  EXPECT_FALSE(parse_engine_url("http://h:0"));
  EXPECT_FALSE(parse_engine_url("http://h:99999"));
}

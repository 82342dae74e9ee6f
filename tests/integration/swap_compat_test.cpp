// A llama-swap user's config and clients through real sockets (docs/configuration.md "Coming from llama-swap"):
// setParamsByID aliases, legacy filters.strip_params, concurrencyLimit's 429, metadata and includeAliasesInList in
// /v1/models, GET /v1/models/{id}, unloadTimeout, a cmd without ${PORT}; and the routes beyond OpenAI's JSON ones:
// llama.cpp's /completion, /tokenize, /props, /upstream/<model>/<path>, multipart/form-data by its model field.
#include <thread>

#include "tests/integration/harness.hpp"

using namespace llmux::test;

namespace {

// The engine's view of the last POST it served (fake_engine's /debug/last-request).
nlohmann::json last_request(Llmux& l) {
  const auto engine = static_cast<uint16_t>(l.worker()["port"].get<int>());
  return http_get(engine, "/debug/last-request").json();
}

const std::string kBoundary = "----llmuxtest42";

std::string form_body(const std::string& model_part) {
  std::string b = "--" + kBoundary + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\n"
                  "Content-Type: audio/wav\r\n\r\nRIFF\r\n--not-the-boundary\r\n";
  if (!model_part.empty()) {
    b += "--" + kBoundary + "\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\n" + model_part + "\r\n";
  }
  return b + "--" + kBoundary + "--\r\n";
}

HttpResponse post_form(Llmux& l, const std::string& path, const std::string& body) {
  return http_request(l.port(), "POST", path, body,
                      {{"Content-Type", "multipart/form-data; boundary=\"" + kBoundary + "\""}});
}

}  // namespace

TEST(SwapCompat, SetParamsByIdAliasesAndLegacyStripParams) {
  const auto tag = unique_tag("byid");
  Llmux l("models:\n  gpt:\n    cmd: " + fake_cmd(tag) +
          "\n    useModelName: org/gpt\n    filters:\n      strip_params: \"seed, model\"\n"
          "      setParams: {temperature: 0.5}\n      setParamsByID:\n"
          "        \"${MODEL_ID}:high\": {reasoning_effort: high, temperature: 0.9}\n"
          "        \"${MODEL_ID}\": {reasoning_effort: medium}\n");
  ASSERT_EQ(l.chat("gpt:high", R"(,"seed":7,"max_tokens":1)").status, 200);
  nlohmann::json seen = last_request(l);
  EXPECT_EQ(seen["model"], "org/gpt");
  EXPECT_EQ(seen["reasoning_effort"], "high");
  EXPECT_EQ(seen["temperature"], 0.9);  // setParamsByID runs after setParams
  EXPECT_FALSE(seen.contains("seed"));  // legacy strip_params
  ASSERT_EQ(l.chat("gpt", R"(,"max_tokens":1)").status, 200);
  seen = last_request(l);
  EXPECT_EQ(seen["reasoning_effort"], "medium");
  EXPECT_EQ(seen["temperature"], 0.5);
}

TEST(SwapCompat, ConcurrencyLimitRefusesWith429AtOnce) {
  const auto tag = unique_tag("climit");
  Llmux l("models:\n  a:\n    cmd: " + fake_cmd(tag, "--token-ms 100 --tokens 20") + "\n    concurrencyLimit: 1\n");
  ASSERT_EQ(l.chat("a", R"(,"max_tokens":1)").status, 200);  // loaded
  std::thread slow([&] { EXPECT_EQ(l.chat("a").status, 200); });
  ASSERT_TRUE(eventually([&] { return l.status()["inFlight"].get<int>() == 1; })) << l.status().dump();
  const auto t0 = std::chrono::steady_clock::now();
  const HttpResponse refused = l.chat("a");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);  // at once, not after the 2 s request
  EXPECT_EQ(refused.status, 429) << refused.body;
  EXPECT_EQ(refused.json()["error"]["code"], "concurrency_limit");
  EXPECT_EQ(refused.header("retry-after"), "1");
  slow.join();
}

TEST(SwapCompat, ModelsListMetadataAliasesAndRetrieve) {
  const auto ta = unique_tag("meta"), tb = unique_tag("hidden");
  Llmux l("includeAliasesInList: true\nmacros:\n  temp: 0.7\nmodels:\n  a:\n    cmd: " + fake_cmd(ta) +
          "\n    name: Model A\n    aliases: [alpha]\n    metadata:\n      temperature: ${temp}\n"
          "      note: \"${MODEL_ID} at ${temp}\"\n  h:\n    cmd: " + fake_cmd(tb) + "\n    unlisted: true\n");
  const nlohmann::json list = http_get(l.port(), "/v1/models").json();
  ASSERT_EQ(list["data"].size(), 2u) << list.dump();
  const nlohmann::json& a = list["data"][0];
  EXPECT_EQ(a["meta"]["llamaswap"], nlohmann::json::parse(R"({"temperature":0.7,"note":"a at 0.7"})"));
  EXPECT_EQ(list["data"][1]["id"], "alpha");
  EXPECT_EQ(list["data"][1]["name"], "Model A");  // an alias duplicates its model's fields
  EXPECT_EQ(list["data"][1]["meta"], a["meta"]);
  const HttpResponse one = http_get(l.port(), "/v1/models/alpha");
  ASSERT_EQ(one.status, 200);
  EXPECT_EQ(one.json()["id"], "alpha");
  EXPECT_EQ(one.json()["object"], "model");
  EXPECT_EQ(http_get(l.port(), "/v1/models/h").json()["id"], "h");  // unlisted, but addressable
  const HttpResponse missing = http_get(l.port(), "/v1/models/nope");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.json()["error"]["code"], "model_not_found");
  EXPECT_EQ(missing.json()["error"]["type"], "invalid_request_error");
}

TEST(SwapCompat, AliasesLeftOutOfTheListWhenAsked) {
  const auto ta = unique_tag("noalias");
  Llmux l("includeAliasesInList: false\nmodels:\n  a:\n    cmd: " + fake_cmd(ta) + "\n    aliases: [alpha]\n");
  const nlohmann::json list = http_get(l.port(), "/v1/models").json();
  ASSERT_EQ(list["data"].size(), 1u) << list.dump();
  EXPECT_EQ(l.chat("alpha", R"(,"max_tokens":1)").status, 200);  // still served
}

// An engine that ignores SIGTERM is killed after unloadTimeout, not after the default 10 s grace.
TEST(SwapCompat, UnloadTimeoutIsTheStopGrace) {
  const auto tag = unique_tag("unload");
  Llmux l("unloadTimeout: 1\nmodels:\n  a:\n    cmd: " + fake_cmd(tag, "--ignore-sigterm") + "\n");
  ASSERT_EQ(l.chat("a", R"(,"max_tokens":1)").status, 200);
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_EQ(http_request(l.port(), "POST", "/unload").status, 200);
  EXPECT_TRUE(eventually([&] { return find_pids_with_arg(tag).empty(); }, 6s));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 6s);
}

// llama-swap's example has a cmd without ${PORT} and no proxy: the engine gets the port in PORT.
TEST(SwapCompat, CmdWithoutPortGetsItInTheEnvironment) {
  const auto tag = unique_tag("envport");
  Llmux l("models:\n  a:\n    cmd: " + std::string(FAKE_ENGINE_BIN) + " --model " + tag + "\n");
  EXPECT_EQ(l.chat("a", R"(,"max_tokens":1)").status, 200);
}

TEST(SwapCompat, LlamaCppRoutesGoToTheModelOnTheirOwnPath) {
  const auto ta = unique_tag("lcpp-a"), tb = unique_tag("lcpp-b");
  Llmux l("defaultModel: a\nmodels:\n  a:\n    cmd: " + fake_cmd(ta) + "\n  b:\n    cmd: " + fake_cmd(tb) +
          "\n    aliases: [bee]\n");
  HttpResponse r = http_post(l.port(), "/completion", R"({"model":"bee","prompt":"hi","n_predict":1})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["engine"], tb);
  EXPECT_EQ(r.json()["target"], "/completion");  // no /v1 added
  EXPECT_EQ(nlohmann::json::parse(r.json()["body"].get<std::string>())["model"], "b");
  r = http_post(l.port(), "/tokenize", R"({"content":"hello"})");  // no model: the default one
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["engine"], ta);
  r = http_get(l.port(), "/props?model=bee");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["engine"], tb);
  EXPECT_EQ(r.json()["method"], "GET");
  EXPECT_EQ(http_post(l.port(), "/infill", R"({"model":"zz"})").json()["error"]["code"], "model_not_found");
}

TEST(SwapCompat, UpstreamPassthroughAnyMethodStartsTheModel) {
  const auto ta = unique_tag("up");
  Llmux l("models:\n  org/a:\n    cmd: " + fake_cmd(ta) + "\n");
  const HttpResponse r = http_request(l.port(), "PUT", "/upstream/org/a/echo/x?q=1", "raw bytes",
                                      {{"Content-Type", "text/plain"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["method"], "PUT");
  EXPECT_EQ(r.json()["target"], "/echo/x?q=1");
  EXPECT_EQ(r.json()["body"], "raw bytes");
  const HttpResponse missing = http_get(l.port(), "/upstream/nope/echo");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.json()["error"]["code"], "model_not_found");
}

TEST(SwapCompat, MultipartRoutedByItsModelField) {
  const auto ta = unique_tag("whisper"), tb = unique_tag("other");
  Llmux l("defaultModel: o\nmodels:\n  w:\n    cmd: " + fake_cmd(ta) +
          "\n    aliases: [whisper-1]\n    useModelName: ggml-large\n  o:\n    cmd: " + fake_cmd(tb) + "\n");
  HttpResponse r = post_form(l, "/v1/audio/transcriptions", form_body("whisper-1"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["engine"], ta);
  EXPECT_EQ(r.json()["target"], "/v1/audio/transcriptions");
  EXPECT_EQ(r.json()["body"], form_body("ggml-large"));  // only the model value changed
  EXPECT_NE(r.json()["content_type"].get<std::string>().find(kBoundary), std::string::npos);
  r = post_form(l, "/v1/images/edits", form_body(""));  // no model field: the default model, body untouched
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["engine"], tb);
  EXPECT_EQ(r.json()["body"], form_body(""));
  r = post_form(l, "/v1/audio/translations", "--" + kBoundary + "\r\nno end");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.json()["error"]["code"], "invalid_multipart");
  r = http_request(l.port(), "POST", "/v1/audio/transcriptions", "{}", {{"Content-Type", "application/json"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.json()["error"]["code"], "invalid_content_type");
  // JSON media routes are inference routes.
  r = http_post(l.port(), "/v1/audio/speech", R"({"model":"w","input":"hi"})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["engine"], ta);
}

TEST(SwapCompat, MultipartOverMaxRequestBodyIs413) {
  const auto ta = unique_tag("big");
  Llmux l("maxRequestBody: 1KiB\ndefaultModel: w\nmodels:\n  w:\n    cmd: " + fake_cmd(ta) + "\n");
  const HttpResponse r = post_form(l, "/v1/audio/transcriptions", form_body(std::string(2000, 'x')));
  EXPECT_EQ(r.status, 413);
  EXPECT_TRUE(find_pids_with_arg(ta).empty());  // refused before any engine started
}

// The multipart `model` scanner (proxy/http/multipart.hpp) fed in every split, the new routes
// (proxy/http/routes.hpp) and the model routing of non-JSON requests (proxy/policy/routed.hpp), and
// concurrencyLimit's refusal (proxy/policy/concurrency_limit.hpp). Pure: no sockets.
#include <gtest/gtest.h>

#include "common/config.hpp"
#include "proxy/http/multipart.hpp"
#include "proxy/http/routes.hpp"
#include "proxy/policy/concurrency_limit.hpp"
#include "proxy/policy/routed.hpp"

namespace llmux {
namespace {

using State = MultipartModelScan::State;

const std::string kBody =
    "preamble\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\n\r\n"
    "RIFF\r\n--XyNot\r\n--Xy\r\r\n\r\n--XyZ\r\ncontent-disposition: form-data; name=model\r\n\r\nwhisper-1\r\n"
    "--XyZ\r\nContent-Disposition: form-data; name=\"language\"\r\n\r\nen\r\n--XyZ--\r\n";

TEST(Multipart, FindsTheModelFieldInEverySplit) {
  const size_t begin = kBody.find("whisper-1");
  for (size_t cut = 0; cut <= kBody.size(); ++cut) {
    MultipartModelScan scan("XyZ");
    scan.feed(std::string_view(kBody).substr(0, cut));
    scan.feed(std::string_view(kBody).substr(cut));
    ASSERT_EQ(scan.state(), State::found) << cut << " " << scan.why();
    EXPECT_EQ(scan.value(), "whisper-1");
    EXPECT_EQ(scan.value_begin(), begin);
    EXPECT_EQ(scan.value_end(), begin + 9);
  }
  MultipartModelScan bytewise("XyZ");
  for (char c : kBody) bytewise.feed(std::string_view(&c, 1));
  EXPECT_EQ(bytewise.value(), "whisper-1");
}

TEST(Multipart, AbsentTruncatedAndMalformed) {
  MultipartModelScan absent("b");
  absent.feed("--b\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n1\r\n--b--");
  EXPECT_EQ(absent.finish(), State::absent);
  MultipartModelScan cut("b");
  cut.feed("--b\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nabc");
  EXPECT_EQ(cut.finish(), State::bad);
  EXPECT_STREQ(cut.why(), "the body ended before its closing boundary");
  MultipartModelScan junk("b");
  EXPECT_EQ(junk.feed("--bX"), State::bad);
  MultipartModelScan no_colon("b");
  EXPECT_EQ(no_colon.feed("--b\r\nnot a header\r\n"), State::bad);
  MultipartModelScan long_value("b");
  const std::string big = "--b\r\nContent-Disposition: form-data; name=model\r\n\r\n" + std::string(2000, 'm');
  EXPECT_EQ(long_value.feed(big), State::bad);
  MultipartModelScan long_head("b");
  EXPECT_EQ(long_head.feed("--b\r\nX: " + std::string(20000, 'h')), State::bad);
  MultipartModelScan padded("b");  // transport padding after a boundary is allowed
  EXPECT_EQ(padded.feed("--b  \r\nContent-Disposition: form-data; name=model\r\n\r\nm\r\n--b--"), State::found);
}

TEST(Multipart, Boundary) {
  EXPECT_EQ(multipart_boundary("multipart/form-data; boundary=abc"), "abc");
  EXPECT_EQ(multipart_boundary("Multipart/Form-Data; charset=x; BOUNDARY=\"a b\""), "a b");
  EXPECT_FALSE(multipart_boundary("application/json"));
  EXPECT_FALSE(multipart_boundary("multipart/form-data"));
  EXPECT_FALSE(multipart_boundary("multipart/form-data; boundary=" + std::string(71, 'x')));
}

TEST(Routes, SwapRoutes) {
  EXPECT_EQ(match_route("GET", "/v1/models/a%2Fb").route, Route::model_info);
  EXPECT_EQ(model_info_id("/v1/models/a%2Fb"), "a/b");
  EXPECT_EQ(model_info_id("/v1/models/org/m:high/"), "org/m:high");
  EXPECT_EQ(match_route("POST", "/v1/models/x").route, Route::method_not_allowed);
  EXPECT_EQ(match_route("POST", "/models/load").route, Route::model_load);
  for (const char* p : {"/completion", "/infill", "/tokenize", "/detokenize", "/v1/audio/speech",
                        "/images/generations"}) {
    EXPECT_EQ(match_route("POST", p).route, Route::inference) << p;
  }
  EXPECT_EQ(engine_target("/completion?x=1"), "/completion?x=1");
  EXPECT_EQ(engine_target("/audio/speech"), "/v1/audio/speech");
  EXPECT_EQ(match_route("POST", "/v1/audio/transcriptions").route, Route::form);
  EXPECT_EQ(match_route("GET", "/v1/images/edits").route, Route::method_not_allowed);
  EXPECT_EQ(match_route("GET", "/props?model=a").route, Route::model_query);
  EXPECT_EQ(engine_target("/props?model=a"), "/props?model=a");
  EXPECT_EQ(match_route("DELETE", "/upstream/a/x").route, Route::upstream);
  EXPECT_EQ(match_route("GET", "/upstream/").route, Route::not_found);
  const auto c = upstream_candidates("/upstream/org/m/v1/x?q=1");
  ASSERT_EQ(c.size(), 4u);
  EXPECT_EQ(c[0].model, "org/m/v1/x");
  EXPECT_EQ(c[0].target, "/?q=1");
  EXPECT_EQ(c[2].model, "org/m");
  EXPECT_EQ(c[2].target, "/v1/x?q=1");
  EXPECT_EQ(c[3].model, "org");
  EXPECT_TRUE(upstream_candidates("/upstream//x").size() <= 2);
}

std::shared_ptr<const Config> two_models() {
  return load_config_text("defaultModel: a\nmodels:\n  a:\n    cmd: x --port ${PORT}\n  org/b:\n"
                          "    cmd: y --port ${PORT}\n    aliases: [bee]\n    useModelName: real-b\n", "t.yaml");
}

TEST(Routed, ModelsOfNonJsonRequests) {
  const auto c = two_models();
  std::string target;
  auto r = parse_routed(Route::upstream, "/upstream/org/b/props", "", "", *c, target);
  ASSERT_TRUE(std::holds_alternative<InferenceRequest>(r));
  EXPECT_EQ(std::get<InferenceRequest>(r).model->id, "org/b");
  EXPECT_EQ(target, "/props");
  r = parse_routed(Route::model_query, "/props", "", "", *c, target);
  EXPECT_EQ(std::get<InferenceRequest>(r).model->id, "a");
  r = parse_routed(Route::model_query, "/props?model=nope", "", "", *c, target);
  EXPECT_EQ(std::get<ApiError>(r).status, 404);
  const std::string body = "--b\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nbee\r\n--b--\r\n";
  r = parse_routed(Route::form, "/v1/audio/transcriptions", "multipart/form-data; boundary=b", body, *c, target);
  auto& ir = std::get<InferenceRequest>(r);
  EXPECT_EQ(ir.model->id, "org/b");
  EXPECT_EQ(forward_body(ir, body), "--b\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nreal-b\r\n--b--\r\n");
  r = parse_routed(Route::form, "/x", "text/plain", body, *c, target);
  EXPECT_EQ(std::get<ApiError>(r).code, "invalid_content_type");
}

TEST(ConcurrencyLimit, RefusesOnlyAResidentModelAtItsLimit) {
  const auto c = load_config_text("models:\n  a:\n    cmd: x --port ${PORT}\n    concurrencyLimit: 1\n", "t.yaml");
  struct Effects : SchedulerEffects {
    void start_worker(const std::string&) override {}
    void stop_worker(const std::string&, StopReason) override {}
    void grant(RequestId) override {}
    void deny(RequestId, const std::string&, DenyReason) override {}
    void worker_idle(const std::string&) override {}
    void worker_busy(const std::string&) override {}
    void wake_at(SchedClock::time_point) override {}
  } effects;
  SchedulerOptions options;
  options.policy = [&](const std::string&) { ModelPolicy p;
    p.max_concurrency = 1;
    return p;
  };
  Scheduler s(effects, options);
  const ModelConfig& a = c->models[0];
  EXPECT_FALSE(concurrency_refusal(s, a));  // not resident: the request waits for the load
  s.submit(1, "a");
  s.worker_ready("a");
  EXPECT_EQ(s.in_flight(), 1u);
  const auto refused = concurrency_refusal(s, a);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 429);
  s.finished(1);
  EXPECT_FALSE(concurrency_refusal(s, a));
}

}  // namespace
}  // namespace llmux

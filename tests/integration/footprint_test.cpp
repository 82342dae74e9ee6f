// Learned footprints with real engine processes: the measured peak of a model that served a request is kept in
// the state directory and admits the model after a restart where its estimate alone would be refused; the
// resident engine is sampled while idle; GET /fit answers under the admin rules.
#include <fstream>
#include <memory>
#include <thread>
#include <sstream>

#include "tests/integration/harness.hpp"

using namespace llmux::test;

namespace {

constexpr uint64_t kMiB = 1ull << 20;

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

nlohmann::json footprint_of(Llmux& l, const std::string& model) {
  const nlohmann::json models = http_get(l.port(), "/v1/models").json();
  for (const auto& e : models["data"])
    if (e["id"] == model) return e["footprint"];
  return nullptr;
}

}  // namespace

TEST(Footprint, LearnedPeakSurvivesARestartAndAdmitsWhatTheEstimateRefuses) {
  const std::string state = make_temp_dir() + "/state";
  auto tag = unique_tag("learn");
  // Estimate: 1 GiB of weights + the 512 MiB generic overhead; the engine really takes ~100 MiB.
  const std::string models = "models:\n  a:\n    cmd: " + fake_cmd(tag, "--memory-mb 96") + "\n    weights: 1GiB\n";
  {
    Llmux l("memory:\n  sampleInterval: 100ms\n" + models, {"XDG_STATE_HOME=" + state});
    EXPECT_EQ(footprint_of(l, "a")["source"], "estimate");
    ASSERT_EQ(l.chat("a", R"(,"max_tokens":1)").status, 200);
    ASSERT_TRUE(eventually([&] { return footprint_of(l, "a")["source"] == "learned"; }, 5s)) << l.log();
    EXPECT_TRUE(l.logged("learned footprint: peak"));
  }
  const nlohmann::json ledger = nlohmann::json::parse(slurp(state + "/llmux/footprints.json"));
  ASSERT_EQ(ledger["footprints"].size(), 1u) << ledger.dump();
  const uint64_t peak = ledger["footprints"].begin().value()["hostPeakBytes"].get<uint64_t>();
  EXPECT_GT(peak, 90 * kMiB);
  EXPECT_LT(peak, 400 * kMiB);

  // 1.5 GiB estimated does not fit a 600 MiB budget; the learned peak + 10 % does.
  Llmux again("memory:\n  budget: 600MiB\n  reserve: 1MiB\n" + models, {"XDG_STATE_HOME=" + state});
  const nlohmann::json f = footprint_of(again, "a");
  EXPECT_EQ(f["source"], "learned");
  EXPECT_EQ(f["estimateBytes"].get<uint64_t>(), static_cast<uint64_t>(static_cast<double>(peak) * 1.1));
  EXPECT_EQ(f["estimatedBytes"].get<uint64_t>(), (1ull << 30) + (512ull << 20));
  EXPECT_EQ(again.chat("a", R"(,"max_tokens":1)").status, 200) << again.log();

  Llmux fresh("memory:\n  budget: 600MiB\n  reserve: 1MiB\n" + models);  // its own, empty state directory
  EXPECT_EQ(fresh.chat("a", R"(,"max_tokens":1)").status, 507);
}

TEST(Footprint, IdleWorkerIsSampledAtTheIdleRate) {
  // The engine grows by 64 MiB 1.5 s after loading, while no request runs.
  auto run = [](const std::string& idle) {
    auto tag = unique_tag("idle");
    auto l = std::make_unique<Llmux>("memory:\n  sampleInterval: 100ms\n  idleSampleInterval: " + idle +
                                     "\nmodels:\n  a:\n    cmd: " +
                                     fake_cmd(tag, "--memory-mb 8 --grow-mb 64 --grow-after-ms 1500") + "\n");
    EXPECT_EQ(l->chat("a", R"(,"max_tokens":1)").status, 200);
    return l;
  };
  auto rss = [](Llmux& l) {
    auto m = l.worker()["memory"]["rssBytes"];
    return m.is_number() ? m.get<uint64_t>() : 0;
  };
  auto sampled = run("1s");
  EXPECT_TRUE(eventually([&] { return rss(*sampled) > 64 * kMiB; }, 5s)) << sampled->status().dump();
  EXPECT_TRUE(sampled->worker()["memory"]["footprint"].is_object());
  auto off = run("0");  // no idle sampling: the figure stays the one taken when it went idle
  std::this_thread::sleep_for(3s);
  EXPECT_LT(rss(*off), 64 * kMiB) << off->status().dump();
}

TEST(Footprint, FitRouteAnswersForConfiguredModelsOnly) {
  auto tag = unique_tag("fit");
  Llmux l("models:\n  a:\n    cmd: " + fake_cmd(tag) + "\n    weights: 1GiB\n");
  auto r = http_get(l.port(), "/fit?model=a");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["weightsBytes"], 1ull << 30);
  EXPECT_TRUE(r.json()["fits"].is_boolean());
  EXPECT_TRUE(r.json()["usableBytes"].is_number());
  auto missing = http_get(l.port(), "/fit?model=zz");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.json()["error"]["message"], "model 'zz' not found; available: a");
  auto no_model = http_get(l.port(), "/fit");
  EXPECT_EQ(no_model.status, 400);
  auto what_if = http_get(l.port(), "/fit?model=a&ctx=4096");  // the fake engine is no engine llmux knows
  EXPECT_EQ(what_if.status, 400);
  EXPECT_NE(what_if.json()["error"]["message"].get<std::string>().find("need a known engine"), std::string::npos);
  EXPECT_TRUE(find_pids_with_arg(tag).empty()) << "a what-if starts nothing";
}

// A remote model's health probe through real processes: the upstream (a fake engine on a free port picked at run
// time, kept across its restart) is up, goes down and comes back, and /status's worker.remoteHealth follows
// (proxy/bridge/health_probe.cpp). Polled with a deadline: the probe runs every 200 ms here.
#include <csignal>

#include "tests/integration/harness.hpp"

using namespace llmux::test;

namespace {

std::unique_ptr<Process> start_upstream(uint16_t port, const std::string& tag) {
  auto p = std::make_unique<Process>(
      std::vector<std::string>{FAKE_ENGINE_BIN, "--port", std::to_string(port), "--model", tag});
  EXPECT_TRUE(p->wait_for_output("listening", 5s)) << p->output();
  return p;
}

nlohmann::json health(Llmux& l) {
  const nlohmann::json w = l.worker();
  return w.is_object() && w.contains("remoteHealth") ? w["remoteHealth"] : nlohmann::json(nullptr);
}

bool healthy_is(Llmux& l, bool want) {
  const nlohmann::json h = health(l);
  return h.is_object() && h["healthy"] == want;
}

}  // namespace

TEST(RemoteHealth, StatusFollowsTheUpstreamDownAndBack) {
  const uint16_t port = pick_free_port();
  const auto tag = unique_tag("farhealth");
  auto up = start_upstream(port, tag);
  Llmux l("models:\n  far:\n    proxy: http://127.0.0.1:" + std::to_string(port) + "\n    remote:\n"
          "      healthInterval: 200ms\n      healthTimeout: 1s\n");
  ASSERT_EQ(l.chat("far", R"(,"max_tokens":1)").status, 200) << l.log();  // the bridge runs
  ASSERT_TRUE(eventually([&] { return healthy_is(l, true); }, 10s)) << l.worker().dump() << l.log();
  nlohmann::json h = health(l);
  EXPECT_EQ(h["path"], "/v1/models");
  EXPECT_EQ(h["status"], 200);
  EXPECT_EQ(h["error"], nullptr);
  EXPECT_GE(h["latencyMs"].get<double>(), 0.0);
  EXPECT_EQ(h["intervalSeconds"], 0.2);
  const std::string up_since = h["since"];

  up.reset();  // SIGKILLed: connections are refused
  ASSERT_TRUE(eventually([&] { return healthy_is(l, false); }, 10s)) << l.worker().dump();
  h = health(l);
  EXPECT_NE(h["error"].get<std::string>().find("cannot connect"), std::string::npos) << h.dump();
  EXPECT_EQ(h["status"], 502);  // the bridge's answer for an upstream it cannot reach
  EXPECT_EQ(l.worker()["state"], "ready");  // the bridge itself stays up

  up = start_upstream(port, tag);
  ASSERT_TRUE(eventually([&] { return healthy_is(l, true); }, 10s)) << l.worker().dump();
  EXPECT_EQ(l.chat("far", R"(,"max_tokens":1)").status, 200);
  EXPECT_NE(health(l)["since"], nullptr);
}

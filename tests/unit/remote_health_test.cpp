// A remote model's health probe: the config keys that set it (passed to the bridge on its command line) and the
// pure parse of the bridge's report line into /status's remoteHealth (proxy/policy/remote_health.hpp).
#include <gtest/gtest.h>

#include <algorithm>

#include "common/config.hpp"
#include "proxy/policy/remote_health.hpp"
#include "tests/unit/config_test_support.hpp"

namespace llmux {
namespace {

using config_test::load;
using config_test::load_error;

bool has_pair(const std::vector<std::string>& argv, const std::string& flag, const std::string& value) {
  const auto it = std::find(argv.begin(), argv.end(), flag);
  return it != argv.end() && it + 1 != argv.end() && *(it + 1) == value;
}

TEST(RemoteHealth, ConfigKeysReachTheBridge) {
  const auto c = load("models:\n  far:\n    proxy: https://vllm.example:8443\n    remote:\n      healthPath: /health\n"
                      "      healthInterval: 15s\n      healthTimeout: 2s\n  off:\n    proxy: http://h:1\n"
                      "    remote: {healthPath: \"\"}\n");
  const auto& argv = c->find_model("far")->argv;
  EXPECT_TRUE(has_pair(argv, "--health-path", "/health"));
  EXPECT_TRUE(has_pair(argv, "--health-interval-ms", "15000"));
  EXPECT_TRUE(has_pair(argv, "--health-timeout-ms", "2000"));
  EXPECT_TRUE(has_pair(c->find_model("off")->argv, "--health-path", ""));
  EXPECT_EQ(load_error("models:\n  far:\n    proxy: http://h:1\n    remote: {healthPath: health}\n"),
            "t.yaml:4: models.far.remote.healthPath: expected a path starting with / (e.g. /health), or \"\" for no "
            "probe");
  EXPECT_NE(load_error("models:\n  far:\n    proxy: http://h:1\n    remote: {healthInterval: 0s}\n"), "");
}

TEST(RemoteHealth, ReportLineBecomesTheStatusObject) {
  const nlohmann::json j = remote_health_json(
      R"(llmux bridge: remote health: {"healthy":false,"checkedAt":"2026-12-05T05:00:00Z","since":"2026-12-05T04:59:00Z",)"
      R"("latencyMs":3.5,"status":502,"error":"remote upstream http://h:1: cannot connect","path":"/v1/models",)"
      R"("intervalSeconds":30})");
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(j["healthy"], false);
  EXPECT_EQ(j["checkedAt"], "2026-12-05T05:00:00Z");
  EXPECT_EQ(j["since"], "2026-12-05T04:59:00Z");
  EXPECT_EQ(j["latencyMs"], 3.5);
  EXPECT_EQ(j["status"], 502);
  EXPECT_EQ(j["error"], "remote upstream http://h:1: cannot connect");
  EXPECT_EQ(j["path"], "/v1/models");
  EXPECT_EQ(j["intervalSeconds"], 30);
  EXPECT_EQ(remote_health_json(R"(remote health: {"healthy":true})")["error"], nullptr);  // missing: null
  EXPECT_TRUE(remote_health_json("").is_null());
  EXPECT_TRUE(remote_health_json("llmux bridge: remote upstream x: cannot connect").is_null());
  EXPECT_TRUE(remote_health_json("remote health: {not json").is_null());
  EXPECT_TRUE(remote_health_json(R"(remote health: {"healthy":"yes"})").is_null());
}

}  // namespace
}  // namespace llmux

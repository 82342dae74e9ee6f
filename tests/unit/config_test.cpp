#include "common/config.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "tests/unit/config_test_support.hpp"

namespace llmux {
namespace {

namespace fs = std::filesystem;
using Words = std::vector<std::string>;
using namespace std::chrono_literals;
using config_test::kOneModel;
using config_test::lines;
using config_test::load;
using config_test::load_error;

TEST(ConfigError, WhatHasFileLineKeyAndReason) {
  EXPECT_STREQ(ConfigError("c.yaml", 7, "models.a.ttl", "bad").what(), "c.yaml:7: models.a.ttl: bad");
  EXPECT_STREQ(ConfigError("c.yaml", 0, "models", "bad").what(), "c.yaml: models: bad");
  EXPECT_STREQ(ConfigError("c.yaml", 3, "", "bad").what(), "c.yaml:3: bad");
  EXPECT_STREQ(ConfigError("c.yaml", 0, "", "bad").what(), "c.yaml: bad");
  const ConfigError e("f", 2, "k", "r");
  EXPECT_EQ(e.file(), "f");
  EXPECT_EQ(e.line(), 2);
  EXPECT_EQ(e.key(), "k");
  EXPECT_EQ(e.reason(), "r");
}

TEST(LoadConfig, MinimalConfigGetsEveryDefault) {
  const auto c = load(kOneModel);
  EXPECT_EQ(c->listen_host, "127.0.0.1");
  EXPECT_EQ(c->listen_port, 8484);
  EXPECT_EQ(c->log_level, "info");
  EXPECT_EQ(c->default_model, "");
  EXPECT_EQ(c->max_request_body, 32u << 20);
  EXPECT_EQ(c->timeouts, Timeouts{});
  EXPECT_TRUE(c->warnings.empty());
  EXPECT_EQ(c->path, (fs::current_path() / "t.yaml").string());
  ASSERT_EQ(c->models.size(), 1u);
  const ModelConfig& m = c->models[0];
  EXPECT_EQ(m.id, "a");
  EXPECT_EQ(m.argv, (Words{"llama-server", "--port", "${PORT}", "-m", "a.gguf"}));
  EXPECT_TRUE(m.stop_argv.empty());
  EXPECT_TRUE(m.env.empty());
  EXPECT_EQ(m.proxy, "http://127.0.0.1:${PORT}");
  EXPECT_EQ(m.check_endpoint, "/health");
  EXPECT_EQ(m.readiness, Readiness::http);
  EXPECT_EQ(m.ttl, 0ms);
  EXPECT_EQ(m.stop_grace, 10s);
  EXPECT_EQ(m.start_timeout, 120s);
  EXPECT_TRUE(m.aliases.empty());
  EXPECT_EQ(m.forwarded_name(), "a");
  EXPECT_FALSE(m.unlisted);
}

TEST(LoadConfig, TopLevelSettings) {
  const std::string top = lines({
      "listen: 0.0.0.0:9000",
      "allowUnauthenticated: true",
      "logLevel: WARNING",
      "healthCheckTimeout: 300",
      "globalTTL: 15m",
      "stopGrace: 2s",
      "maxRequestBody: 1GiB",
      "timeouts:",
      "  headerRead: 1s",
      "  bodyRead: 2s",
      "  keepAlive: 3s",
      "  clientWrite: 4s",
      "  engineConnect: 5s",
      "  engineFirstByte: 6s",
      "  engineIdle: 7s",
      "  probe: 8s",
      "  probeInterval: 20ms",
      "  shutdownGrace: 10s",
      "defaultModel: a",
  });
  const auto c = load(top + kOneModel);
  EXPECT_EQ(c->listen_host, "0.0.0.0");
  EXPECT_EQ(c->listen_port, 9000);
  EXPECT_EQ(c->log_level, "warn");
  EXPECT_EQ(c->max_request_body, 1ull << 30);
  EXPECT_EQ(c->default_model, "a");
  const Timeouts expected{1s, 2s, 3s, 4s, 5s, 6s, 7s, 8s, 20ms, 10s};
  EXPECT_EQ(c->timeouts, expected);
  const ModelConfig& m = c->models[0];
  EXPECT_EQ(m.start_timeout, 300s);
  EXPECT_EQ(m.ttl, 15min);
  EXPECT_EQ(m.stop_grace, 2s);
  EXPECT_TRUE(c->warnings.empty());
}

TEST(LoadConfig, ListenForms) {
  const std::vector<std::tuple<std::string, std::string, uint16_t>> cases = {
      {"8080", "127.0.0.1", 8080}, {":8080", "127.0.0.1", 8080}, {"localhost:1", "localhost", 1},
      {"0", "127.0.0.1", 0},       {"[::1]:8484", "::1", 8484},  {"10.0.0.2:65535", "10.0.0.2", 65535},
  };
  for (const auto& [text, host, port] : cases) {
    const auto c = load("listen: \"" + text + "\"\nallowUnauthenticated: true\n" + kOneModel);
    EXPECT_EQ(c->listen_host, host) << text;
    EXPECT_EQ(c->listen_port, port) << text;
  }
}

TEST(LoadConfig, LogLevels) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"debug", "debug"}, {"trace", "debug"},  {"info", "info"},   {"Info", "info"},
      {"warn", "warn"},   {"warning", "warn"}, {"error", "error"},
  };
  for (const auto& [text, level] : cases) EXPECT_EQ(load("logLevel: " + text + "\n" + kOneModel)->log_level, level);
}

TEST(LoadConfig, PerModelSettingsOverrideGlobals) {
  const auto c = load(lines({
      "healthCheckTimeout: 60",
      "globalTTL: 300",
      "stopGrace: 5s",
      "models:",
      "  a:",
      "    cmd: |",
      "      mlx_lm.server --host 127.0.0.1 --port ${PORT}",
      "        --model mlx-community/Qwen3-4B-4bit",
      "    cmdStop: kill -INT ${PID}",
      "    proxy: http://127.0.0.1:${PORT}/",
      "    checkEndpoint: /v1/models",
      "    readiness: completion",
      "    ttl: 10m",
      "    stopGrace: 500ms",
      "    startTimeout: 1h",
      "    aliases: [qwen, small]",
      "    env: [\"HF_HUB_OFFLINE=1\", \"EMPTY=\", \"EQ=a=b\"]",
      "    useModelName: mlx-community/Qwen3-4B-4bit",
      "    unlisted: yes",
      "    name: Qwen 3 4B",
      "    description: small and fast",
      "  b:",
      "    cmd: llama-server --port ${PORT}",
  }));
  const ModelConfig& a = c->models.at(0);
  EXPECT_EQ(a.argv, (Words{"mlx_lm.server", "--host", "127.0.0.1", "--port", "${PORT}", "--model",
                           "mlx-community/Qwen3-4B-4bit"}));
  EXPECT_EQ(a.stop_argv, (Words{"kill", "-INT", "${PID}"}));
  EXPECT_EQ(a.proxy, "http://127.0.0.1:${PORT}");  // trailing slash dropped: paths are appended
  EXPECT_EQ(a.check_endpoint, "/v1/models");
  EXPECT_EQ(a.readiness, Readiness::completion);
  EXPECT_EQ(a.ttl, 10min);
  EXPECT_EQ(a.stop_grace, 500ms);
  EXPECT_EQ(a.start_timeout, 1h);
  EXPECT_EQ(a.aliases, (Words{"qwen", "small"}));
  EXPECT_EQ(a.env, (Words{"HF_HUB_OFFLINE=1", "EMPTY=", "EQ=a=b"}));
  EXPECT_EQ(a.forwarded_name(), "mlx-community/Qwen3-4B-4bit");
  EXPECT_TRUE(a.unlisted);
  EXPECT_EQ(a.name, "Qwen 3 4B");
  EXPECT_EQ(a.description, "small and fast");
  const ModelConfig& b = c->models.at(1);
  EXPECT_EQ(b.ttl, 300s);
  EXPECT_EQ(b.stop_grace, 5s);
  EXPECT_EQ(b.start_timeout, 60s);
}

TEST(LoadConfig, ReadinessFollowsCheckEndpoint) {
  const auto c = load(lines({
      "models:",
      "  none:",
      "    cmd: x --port ${PORT}",
      "    checkEndpoint: none",
      "  tcp:",
      "    cmd: x --port ${PORT}",
      "    readiness: tcp",
      "  none-but-completion:",
      "    cmd: x --port ${PORT}",
      "    checkEndpoint: none",
      "    readiness: completion",
  }));
  EXPECT_EQ(c->models[0].readiness, Readiness::none);
  EXPECT_EQ(c->models[0].check_endpoint, "none");
  EXPECT_EQ(c->models[1].readiness, Readiness::tcp);
  EXPECT_EQ(c->models[2].readiness, Readiness::completion);
  EXPECT_STREQ(to_string(Readiness::completion), "completion");
}

TEST(LoadConfig, MacrosExpandInEveryCommandField) {
  ASSERT_EQ(setenv("LLMUX_CFG_TEST_DIR", "/data/models", 1), 0);
  const auto c = load(lines({
      "macros:",
      "  bin: /opt/llama/llama-server",
      "  models: ${env.LLMUX_CFG_TEST_DIR}",
      "  serve: ${bin} --port ${PORT} --alias ${MODEL_ID}",
      "  ctx: 4096",
      "  host: 127.0.0.1",
      "models:",
      "  qwen:",
      "    macros:",
      "      ctx: 32768",
      "    cmd: ${serve} -m '${models}/${MODEL_ID}.gguf' -c ${ctx}",
      "    cmdStop: kill ${PID}",
      "    proxy: http://${host}:${PORT}",
      "    checkEndpoint: /${MODEL_ID}/health",
      "    env: [\"DIR=${models}/${MODEL_ID}\"]",
      "    useModelName: ${MODEL_ID}-${ctx}",
      "  other:",
      "    cmd: ${serve} -c ${ctx}",
  }));
  unsetenv("LLMUX_CFG_TEST_DIR");
  const ModelConfig& q = c->models.at(0);
  EXPECT_EQ(q.argv, (Words{"/opt/llama/llama-server", "--port", "${PORT}", "--alias", "qwen", "-m",
                           "/data/models/qwen.gguf", "-c", "32768"}));
  EXPECT_EQ(q.stop_argv, (Words{"kill", "${PID}"}));
  EXPECT_EQ(q.proxy, "http://127.0.0.1:${PORT}");
  EXPECT_EQ(q.check_endpoint, "/qwen/health");
  EXPECT_EQ(q.env, (Words{"DIR=/data/models/qwen"}));
  EXPECT_EQ(q.use_model_name, "qwen-32768");
  // Model macros override the global ones for that model only.
  EXPECT_EQ(c->models.at(1).argv.back(), "4096");
  EXPECT_EQ(c->models.at(1).argv.at(4), "other");
}

TEST(LoadConfig, MacroValuesAreSplitAfterExpansion) {
  const auto c = load(lines({
      "macros:",
      "  args: \"--ctx-size 8192 --jinja\"",
      "models:",
      "  a:",
      "    cmd: llama-server ${args} --port ${PORT}",
  }));
  EXPECT_EQ(c->models[0].argv, (Words{"llama-server", "--ctx-size", "8192", "--jinja", "--port", "${PORT}"}));
}

// Comments are removed before macros are expanded: a macro named in a comment is neither needed nor expanded.
TEST(LoadConfig, CommentsInCmdAreNotExpanded) {
  const auto c = load(lines({
      "macros:",
      "  engine: \"llama-server\\n--port ${PORT}\\n\"",
      "models:",
      "  a:",
      "    cmd: |",
      "      # ${engine} is llama-server; ${undefined} is fine here",
      "      ${engine}   # a trailing comment",
      "      -m a.gguf",
  }));
  EXPECT_EQ(c->models[0].argv, (Words{"llama-server", "--port", "${PORT}", "-m", "a.gguf"}));
}

// yaml-cpp 0.7 does not apply merge keys itself; configs that share settings through anchors rely on them.
TEST(LoadConfig, YamlMergeKeysShareModelSettings) {
  const auto c = load(lines({
      "defaults: &defaults",                 // 1
      "  cmd: llama-server --port ${PORT}",  // 2
      "  ttl: 60",                           // 3
      "  stopGrace: 1s",                     // 4
      "extra: &extra",                       // 5
      "  ttl: 99",                           // 6
      "  unlisted: true",                    // 7
      "models:",                             // 8
      "  a:",                                // 9
      "    <<: *defaults",                   // 10
      "    ttl: 5",                          // 11
      "  b:",                                // 12
      "    <<: [*defaults, *extra]",         // 13
      "  c:",                                // 14
      "    \"<<\": 1",                       // 15
      "    cmd: x --port ${PORT}",           // 16
  }));
  const ModelConfig& a = c->models.at(0);
  EXPECT_EQ(a.argv, (Words{"llama-server", "--port", "${PORT}"}));
  EXPECT_EQ(a.ttl, 5s);  // written in the map: wins over the merged value
  EXPECT_EQ(a.stop_grace, 1s);
  const ModelConfig& b = c->models.at(1);
  EXPECT_EQ(b.ttl, 60s);  // the first merged map wins
  EXPECT_TRUE(b.unlisted);
  EXPECT_EQ(c->warnings, (Words{"t.yaml:1: defaults: unknown key, ignored", "t.yaml:5: extra: unknown key, ignored",
                                "t.yaml:15: models.c.<<: unknown key, ignored"}));
  // A merged value is reported where it is written.
  EXPECT_EQ(load_error(
                lines({"base: &base", "  ttl: soon", "models:", "  a:", "    <<: *base", "    cmd: x --port ${PORT}"})),
            "t.yaml:2: models.a.ttl: expected a duration (e.g. 30s, 5m, 1h), got 'soon'");
  EXPECT_EQ(load_error(lines({"models:", "  a:", "    <<: 5", "    cmd: x --port ${PORT}"})),
            "t.yaml:3: models.a: expected a map or a list of maps after <<");
}

TEST(LoadConfig, FixedEngineAddressNeedsNoPortMacro) {
  const auto c = load(lines({
      "models:",
      "  a:",
      "    cmd: python serve.py --port 8999",
      "    proxy: http://127.0.0.1:8999",
  }));
  EXPECT_EQ(c->models[0].proxy, "http://127.0.0.1:8999");
}

TEST(LoadConfig, AliasesResolveAndAvailableNamesSkipUnlisted) {
  const auto c = load(lines({
      "defaultModel: fast",
      "models:",
      "  zeta:",
      "    cmd: x --port ${PORT}",
      "    aliases: [fast, gpt-4o-mini]",
      "  alpha:",
      "    cmd: x --port ${PORT}",
      "  hidden:",
      "    cmd: x --port ${PORT}",
      "    unlisted: true",
      "    aliases: [secret]",
  }));
  EXPECT_EQ(c->aliases,
            (std::map<std::string, std::string>{{"fast", "zeta"}, {"gpt-4o-mini", "zeta"}, {"secret", "hidden"}}));
  EXPECT_EQ(c->resolve("fast"), c->find_model("zeta"));
  EXPECT_EQ(c->resolve("zeta"), &c->models[0]);
  EXPECT_EQ(c->resolve("secret"), &c->models[2]);  // unlisted models can still be requested
  EXPECT_EQ(c->resolve("nope"), nullptr);
  EXPECT_EQ(c->find_model("fast"), nullptr);
  EXPECT_EQ(c->available_names(), "alpha, fast, gpt-4o-mini, zeta");
  EXPECT_EQ(c->default_model, "fast");
}

TEST(LoadConfig, UnknownKeysAreWarningsWithLines) {
  const auto c = load(lines({
      "listn: 1234",
      "startPort: 10001",
      "timeouts:",
      "  connect: 5s",
      "models:",
      "  a:",
      "    cmd: x --port ${PORT}",
      "    sendLoadingState: true",
      "    metadata: {port: 1}",
      "    tll: 5",
  }));
  EXPECT_TRUE(c->models.at(0).send_loading_state);  // a llama-swap key llmux implements
  EXPECT_EQ(c->warnings, (Words{
                             "t.yaml:1: listn: unknown key, ignored; did you mean 'listen'?",
                             "t.yaml:2: startPort: llama-swap's startPort: llmux picks a free port for each ${PORT} "
                             "when it starts the engine, not from a range; ignored",
                             "t.yaml:4: timeouts.connect: unknown key, ignored",
                             "t.yaml:10: models.a.tll: unknown key, ignored; did you mean 'ttl'?",
                         }));
}

// A config written for llama-swap: everything llmux implements is honoured, the rest only warns.
TEST(LoadConfig, LlamaSwapConfigLoadsWithWarningsOnly) {
  const auto c = load(lines({
      "healthCheckTimeout: 500",                             // 1
      "logLevel: info",                                      // 2
      "logTimeFormat: \"\"",                                 // 3
      "metricsMaxInMemory: 1000",                            // 4
      "startPort: 10001",                                    // 5
      "sendLoadingState: true",                              // 6
      "includeAliasesInList: false",                         // 7
      "globalTTL: 300",                                      // 8
      "macros:",                                             // 9
      "  \"latest-llama\": >",                               // 10
      "    /usr/local/bin/llama-server",                     // 11
      "    --port ${PORT}",                                  // 12
      "  \"default_ctx\": 4096",                             // 13
      "  \"default_args\": \"--ctx-size ${default_ctx}\"",   // 14
      "  \"models_dir\": \"${env.HOME}/models\"",            // 15
      "groups:",                                             // 16
      "  coding:",                                           // 17
      "    swap: false",                                     // 18
      "    members: [qwen, llama]",                          // 19
      "hooks:",                                              // 20
      "  on_startup:",                                       // 21
      "    preload: [qwen]",                                 // 22
      "models:",                                             // 23
      "  \"qwen\":",                                         // 24
      "    macros:",                                         // 25
      "      \"default_ctx\": 16384",                        // 26
      "    cmd: |",                                          // 27
      "      # ${latest-llama} is defined above",            // 28
      "      ${latest-llama}",                               // 29
      "      --model ${models_dir}/qwen.gguf",               // 30
      "      ${default_args}",                               // 31
      "    name: Qwen",                                      // 32
      "    env:",                                            // 33
      "      - \"CUDA_VISIBLE_DEVICES=0,1\"",                // 34
      "    ttl: 60",                                         // 35
      "    useModelName: qwen/qwen3",                        // 36
      "    filters:",                                        // 37
      "      stripParams: \"temperature, top_p\"",           // 38
      "    aliases:",                                        // 39
      "      - gpt-4o-mini",                                 // 40
      "    concurrencyLimit: 0",                             // 41
      "  \"llama\":",                                        // 42
      "    cmd: llama-server --port ${PORT} -m llama.gguf",  // 43
      "    checkEndpoint: none",                             // 44
      "    ttl: -1",                                         // 45
      "    unlisted: true",                                  // 46
      "  \"docker-llama\":",                                 // 47
      "    proxy: \"http://127.0.0.1:${PORT}\"",             // 48
      "    cmd: |",                                          // 49
      "      docker run --name ${MODEL_ID}",                 // 50
      "      --init --rm -p ${PORT}:8080",                   // 51
      "      ghcr.io/ggml-org/llama.cpp:server",             // 52
      "      --model '/models/Qwen2.5-Coder.gguf'",          // 53
      "    cmdStop: docker stop ${MODEL_ID}",                // 54
  }));
  const std::string home = std::getenv("HOME");
  const ModelConfig& qwen = *c->find_model("qwen");
  EXPECT_EQ(qwen.argv, (Words{"/usr/local/bin/llama-server", "--port", "${PORT}", "--model", home + "/models/qwen.gguf",
                              "--ctx-size", "16384"}));
  EXPECT_EQ(qwen.ttl, 60s);
  EXPECT_EQ(qwen.start_timeout, 500s);
  EXPECT_EQ(qwen.forwarded_name(), "qwen/qwen3");
  EXPECT_EQ(qwen.env, (Words{"CUDA_VISIBLE_DEVICES=0,1"}));
  EXPECT_EQ(qwen.params.strip, (Words{"temperature", "top_p"}));  // filters.stripParams
  EXPECT_EQ(qwen.max_concurrency, 10);                              // concurrencyLimit 0: llama-swap's 10
  EXPECT_TRUE(qwen.refuse_over_limit);
  EXPECT_EQ(c->resolve("gpt-4o-mini"), &qwen);
  const ModelConfig& llama = *c->find_model("llama");
  EXPECT_EQ(llama.readiness, Readiness::none);
  EXPECT_EQ(llama.ttl, 300s);  // -1 = globalTTL, as in llama-swap
  EXPECT_TRUE(llama.unlisted);
  EXPECT_TRUE(llama.send_loading_state);  // top-level sendLoadingState is every model's default
  const ModelConfig& docker = *c->find_model("docker-llama");
  EXPECT_EQ(docker.argv.at(3), "docker-llama");
  EXPECT_EQ(docker.argv.at(7), "${PORT}:8080");
  EXPECT_EQ(docker.stop_argv, (Words{"docker", "stop", "docker-llama"}));
  EXPECT_EQ(c->available_names(), "docker-llama, gpt-4o-mini, qwen");
  EXPECT_EQ(c->include_aliases_in_list, false);
  EXPECT_EQ(c->preload, Words{"qwen"});
  ASSERT_EQ(c->groups.size(), 1u);  // groups and preload are honoured: no warning
  EXPECT_EQ(c->max_resident, 0u);
  ASSERT_EQ(c->warnings.size(), 3u) << ::testing::PrintToString(c->warnings);
  EXPECT_TRUE(c->warnings[0].starts_with("t.yaml:3: logTimeFormat: llama-swap's logTimeFormat: "));
  EXPECT_TRUE(c->warnings[1].starts_with("t.yaml:4: metricsMaxInMemory: llama-swap's metricsMaxInMemory: "));
  EXPECT_TRUE(c->warnings[2].starts_with("t.yaml:5: startPort: llama-swap's startPort: "));
}

}  // namespace
}  // namespace llmux

namespace llmux {
namespace {

TEST(LoadConfig, AccessKeys) {
  ::setenv("LLMUX_TEST_KEY", "env-key-value", 1);
  const auto c = config_test::load(config_test::lines({
                                       "listen: 0.0.0.0:9000",
                                       "apiKeys: [\"${env.LLMUX_TEST_KEY}\", literal-key]",
                                       "adminKeys: [admin-key]",
                                       "allowedHosts: [MyBox.Local, \"*\"]",
                                       "cors:",
                                       "  allowOrigins: [\"http://localhost:3000/\", \"*\"]",
                                       "maxConnections: 100",
                                   }) +
                                   config_test::kOneModel);
  EXPECT_EQ(c->access.api_keys, (std::vector<std::string>{"env-key-value", "literal-key"}));
  EXPECT_EQ(c->access.admin_keys, (std::vector<std::string>{"admin-key"}));
  EXPECT_EQ(c->access.allowed_hosts, (std::vector<std::string>{"mybox.local", "*"}));
  EXPECT_EQ(c->access.allow_origins, (std::vector<std::string>{"http://localhost:3000", "*"}));
  EXPECT_EQ(c->max_connections, 100);
  for (const char* secret : {"env-key-value", "literal-key", "admin-key"})
    EXPECT_NE(std::find(c->secrets.begin(), c->secrets.end(), secret), c->secrets.end()) << secret;
  EXPECT_TRUE(c->warnings.empty()) << c->warnings.front();
}

TEST(LoadConfig, TyposGetASuggestionAndMissingPathsAWarning) {
  ::setenv("HOME", "/nonexistent-home-for-test", 1);
  const auto c = config_test::load(config_test::lines({
      "globalTtl: 5m",
      "timeouts:",
      "  headerread: 5s",
      "models:",
      "  a:",
      "    cmd: llama-server --port ${PORT} -m ~/models/q.gguf --log-file=/nonexistent-dir/x.log",
      "    ttll: 1m",
      "    zzzzzzzz: 1",
  }));
  EXPECT_EQ(c->models[0].argv[4], "/nonexistent-home-for-test/models/q.gguf");
  const std::vector<std::string> want = {
      "t.yaml:1: globalTtl: unknown key, ignored; did you mean 'globalTTL'?",
      "t.yaml:3: timeouts.headerread: unknown key, ignored; did you mean 'headerRead'?",
      "t.yaml:7: models.a.ttll: unknown key, ignored; did you mean 'ttl'?",
      "t.yaml:8: models.a.zzzzzzzz: unknown key, ignored",
  };
  std::vector<std::string> got = c->warnings;
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, want);
  EXPECT_EQ(missing_paths(*c), (std::vector<std::string>{
                                   "models.a.cmd: /nonexistent-home-for-test/models/q.gguf does not exist",
                                   "models.a.cmd: /nonexistent-dir/x.log does not exist"}));
}

TEST(LoadConfigErrors, Access) {
  ::unsetenv("LLMUX_TEST_NO_SUCH_KEY");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"listen: 0.0.0.0:8484\n",
       "t.yaml:1: listen: listening on 0.0.0.0 (off loopback) without apiKeys would let anyone on the network use "
       "llmux; set apiKeys (e.g. - ${env.LLMUX_API_KEY}), or allowUnauthenticated: true if that is really meant"},
      {"apiKeys: [\"${env.LLMUX_TEST_NO_SUCH_KEY}\"]\n",
       "t.yaml:1: apiKeys: environment variable LLMUX_TEST_NO_SUCH_KEY is not set"},
      {"apiKeys: [\"\"]\n", "t.yaml:1: apiKeys: a key must not be empty"},
      {"apiKeys: key\n", "t.yaml:1: apiKeys: expected a list of strings"},
      {"cors:\n  allowOrigins: [localhost:3000]\n",
       "t.yaml:2: cors.allowOrigins: expected an origin such as http://localhost:3000 (scheme://host[:port]) or "
       "\"*\", got 'localhost:3000'"},
      {"cors:\n  allowOrigins: [\"http://a.example/path\"]\n",
       "t.yaml:2: cors.allowOrigins: expected an origin such as http://localhost:3000 (scheme://host[:port]) or "
       "\"*\", got 'http://a.example/path'"},
      {"allowedHosts: [\"http://x\"]\n",
       "t.yaml:1: allowedHosts: expected a host name (e.g. myhost.local) or \"*\", got 'http://x'"},
      {"maxConnections: 2\n", "t.yaml:1: maxConnections: must be at least 8, got 2"},
  };
  for (const auto& [yaml, what] : cases) EXPECT_EQ(config_test::load_error(yaml + config_test::kOneModel), what) << yaml;
  // Off loopback with keys, or said explicitly: accepted.
  EXPECT_NO_THROW(config_test::load("listen: 0.0.0.0:8484\napiKeys: [k1234]\n" + config_test::kOneModel));
  EXPECT_NO_THROW(config_test::load("listen: 0.0.0.0:8484\nallowUnauthenticated: true\n" + config_test::kOneModel));
  EXPECT_NO_THROW(config_test::load("listen: \"[::1]:8484\"\n" + config_test::kOneModel));
  EXPECT_EQ(exposure_error("127.0.0.2", {}), "");
  EXPECT_EQ(exposure_error("localhost", {}), "");
}

}  // namespace
}  // namespace llmux

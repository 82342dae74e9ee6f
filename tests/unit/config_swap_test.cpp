// llama-swap's config keys (common/config_swap.cpp, docs/configuration.md "Coming from llama-swap"): a config
// written for these tests that uses every key of llama-swap's schema loads, and each key has the documented result:
// honoured with llama-swap's meaning, or a warning that names what llmux does instead. None is an "unknown key".
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>

#include "common/config.hpp"
#include "config_test_support.hpp"

namespace llmux {
namespace {

using namespace std::chrono_literals;
using config_test::lines;
using config_test::load;
using config_test::load_error;
using Words = std::vector<std::string>;

const EnvLookup kEnv = [](const std::string& name) -> std::optional<std::string> {
  if (name == "SWAP_TEST_PEER_KEY") return std::string("peer-secret-123");
  if (name == "SWAP_TEST_HOME") return std::string("/home/swap");
  return std::nullopt;
};

std::shared_ptr<const Config> load_env(const std::string& yaml) { return load_config_text(yaml, "t.yaml", kEnv); }

// Every key of llama-swap's schema, top level and per model, with values of llama-swap's own kinds.
const std::string kEveryKey = lines({
    "healthCheckTimeout: 90",                               // 1
    "logLevel: debug",                                      // 2
    "logTimeFormat: rfc3339",                               // 3
    "logToStdout: both",                                    // 4
    "logRequests: true",                                    // 5
    "metricsMaxInMemory: 500",                              // 6
    "captureBuffer: 5",                                     // 7
    "store:",                                               // 8
    "  path: /tmp/act.sqlite",                              // 9
    "ui:",                                                  // 10
    "  activity:",                                          // 11
    "    session_id: [X-Session-ID]",                       // 12
    "performance:",                                         // 13
    "  disabled: true",                                     // 14
    "startPort: 9000",                                      // 15
    "sendLoadingState: true",                               // 16
    "includeAliasesInList: true",                           // 17
    "globalTTL: 120",                                       // 18
    "unloadTimeout: 7",                                     // 19
    "macros:",                                              // 20
    "  base: \"${env.SWAP_TEST_HOME}/m\"",                  // 21
    "  temp: 0.5",                                          // 22
    "apiKeys: [sk-one, sk-two]",                            // 23
    "upstream:",                                            // 24
    "  ignorePaths: ['.*\\.png$']",                         // 25
    "profiles:",                                            // 26
    "  coding:",                                            // 27
    "    description: code",                                // 28
    "    pins: {llm-code: big}",                            // 29
    "selectors:",                                           // 30
    "  pick:",                                              // 31
    "    strategy: warm",                                   // 32
    "    targets: [big, small]",                            // 33
    "models:",                                              // 34
    "  big:",                                               // 35
    "    macros: {ctx: 8192}",                              // 36
    "    cmd: |",                                           // 37
    "      # a comment",                                    // 38
    "      srv --port ${PORT} -m ${base}/big.gguf -c ${ctx}",  // 39
    "    cmdStop: kill ${PID}",                             // 40
    "    name: Big",                                        // 41
    "    description: the big one",                         // 42
    "    env: [A=1]",                                       // 43
    "    proxy: http://127.0.0.1:${PORT}",                  // 44
    "    checkEndpoint: /ready",                            // 45
    "    ttl: 30",                                          // 46
    "    unloadTimeout: 3",                                 // 47
    "    useModelName: org/big",                            // 48
    "    aliases: [gpt-4o]",                                // 49
    "    unlisted: false",                                  // 50
    "    concurrencyLimit: 0",                              // 51
    "    sendLoadingState: false",                          // 52
    "    filters:",                                         // 53
    "      stripParams: \"top_k, model\"",                  // 54
    "      setParams: {top_p: 0.9}",                        // 55
    "      setParamsByID:",                                 // 56
    "        \"${MODEL_ID}\": {effort: medium}",            // 57
    "        \"${MODEL_ID}:high\": {effort: high}",         // 58
    "    metadata:",                                        // 59
    "      temperature: ${temp}",                           // 60
    "      quoted: \"${temp}\"",                            // 61
    "      note: \"${MODEL_ID} at ${temp}\"",               // 62
    "      list: [1, \"x ${MODEL_ID}\"]",                   // 63
    "    timeouts: {connect: 30, responseHeader: 60}",      // 64
    "    compat: {ignoreWebsockets: true}",                 // 65
    "    capabilities: {in: [text], tools: true}",          // 66
    "  small:",                                             // 67
    "    cmd: srv -m small.gguf",                           // 68
    "    healthCheckTimeout: 20",                           // 69
    "    concurrencyLimit: 2",                              // 70
    "    unloadTimeout: 0",                                 // 71
    "    filters:",                                         // 72
    "      strip_params: \"seed\"",                         // 73
    "routing:",                                             // 74
    "  router:",                                            // 75
    "    use: group",                                       // 76
    "    settings:",                                        // 77
    "      groups:",                                        // 78
    "        pair:",                                        // 79
    "          swap: false",                                // 80
    "          exclusive: false",                           // 81
    "          persistent: true",                           // 82
    "          members: [big, small, ghost]",               // 83
    "      matrix:",                                        // 84
    "        vars: {b: big}",                               // 85
    "        evict_costs: {b: 5}",                          // 86
    "        sets: {all: \"b & small\"}",                   // 87
    "  scheduler:",                                         // 88
    "    use: fifo",                                        // 89
    "    settings:",                                        // 90
    "      fifo:",                                          // 91
    "        priority: {big: 7, gpt-4o: 7}",                // 92
    "hooks:",                                               // 93
    "  on_startup:",                                        // 94
    "    preload: [gpt-4o, nobody]",                        // 95
    "peers:",                                               // 96
    "  remote:",                                            // 97
    "    proxy: https://peer.example:8443/api",             // 98
    "    apiKey: ${env.SWAP_TEST_PEER_KEY}",                // 99
    "    models: [m1, m2]",                                 // 100
    "    filters: {stripParams: temperature, setParams: {zdr: true}}",  // 101
    "    timeouts: {connect: 5}",                           // 102
});

TEST(LlamaSwapKeys, EveryKeyLoadsWithItsDocumentedResult) {
  const auto c = load_env(kEveryKey);
  const ModelConfig& big = *c->find_model("big");
  const ModelConfig& small = *c->find_model("small");
  // Honoured with llama-swap's meaning.
  EXPECT_EQ(big.start_timeout, 90s);                     // healthCheckTimeout (global)
  EXPECT_EQ(small.start_timeout, 20s);                   // healthCheckTimeout per model: llmux's startTimeout
  EXPECT_EQ(big.ttl, 30s);
  EXPECT_EQ(small.ttl, 120s);                            // globalTTL
  EXPECT_EQ(big.stop_grace, 3s);                         // unloadTimeout per model
  EXPECT_EQ(small.stop_grace, 7s);                       // 0 = the global unloadTimeout
  EXPECT_EQ(big.max_concurrency, 10);                    // concurrencyLimit 0 = llama-swap's default, 10
  EXPECT_TRUE(big.refuse_over_limit);                    // ... and 429 beyond it, not a queue
  EXPECT_EQ(small.max_concurrency, 2);
  EXPECT_EQ(big.params.strip, (Words{"top_k"}));         // `model` is never stripped
  EXPECT_EQ(small.params.strip, (Words{"seed"}));        // legacy strip_params
  EXPECT_EQ(big.params.force, nlohmann::json::parse(R"({"top_p":0.9})"));
  EXPECT_EQ(big.params.by_name.at("big"), nlohmann::json::parse(R"({"effort":"medium"})"));
  EXPECT_EQ(big.params.by_name.at("big:high"), nlohmann::json::parse(R"({"effort":"high"})"));
  EXPECT_EQ(big.aliases, (Words{"gpt-4o", "big:high"}));  // setParamsByID keys become aliases (not the id)
  EXPECT_EQ(c->resolve("big:high"), &big);
  EXPECT_EQ(big.metadata, nlohmann::json::parse(
                              R"({"temperature":0.5,"quoted":0.5,"note":"big at 0.5","list":[1,"x big"]})"));
  EXPECT_TRUE(c->include_aliases_in_list.value_or(false));
  EXPECT_EQ(big.priority, 7);                            // routing.scheduler.settings.fifo.priority
  EXPECT_TRUE(big.send_loading_state == false && small.send_loading_state);
  EXPECT_EQ(small.env, (Words{"PORT=${PORT}"}));        // cmd without ${PORT}: the port in PORT
  EXPECT_EQ(c->access.api_keys, (Words{"sk-one", "sk-two"}));
  ASSERT_EQ(c->groups.size(), 1u);                       // which models may be resident together
  EXPECT_EQ(c->groups[0].members, (Words{"big", "small"}));
  EXPECT_TRUE(!c->groups[0].swap && !c->groups[0].exclusive && c->groups[0].persistent);
  EXPECT_EQ(c->preload, (Words{"big"}));                 // an alias resolved; an unknown name skipped
  EXPECT_EQ(c->max_resident, 0u);                        // groups and no maxResident: the memory budget bounds
  EXPECT_NE(std::find(c->secrets.begin(), c->secrets.end(), "peer-secret-123"), c->secrets.end());
  const ModelConfig* peer = c->find_model("remote/m1");  // peers: remote models, bare names as aliases
  ASSERT_NE(peer, nullptr);
  EXPECT_EQ(c->resolve("m2"), c->find_model("remote/m2"));
  EXPECT_EQ(peer->remote, "https://peer.example:8443/api");
  EXPECT_EQ(peer->forwarded_name(), "m1");
  EXPECT_EQ(peer->params.strip, (Words{"temperature"}));
  EXPECT_EQ(peer->env.back(), "LLMUX_BRIDGE_HEADERS=Authorization: Bearer peer-secret-123\r\nx-api-key: "
                             "peer-secret-123\r\n");
  // Warned about, each with its reason; never "unknown key".
  const auto warned = [&](const std::string& start) {
    return std::count_if(c->warnings.begin(), c->warnings.end(),
                         [&](const std::string& w) { return w.starts_with(start); });
  };
  for (const char* w : {"t.yaml:3: logTimeFormat: llama-swap's logTimeFormat: ",
                        "t.yaml:4: logToStdout: llama-swap's logToStdout: ",
                        "t.yaml:6: metricsMaxInMemory: llama-swap's", "t.yaml:7: captureBuffer: llama-swap's",
                        "t.yaml:8: store: llama-swap's", "t.yaml:10: ui: llama-swap's",
                        "t.yaml:13: performance: llama-swap's", "t.yaml:15: startPort: llama-swap's",
                        "t.yaml:24: upstream: llama-swap's", "t.yaml:26: profiles: llama-swap's",
                        "t.yaml:30: selectors: llama-swap's", "t.yaml:54: models.big.filters.stripParams: model is "
                        "protected", "t.yaml:64: models.big.timeouts: llama-swap's timeouts: llmux's engine timeouts "
                        "are global", "t.yaml:65: models.big.compat: llama-swap's", "t.yaml:66: models.big.capabilities: "
                        "llama-swap's", "t.yaml:68: models.small.cmd: cmd does not use ${PORT}: llmux passes the port",
                        "t.yaml:83: routing.router.settings.groups.pair.members: 'ghost' is not a model id",
                        "t.yaml:95: hooks.on_startup.preload: 'nobody' is not a model id or alias",
                        "t.yaml:102: peers.remote.timeouts: llama-swap's peer timeouts"}) {
    EXPECT_EQ(warned(w), 1) << w;
  }
  for (const std::string& w : c->warnings) {
    EXPECT_EQ(w.find("unknown key"), std::string::npos) << w;
    EXPECT_EQ(w.find("peer-secret-123"), std::string::npos) << w;
  }
  for (const std::string& w : c->warnings) {  // groups and preload are honoured now (co-residency)
    EXPECT_EQ(w.find("not acted on"), std::string::npos) << w;
    EXPECT_EQ(w.find("routing.router.settings.groups: "), std::string::npos) << w;
  }
  EXPECT_EQ(c->warnings.size(), 19u) << ::testing::PrintToString(c->warnings);
}

TEST(LlamaSwapKeys, UnloadTimeoutGlobalZeroIsTenSeconds) {
  const auto c = load(lines({"unloadTimeout: 0", "models:", "  a:", "    cmd: x --port ${PORT}"}));
  EXPECT_EQ(c->models[0].stop_grace, 10s);
  EXPECT_EQ(load_error(lines({"unloadTimeout: 5", "stopGrace: 5", "models:", "  a:", "    cmd: x --port ${PORT}"})),
            "t.yaml:1: unloadTimeout: set stopGrace or unloadTimeout (llama-swap's name), not both");
}

TEST(LlamaSwapKeys, IncludeAliasesInListUnsetFalseTrue) {
  const std::string tail = "models:\n  a:\n    cmd: x --port ${PORT}\n";
  EXPECT_FALSE(load(tail)->include_aliases_in_list.has_value());
  EXPECT_EQ(load("includeAliasesInList: false\n" + tail)->include_aliases_in_list, false);
}

TEST(LlamaSwapKeys, Errors) {
  const std::string model = "models:\n  a:\n    cmd: x --port ${PORT}\n";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {model + "    filters:\n      setParamsByID:\n        b: {x: 1}\n  b:\n    cmd: y --port ${PORT}\n",
       "t.yaml:4: models.a.filters.setParamsByID: 'b' is another model's id"},
      {model + "    filters:\n      setParamsByID:\n        \"${nope}\": {x: 1}\n",
       "t.yaml:6: models.a.filters.setParamsByID.${nope}: unknown macro ${nope}"},
      {"groups:\n  g1: {members: [a]}\n  g2: {members: [a]}\n" + model,
       "t.yaml:3: groups.g2.members: 'a' is also in group 'g1' (a model can be in one group only)"},
      {"groups: {g1: {members: [a]}}\nrouting:\n  router: {use: group}\n" + model,
       "t.yaml:3: routing.router: set routing.router or the legacy top-level groups / matrix, not both"},
      {"routing:\n  router: {use: fancy}\n" + model, "t.yaml:2: routing.router.use: expected group or matrix, got 'fancy'"},
      {"routing:\n  scheduler: {use: lifo}\n" + model,
       "t.yaml:2: routing.scheduler.use: expected fifo (llama-swap's only scheduler), got 'lifo'"},
      {"peers:\n  p: {models: [m]}\n" + model, "t.yaml:2: peers.p: proxy is required: the peer's base URL"},
      {"peers:\n  p: {proxy: ftp://x, models: [m]}\n" + model,
       "t.yaml:2: peers.p.proxy: expected an http:// or https:// URL, got 'ftp://x'"},
      {model + "    concurrencyLimit: -1\n", "t.yaml:4: models.a.concurrencyLimit: must be 0 (llama-swap's default, 10) "
                                             "or more, got -1"},
      {model + "    proxy: http://engine.local:8080\n",
       "t.yaml:4: models.a.proxy: host 'engine.local' is a name: llmux connects to engines by IP address (or "
       "localhost), without a resolver; write the address instead, got 'http://engine.local:8080'"},
  };
  for (const auto& [yaml, want] : cases) EXPECT_EQ(load_error(yaml), want) << yaml;
}

// A port-less URL means port 80, as in any URL (it failed at the first request before).
TEST(LlamaSwapKeys, PortlessProxyIsPort80) {
  const auto c = load("models:\n  a:\n    cmd: x\n    proxy: http://127.0.0.1/base\n");
  EXPECT_EQ(c->models[0].proxy, "http://127.0.0.1/base");
  EXPECT_TRUE(c->warnings.empty()) << ::testing::PrintToString(c->warnings);
}

}  // namespace
}  // namespace llmux

namespace llmux {
namespace {

// A model without cmd whose proxy is an http(s) URL is remote: its engine is `llmux bridge`, its key a secret that
// travels in the bridge's environment, never on its command line.
TEST(RemoteModels, LoadAsABridge) {
  const auto c = config_test::load(config_test::lines({
      "models:",
      "  far:",
      "    proxy: https://vllm.example.svc:8443/v1base/",
      "    remote:",
      "      apiKey: sk-remote-1",
      "      headers: {X-Team: a}",
      "      caFile: /etc/ca.pem",
      "      connectTimeout: 2s",
  }));
  const ModelConfig& m = c->models[0];
  EXPECT_EQ(m.remote, "https://vllm.example.svc:8443/v1base/");
  ASSERT_GE(m.argv.size(), 6u);
  EXPECT_EQ(std::vector<std::string>(m.argv.begin() + 1, m.argv.end()),
            (Words{"bridge", "--port", "${PORT}", "--upstream", "https://vllm.example.svc:8443/v1base/", "--ca-file",
                   "/etc/ca.pem", "--connect-timeout-ms", "2000"}));
  // The bridge answers only requests whose path starts with llmux's token (a secret in its environment).
  ASSERT_TRUE(m.proxy.starts_with("http://127.0.0.1:${PORT}/")) << m.proxy;
  const std::string token = m.proxy.substr(std::string("http://127.0.0.1:${PORT}/").size());
  EXPECT_EQ(token.size(), 32u);
  EXPECT_EQ(m.env.front(), "LLMUX_BRIDGE_TOKEN=" + token);
  EXPECT_NE(std::find(c->secrets.begin(), c->secrets.end(), token), c->secrets.end());
  EXPECT_EQ(m.readiness, Readiness::tcp);
  EXPECT_EQ(m.env.back(), "LLMUX_BRIDGE_HEADERS=Authorization: Bearer sk-remote-1\r\nx-api-key: sk-remote-1\r\n"
                         "X-Team: a\r\n");
  EXPECT_NE(std::find(c->secrets.begin(), c->secrets.end(), "sk-remote-1"), c->secrets.end());
  for (const std::string& arg : m.argv) EXPECT_EQ(arg.find("sk-remote-1"), std::string::npos);
}

TEST(RemoteModels, Errors) {
  using config_test::load_error;
  EXPECT_EQ(load_error("models:\n  a:\n    cmd: x --port ${PORT}\n    remote: {apiKey: k}\n"),
            "t.yaml:4: models.a.remote: remote is for models without cmd (a remote server)");
  EXPECT_EQ(load_error("models:\n  a:\n    proxy: https://:443\n"),
            "t.yaml:3: models.a.proxy: expected http(s)://host[:port][/base], got 'https://:443'");
  EXPECT_EQ(load_error("models:\n  a:\n    proxy: http://h:1\n    remote:\n      headers: {\"a b\": x}\n"),
            "t.yaml:5: models.a.remote.headers.a b: not a header name");
  EXPECT_EQ(load_error("models:\n  a:\n    proxy: http://127.0.0.1:${PORT}\n"),
            "t.yaml:2: models.a: cmd is required: the command that starts this model's engine (or, for a remote "
            "server, leave cmd out and set proxy to its http(s) URL)");
}

}  // namespace
}  // namespace llmux

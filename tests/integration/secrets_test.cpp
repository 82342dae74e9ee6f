// Secrets never leave (issue #17, item 4): values substituted from ${env.*} and API keys are planted in a config, the
// daemon is exercised through real sockets, and every exit is searched for them: llmux's stderr, /logs,
// /logs/stream, /config, /status, error bodies (the 502 quoting an engine's last lines), config errors, a hot
// reload. Authorization / x-api-key headers are never logged at all. Requests carry the API key whenever the config
// sets apiKeys.
#include <sys/wait.h>

#include "tests/integration/harness.hpp"

using namespace llmux::test;

namespace {

// A value nobody else prints: the test's pid and a counter make it unique.
std::string planted(const std::string& what) { return unique_tag("sk-" + what + "-planted"); }

// An authenticated request (harmless while no API-key guard exists).
HttpResponse call(Llmux& l, const std::string& key, const std::string& method, const std::string& target,
                  const std::string& body = "", Headers extra = {}) {
  extra.emplace_back("Authorization", "Bearer " + key);
  if (!body.empty()) extra.emplace_back("Content-Type", "application/json");
  return http_request(l.port(), method, target, body, extra);
}

HttpResponse chat(Llmux& l, const std::string& key, const std::string& model) {
  return call(l, key, "POST", "/v1/chat/completions",
              R"({"model":")" + model + R"(","max_tokens":2,"messages":[{"role":"user","content":"hi"}]})");
}

// Every text a client or operator can read about the daemon, together.
std::string everything_visible(Llmux& l, const std::string& key) {
  std::string all = l.log();
  for (const char* target : {"/logs?limit=2000", "/logs?format=text&limit=2000", "/config", "/status"})
    all += "\n" + call(l, key, "GET", target).body;
  return all;
}

void expect_absent(const std::string& haystack, const std::vector<std::string>& secrets, const std::string& where) {
  for (const auto& s : secrets) EXPECT_EQ(haystack.find(s), std::string::npos) << s << " leaked in " << where;
}

}  // namespace

TEST(Secrets, EnvValuesAndKeysAreAbsentFromLogsConfigAndStatus) {
  const std::string tag = unique_tag("secrets"), client_key = planted("client"), literal_key = planted("literal"),
                    engine_secret = planted("engine"), env_secret = planted("env");
  Llmux l(
      "logLevel: debug\n"
      "apiKeys:\n"
      "  - ${env.LLMUX_T_CLIENT_KEY}\n"
      "  - " + literal_key + "\n"
      "models:\n"
      "  a:\n"
      // The engine is told the secret on its command line and prints it with every request (model=...).
      "    cmd: " + fake_cmd(tag, "--token-ms 1 --name-check ${env.LLMUX_T_ENGINE_SECRET}") + "\n"
      "    useModelName: ${env.LLMUX_T_ENGINE_SECRET}\n"
      "    env: [\"ENGINE_TOKEN=${env.LLMUX_T_ENV_SECRET}\"]\n",
      {"LLMUX_T_CLIENT_KEY=" + client_key, "LLMUX_T_ENGINE_SECRET=" + engine_secret,
       "LLMUX_T_ENV_SECRET=" + env_secret});
  // 200 proves the engine got the real value (its --name-check compares it with the forwarded model).
  ASSERT_EQ(chat(l, client_key, "a").status, 200) << l.log();
  ASSERT_TRUE(l.logged("PERF status=200")) << l.log();
  EXPECT_TRUE(l.logged("model=[redacted]")) << "the engine's request line, redacted\n" << l.log();

  const std::vector<std::string> secrets{client_key, literal_key, engine_secret, env_secret};
  expect_absent(l.log(), secrets, "stderr");
  EXPECT_NE(l.log().find("--name-check [redacted]"), std::string::npos) << "the spawn line, redacted\n" << l.log();
  for (const char* target : {"/logs?limit=2000", "/logs?format=text&limit=2000"}) {
    auto r = call(l, client_key, "GET", target);
    ASSERT_EQ(r.status, 200) << r.body;
    expect_absent(r.body, secrets, target);
    EXPECT_NE(r.body.find("--name-check [redacted]"), std::string::npos) << r.body;
  }
  auto config = call(l, client_key, "GET", "/config");
  ASSERT_EQ(config.status, 200);
  const std::string text = config.json()["text"];
  expect_absent(text, secrets, "/config");
  EXPECT_NE(text.find("  - [redacted]\n"), std::string::npos) << text;         // the literal key
  EXPECT_NE(text.find("${env.LLMUX_T_CLIENT_KEY}"), std::string::npos) << text;  // names of variables stay
  auto status = call(l, client_key, "GET", "/status");
  ASSERT_EQ(status.status, 200);
  expect_absent(status.body, secrets, "/status");

  // /logs/stream replays the same history: read it up to the PERF line.
  std::string streamed;
  http_stream(l.port(), "GET", "/logs/stream?tail=2000", "", Headers{{"Authorization", "Bearer " + client_key}},
              [&](const SseEvent& e) {
                streamed += e.data + "\n";
                return e.data.find("PERF status=200") == std::string::npos;
              },
              10s);
  EXPECT_NE(streamed.find("--name-check [redacted]"), std::string::npos) << streamed;
  expect_absent(streamed, secrets, "/logs/stream");
}

TEST(Secrets, AuthorizationHeadersAreNeverLogged) {
  // Values that are not configured secrets: only "never logged" keeps them out of the logs.
  const std::string tag = unique_tag("hdr"), client_key = planted("hdr-client"), bearer = planted("bearer"),
                    x_api_key = planted("xapikey");
  Llmux l("logLevel: debug\napiKeys: [\"${env.LLMUX_T_CLIENT_KEY}\"]\nmodels:\n  a:\n    cmd: " +
              fake_cmd(tag, "--token-ms 1") + "\n",
          {"LLMUX_T_CLIENT_KEY=" + client_key});
  const Headers wrong{{"Authorization", "Bearer " + bearer}, {"x-api-key", x_api_key}};
  const std::string body = R"({"model":"a","max_tokens":2,"messages":[]})";
  const std::vector<std::pair<std::string, std::string>> requests{
      {"POST", "/v1/chat/completions"}, {"POST", "/no/such/path"}, {"GET", "/v1/models"}, {"GET", "/status"}};
  for (const auto& [method, target] : requests) http_request(l.port(), method, target, body, wrong);
  http_request(l.port(), "POST", "/v1/chat/completions", body, {{"x-api-key", x_api_key}});
  http_request(l.port(), "POST", "/v1/chat/completions", "{not json", {{"Authorization", "Bearer " + bearer}});
  ASSERT_EQ(chat(l, client_key, "a").status, 200);  // ends with a PERF line: everything before it is logged
  ASSERT_TRUE(l.logged("PERF status=200")) << l.log();
  expect_absent(everything_visible(l, client_key), {bearer, x_api_key, client_key}, "logs or admin answers");
}

TEST(Secrets, StartFailureQuotingTheEnginesOutputIsRedacted) {
  const std::string tag = unique_tag("fail"), client_key = planted("fail-client"), secret = planted("argv");
  // The fake engine rejects its --tokens value, quoting it, and exits 2 during start.
  Llmux l("apiKeys: [\"${env.LLMUX_T_CLIENT_KEY}\"]\nmodels:\n  a:\n    cmd: " +
              fake_cmd(tag, "--tokens ${env.LLMUX_T_SECRET}") + "\n",
          {"LLMUX_T_CLIENT_KEY=" + client_key, "LLMUX_T_SECRET=" + secret});
  auto r = chat(l, client_key, "a");
  ASSERT_EQ(r.status, 502) << r.body;
  const std::string msg = r.json()["error"]["message"];
  EXPECT_NE(msg.find("exited with status 2"), std::string::npos) << msg;
  EXPECT_NE(msg.find("got '[redacted]'"), std::string::npos) << "the engine's last line, redacted\n" << msg;
  expect_absent(r.body, {secret}, "the 502 body");
  auto status = call(l, client_key, "GET", "/status");
  const auto lines = status.json()["lastStartFailure"]["lastLines"].dump();
  EXPECT_NE(lines.find("got '[redacted]'"), std::string::npos) << lines;
  expect_absent(everything_visible(l, client_key), {secret, client_key}, "logs or admin answers");
}

TEST(Secrets, ReloadedSecretsAreRedactedFromTheFirstLineThatCouldShowThem) {
  const std::string ta = unique_tag("rla"), tc = unique_tag("rlc"), client_key = planted("rl-client"),
                    added = planted("added"), literal_key = planted("rl-literal"), bad_url = planted("url");
  const std::string head = "apiKeys: [\"${env.LLMUX_T_CLIENT_KEY}\"]\nmodels:\n  a:\n    cmd: " +
                           fake_cmd(ta, "--token-ms 1") + "\n";
  Llmux l(head, {"LLMUX_T_CLIENT_KEY=" + client_key, "LLMUX_T_ADDED=" + added, "LLMUX_T_URL=" + bad_url});
  // The edit brings a new ${env.*} secret (logged at once in the "+ model c added: CMD" line) and a literal key.
  const std::string model_c = "  c:\n    cmd: " + fake_cmd(tc, "--token-ms 1 --name-check ${env.LLMUX_T_ADDED}") +
                              "\n    useModelName: ${env.LLMUX_T_ADDED}\n";
  const std::string edited = Llmux::with_listen(
      "apiKeys: [\"${env.LLMUX_T_CLIENT_KEY}\", " + literal_key + "]\nmodels:\n  a:\n    cmd: " +
      fake_cmd(ta, "--token-ms 1") + "\n" + model_c);
  write_file(l.config_path(), edited);
  ASSERT_TRUE(l.logged("+ model c added")) << l.log();
  ASSERT_EQ(chat(l, client_key, "c").status, 200) << l.log();
  EXPECT_TRUE(l.logged("model=[redacted]")) << l.log();
  expect_absent(everything_visible(l, client_key), {added, literal_key, client_key}, "logs or admin answers");

  // A refused edit whose error quotes an expanded value: /status and the log show it redacted.
  write_file(l.config_path(), edited + "    proxy: ${env.LLMUX_T_URL}\n");
  // The file is truncated, then written: under load the watcher may read it empty first (one more refusal).
  ASSERT_TRUE(l.logged("got '[redacted]'")) << l.log();
  const auto error = call(l, client_key, "GET", "/status").json()["config"]["error"];
  ASSERT_TRUE(error.is_object()) << error;
  EXPECT_NE(error["message"].get<std::string>().find("got '[redacted]'"), std::string::npos) << error;
  expect_absent(everything_visible(l, client_key), {bad_url, added, literal_key}, "logs or admin answers");
}

TEST(Secrets, ConfigErrorAtStartIsRedactedOnStderr) {
  const std::string dir = make_temp_dir(), secret = planted("start-url");
  write_file(dir + "/config.yaml", "listen: 127.0.0.1:0\nmodels:\n  a:\n    cmd: x --port ${PORT}\n"
                                   "    proxy: ${env.LLMUX_T_URL}\n");
  Process p({LLMUX_BIN, "serve", "--config", dir + "/config.yaml"}, {"LLMUX_T_URL=" + secret});
  auto st = p.wait_exit(10s);
  ASSERT_TRUE(st && WIFEXITED(*st)) << p.output();
  EXPECT_EQ(WEXITSTATUS(*st), 2) << p.output();
  EXPECT_NE(p.output().find("got '[redacted]'"), std::string::npos) << p.output();
  EXPECT_EQ(p.output().find(secret), std::string::npos) << p.output();
}

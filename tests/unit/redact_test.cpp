// Secrets redaction: the Redactor itself, the Secrets set, the log sink every line passes through, and the config
// loader's part (which values become secrets; errors, warnings and the /config text without them).
#include "common/redact.hpp"

#include <gtest/gtest.h>
#include <spdlog/logger.h>
#include <spdlog/sinks/base_sink.h>

#include <mutex>
#include <nlohmann/json.hpp>

#include "common/config.hpp"
#include "common/log_hub.hpp"
#include "common/macros.hpp"
#include "common/redacting_sink.hpp"
#include "tests/unit/config_test_support.hpp"

namespace llmux {
namespace {

using config_test::lines;
using Strings = std::vector<std::string>;

EnvLookup fake_env(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    const auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

// --- Redactor ---

TEST(Redactor, ReplacesEveryOccurrenceOfEverySecret) {
  const Redactor r({"sk-live-123", "hunter22"});
  EXPECT_EQ(r.redacted("--api-key sk-live-123 --pw=hunter22 again sk-live-123"),
            "--api-key [redacted] --pw=[redacted] again [redacted]");
  std::string text = "nothing here";
  EXPECT_FALSE(r.redact(text));
  EXPECT_EQ(text, "nothing here");
}

TEST(Redactor, IgnoresShortValuesAndRepeats) {
  const Redactor r({"", "1", "abc", "abcd", "abcd"});
  EXPECT_EQ(r.size(), 1u);
  EXPECT_EQ(r.redacted("abc 1 abcd"), "abc 1 [redacted]");
  EXPECT_TRUE(Redactor({"no", "x"}).empty());
  EXPECT_TRUE(Redactor().empty());
  EXPECT_EQ(Redactor().redacted("anything"), "anything");
}

TEST(Redactor, OverlappingAndNestedSecretsLeaveNoPartBehind) {
  // "secret-one" contains "cret"; "abcdef" and "defghi" overlap in "abcdefghi"; adjacent ones merge.
  const Redactor r({"cret", "secret-one", "abcdef", "defghi"});
  EXPECT_EQ(r.redacted("x secret-one y"), "x [redacted] y");
  EXPECT_EQ(r.redacted("<abcdefghi>"), "<[redacted]>");
  EXPECT_EQ(r.redacted("abcdefabcdef"), "[redacted]");
  EXPECT_EQ(r.redacted("aaaa"), "aaaa");
  EXPECT_EQ(Redactor({"aaa", "aaaa"}).redacted("baaaaab"), "b[redacted]b");  // overlapping occurrences of one
}

TEST(Redactor, RedactsStringValuesOfJsonNotItsStructure) {
  // "true" (4 characters) as a secret must not turn a JSON true into invalid JSON.
  const Redactor r({"sk-live-123", "true"});
  nlohmann::json j = {{"flag", true},
                      {"reason", "bad key sk-live-123"},
                      {"lines", {"a", "true story", 3}},
                      {"nested", {{"sk-live-123", "sk-live-123"}}}};
  r.redact_strings(j);
  EXPECT_EQ(j["flag"], true);
  EXPECT_EQ(j["reason"], "bad key [redacted]");
  EXPECT_EQ(j["lines"][1], "[redacted] story");
  EXPECT_EQ(j["nested"]["sk-live-123"], "[redacted]");  // keys are llmux's field names, left alone
}

// --- Secrets ---

TEST(Secrets, GrowsAndKeepsWhatEarlierConfigsHad) {
  Secrets s;
  EXPECT_TRUE(s.redactor()->empty());
  EXPECT_TRUE(s.add({"old-secret"}));
  const auto before = s.redactor();
  EXPECT_FALSE(s.add({"old-secret", "x"}));  // nothing new (and "x" is too short)
  EXPECT_EQ(s.redactor(), before);
  EXPECT_TRUE(s.add({"new-secret"}));
  EXPECT_EQ(s.redactor()->redacted("old-secret new-secret"), "[redacted] [redacted]");
  EXPECT_EQ(before->redacted("new-secret"), "new-secret");  // a snapshot does not change under its reader
}

TEST(Secrets, ForgetsTheOldestBeyondItsBoundButNotOnesStillInUse) {
  Secrets s;
  s.add({"in-use-secret"});
  for (size_t i = 0; i < Secrets::kMaxValues; ++i) {
    s.add({"rotated-" + std::to_string(i), "in-use-secret"});  // every reload still has it
  }
  const auto r = s.redactor();
  EXPECT_EQ(r->size(), Secrets::kMaxValues);
  EXPECT_EQ(r->redacted("in-use-secret"), "[redacted]");
  EXPECT_EQ(r->redacted("rotated-0"), "rotated-0");
  EXPECT_EQ(r->redacted("rotated-255"), "[redacted]");
}

// --- RedactingSink ---

class CollectingSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  Strings lines;

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override { lines.emplace_back(msg.payload.data(), msg.payload.size()); }
  void flush_() override {}
};

TEST(RedactingSink, EveryWrappedSinkGetsTheRedactedLineAndSecretsFollowAdds) {
  auto secrets = std::make_shared<Secrets>();
  auto collected = std::make_shared<CollectingSink>();
  auto hub = std::make_shared<LogHub>();
  auto hub_sink = std::make_shared<LogHubSink>(hub, "engine");
  spdlog::logger logger("t", std::make_shared<RedactingSink>(secrets, std::vector<spdlog::sink_ptr>{collected, hub_sink}));
  logger.info("[m] before: {}", "tok-1234");
  secrets->add({"tok-1234"});
  logger.info("[m] --api-key {}", "tok-1234");
  EXPECT_EQ(collected->lines, (Strings{"[m] before: tok-1234", "[m] --api-key [redacted]"}));
  const auto recent = hub->recent({}, 10);
  ASSERT_EQ(recent.size(), 2u);
  EXPECT_EQ(recent[1].text, "--api-key [redacted]");
  EXPECT_EQ(recent[1].model, "m");
}

TEST(RedactingSink, WrappedSinksKeepTheirOwnLevels) {
  auto collected = std::make_shared<CollectingSink>();
  collected->set_level(spdlog::level::warn);
  spdlog::logger logger("t", std::make_shared<RedactingSink>(std::make_shared<Secrets>(),
                                                          std::vector<spdlog::sink_ptr>{collected}));
  logger.info("quiet");
  logger.warn("loud");
  EXPECT_EQ(collected->lines, Strings{"loud"});
}

// --- which values the loader treats as secrets ---

TEST(RecordingEnv, RecordsSecretValuesOnceAndSkipsLocators) {
  Strings secrets;
  const EnvLookup env =
      recording_env(fake_env({{"TOKEN", "tok-1234"}, {"HOME", "/home/u"}, {"XDG_CACHE_HOME", "/c"}}), secrets);
  EXPECT_EQ(expand_macros("${env.TOKEN} ${env.TOKEN} ${env.HOME} ${env.XDG_CACHE_HOME}", {}, {}, env),
            "tok-1234 tok-1234 /home/u /c");
  EXPECT_EQ(secrets, Strings{"tok-1234"});
  EXPECT_FALSE(env("MISSING"));
  EXPECT_TRUE(env_value_is_secret("HF_TOKEN"));
  EXPECT_FALSE(env_value_is_secret("PATH"));
}

TEST(RecordingEnv, AnExistingAbsolutePathIsNotASecret) {
  Strings secrets;
  const EnvLookup env = recording_env(
      fake_env({{"ENGINE_BIN", "/bin/sh"}, {"MODEL_DIR", "/no/such/dir/for/llmux"}, {"KEY", "k-12345"}}), secrets);
  EXPECT_EQ(expand_macros("${env.ENGINE_BIN} ${env.MODEL_DIR} ${env.KEY}", {}, {}, env),
            "/bin/sh /no/such/dir/for/llmux k-12345");
  EXPECT_EQ(secrets, (Strings{"/no/such/dir/for/llmux", "k-12345"}));  // a path that does not exist: still secret
}

// A config using ${env.*} in every place that expands macros, through macros too.
const std::string kEverywhere = lines({
    "macros:",
    "  key_flag: --api-key ${env.ENGINE_KEY}",
    "apiKeys:",
    "  - ${env.CLIENT_KEY}",
    "  - literal-client-key",
    "adminKeys: [\"${env.ADMIN_KEY}\"]",
    "models:",
    "  a:",
    "    cmd: engine --port ${PORT} ${key_flag} --hf ${env.HF_TOKEN} -m ${env.HOME}/m.gguf",
    "    cmdStop: stopper ${env.STOP_TOKEN}",
    "    env: [\"ENGINE_TOKEN=${env.ENV_TOKEN}\"]",
    "    useModelName: ${env.SERVED_NAME}",
    "    checkEndpoint: /health/${env.PROBE_PATH}",
});

TEST(ConfigSecrets, EveryEnvSubstitutionAndEveryKeyIsASecret) {
  const auto c = load_config_text(kEverywhere, "t.yaml",
                                  fake_env({{"ENGINE_KEY", "engine-key-1"},
                                            {"CLIENT_KEY", "client-key-1"},
                                            {"ADMIN_KEY", "admin-key-1"},
                                            {"HF_TOKEN", "hf_token_1"},
                                            {"HOME", "/home/u"},
                                            {"STOP_TOKEN", "stop-token-1"},
                                            {"ENV_TOKEN", "env-token-1"},
                                            {"SERVED_NAME", "served-name-1"},
                                            {"PROBE_PATH", "probe-path-1"}}));
  std::vector<std::string> secrets = c->secrets;
  std::sort(secrets.begin(), secrets.end());
  EXPECT_EQ(secrets, (Strings{"admin-key-1", "client-key-1", "engine-key-1", "env-token-1", "hf_token_1",
                              "literal-client-key", "probe-path-1", "served-name-1", "stop-token-1"}));
  EXPECT_EQ(c->models[0].argv[4], "engine-key-1");  // expansion itself is unchanged
  EXPECT_EQ(c->models[0].argv.back(), "/home/u/m.gguf");
}

TEST(ConfigSecrets, NoSecretsWithoutKeysOrEnv) {
  EXPECT_TRUE(config_test::load(config_test::kOneModel)->secrets.empty());
}

std::string error_with_env(const std::string& yaml, const EnvLookup& env) {
  try {
    load_config_text(yaml, "t.yaml", env);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "no error";
}

TEST(ConfigSecrets, ErrorsThatQuoteAnExpandedValueAreRedacted) {
  const EnvLookup env = fake_env({{"URL", "not-a-url-secret"}, {"KEY", "client-key-1"}});
  EXPECT_EQ(error_with_env(lines({"models:", "  a:", "    cmd: engine --port ${PORT}", "    proxy: ${env.URL}"}), env),
            "t.yaml:4: models.a.proxy: expected an http:// URL such as http://127.0.0.1:${PORT}, got '[redacted]'");
  // A key read earlier is known when a later error quotes it.
  EXPECT_EQ(error_with_env(lines({"apiKeys: [\"${env.KEY}\"]", "models:", "  a:", "    cmd: engine --port ${PORT}",
                                  "    checkEndpoint: client-key-1"}),
                           env),
            "t.yaml:5: models.a.checkEndpoint: expected a path starting with '/', or none; got '[redacted]'");
}

TEST(ConfigSecrets, WarningsThatQuoteAnExpandedValueAreRedacted) {
  const auto c = load_config_text(lines({"models:", "  a:", "    cmd: engine --port ${PORT}",
                                         "    weights: /nowhere/${env.W}/x.gguf"}),
                                  "t.yaml", fake_env({{"W", "weights-secret"}}));
  ASSERT_EQ(c->warnings.size(), 1u);
  EXPECT_NE(c->warnings[0].find("/nowhere/[redacted]/x.gguf"), std::string::npos) << c->warnings[0];
}

// --- the /config text ---

TEST(ConfigText, KeysWrittenLiterallyAreRedactedWhateverTheirQuotingOrLength) {
  const std::string text = lines({
      "apiKeys:",
      "  - plain-key-1   # the laptop",
      "  - \"quoted \\\"key\\\" 2\"",
      "  - 'single ''key'' 3'",
      "  - k4",
      "  - ${env.FROM_ENV}",
      "adminKeys: [flow-key-5, \"flow key 6\"]",
      "models:",
      "  a:",
      "    cmd: engine --port ${PORT} --api-key plain-key-1",
  });
  const std::string shown = redacted_config_text(text, Redactor({"plain-key-1"}));
  EXPECT_EQ(shown, lines({
                       "apiKeys:",
                       "  - [redacted]   # the laptop",
                       "  - [redacted]",
                       "  - [redacted]",
                       "  - [redacted]",
                       "  - ${env.FROM_ENV}",
                       "adminKeys: [[redacted], [redacted]]",
                       "models:",
                       "  a:",
                       "    cmd: engine --port ${PORT} --api-key [redacted]",
                   }));
}

TEST(ConfigText, BlockScalarKeysAreRedactedWithTheirLines) {
  const std::string text = lines({"apiKeys:", "  - |", "    block-key", "    more", "", "models: {}"});
  EXPECT_EQ(redacted_config_text(text, Redactor()), lines({"apiKeys:", "  - [redacted]", "", "models: {}"}));
}

TEST(ConfigText, TextThatIsNotYamlStillLosesKnownSecrets) {
  EXPECT_EQ(redacted_config_text("apiKeys: [\"unclosed sk-live-123", Redactor({"sk-live-123"})),
            "apiKeys: [\"unclosed [redacted]");
  EXPECT_EQ(redacted_config_text("", Redactor()), "");
}

}  // namespace
}  // namespace llmux

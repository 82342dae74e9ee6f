// Config diff: which edits restart an engine, which apply live, and how they are described.
#include "common/config_diff.hpp"

#include <gtest/gtest.h>

using namespace llmux;

namespace {

std::shared_ptr<const Config> cfg(const std::string& yaml) { return load_config_text(yaml, "c.yaml"); }

const std::string kBase =
    "listen: 127.0.0.1:9000\n"
    "defaultModel: a\n"
    "models:\n"
    "  a:\n"
    "    cmd: engine --port ${PORT} -m a.gguf\n"
    "    aliases: [chat]\n"
    "    ttl: 60\n"
    "  b:\n"
    "    cmd: engine --port ${PORT} -m b.gguf\n";

std::string replace(std::string s, const std::string& from, const std::string& to) {
  s.replace(s.find(from), from.size(), to);
  return s;
}

}  // namespace

TEST(ConfigDiff, IdenticalConfigsHaveNoChanges) {
  auto d = diff_configs(*cfg(kBase), *cfg(kBase));
  EXPECT_TRUE(d.empty());
  EXPECT_FALSE(d.listen_changed);
}

TEST(ConfigDiff, CmdAndEnvChangesRestartOnlyThatModel) {
  auto d = diff_configs(*cfg(kBase), *cfg(replace(kBase, "a.gguf", "a2.gguf")));
  EXPECT_EQ(d.restarted, std::vector<std::string>{"a"});
  EXPECT_TRUE(d.updated.empty());
  ASSERT_EQ(d.lines.size(), 1u);
  EXPECT_EQ(d.lines[0], "~ model a: cmd changed (restarts after its in-flight requests if resident)");
  auto env = replace(kBase, "    ttl: 60\n", "    ttl: 60\n    env: [\"X=1\"]\n");
  EXPECT_EQ(diff_configs(*cfg(kBase), *cfg(env)).restarted, std::vector<std::string>{"a"});
}

TEST(ConfigDiff, AliasesTtlAndNamesApplyLive) {
  auto next = replace(replace(kBase, "aliases: [chat]", "aliases: [talk]"), "ttl: 60", "ttl: 5m");
  auto d = diff_configs(*cfg(kBase), *cfg(next));
  EXPECT_TRUE(d.restarted.empty());
  EXPECT_EQ(d.updated, std::vector<std::string>{"a"});
  ASSERT_EQ(d.lines.size(), 1u);
  EXPECT_EQ(d.lines[0], "~ model a: aliases, ttl 60000ms -> 300000ms (no restart)");
  EXPECT_FALSE(needs_engine_restart(*cfg(kBase)->find_model("a"), *cfg(next)->find_model("a")));
}

TEST(ConfigDiff, AddedRemovedDefaultAndListen) {
  std::string next =
      "listen: 127.0.0.1:9001\n"
      "defaultModel: c\n"
      "models:\n"
      "  a:\n"
      "    cmd: engine --port ${PORT} -m a.gguf\n"
      "    aliases: [chat]\n"
      "    ttl: 60\n"
      "  c:\n"
      "    cmd: engine --port ${PORT} -m c.gguf\n";
  auto d = diff_configs(*cfg(kBase), *cfg(next));
  EXPECT_TRUE(d.listen_changed);
  EXPECT_EQ(d.added, std::vector<std::string>{"c"});
  EXPECT_EQ(d.removed, std::vector<std::string>{"b"});
  std::vector<std::string> want = {
      "! listen: 127.0.0.1:9000 -> 127.0.0.1:9001 (needs a restart of llmux; not applied)",
      "~ defaultModel: 'a' -> 'c'",
      "- model b removed (unloaded after its in-flight requests if resident)",
      "+ model c added: engine --port ${PORT} -m c.gguf",
  };
  EXPECT_EQ(d.lines, want);
}

TEST(ConfigDiff, SchedulingKeyIsParsedAndDiffed) {
  auto fifo = cfg(kBase + "scheduling: fifo\n");
  EXPECT_TRUE(fifo->naive_fifo);
  EXPECT_FALSE(cfg(kBase)->naive_fifo);
  EXPECT_EQ(diff_configs(*cfg(kBase), *fifo).lines,
            std::vector<std::string>{"~ memory / scheduling settings changed"});
  try {
    cfg(kBase + "scheduling: random\n");
    FAIL() << "accepted an unknown scheduling";
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "c.yaml:10: scheduling: expected grouped or fifo, got 'random'");
  }
}

// Co-residency settings apply live: the diff names them and no engine restarts.
TEST(ConfigDiff, ResidencyKeysApplyWithoutARestart) {
  const std::string next = "maxResident: 2\npreload: [chat, b]\ngroups:\n  g: {swap: false, members: [a, b]}\n" +
                           replace(kBase, "    ttl: 60\n", "    ttl: 60\n    pin: true\n");
  auto d = diff_configs(*cfg(kBase), *cfg(next));
  EXPECT_TRUE(d.restarted.empty());
  EXPECT_EQ(d.updated, std::vector<std::string>{"a"});
  EXPECT_EQ(d.lines, (std::vector<std::string>{"~ maxResident: 1 -> 2", "~ groups changed: now g",
                                               "~ preload: [] -> [a b]", "~ model a: pinned (no restart)"}));
  d = diff_configs(*cfg(next), *cfg(kBase));
  EXPECT_TRUE(d.restarted.empty());
  EXPECT_EQ(d.lines, (std::vector<std::string>{"~ maxResident: 2 -> 1", "~ groups changed: now none",
                                               "~ preload: [a b] -> []", "~ model a: unpinned (no restart)"}));
  const auto before = cfg(kBase), after = cfg(next);
  EXPECT_FALSE(needs_engine_restart(*before->find_model("a"), *after->find_model("a")));
  d = diff_configs(*cfg("maxResident: 0\n" + kBase), *cfg(kBase));
  EXPECT_EQ(d.lines, std::vector<std::string>{"~ maxResident: 0 (as many as memory admits) -> 1"});
  d = diff_configs(*cfg(kBase), *cfg("returnToDefault: true\n" + kBase));
  EXPECT_TRUE(d.restarted.empty());
  EXPECT_EQ(d.lines, std::vector<std::string>{"~ returnToDefault: false -> true"});
}

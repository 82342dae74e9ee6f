// Co-residency keys: maxResident (and its default with llama-swap groups), pin, preload (merged with llama-swap's
// hooks.on_startup.preload), and their errors, each one line naming the file, line and key.
#include <gtest/gtest.h>

#include "tests/unit/config_test_support.hpp"

namespace llmux {
namespace {

using namespace config_test;
using Words = std::vector<std::string>;

// Models a (alias alpha), b and c; `extra` lines go under model b (4-space indented by the caller).
std::string three(const std::string& top, const std::string& b_extra = "") {
  return top + "models:\n  a:\n    cmd: x --port ${PORT}\n    aliases: [alpha]\n  b:\n    cmd: y --port ${PORT}\n" +
         b_extra + "  c:\n    cmd: z --port ${PORT}\n";
}

TEST(Residency, MaxResidentDefaultsToOneAndToZeroWithGroups) {
  EXPECT_EQ(load(three(""))->max_resident, 1u);  // today's behaviour: one engine at a time
  EXPECT_EQ(load(three("maxResident: 0\n"))->max_resident, 0u);
  EXPECT_EQ(load(three("maxResident: 3\n"))->max_resident, 3u);
  const std::string groups = "groups:\n  g: {members: [a, b]}\n";
  EXPECT_EQ(load(three(groups))->max_resident, 0u) << "llama-swap runs several groups at once";
  EXPECT_EQ(load(three(groups + "maxResident: 2\n"))->max_resident, 2u);
  EXPECT_EQ(load(three("routing:\n  router:\n    settings:\n      groups:\n        g: {members: [a]}\n"))->max_resident,
            0u);
  EXPECT_EQ(load(three(groups + "scheduling: fifo\n"))->max_resident, 1u) << "fifo is a one-resident baseline";
  EXPECT_EQ(load(three("groups: {}\n"))->max_resident, 1u) << "no group configured";
}

TEST(Residency, PinIsPerModelAndOffByDefault) {
  const auto c = load(three("maxResident: 2\n", "    pin: true\n"));
  EXPECT_FALSE(c->find_model("a")->pinned);
  EXPECT_TRUE(c->find_model("b")->pinned);
  EXPECT_TRUE(c->warnings.empty()) << ::testing::PrintToString(c->warnings);
  EXPECT_TRUE(load(three("", "    pin: true\n"))->find_model("b")->pinned) << "one pin fits the default of 1";
}

TEST(Residency, PreloadResolvesAliasesAndMergesWithTheHooksList) {
  const auto c = load(three("maxResident: 0\npreload: [alpha, b, a]\nhooks:\n  on_startup:\n    preload: [c, b]\n"));
  EXPECT_EQ(c->preload, (Words{"a", "b", "c"})) << "llmux's own list first, ids, no repeats";
  EXPECT_TRUE(c->warnings.empty()) << ::testing::PrintToString(c->warnings);
  EXPECT_EQ(load(three("hooks:\n  on_startup:\n    preload: [alpha]\n"))->preload, Words{"a"});
  EXPECT_TRUE(load(three(""))->preload.empty());
}

TEST(Residency, PreloadBeyondMaxResidentIsWarnedAbout) {
  auto c = load(three("maxResident: 2\npreload: [a, b, c]\n"));
  ASSERT_EQ(c->warnings.size(), 1u) << ::testing::PrintToString(c->warnings);
  EXPECT_EQ(c->warnings[0], "t.yaml:2: preload: 3 models to preload but maxResident is 2: only the first 2 are "
                            "loaded at startup (a preload evicts nobody)");
  c = load(three("hooks:\n  on_startup:\n    preload: [a, b]\n"));
  ASSERT_EQ(c->warnings.size(), 1u) << ::testing::PrintToString(c->warnings);
  EXPECT_TRUE(c->warnings[0].starts_with("t.yaml:1: hooks: 2 models to preload but maxResident is 1"))
      << c->warnings[0];
}

TEST(Residency, Errors) {
  const std::string pin = "    pin: true\n";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {three("maxResident: -1\n"), "t.yaml:1: maxResident: must be 0 (as many as memory admits) or more, got -1"},
      {three("maxResident: two\n"), "t.yaml:1: maxResident: expected an integer, got 'two'"},
      {three("maxResident: 1.5\n"), "t.yaml:1: maxResident: expected an integer, got '1.5'"},
      {three("maxResident: 5000\n"), "t.yaml:1: maxResident: too large, got 5000"},
      {three("scheduling: fifo\nmaxResident: 2\n"),
       "t.yaml:2: maxResident: scheduling: fifo (a benchmark baseline) keeps one engine resident; set maxResident: 1 "
       "or scheduling: grouped"},
      {three("", "    pin: sometimes\n"), "t.yaml:7: models.b.pin: expected true or false"},
      {three("preload: [zz]\n"), "t.yaml:1: preload: 'zz' is not a model id or alias; available: a, alpha, b, c"},
      {three("preload: a\n"), "t.yaml:1: preload: expected a list of strings"},
      {three("returnToDefault: true\n"),
       "t.yaml:1: returnToDefault: needs defaultModel: the model to return to once the others have gone idle"},
      {three("defaultModel: a\nreturnToDefault: yes please\n"), "t.yaml:2: returnToDefault: expected true or false"},
      // Pins beyond maxResident: at the pin that is one too many.
      {"models:\n  a:\n    cmd: x --port ${PORT}\n    pin: true\n  b:\n    cmd: y --port ${PORT}\n" + pin,
       "t.yaml:7: models.b.pin: 2 models are pinned (a, b) but maxResident is 1 (its default): set maxResident to 2 "
       "or more (0: as many as memory admits), or pin fewer"},
      {"maxResident: 1\nmodels:\n  a:\n    cmd: x --port ${PORT}\n    pin: true\n  b:\n    cmd: y --port ${PORT}\n" +
           pin,
       "t.yaml:8: models.b.pin: 2 models are pinned (a, b) but maxResident is 1: set maxResident to 2 or more (0: as "
       "many as memory admits), or pin fewer"},
      // Pins the group rule would never let be resident together.
      {"groups:\n  g: {exclusive: false, members: [a, b]}\nmodels:\n  a:\n    cmd: x --port ${PORT}\n    pin: true\n"
       "  b:\n    cmd: y --port ${PORT}\n" + pin,
       "t.yaml:9: models.b.pin: 'a' and 'b' are both pinned but cannot be resident together: group 'g' keeps one of "
       "them resident at a time (swap)"},
      {"groups:\n  x: {members: [a]}\n  y: {swap: false, exclusive: false, members: [b]}\nmodels:\n  a:\n"
       "    cmd: x --port ${PORT}\n    pin: true\n  b:\n    cmd: y --port ${PORT}\n" + pin,
       "t.yaml:10: models.b.pin: 'a' and 'b' are both pinned but cannot be resident together: loading 'a' evicts the "
       "models of other groups (group 'x' is exclusive and 'b' is in no persistent group)"},
      {"groups:\n  x: {swap: false, exclusive: false, members: [a]}\nmodels:\n  a:\n    cmd: x --port ${PORT}\n"
       "    pin: true\n  b:\n    cmd: y --port ${PORT}\n" + pin,
       "t.yaml:9: models.b.pin: 'a' and 'b' are both pinned but cannot be resident together: loading 'b' evicts the "
       "models of other groups (models in no group are exclusive and 'a' is in no persistent group)"},
  };
  for (const auto& [yaml, want] : cases) EXPECT_EQ(load_error(yaml), want) << yaml;
}

TEST(Residency, PinsThatMayBeResidentTogetherLoad) {
  // Two groups where neither evicts the other; a persistent group beside an exclusive one; no groups at all.
  const std::string models = "models:\n  a:\n    cmd: x --port ${PORT}\n    pin: true\n  b:\n"
                             "    cmd: y --port ${PORT}\n    pin: true\n";
  EXPECT_NO_THROW(load("groups:\n  g: {swap: false, exclusive: false, members: [a, b]}\n" + models));
  EXPECT_NO_THROW(load("groups:\n  x: {members: [a]}\n  p: {persistent: true, exclusive: false, members: [b]}\n" +
                       models));
  EXPECT_NO_THROW(load("maxResident: 2\n" + models));
  EXPECT_NO_THROW(load("maxResident: 0\n" + models));
}

}  // namespace
}  // namespace llmux

// The group rule (llama-swap's groups): which models may be resident together, alone and driving the scheduler as
// its `fits` callback beside a memory budget.
#include "proxy/policy/residency_rules.hpp"

#include <gtest/gtest.h>

#include <map>

#include "proxy/policy/scheduler.hpp"
#include "tests/unit/config_test_support.hpp"

namespace llmux {
namespace {

using Names = std::vector<std::string>;

// `groups` lines (YAML under `groups:`), then models a, b, c, d, u, v (u, v in no group unless listed) and a remote
// model r; `pinned` gets `pin: true`.
std::shared_ptr<const Config> with_groups(const std::string& groups, const std::string& pinned = "") {
  std::string yaml = groups.empty() ? "" : "groups:\n" + groups;
  yaml += "models:\n";
  for (const std::string m : {"a", "b", "c", "d", "u", "v"}) {
    yaml += "  " + m + ":\n    cmd: engine --port ${PORT} -m " + m + "\n";
    if (m == pinned) yaml += "    pin: true\n";
  }
  yaml += "  r:\n    proxy: https://remote.example/v1\n";
  return config_test::load(yaml);
}

TEST(ResidencyRules, NoGroupsAdmitsEverything) {
  const auto c = with_groups("");
  const ResidencyRules rules(*c);
  EXPECT_TRUE(rules.empty());
  EXPECT_TRUE(rules.may_coreside("a", {"b", "c", "u", "r"}));
  EXPECT_TRUE(may_coreside(*c, "u", {"v"}));
  EXPECT_TRUE(ResidencyRules().may_coreside("a", {"b"}));
}

TEST(ResidencyRules, SwapGroupHoldsOneMemberAtATime) {
  const ResidencyRules rules(*with_groups("  g: {swap: true, exclusive: false, members: [a, b]}\n"
                                          "  h: {swap: false, exclusive: false, members: [c, d]}\n"));
  EXPECT_FALSE(rules.may_coreside("a", {"b"}));
  EXPECT_FALSE(rules.may_coreside("b", {"c", "a"}));
  EXPECT_EQ(rules.conflicts("b", {"c", "a", "d"}), Names{"a"}) << "exactly the member in the way";
  EXPECT_TRUE(rules.may_coreside("c", {"d", "a"})) << "swap: false: its members share the machine";
  EXPECT_TRUE(rules.may_coreside("a", {"c", "d"})) << "not exclusive: other groups stay";
  EXPECT_TRUE(rules.may_coreside("a", {"a"})) << "a model never conflicts with itself";
}

TEST(ResidencyRules, ExclusiveGroupEvictsOtherGroupsButPersistentOnes) {
  const ResidencyRules rules(*with_groups("  x: {swap: false, exclusive: true, members: [a, b]}\n"
                                          "  y: {swap: false, exclusive: false, members: [c]}\n"
                                          "  p: {swap: false, exclusive: false, persistent: true, members: [d]}\n"));
  EXPECT_EQ(rules.conflicts("a", {"b", "c", "d", "u", "r"}), (Names{"c", "u"}))
      << "its own member stays (swap: false), the persistent group's too, a remote model in no group too";
  EXPECT_TRUE(rules.may_coreside("a", {"b", "d"}));
  // One-way, as llama-swap's "gotcha": loading a non-exclusive group's member leaves the exclusive group alone.
  EXPECT_TRUE(rules.may_coreside("c", {"a", "b", "d"}));
}

TEST(ResidencyRules, PersistentGroupIsStillSubjectToItsOwnFlags) {
  const ResidencyRules rules(*with_groups("  p: {persistent: true, members: [a, b]}\n  x: {members: [c]}\n"));
  EXPECT_FALSE(rules.may_coreside("a", {"b"})) << "swap applies within a persistent group";
  EXPECT_EQ(rules.conflicts("a", {"c", "u"}), (Names{"c", "u"})) << "and its own exclusivity evicts others";
  EXPECT_TRUE(rules.may_coreside("c", {"a"})) << "but others' exclusivity does not evict it";
  EXPECT_TRUE(rules.may_coreside("u", {"b"}));
}

// With any group configured, models in no group form llama-swap's implicit "(default)" group: swap, exclusive,
// not persistent.
TEST(ResidencyRules, UngroupedModelsFormTheImplicitSwapExclusiveGroup) {
  const ResidencyRules rules(*with_groups("  g: {swap: false, exclusive: false, members: [a, b]}\n"
                                          "  x: {swap: false, exclusive: true, members: [c]}\n"
                                          "  p: {exclusive: false, persistent: true, members: [d]}\n"));
  EXPECT_FALSE(rules.may_coreside("u", {"v"})) << "swap";
  EXPECT_EQ(rules.conflicts("u", {"a", "b", "c", "d", "v"}), (Names{"a", "b", "c", "v"})) << "exclusive";
  EXPECT_TRUE(rules.may_coreside("a", {"u"})) << "a non-exclusive group leaves it alone";
  EXPECT_FALSE(rules.may_coreside("c", {"u"})) << "an exclusive group evicts it: it is not persistent";
  EXPECT_TRUE(rules.may_coreside("d", {"u", "a"}));
  EXPECT_TRUE(rules.may_coreside("r", {"u", "v", "c"})) << "a remote model in no group is outside every rule";
  EXPECT_TRUE(rules.may_coreside("u", {"r"}));
}

TEST(ResidencyRules, ARemoteModelListedInAGroupFollowsIt) {
  const ResidencyRules rules(*with_groups("  g: {exclusive: false, members: [a, r]}\n"));
  EXPECT_FALSE(rules.may_coreside("r", {"a"}));
  EXPECT_FALSE(rules.may_coreside("u", {"r"})) << "the implicit group is exclusive; g is not persistent";
}

// The config refuses pins the rule would never let be resident together, and only those: every combination of two
// groups' flags, every pair of pinned models.
TEST(ResidencyRules, ConfigRefusesExactlyThePinsTheRuleKeepsApart) {
  const std::string names[] = {"a", "b", "c", "u"};  // a, b in g1; c in g2; u in no group
  int refused = 0, loaded = 0;
  for (int f1 = 0; f1 < 8; ++f1) {
    for (int f2 = 0; f2 < 8; ++f2) {
      const auto flags = [](int f) {
        return std::string("swap: ") + (f & 1 ? "true" : "false") + ", exclusive: " + (f & 2 ? "true" : "false") +
               ", persistent: " + (f & 4 ? "true" : "false");
      };
      const std::string groups = "groups:\n  g1: {" + flags(f1) + ", members: [a, b]}\n  g2: {" + flags(f2) +
                                 ", members: [c]}\nmaxResident: 0\n";
      const auto config_pinning = [&](int i, int j) {
        std::string yaml = groups + "models:\n";
        for (int k = 0; k < 4; ++k) {
          yaml += "  " + names[k] + ":\n    cmd: x --port ${PORT}\n";
          if (k == i || k == j) yaml += "    pin: true\n";
        }
        return yaml;
      };
      const ResidencyRules rules(*config_test::load(config_pinning(-1, -1)));
      for (int i = 0; i < 4; ++i) {
        for (int j = i + 1; j < 4; ++j) {
          const std::string yaml = config_pinning(i, j);
          const bool apart = rules.evicts(names[i], names[j]) || rules.evicts(names[j], names[i]);
          const std::string error = config_test::load_error(yaml);
          EXPECT_EQ(error != "no error", apart) << yaml << error;
          (apart ? refused : loaded)++;
        }
      }
    }
  }
  EXPECT_GT(refused, 50);
  EXPECT_GT(loaded, 50);
}

// ---- driving the scheduler: fits = memory budget AND the group rule ----

struct Recorder : SchedulerEffects {
  std::vector<std::string> calls;
  void start_worker(const std::string& m) override { calls.push_back("start " + m); }
  void stop_worker(const std::string& m, StopReason r) override { calls.push_back("stop " + m + " " + to_string(r)); }
  void grant(RequestId id) override { calls.push_back("grant " + std::to_string(id)); }
  void deny(RequestId id, const std::string& m, DenyReason) override {
    calls.push_back("deny " + std::to_string(id) + " " + m);
  }
  void worker_idle(const std::string&) override {}
  void worker_busy(const std::string&) override {}
  std::vector<std::string> take() { return std::exchange(calls, {}); }
};

class GroupsInTheScheduler : public ::testing::Test {
 protected:
  void use(const std::string& groups, const std::string& pinned = "") {
    config = with_groups(groups, pinned);
    rules = ResidencyRules(*config);
    SchedulerOptions o;
    o.now = [this] { return now; };
    o.max_resident = config->max_resident;  // 0: groups configured, no maxResident
    o.policy = [this](const std::string& m) { return ModelPolicy{.pinned = config->find_model(m)->pinned}; };
    o.fits = [this](const std::string& m, const std::vector<std::string>& staying) {
      int total = 4;  // every model 4 units, a budget of 10
      for (size_t i = 0; i < staying.size(); ++i) total += 4;
      return total <= budget && rules.may_coreside(m, staying);
    };
    s = std::make_unique<Scheduler>(fx, o);
  }
  void make_ready(const std::string& model, RequestId id) {
    now += std::chrono::seconds(1);
    s->submit(id, model);
    s->worker_ready(model);
    s->finished(id);
    fx.take();
  }
  Names residents() const {
    Names out;
    for (const auto& w : s->workers()) out.push_back(w.model);
    return out;
  }

  std::shared_ptr<const Config> config;
  ResidencyRules rules;
  Recorder fx;
  SchedClock::time_point now{};
  int budget = 100;
  std::unique_ptr<Scheduler> s;
};

TEST_F(GroupsInTheScheduler, ASwapGroupSwapsWhileAnotherGroupStaysResident) {
  use("  chat: {swap: true, exclusive: false, members: [a, b]}\n"
      "  tools: {swap: false, exclusive: false, members: [c, d]}\n");
  ASSERT_EQ(config->max_resident, 0u);
  make_ready("c", 1);  // the least recently used, idle: an LRU-only choice would evict it first
  make_ready("a", 2);
  make_ready("d", 3);
  s->submit(4, "b");
  EXPECT_EQ(fx.take(), (Names{"stop a swap"})) << "only the member of b's swap group goes";
  s->worker_stopped("a");
  EXPECT_EQ(fx.take(), (Names{"start b"}));
  s->worker_ready("b");
  s->submit(5, "c");
  s->submit(6, "d");
  EXPECT_EQ(fx.take(), (Names{"grant 4", "grant 5", "grant 6"})) << "the tools group kept serving throughout";
  EXPECT_EQ(residents(), (Names{"c", "d", "b"}));
}

TEST_F(GroupsInTheScheduler, ABusyConflictingMemberDrainsFirstAndIsNeverCut) {
  use("  chat: {swap: true, exclusive: false, members: [a, b]}\n  tools: {exclusive: false, members: [c]}\n");
  make_ready("c", 1);
  make_ready("a", 2);
  s->submit(3, "a");  // in flight on a
  fx.take();
  s->submit(4, "b");
  s->submit(5, "c");
  EXPECT_EQ(fx.take(), (Names{"grant 5"})) << "a drains; c, not in the way, serves";
  s->finished(3);
  EXPECT_EQ(fx.take(), (Names{"stop a swap"}));
}

TEST_F(GroupsInTheScheduler, AnExclusiveGroupEvictsOthersButThePersistentGroup) {
  use("  big: {swap: true, exclusive: true, members: [a]}\n"
      "  small: {swap: false, exclusive: false, members: [b, c]}\n"
      "  embed: {swap: false, exclusive: false, persistent: true, members: [d]}\n");
  make_ready("d", 1);
  make_ready("b", 2);
  make_ready("c", 3);
  s->submit(4, "a");
  EXPECT_EQ(fx.take(), (Names{"stop b swap", "stop c swap"}));
  s->worker_stopped("b");
  EXPECT_EQ(fx.take(), (Names{})) << "c is still on its way out";
  s->worker_stopped("c");
  EXPECT_EQ(fx.take(), (Names{"start a"}));
  s->worker_ready("a");
  EXPECT_EQ(fx.take(), (Names{"grant 4"}));
  EXPECT_EQ(residents(), (Names{"d", "a"}));
  s->submit(5, "b");  // non-exclusive: loads beside the exclusive group's member (llama-swap's one-way rule)
  EXPECT_EQ(fx.take(), (Names{"start b"}));
}

TEST_F(GroupsInTheScheduler, MemoryStillBoundsWhatTheGroupsAdmit) {
  use("  tools: {swap: false, exclusive: false, members: [a, b, c]}\n");
  budget = 8;  // two models of 4
  make_ready("a", 1);
  make_ready("b", 2);
  s->submit(3, "c");
  EXPECT_EQ(fx.take(), (Names{"stop a swap"})) << "the group admits all three; memory admits two";
}

TEST_F(GroupsInTheScheduler, AModelKeptApartFromAPinnedOneIsDeniedNotQueuedForever) {
  use("  chat: {exclusive: false, members: [a, b]}\n", "a");
  make_ready("a", 1);
  s->submit(2, "b");
  EXPECT_EQ(fx.take(), (Names{"deny 2 b"}));
  EXPECT_EQ(residents(), (Names{"a"}));
}

}  // namespace
}  // namespace llmux

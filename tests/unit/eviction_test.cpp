// Eviction policy (pressure, ceilings, the one restart), driven through its events with a fake that records every
// effect; and the memory-fit arithmetic with the words of its refusals.
#include "proxy/policy/eviction.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "proxy/policy/memory_budget.hpp"

using namespace llmux;

namespace {

struct Recorder : EvictionEffects {
  std::vector<std::string> calls;
  void evict(StopReason why) override { calls.push_back(std::string("evict ") + to_string(why)); }
  void restart(const std::string& model) override { calls.push_back("restart " + model); }
  std::vector<std::string> take() { return std::exchange(calls, {}); }
};

using Calls = std::vector<std::string>;

MemoryConfig memory(PressureLevel evict_at, OnCeiling on_ceiling) {
  MemoryConfig m;
  m.pressure.evict_at = evict_at;
  m.on_ceiling = on_ceiling;
  return m;
}

constexpr uint64_t GiB = 1ull << 30;

}  // namespace

TEST(EvictionPolicy, PressureEvictsOnlyAnIdleReadyWorkerAtTheConfiguredLevel) {
  Recorder fx;
  EvictionPolicy p(fx);
  p.configure(memory(PressureLevel::warning, OnCeiling::evict));
  p.pressure(Pressure::normal, WorkerPhase::ready, 0);
  EXPECT_EQ(fx.take(), Calls{});
  p.pressure(Pressure::warning, WorkerPhase::ready, 1);  // busy: it waits until idle
  p.pressure(Pressure::warning, WorkerPhase::starting, 0);
  p.pressure(Pressure::critical, WorkerPhase::none, 0);
  EXPECT_EQ(fx.take(), Calls{});
  p.pressure(Pressure::warning, WorkerPhase::ready, 0);
  EXPECT_EQ(fx.take(), Calls{"evict pressure"});

  p.configure(memory(PressureLevel::critical, OnCeiling::evict));
  EXPECT_FALSE(p.evicts(Pressure::warning));
  EXPECT_TRUE(p.evicts(Pressure::critical));
  p.pressure(Pressure::warning, WorkerPhase::ready, 0);
  EXPECT_EQ(fx.take(), Calls{});
  p.pressure(Pressure::critical, WorkerPhase::ready, 0);
  EXPECT_EQ(fx.take(), Calls{"evict pressure"});
}

TEST(EvictionPolicy, CeilingEvictsWithoutRestartByDefault) {
  Recorder fx;
  EvictionPolicy p(fx);
  p.configure(memory(PressureLevel::warning, OnCeiling::evict));
  EXPECT_EQ(p.over_ceiling("a"), CeilingOutcome::evict);
  EXPECT_EQ(fx.take(), Calls{"evict ceiling"});
  p.worker_stopped();
  EXPECT_EQ(fx.take(), Calls{});
}

TEST(EvictionPolicy, CeilingRestartsOnceUntilTheEngineServesAgain) {
  Recorder fx;
  EvictionPolicy p(fx);
  p.configure(memory(PressureLevel::warning, OnCeiling::restart));
  EXPECT_EQ(p.over_ceiling("a"), CeilingOutcome::restart);
  EXPECT_EQ(fx.take(), Calls{"evict ceiling"});
  p.worker_stopped();
  EXPECT_EQ(fx.take(), Calls{"restart a"});
  p.worker_stopped();  // the restart is planned once
  EXPECT_EQ(fx.take(), Calls{});

  // Above its ceiling again before serving anything: evicted, not restarted (no restart storm).
  EXPECT_EQ(p.over_ceiling("a"), CeilingOutcome::evict_repeated);
  p.worker_stopped();
  EXPECT_EQ(fx.take(), Calls{"evict ceiling"});

  // Once it served a request, a later ceiling restarts it again.
  p.served();
  EXPECT_EQ(p.over_ceiling("a"), CeilingOutcome::restart);
  p.worker_stopped();
  EXPECT_EQ(fx.take(), (Calls{"evict ceiling", "restart a"}));

  // Another model is a first time.
  EXPECT_EQ(p.over_ceiling("b"), CeilingOutcome::restart);
  p.worker_stopped();
  EXPECT_EQ(fx.take(), (Calls{"evict ceiling", "restart b"}));
}

TEST(MemoryBudget, FitsAndRefusesAgainstBudgetAndAvailableMemory) {
  MemoryConfig cfg;
  cfg.budget = MemoryAmount{0.5, 0};
  cfg.reserve = MemoryAmount{0, 1 * GiB};
  ModelConfig m;
  m.id = "big";
  Footprint f{3 * GiB, 1 * GiB, 0, "weights: 3 GiB"};
  const SystemMemory mem{16 * GiB, 6 * GiB};

  EXPECT_TRUE(fits_budget(f, cfg, mem));
  EXPECT_TRUE(fits_budget(f, cfg, std::nullopt));  // the platform cannot tell: nothing is refused
  EXPECT_FALSE(budget_refusal(m, f, cfg, mem));
  using Kind = FitVerdict::Kind;
  EXPECT_EQ(fit_now(m, f, cfg, mem, true).kind, Kind::fits);  // 4 GiB of 6 - 1 usable
  EXPECT_EQ(fit_now(m, f, cfg, std::nullopt, true).kind, Kind::fits);

  const SystemMemory tight{16 * GiB, 4 * GiB};  // 3 GiB usable
  EXPECT_EQ(fit_now(m, f, cfg, tight, false).kind, Kind::not_yet);  // memory may still be coming back
  const FitVerdict refused = fit_now(m, f, cfg, tight, true);
  ASSERT_EQ(refused.kind, Kind::refused);
  EXPECT_EQ(refused.refusal.status, 507);
  EXPECT_EQ(refused.refusal.code, "insufficient_memory");
  EXPECT_EQ(refused.refusal.message, "model 'big' needs 4 GiB (weights 3 GiB, KV 1 GiB, overhead 0 B) but only "
                              "3 GiB is available now (4 GiB free minus memory.reserve 1 GiB); close other "
                              "applications or lower its kvReservation");

  const SystemMemory small{6 * GiB, 6 * GiB};  // budget 3 GiB: refused whatever is free
  EXPECT_FALSE(fits_budget(f, cfg, small));
  auto over = budget_refusal(m, f, cfg, small);
  ASSERT_TRUE(over);
  EXPECT_EQ(over->status, 507);
  EXPECT_NE(over->message.find("but memory.budget allows 3 GiB of 6 GiB"), std::string::npos) << over->message;
  const FitVerdict now = fit_now(m, f, cfg, small, false);  // refused for good: no wait
  ASSERT_EQ(now.kind, Kind::refused);
  EXPECT_EQ(now.refusal.status, 507);
}

TEST(MemoryBudget, CeilingIsMaxMemoryElseEstimateTimesSlackWhenWeightsAreKnown) {
  ModelConfig m;
  Footprint f{2 * GiB, 0, 0, ""};
  EXPECT_EQ(memory_ceiling(m, f, 1.5), 3 * GiB);
  EXPECT_FALSE(memory_ceiling(m, Footprint{0, 1 * GiB, 512, "unknown"}, 1.5));
  m.max_memory = 5 * GiB;
  EXPECT_EQ(memory_ceiling(m, f, 1.5), 5 * GiB);
  EXPECT_EQ(pressure_refusal("x").status, 503);
  EXPECT_EQ(pressure_refusal("x").retry_after, 10);
}

// Eviction policy (pressure, ceilings, the one restart), driven through its events with a fake that records every
// effect; and the memory-fit arithmetic with the words of its refusals.
#include "proxy/policy/eviction.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "proxy/policy/footprint_fit.hpp"

using namespace llmux;

namespace {

struct Recorder : EvictionEffects {
  std::vector<std::string> calls;
  void evict(const std::string& model, StopReason why) override {
    calls.push_back(std::string("evict ") + model + " " + to_string(why));
  }
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

WorkerView worker(const std::string& model, WorkerPhase phase, size_t in_flight, size_t queued = 0,
                  bool pinned = false) {
  WorkerView w;
  w.model = model;
  w.phase = phase;
  w.in_flight = in_flight;
  w.queued = queued;
  w.pinned = pinned;
  return w;
}

TEST(EvictionPolicy, PressureEvictsOnlyIdleReadyWorkersAtTheConfiguredLevel) {
  Recorder fx;
  EvictionPolicy p(fx);
  p.configure(memory(PressureLevel::warning, OnCeiling::evict));
  p.pressure(Pressure::normal, {worker("a", WorkerPhase::ready, 0)});
  EXPECT_EQ(fx.take(), Calls{});
  p.pressure(Pressure::warning, {worker("a", WorkerPhase::ready, 1)});  // busy: it waits until idle
  p.pressure(Pressure::warning, {worker("a", WorkerPhase::ready, 0, 2)});  // requests wait for it
  p.pressure(Pressure::warning, {worker("a", WorkerPhase::starting, 0)});
  p.pressure(Pressure::critical, {});
  EXPECT_EQ(fx.take(), Calls{});
  p.pressure(Pressure::warning, {worker("a", WorkerPhase::ready, 0)});
  EXPECT_EQ(fx.take(), Calls{"evict a pressure"});

  p.configure(memory(PressureLevel::critical, OnCeiling::evict));
  EXPECT_FALSE(p.evicts(Pressure::warning));
  EXPECT_TRUE(p.evicts(Pressure::critical));
  p.pressure(Pressure::warning, {worker("a", WorkerPhase::ready, 0)});
  EXPECT_EQ(fx.take(), Calls{});
  p.pressure(Pressure::critical, {worker("a", WorkerPhase::ready, 0)});
  EXPECT_EQ(fx.take(), Calls{"evict a pressure"});
}

// Several residents: every idle one goes, busy ones stay; a pinned one goes only when pressure is critical.
TEST(EvictionPolicy, PressureEvictsEveryIdleResidentAndPinnedOnesOnlyAtCritical) {
  Recorder fx;
  EvictionPolicy p(fx);
  p.configure(memory(PressureLevel::warning, OnCeiling::evict));
  const std::vector<WorkerView> ws = {worker("a", WorkerPhase::ready, 0), worker("b", WorkerPhase::ready, 2),
                                      worker("c", WorkerPhase::ready, 0, 0, true), worker("d", WorkerPhase::ready, 0)};
  p.pressure(Pressure::warning, ws);
  EXPECT_EQ(fx.take(), (Calls{"evict a pressure", "evict d pressure"}));
  p.pressure(Pressure::critical, ws);
  EXPECT_EQ(fx.take(), (Calls{"evict a pressure", "evict c pressure", "evict d pressure"}));
}

TEST(EvictionPolicy, CeilingEvictsWithoutRestartByDefault) {
  Recorder fx;
  EvictionPolicy p(fx);
  p.configure(memory(PressureLevel::warning, OnCeiling::evict));
  EXPECT_EQ(p.over_ceiling("a"), CeilingOutcome::evict);
  EXPECT_EQ(fx.take(), Calls{"evict a ceiling"});
  p.worker_stopped("a");
  EXPECT_EQ(fx.take(), Calls{});
}

TEST(EvictionPolicy, CeilingRestartsOnceUntilTheEngineServesAgain) {
  Recorder fx;
  EvictionPolicy p(fx);
  p.configure(memory(PressureLevel::warning, OnCeiling::restart));
  EXPECT_EQ(p.over_ceiling("a"), CeilingOutcome::restart);
  EXPECT_EQ(fx.take(), Calls{"evict a ceiling"});
  p.worker_stopped("a");
  EXPECT_EQ(fx.take(), Calls{"restart a"});
  p.worker_stopped("a");  // the restart is planned once
  EXPECT_EQ(fx.take(), Calls{});

  // Above its ceiling again before serving anything: evicted, not restarted (no restart storm).
  EXPECT_EQ(p.over_ceiling("a"), CeilingOutcome::evict_repeated);
  p.worker_stopped("a");
  EXPECT_EQ(fx.take(), Calls{"evict a ceiling"});

  // Once it served a request, a later ceiling restarts it again.
  p.served("a");
  EXPECT_EQ(p.over_ceiling("a"), CeilingOutcome::restart);
  p.worker_stopped("a");
  EXPECT_EQ(fx.take(), (Calls{"evict a ceiling", "restart a"}));

  // A stop of another model does not trigger a's restart.
  EXPECT_EQ(p.over_ceiling("a"), CeilingOutcome::evict_repeated);
  fx.take();
  p.served("b");  // b's service does not clear a's mark
  EXPECT_EQ(p.over_ceiling("a"), CeilingOutcome::evict_repeated);
  fx.take();

  // Another model is a first time.
  EXPECT_EQ(p.over_ceiling("b"), CeilingOutcome::restart);
  p.worker_stopped("b");
  EXPECT_EQ(fx.take(), (Calls{"evict b ceiling", "restart b"}));
}

TEST(EvictionPolicy, ARestartWaitsForItsOwnWorkerToStop) {
  Recorder fx;
  EvictionPolicy p(fx);
  p.configure(memory(PressureLevel::warning, OnCeiling::restart));
  EXPECT_EQ(p.over_ceiling("a"), CeilingOutcome::restart);
  fx.take();
  p.worker_stopped("b");  // another resident stopped meanwhile
  EXPECT_EQ(fx.take(), Calls{});
  p.worker_stopped("a");
  EXPECT_EQ(fx.take(), Calls{"restart a"});
}

// The memory-fit arithmetic itself (budget, available now, GPU share, ceilings) is tested in footprint_fit_test.
TEST(MemoryBudget, TheBudgetCountsSystemMemoryAndNothingIsRefusedBlind) {
  MemoryConfig cfg;
  cfg.budget = MemoryAmount{0.5, 0};
  Footprint f;
  f.weights = 3 * GiB;
  f.kv = 1 * GiB;
  EXPECT_TRUE(fits_budget(f, cfg, SystemMemory{16 * GiB, 6 * GiB}));
  EXPECT_TRUE(fits_budget(f, cfg, std::nullopt));  // the platform cannot tell: nothing is refused
  EXPECT_FALSE(fits_budget(f, cfg, SystemMemory{6 * GiB, 6 * GiB}));  // budget 3 GiB
  EXPECT_EQ(pressure_refusal("x").status, 503);
  EXPECT_EQ(pressure_refusal("x").retry_after, 10);
  EXPECT_EQ(insufficient_memory("m").status, 507);
}

// Scheduler policy, driven through its event interface with a fake that records every effect.
#include "proxy/policy/scheduler.hpp"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

using namespace llmux;

namespace {

// With `named`, stop / idle / busy name their worker ("stop a swap"); single-resident tests leave it off.
struct Recorder : SchedulerEffects {
  explicit Recorder(bool named = false) : named(named) {}
  bool named;
  std::vector<std::string> calls;
  std::string who(const std::string& m) const { return named ? " " + m : ""; }
  void start_worker(const std::string& m) override { calls.push_back("start " + m); }
  void stop_worker(const std::string& m, StopReason r) override {
    calls.push_back("stop" + who(m) + " " + to_string(r));
  }
  void grant(RequestId id) override { calls.push_back("grant " + std::to_string(id)); }
  void deny(RequestId id, const std::string& m, DenyReason why) override {
    static const char* names[] = {"start_failed", "shutdown", "queue_full", "no_room"};
    calls.push_back("deny " + std::to_string(id) + " " + m + " " + names[static_cast<int>(why)]);
  }
  void wake_at(SchedClock::time_point t) override {
    wake = t;
    calls.push_back("wake");
  }
  SchedClock::time_point wake{};
  void worker_idle(const std::string& m) override { calls.push_back("idle" + who(m)); }
  void worker_busy(const std::string& m) override { calls.push_back("busy" + who(m)); }
  std::vector<std::string> take() { return std::exchange(calls, {}); }
};

using Calls = std::vector<std::string>;

// One request loads `model`, is served and finishes: the worker is ready and idle; the effects are discarded.
void load_and_idle(Scheduler& s, Recorder& fx, const std::string& model, RequestId first) {
  s.submit(first, model);
  s.worker_ready(model);
  s.finished(first);
  fx.take();
}

class SchedulerTest : public ::testing::Test {
 protected:
  Recorder fx;
  Scheduler s{fx};

  void make_ready(const std::string& model, RequestId first) { load_and_idle(s, fx, model, first); }
};

}  // namespace

TEST_F(SchedulerTest, FirstRequestStartsItsModelAndIsGrantedWhenReady) {
  s.submit(1, "a");
  EXPECT_EQ(fx.take(), (Calls{"start a"}));
  EXPECT_EQ(s.phase(), WorkerPhase::starting);
  s.worker_ready(s.model());
  EXPECT_EQ(fx.take(), (Calls{"grant 1"}));
  EXPECT_EQ(s.in_flight(), 1u);
  s.finished(1);
  EXPECT_EQ(fx.take(), (Calls{"idle"}));
}

TEST_F(SchedulerTest, ConcurrentRequestsShareOneLoad) {
  s.submit(1, "a");
  s.submit(2, "a");
  s.submit(3, "a");
  EXPECT_EQ(fx.take(), (Calls{"start a"}));
  s.worker_ready(s.model());
  EXPECT_EQ(fx.take(), (Calls{"grant 1", "grant 2", "grant 3"}));
}

TEST_F(SchedulerTest, ResidentModelIsGrantedImmediately) {
  make_ready("a", 1);
  s.submit(2, "a");
  EXPECT_EQ(fx.take(), (Calls{"busy", "grant 2"}));
}

TEST_F(SchedulerTest, SwapWaitsForInFlightToDrain) {
  make_ready("a", 1);
  s.submit(2, "a");
  s.submit(3, "b");
  EXPECT_EQ(fx.take(), (Calls{"busy", "grant 2"}));  // no stop while 2 is in flight
  EXPECT_EQ(s.phase(), WorkerPhase::ready);
  s.finished(2);
  EXPECT_EQ(fx.take(), (Calls{"stop swap"}));
  s.worker_stopped(s.model());
  EXPECT_EQ(fx.take(), (Calls{"start b"}));
  s.worker_ready(s.model());
  EXPECT_EQ(fx.take(), (Calls{"grant 3"}));
}

TEST_F(SchedulerTest, NewRequestsForResidentCannotStarveAWaitingSwap) {
  make_ready("a", 1);
  s.submit(2, "a");
  s.submit(3, "b");
  s.submit(4, "a");  // arrives after b waits: must queue behind the swap
  s.submit(5, "a");
  EXPECT_EQ(fx.take(), (Calls{"busy", "grant 2"}));
  s.finished(2);
  EXPECT_EQ(fx.take(), (Calls{"stop swap"}));
  s.worker_stopped(s.model());
  s.worker_ready(s.model());
  EXPECT_EQ(fx.take(), (Calls{"start b", "grant 3"}));
  s.finished(3);
  EXPECT_EQ(fx.take(), (Calls{"stop swap"}));
  s.worker_stopped(s.model());
  s.worker_ready(s.model());
  EXPECT_EQ(fx.take(), (Calls{"start a", "grant 4", "grant 5"}));  // grouped
}

TEST_F(SchedulerTest, QueuedRequestsForLoadingModelAreGroupedAcrossOthers) {
  s.submit(1, "a");
  s.submit(2, "b");
  s.submit(3, "a");
  s.submit(4, "c");
  s.submit(5, "b");
  EXPECT_EQ(fx.take(), (Calls{"start a"}));
  s.worker_ready(s.model());
  EXPECT_EQ(fx.take(), (Calls{"grant 1", "grant 3"}));
  s.finished(1);
  s.finished(3);
  s.worker_stopped(s.model());
  s.worker_ready(s.model());
  EXPECT_EQ(fx.take(), (Calls{"stop swap", "start b", "grant 2", "grant 5"}));  // oldest waiting model next
  s.finished(2);
  s.finished(5);
  s.worker_stopped(s.model());
  EXPECT_EQ(fx.take(), (Calls{"stop swap", "start c"}));
}

TEST_F(SchedulerTest, FailedStartDeniesItsWaitersAndMovesOn) {
  s.submit(1, "a");
  s.submit(2, "b");
  s.submit(3, "a");
  fx.take();
  s.worker_start_failed(s.model());
  EXPECT_EQ(fx.take(), (Calls{"deny 1 a start_failed", "deny 3 a start_failed", "start b"}));
  EXPECT_EQ(s.model(), "b");
}

TEST_F(SchedulerTest, CancelledQueuedRequestNeverReachesTheEngine) {
  make_ready("a", 1);
  s.submit(2, "a");
  s.submit(3, "b");
  fx.take();
  s.cancel(3);  // the only reason to swap is gone
  s.finished(2);
  EXPECT_EQ(fx.take(), (Calls{"idle"}));
  EXPECT_EQ(s.phase(), WorkerPhase::ready);
  EXPECT_EQ(s.model(), "a");
}

TEST_F(SchedulerTest, CancelledWhileStartingDoesNotGetGranted) {
  s.submit(1, "a");
  s.submit(2, "a");
  s.cancel(1);
  fx.take();
  s.worker_ready(s.model());
  EXPECT_EQ(fx.take(), (Calls{"grant 2"}));
}

TEST_F(SchedulerTest, IdleExpiryStopsOnlyAnIdleWorker) {
  make_ready("a", 1);
  s.submit(2, "a");
  fx.take();
  s.idle_expired(s.model());  // stale timer: a request is in flight
  EXPECT_TRUE(fx.take().empty());
  s.finished(2);
  EXPECT_EQ(fx.take(), (Calls{"idle"}));
  s.idle_expired(s.model());
  EXPECT_EQ(fx.take(), (Calls{"busy", "stop ttl"}));  // busy disarms the TTL timer
  s.worker_stopped(s.model());
  EXPECT_EQ(s.phase(), WorkerPhase::none);
  EXPECT_TRUE(fx.take().empty());
}

TEST_F(SchedulerTest, WorkerExitWhileServingOrphansInFlightAndRestartsOnNextRequest) {
  make_ready("a", 1);
  s.submit(2, "a");
  fx.take();
  s.worker_stopped(s.model());  // crashed
  EXPECT_EQ(s.phase(), WorkerPhase::none);
  EXPECT_EQ(s.in_flight(), 0u);
  s.finished(2);  // the failed request finishes later: ignored
  EXPECT_TRUE(fx.take().empty());
  s.submit(3, "a");
  EXPECT_EQ(fx.take(), (Calls{"start a"}));
}

TEST_F(SchedulerTest, RetireDrainsThenStopsAndNextRequestReloads) {
  make_ready("a", 1);
  s.submit(2, "a");
  fx.take();
  s.retire_all();
  EXPECT_TRUE(fx.take().empty());  // 2 still in flight
  s.submit(3, "a");                // queued: the worker is being retired
  EXPECT_TRUE(fx.take().empty());
  s.finished(2);
  EXPECT_EQ(fx.take(), (Calls{"stop unload"}));
  s.worker_stopped(s.model());
  EXPECT_EQ(fx.take(), (Calls{"start a"}));
}

TEST_F(SchedulerTest, ShutdownDeniesQueuedRefusesNewAndStopsWhenDrained) {
  make_ready("a", 1);
  s.submit(2, "a");
  s.submit(3, "b");
  fx.take();
  s.shutdown();
  EXPECT_EQ(fx.take(), (Calls{"deny 3 b shutdown"}));
  s.submit(4, "a");
  EXPECT_EQ(fx.take(), (Calls{"deny 4 a shutdown"}));
  s.finished(2);
  EXPECT_EQ(fx.take(), (Calls{"stop shutdown"}));
  s.worker_stopped(s.model());
  EXPECT_TRUE(fx.take().empty());
}

TEST_F(SchedulerTest, UnknownIdsAreIgnored) {
  s.finished(42);
  s.cancel(42);
  s.worker_ready(s.model());
  s.worker_start_failed(s.model());
  EXPECT_TRUE(fx.take().empty());
}

// ---- limits and anti-thrash policy, with a fake clock ----

namespace {

class PolicyTest : public ::testing::Test {
 protected:
  Recorder fx;
  SchedClock::time_point now{};
  std::map<std::string, ModelPolicy> policies;
  Scheduler s{fx, options()};

  SchedulerOptions options() {
    SchedulerOptions o;
    o.policy = [this](const std::string& m) { return policies[m]; };
    o.max_swaps_waited = 2;
    o.now = [this] { return now; };
    return o;
  }

  void make_ready(const std::string& model, RequestId first) { load_and_idle(s, fx, model, first); }
};

}  // namespace

TEST_F(PolicyTest, MaxConcurrencyQueuesTheRestAndGrantsAsRequestsFinish) {
  policies["a"].max_concurrency = 2;
  s.submit(1, "a");
  s.submit(2, "a");
  s.submit(3, "a");
  s.worker_ready(s.model());
  EXPECT_EQ(fx.take(), (Calls{"start a", "grant 1", "grant 2"}));
  s.submit(4, "a");
  EXPECT_TRUE(fx.take().empty());
  EXPECT_EQ(s.queued(), 2u);
  s.finished(1);
  EXPECT_EQ(fx.take(), (Calls{"grant 3"}));  // arrival order within the model
  s.finished(2);
  EXPECT_EQ(fx.take(), (Calls{"grant 4"}));
}

TEST_F(PolicyTest, TryGrantServesOnlyAReadyResidentWithRoomAndNobodyWaiting) {
  policies["a"].max_concurrency = 2;
  EXPECT_FALSE(s.try_grant(1, "a"));  // nothing resident: submit() starts it
  EXPECT_TRUE(fx.take().empty());
  make_ready("a", 1);
  EXPECT_FALSE(s.try_grant(2, "b"));  // another model
  EXPECT_TRUE(s.try_grant(2, "a"));
  EXPECT_EQ(fx.take(), (Calls{"busy"}));  // no grant effect: the caller holds the answer
  EXPECT_TRUE(s.try_grant(3, "a"));
  EXPECT_FALSE(s.try_grant(4, "a"));  // maxConcurrency reached
  EXPECT_EQ(s.in_flight(), 2u);
  s.finished(3);
  s.submit(5, "b");  // a swap waits: the fast door closes for the resident
  EXPECT_FALSE(s.try_grant(6, "a"));
  s.finished(2);
  EXPECT_EQ(fx.take(), (Calls{"stop swap"}));
  EXPECT_FALSE(s.try_grant(7, "a"));  // stopping
}

TEST_F(PolicyTest, TryGrantedRequestsFinishLikeGrantedOnes) {
  make_ready("a", 1);
  ASSERT_TRUE(s.try_grant(2, "a"));
  s.finished(2);
  EXPECT_EQ(fx.take(), (Calls{"busy", "idle"}));
  EXPECT_EQ(s.in_flight(), 0u);
  s.retire_all();
  EXPECT_FALSE(s.try_grant(3, "a"));
}

TEST_F(PolicyTest, FullQueueIsDenied) {
  policies["b"].queue_max = 2;
  make_ready("a", 1);
  s.submit(2, "a");
  s.submit(3, "b");
  s.submit(4, "b");
  s.submit(5, "b");
  EXPECT_EQ(fx.take(), (Calls{"busy", "grant 2", "deny 5 b queue_full"}));
}

TEST_F(PolicyTest, HigherPriorityModelIsLoadedFirst) {
  policies["c"].priority = 5;
  make_ready("a", 1);
  s.submit(2, "a");
  s.submit(3, "b");
  s.submit(4, "c");
  s.finished(2);
  s.worker_stopped(s.model());
  EXPECT_EQ(fx.take(), (Calls{"busy", "grant 2", "stop swap", "start c"}));
}

TEST_F(PolicyTest, StarvationBoundBeatsPriority) {
  policies["hi"].priority = 10;  // maxSwapsWaited is 2 in this fixture
  s.submit(1, "hi");
  s.worker_ready(s.model());
  s.submit(2, "lo");
  s.submit(3, "x");
  s.submit(4, "hi");  // more high-priority work keeps arriving
  s.finished(1);
  EXPECT_EQ(fx.take(), (Calls{"start hi", "grant 1", "grant 4"}));  // priority: hi goes on (lo, x: 1 swap)
  s.submit(5, "hi");
  s.finished(4);
  EXPECT_EQ(fx.take(), (Calls{"grant 5"}));  // still priority (lo, x: 2 swaps)
  s.submit(6, "hi");
  s.finished(5);
  EXPECT_EQ(fx.take(), (Calls{"stop swap"}));  // the bound: lo has waited long enough
  s.worker_stopped(s.model());
  EXPECT_EQ(s.model(), "lo");
  s.worker_ready(s.model());
  s.finished(2);
  s.worker_stopped(s.model());
  EXPECT_EQ(s.model(), "x");  // x reached the bound too, before the waiting hi
}

TEST_F(PolicyTest, MinResidencyKeepsAFreshModelServingThenSwapsWhenTheWindowCloses) {
  policies["a"].min_residency = std::chrono::seconds(10);
  s.submit(1, "a");
  s.worker_ready(s.model());
  s.submit(2, "b");  // wants a swap, but "a" just loaded
  s.submit(3, "a");  // still granted: inside the window
  EXPECT_EQ(fx.take(), (Calls{"start a", "grant 1", "grant 3"}));
  now += std::chrono::seconds(1);
  s.finished(1);
  s.finished(3);
  EXPECT_EQ(fx.take(), (Calls{"wake"}));
  EXPECT_EQ(fx.wake, now + std::chrono::milliseconds(2500)) << "idle: held a quarter of the window, not all of it";
  now += std::chrono::milliseconds(2500);
  s.tick();
  EXPECT_EQ(fx.take(), (Calls{"stop swap"}));
}

TEST_F(PolicyTest, MinResidencyHoldNeverOutlastsTheWindow) {
  policies["a"].min_residency = std::chrono::seconds(4);
  s.submit(1, "a");
  s.worker_ready(s.model());
  s.submit(2, "b");
  now += std::chrono::milliseconds(3500);
  s.finished(1);
  fx.take();
  EXPECT_EQ(fx.wake, now + std::chrono::milliseconds(500)) << "the window ends before the idle hold would";
}

TEST_F(PolicyTest, NaiveFifoSwapsInStrictArrivalOrder) {
  Recorder naive_fx;
  SchedulerOptions fifo;
  fifo.naive_fifo = true;
  Scheduler naive(naive_fx, fifo);
  naive.submit(1, "a");
  naive.submit(2, "b");
  naive.submit(3, "a");
  naive.worker_ready(naive.model());
  EXPECT_EQ(naive_fx.take(), (Calls{"start a", "grant 1"}));  // 3 is behind 2: no grouping
  naive.finished(1);
  naive.worker_stopped(naive.model());
  naive.worker_ready(naive.model());
  EXPECT_EQ(naive_fx.take(), (Calls{"stop swap", "start b", "grant 2"}));
  naive.finished(2);
  naive.worker_stopped(naive.model());
  EXPECT_EQ(naive_fx.take(), (Calls{"stop swap", "start a"}));
  EXPECT_EQ(naive.swaps(), 3u);
}

TEST_F(PolicyTest, ResidentWhoseOwnRequestsComeFirstIsNotStoppedAndReloaded) {
  policies["a"].max_concurrency = 1;
  s.submit(1, "a");
  s.worker_ready(s.model());
  s.submit(2, "a");  // held back by maxConcurrency: oldest waiting request
  s.submit(3, "b");
  fx.take();
  s.finished(1);
  EXPECT_EQ(fx.take(), (Calls{"grant 2"})) << "no stop of a just to start a again";
  s.finished(2);
  EXPECT_EQ(fx.take(), (Calls{"stop swap"}));
}

TEST_F(PolicyTest, HigherPriorityResidentKeepsServingButTheBoundStillSwaps) {
  policies["a"].priority = 5;  // maxSwapsWaited is 2 in this fixture
  s.submit(1, "a");
  s.worker_ready(s.model());
  s.submit(2, "b");
  s.submit(3, "a");
  s.finished(1);
  EXPECT_EQ(fx.take(), (Calls{"start a", "grant 1", "grant 3"}));  // a again by priority, no reload
  s.submit(4, "a");
  s.finished(3);
  EXPECT_EQ(fx.take(), (Calls{"grant 4"}));
  s.submit(5, "a");
  s.finished(4);  // b has now waited behind 2 decisions for a
  EXPECT_EQ(fx.take(), (Calls{"stop swap"}));
  s.worker_stopped(s.model());
  EXPECT_EQ(s.model(), "b");
}

// ---- several resident workers ----

namespace {

// Residents under a memory budget: each model's size (GiB, say) is known; `fits` checks the sum. The recorder tracks
// what is resident (started and not yet reported stopped) to check the budget is never exceeded.
class ResidencyTest : public ::testing::Test {
 public:
  Recorder fx{true};
  SchedClock::time_point now{};
  std::map<std::string, ModelPolicy> policies;
  std::map<std::string, int> size{{"a", 4}, {"b", 4}, {"c", 6}, {"d", 4}, {"big", 11}};
  int budget = 10;
  Scheduler s{fx, options(2)};

  SchedulerOptions options(size_t max_resident) {
    SchedulerOptions o;
    o.policy = [this](const std::string& m) { return policies[m]; };
    o.now = [this] { return now; };
    o.max_resident = max_resident;
    o.fits = [this](const std::string& m, const std::vector<std::string>& staying) {
      int total = size[m];
      for (const auto& r : staying) total += size[r];
      return total <= budget;
    };
    return o;
  }
  // Loads `model` with one request that then finishes; the clock moves on so each load is more recent.
  void make_ready(const std::string& model, RequestId first) {
    now += std::chrono::seconds(1);
    s.submit(first, model);
    s.worker_ready(model);
    s.finished(first);
    fx.take();
  }
  std::vector<std::string> residents() const {
    std::vector<std::string> out;
    for (const auto& w : s.workers()) out.push_back(w.model);
    return out;
  }
};

using Names = std::vector<std::string>;

}  // namespace

TEST_F(ResidencyTest, AModelThatFitsStartsBesideTheResidentAndBothServeAtOnce) {
  make_ready("a", 1);
  s.submit(2, "a");
  s.submit(3, "b");
  EXPECT_EQ(fx.take(), (Calls{"busy a", "grant 2", "start b"})) << "no stop: b fits beside a";
  s.worker_ready("b");
  s.submit(4, "a");
  s.submit(5, "b");
  EXPECT_EQ(fx.take(), (Calls{"grant 3", "grant 4", "grant 5"})) << "neither resident waits for the other";
  EXPECT_EQ(s.in_flight(), 4u);
  EXPECT_EQ(residents(), (Names{"a", "b"}));
}

TEST_F(ResidencyTest, AThirdModelEvictsTheLeastRecentlyUsedIdleResident) {
  make_ready("a", 1);
  make_ready("b", 2);
  now += std::chrono::seconds(1);
  s.submit(3, "a");  // a is now the more recently used
  s.finished(3);
  fx.take();
  s.submit(4, "d");
  EXPECT_EQ(fx.take(), (Calls{"busy b", "stop b swap"}));
  s.worker_stopped("b");
  EXPECT_EQ(fx.take(), (Calls{"start d"}));
  s.worker_ready("d");
  EXPECT_EQ(fx.take(), (Calls{"grant 4"}));
  EXPECT_EQ(residents(), (Names{"a", "d"}));
}

TEST_F(ResidencyTest, AnIdleResidentIsEvictedBeforeABusyOneEvenIfUsedMoreRecently) {
  make_ready("a", 1);
  make_ready("b", 2);
  s.submit(3, "a");  // a busy, b idle and more recently loaded... and a the most recently used
  fx.take();
  now += std::chrono::seconds(1);
  s.submit(4, "b");
  s.finished(4);  // b is now the most recently used, but idle
  fx.take();
  s.submit(5, "d");
  EXPECT_EQ(fx.take(), (Calls{"busy b", "stop b swap"})) << "a has a request in flight";
}

TEST_F(ResidencyTest, ABusyVictimDrainsWhileNewRequestsForItQueueAndTheOtherResidentKeepsServing) {
  make_ready("a", 1);
  make_ready("b", 2);
  s.submit(3, "a");
  s.submit(4, "b");
  fx.take();
  s.submit(5, "c");  // needs 6: one of the two must go; both busy: the least recently used (a) drains
  s.submit(6, "a");  // queues behind the eviction: a waiting model cannot be starved
  s.submit(7, "b");  // b is not a victim: served at once
  EXPECT_EQ(fx.take(), (Calls{"grant 7"}));
  s.finished(3);
  EXPECT_EQ(fx.take(), (Calls{"stop a swap"}));
  s.worker_stopped("a");
  EXPECT_EQ(fx.take(), (Calls{"start c"}));
  s.worker_ready("c");
  EXPECT_EQ(fx.take(), (Calls{"grant 5"}));
  EXPECT_EQ(s.queued_for("a"), 1u) << "a waits for room again";
}

TEST_F(ResidencyTest, APinnedResidentIsNeverEvictedNorStoppedByItsTtl) {
  policies["a"].pinned = true;
  make_ready("a", 1);
  make_ready("b", 2);
  now += std::chrono::seconds(5);
  s.submit(3, "b");
  s.finished(3);  // a is the least recently used, but pinned
  fx.take();
  s.submit(4, "d");
  EXPECT_EQ(fx.take(), (Calls{"busy b", "stop b swap"}));
  s.idle_expired("a");
  EXPECT_TRUE(fx.take().empty());
  s.retire("a", StopReason::pressure);  // protection of the machine goes before a pin
  EXPECT_EQ(fx.take(), (Calls{"busy a", "stop a pressure"}));
}

TEST_F(ResidencyTest, AModelThatCannotFitBesidePinnedOnesIsDeniedNotQueuedForever) {
  policies["a"].pinned = true;
  policies["b"].pinned = true;
  make_ready("a", 1);
  make_ready("b", 2);
  s.submit(3, "c");
  s.submit(4, "big");  // 11 > budget even alone
  EXPECT_EQ(fx.take(), (Calls{"deny 3 c no_room", "deny 4 big no_room"}));
  EXPECT_EQ(residents(), (Names{"a", "b"}));
}

TEST_F(ResidencyTest, AFailedStartEvictsNobody) {
  make_ready("a", 1);
  s.submit(2, "b");
  EXPECT_EQ(fx.take(), (Calls{"start b"}));
  s.worker_start_failed("b");
  EXPECT_EQ(fx.take(), (Calls{"deny 2 b start_failed"}));
  EXPECT_EQ(residents(), (Names{"a"}));
  s.submit(3, "a");
  EXPECT_EQ(fx.take(), (Calls{"busy a", "grant 3"}));
}

TEST_F(ResidencyTest, AStoppingWorkerStillCountsUntilItIsGone) {
  make_ready("a", 1);
  make_ready("b", 2);
  s.retire("a", StopReason::unload);
  EXPECT_EQ(fx.take(), (Calls{"busy a", "stop a unload"}));
  s.submit(3, "c");  // 4 (b) + 4 (a, still stopping) + 6 > 10: waits for a to be gone, evicts nobody else
  EXPECT_EQ(fx.take(), (Calls{}));
  s.worker_stopped("a");
  EXPECT_EQ(fx.take(), (Calls{"start c"}));
}

TEST_F(ResidencyTest, PreloadStartsWhatFitsWithoutEvicting) {
  s.preload("a");
  s.preload("b");
  s.preload("c");  // 4 + 4 + 6: no room without an eviction, and preload evicts nobody
  EXPECT_EQ(fx.take(), (Calls{"start a", "start b"}));
  s.worker_ready("a");
  s.worker_ready("b");
  EXPECT_EQ(fx.take(), (Calls{"idle a", "idle b"}));
}

TEST_F(ResidencyTest, RetiringOneModelLeavesTheOthersServing) {
  make_ready("a", 1);
  make_ready("b", 2);
  s.retire("b", StopReason::reload);
  s.submit(3, "a");
  EXPECT_EQ(fx.take(), (Calls{"busy b", "stop b reload", "busy a", "grant 3"}));
}

TEST_F(ResidencyTest, MaxResidentBoundsTheCountEvenWhenMemoryWouldAllowMore) {
  s.set_options(options(2));
  budget = 100;
  make_ready("a", 1);
  make_ready("b", 2);
  s.submit(3, "d");
  EXPECT_EQ(fx.take(), (Calls{"busy a", "stop a swap"}));
  s.set_options(options(0));  // bounded by memory alone
  s.worker_stopped("a");
  s.submit(4, "a");
  EXPECT_EQ(fx.take(), (Calls{"start d", "start a"}));
}

// Random traffic for three models over a budget that holds two at most: the budget and the count are never
// exceeded, in-flight requests are never stopped under, and every request is granted or denied in the end.
TEST_F(ResidencyTest, RandomTrafficNeverExceedsTheBudgetAndServesEveryRequest) {
  struct Checker : SchedulerEffects {
    ResidencyTest* t;
    std::map<std::string, std::string> state;  // model -> starting | ready | stopping
    std::map<RequestId, std::string> granted;  // in flight -> model
    std::map<RequestId, std::string> submitted;
    std::vector<std::string> to_ready, to_stop;
    size_t denied = 0, served = 0;
    void start_worker(const std::string& m) override {
      ASSERT_FALSE(state.count(m));
      state[m] = "starting";
      int total = 0;
      for (const auto& [name, st] : state) total += t->size[name];
      ASSERT_LE(total, t->budget) << "starting " << m;
      to_ready.push_back(m);
    }
    void stop_worker(const std::string& m, StopReason) override {
      for (const auto& [id, model] : granted) ASSERT_NE(model, m) << "stopped under request " << id;
      state[m] = "stopping";
      to_stop.push_back(m);
    }
    void grant(RequestId id) override {
      ASSERT_EQ(state[submitted[id]], "ready");
      granted[id] = submitted[id];
    }
    void deny(RequestId, const std::string&, DenyReason) override { ++denied; }
    void worker_idle(const std::string&) override {}
    void worker_busy(const std::string&) override {}
  } checker;
  checker.t = this;
  Scheduler r(checker, options(0));
  uint32_t seed = 12345;
  auto rnd = [&](uint32_t n) {
    seed = seed * 1664525u + 1013904223u;
    return (seed >> 8) % n;
  };
  const std::string models[] = {"a", "b", "c"};
  RequestId next = 1;
  for (int step = 0; step < 3000; ++step) {
    now += std::chrono::milliseconds(10);
    switch (rnd(4)) {
      case 0: {
        RequestId id = next++;
        checker.submitted[id] = models[rnd(3)];
        if (r.try_grant(id, checker.submitted[id])) checker.granted[id] = checker.submitted[id];
        else r.submit(id, checker.submitted[id]);
        break;
      }
      case 1:
        if (!checker.granted.empty()) {
          auto it = std::next(checker.granted.begin(), rnd(static_cast<uint32_t>(checker.granted.size())));
          RequestId id = it->first;
          checker.granted.erase(it);
          ++checker.served;
          r.finished(id);
        }
        break;
      case 2:
        if (!checker.to_ready.empty()) {
          std::string m = checker.to_ready.front();
          checker.to_ready.erase(checker.to_ready.begin());
          checker.state[m] = "ready";
          r.worker_ready(m);
        }
        break;
      case 3:
        if (!checker.to_stop.empty()) {
          std::string m = checker.to_stop.front();
          checker.to_stop.erase(checker.to_stop.begin());
          checker.state.erase(m);
          r.worker_stopped(m);
        }
        break;
    }
    ASSERT_FALSE(HasFatalFailure()) << "step " << step;
  }
  // Drain: finish everything, let every start and stop complete.
  for (int round = 0; round < 1000 && (r.queued() > 0 || !checker.granted.empty() || !checker.to_ready.empty() ||
                                       !checker.to_stop.empty());
       ++round) {
    while (!checker.granted.empty()) {
      RequestId id = checker.granted.begin()->first;
      checker.granted.erase(checker.granted.begin());
      ++checker.served;
      r.finished(id);
    }
    while (!checker.to_ready.empty()) {
      std::string m = checker.to_ready.front();
      checker.to_ready.erase(checker.to_ready.begin());
      checker.state[m] = "ready";
      r.worker_ready(m);
    }
    while (!checker.to_stop.empty()) {
      std::string m = checker.to_stop.front();
      checker.to_stop.erase(checker.to_stop.begin());
      checker.state.erase(m);
      r.worker_stopped(m);
    }
  }
  EXPECT_EQ(r.queued(), 0u);
  EXPECT_EQ(checker.served + checker.denied, next - 1) << "every request granted and finished, or denied";
  EXPECT_GT(r.swaps(), 10u);
  EXPECT_LE(r.resident(), 2u);
}

// A rule that is not about size (llama-swap's swap group: a and b never together) is met by evicting the one
// worker in the way, not every less recently used one before it.
TEST_F(ResidencyTest, OnlyTheWorkerInTheWayIsEvictedWhenARuleBesidesMemoryDecides) {
  budget = 100;
  auto o = options(0);
  o.fits = [](const std::string& m, const std::vector<std::string>& staying) {
    for (const auto& r : staying)
      if ((m == "a" && r == "b") || (m == "b" && r == "a")) return false;
    return true;
  };
  s.set_options(o);
  make_ready("c", 1);  // the least recently used
  make_ready("d", 2);
  make_ready("a", 3);
  s.submit(4, "b");
  EXPECT_EQ(fx.take(), (Calls{"busy a", "stop a swap"})) << "c and d stay: b only conflicts with a";
  s.worker_stopped("a");
  EXPECT_EQ(fx.take(), (Calls{"start b"}));
  s.worker_ready("b");
  EXPECT_EQ(fx.take(), (Calls{"grant 4"}));
  EXPECT_EQ(residents(), (Names{"c", "d", "b"}));
}

// With memory, no more than make room: going down the LRU order, a small idle resident (a) alone does not make room
// and the next one (c, large) does; then a is not needed after all and stays.
TEST_F(ResidencyTest, AVictimThatTurnsOutNotNeededStays) {
  budget = 14;
  s.set_options(options(0));
  make_ready("a", 1);  // 4, the least recently used
  make_ready("c", 2);  // 6
  make_ready("b", 3);  // 4: 14 in all
  size["e"] = 6;
  s.submit(4, "e");
  EXPECT_EQ(fx.take(), (Calls{"busy c", "stop c swap"})) << "evicting c alone makes room: a stays";
  s.worker_stopped("c");
  EXPECT_EQ(fx.take(), (Calls{"start e"}));
  EXPECT_EQ(residents(), (Names{"a", "b", "e"}));
}

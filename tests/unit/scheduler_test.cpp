// Scheduler policy, driven through its event interface with a fake that records every effect.
#include "proxy/policy/scheduler.hpp"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

using namespace llmux;

namespace {

struct Recorder : SchedulerEffects {
  std::vector<std::string> calls;
  void start_worker(const std::string& m) override { calls.push_back("start " + m); }
  void stop_worker(StopReason r) override { calls.push_back(std::string("stop ") + to_string(r)); }
  void grant(RequestId id) override { calls.push_back("grant " + std::to_string(id)); }
  void deny(RequestId id, const std::string& m, DenyReason why) override {
    static const char* names[] = {"start_failed", "shutdown", "queue_full"};
    calls.push_back("deny " + std::to_string(id) + " " + m + " " + names[static_cast<int>(why)]);
  }
  void wake_at(SchedClock::time_point t) override {
    wake = t;
    calls.push_back("wake");
  }
  SchedClock::time_point wake{};
  void worker_idle() override { calls.push_back("idle"); }
  void worker_busy() override { calls.push_back("busy"); }
  std::vector<std::string> take() { return std::exchange(calls, {}); }
};

using Calls = std::vector<std::string>;

// One request loads `model`, is served and finishes: the worker is ready and idle; the effects are discarded.
void load_and_idle(Scheduler& s, Recorder& fx, const std::string& model, RequestId first) {
  s.submit(first, model);
  s.worker_ready();
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
  s.worker_ready();
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
  s.worker_ready();
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
  s.worker_stopped();
  EXPECT_EQ(fx.take(), (Calls{"start b"}));
  s.worker_ready();
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
  s.worker_stopped();
  s.worker_ready();
  EXPECT_EQ(fx.take(), (Calls{"start b", "grant 3"}));
  s.finished(3);
  EXPECT_EQ(fx.take(), (Calls{"stop swap"}));
  s.worker_stopped();
  s.worker_ready();
  EXPECT_EQ(fx.take(), (Calls{"start a", "grant 4", "grant 5"}));  // grouped
}

TEST_F(SchedulerTest, QueuedRequestsForLoadingModelAreGroupedAcrossOthers) {
  s.submit(1, "a");
  s.submit(2, "b");
  s.submit(3, "a");
  s.submit(4, "c");
  s.submit(5, "b");
  EXPECT_EQ(fx.take(), (Calls{"start a"}));
  s.worker_ready();
  EXPECT_EQ(fx.take(), (Calls{"grant 1", "grant 3"}));
  s.finished(1);
  s.finished(3);
  s.worker_stopped();
  s.worker_ready();
  EXPECT_EQ(fx.take(), (Calls{"stop swap", "start b", "grant 2", "grant 5"}));  // oldest waiting model next
  s.finished(2);
  s.finished(5);
  s.worker_stopped();
  EXPECT_EQ(fx.take(), (Calls{"stop swap", "start c"}));
}

TEST_F(SchedulerTest, FailedStartDeniesItsWaitersAndMovesOn) {
  s.submit(1, "a");
  s.submit(2, "b");
  s.submit(3, "a");
  fx.take();
  s.worker_start_failed();
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
  s.worker_ready();
  EXPECT_EQ(fx.take(), (Calls{"grant 2"}));
}

TEST_F(SchedulerTest, IdleExpiryStopsOnlyAnIdleWorker) {
  make_ready("a", 1);
  s.submit(2, "a");
  fx.take();
  s.idle_expired();  // stale timer: a request is in flight
  EXPECT_TRUE(fx.take().empty());
  s.finished(2);
  EXPECT_EQ(fx.take(), (Calls{"idle"}));
  s.idle_expired();
  EXPECT_EQ(fx.take(), (Calls{"busy", "stop ttl"}));  // busy disarms the TTL timer
  s.worker_stopped();
  EXPECT_EQ(s.phase(), WorkerPhase::none);
  EXPECT_TRUE(fx.take().empty());
}

TEST_F(SchedulerTest, WorkerExitWhileServingOrphansInFlightAndRestartsOnNextRequest) {
  make_ready("a", 1);
  s.submit(2, "a");
  fx.take();
  s.worker_stopped();  // crashed
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
  s.retire();
  EXPECT_TRUE(fx.take().empty());  // 2 still in flight
  s.submit(3, "a");                // queued: the worker is being retired
  EXPECT_TRUE(fx.take().empty());
  s.finished(2);
  EXPECT_EQ(fx.take(), (Calls{"stop unload"}));
  s.worker_stopped();
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
  s.worker_stopped();
  EXPECT_TRUE(fx.take().empty());
}

TEST_F(SchedulerTest, UnknownIdsAreIgnored) {
  s.finished(42);
  s.cancel(42);
  s.worker_ready();
  s.worker_start_failed();
  EXPECT_TRUE(fx.take().empty());
}

// ---- limits and anti-thrash policy, with a fake clock ----

namespace {

class PolicyTest : public ::testing::Test {
 protected:
  Recorder fx;
  SchedClock::time_point now{};
  std::map<std::string, ModelPolicy> policies;
  Scheduler s{fx, SchedulerOptions{[this](const std::string& m) { return policies[m]; }, 2,
                                   [this] { return now; }, false}};

  void make_ready(const std::string& model, RequestId first) { load_and_idle(s, fx, model, first); }
};

}  // namespace

TEST_F(PolicyTest, MaxConcurrencyQueuesTheRestAndGrantsAsRequestsFinish) {
  policies["a"].max_concurrency = 2;
  s.submit(1, "a");
  s.submit(2, "a");
  s.submit(3, "a");
  s.worker_ready();
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
  s.retire();
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
  s.worker_stopped();
  EXPECT_EQ(fx.take(), (Calls{"busy", "grant 2", "stop swap", "start c"}));
}

TEST_F(PolicyTest, StarvationBoundBeatsPriority) {
  policies["hi"].priority = 10;  // maxSwapsWaited is 2 in this fixture
  s.submit(1, "hi");
  s.worker_ready();
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
  s.worker_stopped();
  EXPECT_EQ(s.model(), "lo");
  s.worker_ready();
  s.finished(2);
  s.worker_stopped();
  EXPECT_EQ(s.model(), "x");  // x reached the bound too, before the waiting hi
}

TEST_F(PolicyTest, MinResidencyKeepsAFreshModelServingThenSwapsWhenTheWindowCloses) {
  policies["a"].min_residency = std::chrono::seconds(10);
  s.submit(1, "a");
  s.worker_ready();
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
  s.worker_ready();
  s.submit(2, "b");
  now += std::chrono::milliseconds(3500);
  s.finished(1);
  fx.take();
  EXPECT_EQ(fx.wake, now + std::chrono::milliseconds(500)) << "the window ends before the idle hold would";
}

TEST_F(PolicyTest, NaiveFifoSwapsInStrictArrivalOrder) {
  Recorder naive_fx;
  Scheduler naive(naive_fx, SchedulerOptions{{}, 3, {}, true});
  naive.submit(1, "a");
  naive.submit(2, "b");
  naive.submit(3, "a");
  naive.worker_ready();
  EXPECT_EQ(naive_fx.take(), (Calls{"start a", "grant 1"}));  // 3 is behind 2: no grouping
  naive.finished(1);
  naive.worker_stopped();
  naive.worker_ready();
  EXPECT_EQ(naive_fx.take(), (Calls{"stop swap", "start b", "grant 2"}));
  naive.finished(2);
  naive.worker_stopped();
  EXPECT_EQ(naive_fx.take(), (Calls{"stop swap", "start a"}));
  EXPECT_EQ(naive.swaps(), 3u);
}

TEST_F(PolicyTest, ResidentWhoseOwnRequestsComeFirstIsNotStoppedAndReloaded) {
  policies["a"].max_concurrency = 1;
  s.submit(1, "a");
  s.worker_ready();
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
  s.worker_ready();
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
  s.worker_stopped();
  EXPECT_EQ(s.model(), "b");
}

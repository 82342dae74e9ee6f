// The connection cap's pure decisions: room left by a descriptor limit, which connection to close at the cap,
// when an episode at the cap is logged, and the accept backoff.
#include "proxy/policy/conn_limits.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

using namespace llmux;
using namespace std::chrono_literals;

TEST(ConnectionCap, DescriptorLimitLeavesTwoDescriptorsAConnectionAfterTheReserve) {
  EXPECT_EQ(connections_for_descriptors(1024), (1024 - kFdReserve) / 2);
  EXPECT_EQ(connections_for_descriptors(256), 96u);
  EXPECT_EQ(connections_for_descriptors(65536), (65536 - kFdReserve) / 2);
  EXPECT_EQ(connections_for_descriptors(kFdReserve), 1u) << "never 0, never an underflow";
  EXPECT_EQ(connections_for_descriptors(0), 1u);
  EXPECT_GT(connections_for_descriptors(UINT64_MAX), 1'000'000u) << "RLIM_INFINITY: maxConnections decides";
}

TEST(ConnectionTable, ClosesTheLongestIdleAndNeverABusyOne) {
  ConnectionTable<std::string> t;
  auto a = t.add(), b = t.add(), c = t.add();
  t.bind(a, "a");
  t.bind(b, "b");
  t.bind(c, "c");
  EXPECT_EQ(t.open(), 3u);
  EXPECT_EQ(t.over_cap(2), std::nullopt) << "all busy: nothing is cut";
  EXPECT_FALSE(t.may_accept(3)) << "at the cap with none idle: accepting waits";
  EXPECT_TRUE(t.may_accept(4));

  t.idle(b);  // b idles first, then c
  t.idle(c);
  EXPECT_TRUE(t.may_accept(3)) << "an idle connection can make room";
  EXPECT_EQ(t.over_cap(3), std::nullopt) << "at the cap, not over it";
  EXPECT_EQ(t.over_cap(2), "b") << "the longest idle goes first";
  EXPECT_EQ(t.open(), 2u) << "a closing connection no longer counts";
  EXPECT_EQ(t.listed(), 3u) << "but stays listed until its session ends";
  EXPECT_EQ(t.over_cap(2), std::nullopt);

  t.busy(c);  // c's next request arrives: busy again
  t.idle(a);
  EXPECT_EQ(t.take_longest_idle(), "a") << "c is busy; a is the only idle one";
  EXPECT_EQ(t.take_longest_idle(), std::nullopt);
  EXPECT_EQ(t.open(), 1u);
}

TEST(ConnectionTable, IdleOrderIsWhenTheyLastBecameIdle) {
  ConnectionTable<int> t;
  auto one = t.add(), two = t.add();
  t.bind(one, 1);
  t.bind(two, 2);
  t.idle(one);
  t.idle(two);
  t.busy(one);  // one serves a request and idles again: now the newest idle
  t.idle(one);
  EXPECT_EQ(t.take_longest_idle(), 2);
  EXPECT_EQ(t.take_longest_idle(), 1);
}

TEST(ConnectionTable, AClosingConnectionStaysClosingUntilRemoved) {
  ConnectionTable<int> t;
  auto h = t.add();
  t.bind(h, 7);
  t.idle(h);
  ASSERT_EQ(t.take_longest_idle(), 7);
  t.busy(h);  // its pending read ends (the socket was closed): the session marks it busy on the way out
  t.idle(h);
  EXPECT_EQ(t.open(), 0u);
  EXPECT_EQ(t.take_longest_idle(), std::nullopt);
  t.remove(h);
  EXPECT_EQ(t.listed(), 0u);
}

TEST(ConnectionTable, RemoveFromEveryState) {
  ConnectionTable<int> t;
  auto busy = t.add(), idle = t.add(), closing = t.add();
  t.idle(idle);
  t.idle(closing);
  t.busy(idle);
  t.idle(idle);  // order: closing, idle
  ASSERT_TRUE(t.take_longest_idle().has_value());
  t.remove(busy);
  t.remove(idle);
  t.remove(closing);
  EXPECT_EQ(t.listed(), 0u);
  std::vector<int> seen;
  t.for_each_open([&](int c) { seen.push_back(c); });
  EXPECT_TRUE(seen.empty());
}

TEST(CapEpisode, OneLineWhenReachedAndOneWhenEasedBelowThreeQuarters) {
  CapEpisode e;
  const auto t0 = std::chrono::steady_clock::time_point{} + 1h;
  EXPECT_FALSE(e.reached(15, 16, t0));
  EXPECT_TRUE(e.reached(16, 16, t0));
  EXPECT_FALSE(e.reached(16, 16, t0)) << "the same episode";
  e.closed_idle();
  e.closed_idle();
  e.paused();
  EXPECT_EQ(e.eased(15, 16, t0), std::nullopt) << "wobbling under the cap is still the episode";
  EXPECT_EQ(e.eased(12, 16, t0), std::nullopt);
  EXPECT_FALSE(e.reached(16, 16, t0 + 1s));
  auto s = e.eased(11, 16, t0 + 3s);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->closed_idle, 2u);
  EXPECT_EQ(s->pauses, 1u);
  EXPECT_EQ(s->lasted, 3s);
  EXPECT_EQ(e.eased(0, 16, t0 + 4s), std::nullopt) << "said once";
  EXPECT_TRUE(e.reached(16, 16, t0 + 5s)) << "a new episode";
  EXPECT_EQ(e.eased(0, 16, t0 + 6s)->closed_idle, 0u) << "counts start again";
}

TEST(AcceptBackoff, DoublesFrom5msTo1sAndLogsOncePerBurst) {
  AcceptBackoff b;
  std::vector<long> delays;
  int logged = 0;
  for (int i = 0; i < 12; ++i) {
    auto f = b.failed();
    delays.push_back(static_cast<long>(f.delay.count()));
    logged += f.log;
  }
  EXPECT_EQ(delays, (std::vector<long>{5, 10, 20, 40, 80, 160, 320, 640, 1000, 1000, 1000, 1000}));
  EXPECT_EQ(logged, 1) << "only the first error of a burst is logged";
  b.succeeded();
  auto again = b.failed();
  EXPECT_EQ(again.delay, 5ms) << "a success starts the delay over";
  EXPECT_FALSE(again.log) << "but not the burst: failures alternating with successes are one burst";
  EXPECT_EQ(b.ended(), 13u) << "the burst's count, for its closing line";
  EXPECT_EQ(b.ended(), 0u);
  auto next = b.failed();
  EXPECT_TRUE(next.log) << "a new burst";
  EXPECT_EQ(next.delay, 5ms);
  EXPECT_EQ(next.errors, 1u);
}

TEST(AcceptBackoff, ALongBurstIsRemindedOfRarely) {
  AcceptBackoff b;
  uint64_t logged = 0;
  for (uint64_t i = 0; i < 3 * AcceptBackoff::kRemindEvery; ++i) logged += b.failed().log;
  EXPECT_EQ(logged, 4u) << "the first error, then every kRemindEvery";
  EXPECT_EQ(b.errors(), 3 * AcceptBackoff::kRemindEvery);
}

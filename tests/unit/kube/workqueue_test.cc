// Work queue and rate limiters: client-go semantics, timed with ManualClock.
#include "controller/kube/workqueue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>
#include <vector>

#include "controller/kube/rate_limiter.h"
#include "tests/support/testing/process.h"

namespace vmrelease::kube {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::WaitFor;

// A limiter that never delays, so queue tests see only what they schedule.
class NoDelay final : public RateLimiter {
 public:
  Duration When(const std::string& item) override {
    std::lock_guard g(mu_);
    ++requeues_[item];
    return Duration::zero();
  }
  void Forget(const std::string& item) override {
    std::lock_guard g(mu_);
    requeues_.erase(item);
  }
  int NumRequeues(const std::string& item) override {
    std::lock_guard g(mu_);
    return requeues_[item];
  }

 private:
  std::mutex mu_;
  std::map<std::string, int> requeues_;
};

WorkQueue::Options Opts(ManualClock& clock, std::unique_ptr<RateLimiter> rl = nullptr) {
  WorkQueue::Options o;
  o.name = "test";
  o.clock = &clock;
  o.rate_limiter = rl ? std::move(rl) : std::make_unique<NoDelay>();
  return o;
}

TEST(RateLimiterTest, ItemExponentialDoublesFrom5msAndCapsAt1000s) {
  ItemExponentialRateLimiter rl(milliseconds(5), seconds(1000));
  std::vector<Duration> got;
  for (int i = 0; i < 5; ++i) got.push_back(rl.When("a"));
  EXPECT_EQ(got, (std::vector<Duration>{milliseconds(5), milliseconds(10), milliseconds(20),
                                        milliseconds(40), milliseconds(80)}));
  EXPECT_EQ(rl.NumRequeues("a"), 5);
  // 5ms·2^17 = 655.36s, 2^18 → 1310s > 1000s: capped from the 19th failure on.
  for (int i = 5; i < 18; ++i) rl.When("a");
  EXPECT_EQ(rl.When("a"), seconds(1000));
  EXPECT_EQ(rl.When("a"), seconds(1000));
  for (int i = 0; i < 2000; ++i) rl.When("a");  // huge exponents saturate, never overflow
  EXPECT_EQ(rl.When("a"), seconds(1000));
  // Items are independent; Forget resets one.
  EXPECT_EQ(rl.When("b"), milliseconds(5));
  rl.Forget("a");
  EXPECT_EQ(rl.NumRequeues("a"), 0);
  EXPECT_EQ(rl.When("a"), milliseconds(5));
}

TEST(RateLimiterTest, TokenBucketAllowsBurstThenTenPerSecond) {
  ManualClock clock;
  BucketRateLimiter rl(clock, 10.0, 100);
  for (int i = 0; i < 100; ++i) ASSERT_EQ(rl.When("x" + std::to_string(i)), Duration::zero()) << i;
  // Reservations queue up: the 101st waits 100ms, the 102nd 200ms.
  EXPECT_EQ(std::chrono::duration_cast<milliseconds>(rl.When("y")), milliseconds(100));
  EXPECT_EQ(std::chrono::duration_cast<milliseconds>(rl.When("z")), milliseconds(200));
  // After 1s the deficit of 2 has refilled and 8 more tokens accrued.
  clock.Advance(seconds(1));
  for (int i = 0; i < 8; ++i) EXPECT_EQ(rl.When("w"), Duration::zero()) << i;
  EXPECT_EQ(std::chrono::duration_cast<milliseconds>(rl.When("w")), milliseconds(100));
  // The bucket never holds more than the burst.
  clock.Advance(seconds(3600));
  for (int i = 0; i < 100; ++i) ASSERT_EQ(rl.When("v"), Duration::zero());
  EXPECT_GT(rl.When("v"), Duration::zero());
}

TEST(RateLimiterTest, DefaultControllerLimiterIsMaxOfBoth) {
  ManualClock clock;
  auto rl = DefaultControllerRateLimiter(clock);
  // Per-item backoff dominates for a single failing item while the bucket is full.
  EXPECT_EQ(rl->When("a"), milliseconds(5));
  EXPECT_EQ(rl->When("a"), milliseconds(10));
  EXPECT_EQ(rl->NumRequeues("a"), 2);
  // Drain the bucket with distinct items: then the bucket's delay dominates.
  for (int i = 0; i < 98; ++i) rl->When("item" + std::to_string(i));
  EXPECT_EQ(std::chrono::duration_cast<milliseconds>(rl->When("fresh")), milliseconds(100));
  rl->Forget("a");
  EXPECT_EQ(rl->NumRequeues("a"), 0);
}

TEST(WorkQueueTest, DeduplicatesAndKeepsFifoOrder) {
  ManualClock clock;
  WorkQueue q(Opts(clock));
  q.Add("a");
  q.Add("b");
  q.Add("a");
  q.Add("c");
  q.Add("b");
  EXPECT_EQ(q.Len(), 3u);
  EXPECT_EQ(q.Get(), "a");
  EXPECT_EQ(q.Get(), "b");
  EXPECT_EQ(q.Get(), "c");
  EXPECT_EQ(q.Len(), 0u);
  EXPECT_EQ(q.NumProcessing(), 3u);
}

TEST(WorkQueueTest, ReAddDuringProcessingRunsOnceMoreAfterDone) {
  ManualClock clock;
  WorkQueue q(Opts(clock));
  q.Add("a");
  ASSERT_EQ(q.Get(), "a");
  // Added (twice) while being processed: not handed out, not queued yet.
  q.Add("a");
  q.Add("a");
  EXPECT_EQ(q.Len(), 0u);
  q.Add("b");
  ASSERT_EQ(q.Get(), "b");  // other items are not blocked
  q.Done("b");
  EXPECT_EQ(q.Len(), 0u);
  q.Done("a");
  EXPECT_EQ(q.Len(), 1u);  // exactly once more
  EXPECT_EQ(q.Get(), "a");
  q.Done("a");
  EXPECT_EQ(q.Len(), 0u);
}

TEST(WorkQueueTest, LowPriorityItemsWaitForEveryNormalOneAndMoveUpWhenAddedNormally) {
  ManualClock clock;
  WorkQueue q(Opts(clock));
  // A resync queues everything at low priority; then watch events arrive.
  for (const char* k : {"r1", "r2", "r3", "r4"}) q.AddLowPriority(k);
  q.Add("event1");
  q.AddLowPriority("event1");  // no move down
  q.Add("r3");                 // an event for an object the resync queued: moves up
  q.Add("r3");
  q.Add("event2");
  EXPECT_EQ(q.Len(), 6u);
  EXPECT_EQ(q.Get(), "event1");
  EXPECT_EQ(q.Get(), "r3");
  EXPECT_EQ(q.Get(), "event2");
  EXPECT_EQ(q.Get(), "r1");  // then the resync, in its order, without r3
  EXPECT_EQ(q.Get(), "r2");
  q.Add("event3");  // arrives while the resync is being worked off: goes first
  EXPECT_EQ(q.Get(), "event3");
  EXPECT_EQ(q.Get(), "r4");
  EXPECT_EQ(q.Len(), 0u);

  // Added while being processed: queued again after Done at the priority it was
  // last asked for, once.
  q.AddLowPriority("r1");
  q.Done("r1");
  q.Add("x");
  EXPECT_EQ(q.Get(), "x");
  EXPECT_EQ(q.Get(), "r1");
  q.AddLowPriority("r2");
  q.Add("r2");
  q.Done("r2");
  q.AddLowPriority("y");
  EXPECT_EQ(q.Get(), "r2") << "moved up while it was being processed";
  EXPECT_EQ(q.Get(), "y");
  EXPECT_EQ(q.Len(), 0u);
}

TEST(WorkQueueTest, NeverHandsTheSameItemToTwoWorkers) {
  ManualClock clock;
  WorkQueue q(Opts(clock));
  constexpr int kKeys = 8;
  std::mutex mu;
  std::set<std::string> in_flight;
  std::atomic<int> violations{0}, processed{0};
  std::vector<std::thread> workers;
  for (int w = 0; w < 4; ++w) {
    workers.emplace_back([&] {
      while (auto item = q.Get()) {
        {
          std::lock_guard g(mu);
          if (!in_flight.insert(*item).second) ++violations;
        }
        std::this_thread::yield();
        {
          std::lock_guard g(mu);
          in_flight.erase(*item);
        }
        ++processed;
        q.Done(*item);
      }
    });
  }
  for (int i = 0; i < 20000; ++i) q.Add("k" + std::to_string(i % kKeys));
  ASSERT_TRUE(WaitFor([&] { return q.Len() == 0 && q.NumProcessing() == 0; }, seconds(30)));
  q.ShutDown();
  for (auto& t : workers) t.join();
  EXPECT_EQ(violations, 0);
  EXPECT_GE(processed, kKeys);
}

TEST(WorkQueueTest, AddAfterWaitsForTheClockAndOrdersByReadyTime) {
  ManualClock clock;
  WorkQueue q(Opts(clock));
  q.AddAfter("late", milliseconds(300));
  q.AddAfter("early", milliseconds(100));
  q.AddAfter("mid", milliseconds(200));
  EXPECT_EQ(q.NumWaiting(), 3u);
  clock.AwaitWaiters(1);
  clock.Advance(milliseconds(99));
  EXPECT_EQ(q.Len(), 0u);  // nothing is due yet
  clock.Advance(milliseconds(250));
  ASSERT_TRUE(WaitFor([&] { return q.Len() == 3; }, seconds(10)));
  EXPECT_EQ(q.Get(), "early");
  EXPECT_EQ(q.Get(), "mid");
  EXPECT_EQ(q.Get(), "late");
}

TEST(WorkQueueTest, AddAfterKeepsTheEarlierTimeForAWaitingItem) {
  ManualClock clock;
  WorkQueue q(Opts(clock));
  q.AddAfter("a", seconds(10));
  q.AddAfter("a", seconds(1));   // earlier wins
  q.AddAfter("a", seconds(30));  // later is ignored
  EXPECT_EQ(q.NumWaiting(), 1u);
  clock.AwaitWaiters(1);
  clock.Advance(seconds(1));
  ASSERT_TRUE(WaitFor([&] { return q.Len() == 1; }, seconds(10)));
  EXPECT_EQ(q.NumWaiting(), 0u);
  // A zero or negative delay is an immediate add.
  q.AddAfter("b", Duration::zero());
  EXPECT_EQ(q.Len(), 2u);
}

TEST(WorkQueueTest, AddRateLimitedFollowsTheLimiterAndForgetResets) {
  ManualClock clock;
  WorkQueue q(
      Opts(clock, std::make_unique<ItemExponentialRateLimiter>(milliseconds(5), seconds(1000))));
  // Fail three times: delays 5, 10, 20 ms.
  const std::vector<milliseconds> expected{milliseconds(5), milliseconds(10), milliseconds(20)};
  q.Add("a");
  for (milliseconds d : expected) {
    ASSERT_EQ(q.Get(), "a");
    q.AddRateLimited("a");
    q.Done("a");
    clock.AwaitWaiters(1);
    clock.Advance(d - milliseconds(1));
    EXPECT_EQ(q.Len(), 0u) << "ready too early for delay " << d.count() << "ms";
    clock.Advance(milliseconds(1));
    ASSERT_TRUE(WaitFor([&] { return q.Len() == 1; }, seconds(10)));
  }
  EXPECT_EQ(q.NumRequeues("a"), 3);
  ASSERT_EQ(q.Get(), "a");
  q.Forget("a");
  q.Done("a");
  EXPECT_EQ(q.NumRequeues("a"), 0);
  // After Forget the next failure starts from 5ms again.
  q.AddRateLimited("a");
  clock.AwaitWaiters(1);
  clock.Advance(milliseconds(5));
  ASSERT_TRUE(WaitFor([&] { return q.Len() == 1; }, seconds(10)));
}

TEST(WorkQueueTest, AddRateLimitedHonoursAMinimumDelay) {
  ManualClock clock;
  WorkQueue q(
      Opts(clock, std::make_unique<ItemExponentialRateLimiter>(milliseconds(5), seconds(1000))));
  q.AddRateLimited("a", seconds(2));  // e.g. Retry-After: 2
  clock.AwaitWaiters(1);
  clock.Advance(milliseconds(1999));
  EXPECT_EQ(q.Len(), 0u);
  clock.Advance(milliseconds(1));
  ASSERT_TRUE(WaitFor([&] { return q.Len() == 1; }, seconds(10)));
}

TEST(WorkQueueTest, ShutDownDrainsQueuedItemsThenStops) {
  ManualClock clock;
  WorkQueue q(Opts(clock));
  q.Add("a");
  q.Add("b");
  q.AddAfter("delayed", seconds(1));
  q.ShutDown();
  EXPECT_TRUE(q.ShuttingDown());
  q.Add("ignored");
  q.AddAfter("ignored-too", milliseconds(1));
  EXPECT_EQ(q.NumWaiting(), 0u);  // delayed items are dropped
  EXPECT_EQ(q.Get(), "a");
  EXPECT_EQ(q.Get(), "b");
  EXPECT_EQ(q.Get(), std::nullopt);
  EXPECT_EQ(q.Get(), std::nullopt);
}

TEST(WorkQueueTest, ShutDownWakesBlockedGetters) {
  ManualClock clock;
  WorkQueue q(Opts(clock));
  std::atomic<int> returned{0};
  std::vector<std::thread> getters;
  for (int i = 0; i < 3; ++i) {
    getters.emplace_back([&] {
      EXPECT_EQ(q.Get(), std::nullopt);
      ++returned;
    });
  }
  q.ShutDown();
  for (auto& t : getters) t.join();
  EXPECT_EQ(returned, 3);
}

TEST(WorkQueueTest, ShutDownWithDrainWaitsForInFlightItems) {
  ManualClock clock;
  WorkQueue q(Opts(clock));
  q.Add("a");
  ASSERT_EQ(q.Get(), "a");
  std::atomic<bool> drained{false};
  std::thread t([&] {
    q.ShutDownWithDrain();
    drained = true;
  });
  ASSERT_TRUE(WaitFor([&] { return q.ShuttingDown(); }, seconds(10)));
  EXPECT_FALSE(drained);
  q.Done("a");
  t.join();
  EXPECT_TRUE(drained);
}

// Records what the queue reports, to check the metrics hooks.
class RecordingMetrics final : public MetricsProvider {
 public:
  struct Queue final : WorkQueueMetrics {
    std::mutex mu;
    int64_t depth = 0, adds = 0, retries = 0;
    std::vector<double> latencies, durations;
    double unfinished = -1, longest = -1;
    void SetDepth(int64_t d) override {
      std::lock_guard g(mu);
      depth = d;
    }
    void IncAdds() override {
      std::lock_guard g(mu);
      ++adds;
    }
    void ObserveQueueLatency(double s) override {
      std::lock_guard g(mu);
      latencies.push_back(s);
    }
    void ObserveWorkDuration(double s) override {
      std::lock_guard g(mu);
      durations.push_back(s);
    }
    void IncRetries() override {
      std::lock_guard g(mu);
      ++retries;
    }
    void SetUnfinishedWork(double s) override {
      std::lock_guard g(mu);
      unfinished = s;
    }
    void SetLongestRunningProcessor(double s) override {
      std::lock_guard g(mu);
      longest = s;
    }
  };
  Queue* queue = nullptr;
  std::unique_ptr<WorkQueueMetrics> NewWorkQueueMetrics(const std::string&) override {
    auto q = std::make_unique<Queue>();
    queue = q.get();
    return q;
  }
  std::unique_ptr<ReconcileMetrics> NewReconcileMetrics(const std::string& n) override {
    return NullMetrics().NewReconcileMetrics(n);
  }
  std::unique_ptr<LeaderElectionMetrics> NewLeaderElectionMetrics(const std::string& n) override {
    return NullMetrics().NewLeaderElectionMetrics(n);
  }
};

TEST(WorkQueueTest, ReportsDepthAddsLatencyDurationRetriesAndUnfinishedWork) {
  ManualClock clock;
  RecordingMetrics metrics;
  WorkQueue::Options o = Opts(clock);
  o.metrics = &metrics;
  o.metrics_update_period = milliseconds(500);
  WorkQueue q(std::move(o));
  auto& m = *metrics.queue;
  q.Add("a");
  q.Add("a");  // deduplicated: not an add
  q.Add("b");
  {
    std::lock_guard g(m.mu);
    EXPECT_EQ(m.adds, 2);
    EXPECT_EQ(m.depth, 2);
  }
  clock.Advance(milliseconds(250));
  ASSERT_EQ(q.Get(), "a");
  {
    std::lock_guard g(m.mu);
    EXPECT_EQ(m.depth, 1);
    ASSERT_EQ(m.latencies.size(), 1u);
    EXPECT_DOUBLE_EQ(m.latencies[0], 0.25);
  }
  // The delay thread refreshes the unfinished-work gauges on its period.
  clock.Advance(milliseconds(1000));
  ASSERT_TRUE(WaitFor(
      [&] {
        std::lock_guard g(m.mu);
        return m.longest >= 1.0;
      },
      seconds(10)));
  {
    std::lock_guard g(m.mu);
    EXPECT_DOUBLE_EQ(m.longest, 1.0);
    EXPECT_DOUBLE_EQ(m.unfinished, 1.0);
  }
  q.AddRateLimited("a");
  q.Done("a");
  {
    std::lock_guard g(m.mu);
    EXPECT_EQ(m.retries, 1);
    ASSERT_EQ(m.durations.size(), 1u);
    EXPECT_DOUBLE_EQ(m.durations[0], 1.0);
  }
}

}  // namespace
}  // namespace vmrelease::kube

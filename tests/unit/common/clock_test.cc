#include "controller/common/clock.h"

#include <gtest/gtest.h>

#include <thread>

namespace vmrelease {
namespace {

using namespace std::chrono_literals;

TEST(ManualClockTest, WaiterWakesOnlyWhenAdvancedPastDeadline) {
  ManualClock clock;
  std::atomic<bool> done{false};
  std::thread t([&] {
    clock.SleepFor(10s);
    done = true;
  });
  clock.AwaitWaiters(1);
  clock.Advance(5s);
  clock.AwaitWaiters(1);  // woke, re-checked, waits again
  EXPECT_FALSE(done.load());
  clock.Advance(5s);
  t.join();
  EXPECT_TRUE(done.load());
}

TEST(ManualClockTest, ManyAdvancesAndWaitersDoNotRace) {
  ManualClock clock;
  std::vector<std::thread> ts;
  for (int i = 0; i < 8; ++i)
    ts.emplace_back([&, i] { clock.SleepFor(std::chrono::seconds(i + 1)); });
  // Every sleeper computes its deadline from Now() before the clock moves.
  clock.AwaitWaiters(8);
  std::thread adv([&] {
    for (int i = 0; i < 100; ++i) clock.Advance(100ms);
  });
  adv.join();
  for (auto& t : ts) t.join();
  EXPECT_EQ(clock.Waiters(), 0);
}

TEST(Rfc3339Test, RoundTrip) {
  WallTime t;
  ASSERT_TRUE(ParseRfc3339("2026-11-27T06:24:32Z", &t));
  EXPECT_EQ(FormatRfc3339(t), "2026-11-27T06:24:32Z");
  ASSERT_TRUE(ParseRfc3339("2026-11-27T07:24:32.5+01:00", &t));
  EXPECT_EQ(FormatRfc3339(t, true), "2026-11-27T06:24:32.500000Z");
  EXPECT_FALSE(ParseRfc3339("2026-11-27 06:24:32Z", &t));
  EXPECT_FALSE(ParseRfc3339("2026-13-27T06:24:32Z", &t));
  EXPECT_FALSE(ParseRfc3339("2026-11-27T06:24:32", &t));
}

}  // namespace
}  // namespace vmrelease

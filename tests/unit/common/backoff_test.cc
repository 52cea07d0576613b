#include "controller/common/backoff.h"

#include <gtest/gtest.h>

namespace vmrelease {
namespace {

using namespace std::chrono_literals;

TEST(BackoffTest, GrowsAndCaps) {
  Backoff b({.initial = 5ms, .max = 1000s, .factor = 2.0, .jitter = 0});
  EXPECT_EQ(b.Next(), 5ms);
  EXPECT_EQ(b.Next(), 10ms);
  EXPECT_EQ(b.Next(), 20ms);
  for (int i = 0; i < 100; ++i) b.Next();
  EXPECT_EQ(b.Next(), Duration(1000s));
  b.Reset();
  EXPECT_EQ(b.Next(), 5ms);
}

TEST(BackoffTest, JitterStaysInBounds) {
  Backoff b({.initial = 1s, .max = 3s, .factor = 2.0, .jitter = 0.5});
  for (int i = 0; i < 200; ++i) {
    Duration d = b.Next();
    EXPECT_GE(d, Duration(500ms));
    EXPECT_LE(d, Duration(3s));
  }
}

}  // namespace
}  // namespace vmrelease

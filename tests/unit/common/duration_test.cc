#include "controller/common/duration.h"

#include <gtest/gtest.h>

namespace vmrelease {
namespace {

using namespace std::chrono_literals;

TEST(DurationTest, Parses) {
  EXPECT_EQ(*ParseDuration("2h"), Duration(2h));
  EXPECT_EQ(*ParseDuration("1h30m"), Duration(90min));
  EXPECT_EQ(*ParseDuration("250ms"), Duration(250ms));
  EXPECT_EQ(*ParseDuration("1.5h"), Duration(90min));
  EXPECT_EQ(*ParseDuration("0"), Duration(0));
  EXPECT_EQ(*ParseDuration("-5s"), Duration(-5s));
}

TEST(DurationTest, RejectsWithReadableError) {
  for (const char* bad : {"", "5", "h", "5d", "1..5s", "abc", "5m3"}) {
    auto d = ParseDuration(bad);
    ASSERT_FALSE(d.ok()) << bad;
    EXPECT_NE(d.status().message().find("invalid duration"), std::string::npos);
  }
}

TEST(DurationTest, FormatsLikeGo) {
  EXPECT_EQ(FormatDuration(90min), "1h30m0s");
  EXPECT_EQ(FormatDuration(250ms), "250ms");
  EXPECT_EQ(FormatDuration(0s), "0s");
  EXPECT_EQ(FormatDuration(61s), "1m1s");
}

}  // namespace
}  // namespace vmrelease

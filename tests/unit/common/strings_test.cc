#include "controller/common/strings.h"

#include <gtest/gtest.h>

#include "controller/common/json_depth.h"

namespace vmrelease {
namespace {

using namespace std::chrono_literals;

TEST(StringsTest, LowerTrimAndCompare) {
  EXPECT_EQ(AsciiLower("Retry-After ÄB"), "retry-after Äb");
  EXPECT_TRUE(EqualsIgnoreCase("InProgress", "inPROGRESS"));
  EXPECT_FALSE(EqualsIgnoreCase("InProgress", "InProgres"));
  EXPECT_EQ(Trim(" \t token\r\n"), "token");
  EXPECT_EQ(Trim(" \n"), "");
  EXPECT_TRUE(StartsWith("vmrelease.io/retry", "vmrelease.io/"));
  EXPECT_TRUE(EndsWith("disk.vhd", ".vhd"));
  EXPECT_FALSE(EndsWith("vhd", "disk.vhd"));
}

TEST(StringsTest, ReadFileNamesAMissingPath) {
  auto missing = ReadFileToString("/nonexistent/vmrelease-file");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("/nonexistent/vmrelease-file"), std::string::npos);
}

TEST(StringsTest, RetryAfterSecondsAndHttpDate) {
  WallTime now;
  ASSERT_TRUE(ParseRfc3339("2026-01-01T00:00:00Z", &now));
  EXPECT_EQ(ParseRetryAfter("10", now), std::chrono::milliseconds(10s));
  EXPECT_EQ(ParseRetryAfter(" 0 ", now), std::chrono::milliseconds(0));
  EXPECT_EQ(ParseRetryAfter("Thu, 01 Jan 2026 00:00:30 GMT", now), std::chrono::milliseconds(30s));
  EXPECT_EQ(ParseRetryAfter("Wed, 31 Dec 2025 23:00:00 GMT", now), std::chrono::milliseconds(0));
  EXPECT_EQ(ParseRetryAfter("99999999999999999999", now), std::chrono::milliseconds(24h));
  for (const char* bad : {"", "-5", "1.5", "soon", "2026-01-01T00:00:30Z"}) {
    EXPECT_FALSE(ParseRetryAfter(bad, now).has_value()) << bad;
  }
}

TEST(JsonDepthTest, MeasuresWithoutRecursion) {
  EXPECT_EQ(JsonDepth(nlohmann::json(1)), 1u);
  EXPECT_EQ(JsonDepth(nlohmann::json::object()), 1u);
  EXPECT_EQ(JsonDepth(nlohmann::json::parse(R"({"a":[1,{"b":[]}]})")), 4u);
  // 200,000 levels: far beyond any thread stack if this recursed.
  std::string text(200000, '[');
  text += std::string(200000, ']');
  const nlohmann::json deep = nlohmann::json::parse(text);
  EXPECT_EQ(JsonDepth(deep), 200000u);
  EXPECT_EQ(JsonDepth(deep, 10), 11u);
  auto where = FindDeeperThan(deep, 3, "spec.x");
  ASSERT_TRUE(where.has_value());
  EXPECT_EQ(*where, "spec.x[0][0][0]");
}

TEST(JsonDepthTest, CountsTextNestingOutsideStrings) {
  EXPECT_EQ(JsonTextDepth("1"), 0u);
  EXPECT_EQ(JsonTextDepth(R"({"a":[1,{"b":[]}]})"), 4u);
  // Brackets inside strings (escaped quotes included) do not count.
  EXPECT_EQ(JsonTextDepth(R"({"a":"[[[{\"[[["})"), 1u);
  const std::string deep = std::string(200000, '[') + std::string(200000, ']');
  EXPECT_EQ(JsonTextDepth(deep), 200000u);
  EXPECT_EQ(JsonTextDepth(deep, 10000), 10001u);
}

TEST(JsonDepthTest, NamesTheFieldPath) {
  const auto j = nlohmann::json::parse(R"({"spec":{"ok":{"a":1},"deep":{"x":[{"y":{"z":1}}]}}})");
  EXPECT_EQ(JsonDepth(j), 7u);
  EXPECT_FALSE(FindDeeperThan(j, 7, "").has_value());
  auto where = FindDeeperThan(j, 6, "");
  ASSERT_TRUE(where.has_value());
  EXPECT_EQ(*where, "spec.deep.x[0].y.z");
}

}  // namespace
}  // namespace vmrelease

namespace vmrelease {
namespace {

TEST(JsonDepthTest, ParseJsonBoundedRefusesTooDeepTextBeforeParsing) {
  auto ok = ParseJsonBounded(R"({"a":[{"b":1}]})", 3);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ((*ok)["a"][0]["b"], 1);
  auto deep =
      ParseJsonBounded(std::string(200000, '[') + std::string(200000, ']'), kMaxKubeJsonDepth);
  ASSERT_FALSE(deep.ok());
  EXPECT_EQ(deep.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(deep.status().message().find("nested deeper than 10001 levels"), std::string::npos);
  auto bad = ParseJsonBounded("{\"a\":", 10);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("parse error"), std::string::npos)
      << bad.status().message();
}

TEST(StringsTest, FirstInvalidUtf8FindsTheFirstBadSequence) {
  constexpr size_t kOk = std::string_view::npos;
  EXPECT_EQ(FirstInvalidUtf8(""), kOk);
  EXPECT_EQ(FirstInvalidUtf8("plain ascii\n\t"), kOk);
  EXPECT_EQ(FirstInvalidUtf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x9a\x80"), kOk);  // é € 🚀
  EXPECT_EQ(FirstInvalidUtf8("\xf4\x8f\xbf\xbf"), kOk);                           // U+10FFFF
  EXPECT_EQ(FirstInvalidUtf8("ab\x80"), 2u);              // a continuation byte alone
  EXPECT_EQ(FirstInvalidUtf8("ab\xc3"), 2u);              // cut short at the end
  EXPECT_EQ(FirstInvalidUtf8("\xc3("), 0u);               // bad continuation
  EXPECT_EQ(FirstInvalidUtf8("x\xc0\xaf"), 1u);           // overlong '/'
  EXPECT_EQ(FirstInvalidUtf8("\xe0\x80\xaf"), 0u);        // overlong, 3 bytes
  EXPECT_EQ(FirstInvalidUtf8("\xed\xa0\x80"), 0u);        // a UTF-16 surrogate
  EXPECT_EQ(FirstInvalidUtf8("ok\xf4\x90\x80\x80"), 2u);  // above U+10FFFF
  EXPECT_EQ(FirstInvalidUtf8("\xff"), 0u);
  EXPECT_EQ(FirstInvalidUtf8("\xe2\x82\xac\xe2\x82"), 3u);  // € then a truncated €
}

}  // namespace
}  // namespace vmrelease

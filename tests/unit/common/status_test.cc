#include "controller/common/status.h"

#include <gtest/gtest.h>

namespace vmrelease {
namespace {

StatusOr<int> Half(int x) {
  if (x % 2) return InvalidArgumentError("odd");
  return x / 2;
}

Status UseHalf(int x, int* out) {
  ASSIGN_OR_RETURN(*out, Half(x));
  RETURN_IF_ERROR(Half(*out), "halving again");
  return Status::Ok();
}

TEST(StatusTest, ContextAndMacros) {
  int v = 0;
  EXPECT_TRUE(UseHalf(8, &v).ok());
  EXPECT_EQ(v, 4);
  Status s = UseHalf(6, &v);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "halving again: odd");
  EXPECT_EQ(UseHalf(3, &v).message(), "odd");
  EXPECT_EQ(s.ToString(), "INVALID_ARGUMENT: halving again: odd");
}

TEST(StatusTest, StatusOrFromOkIsInternal) {
  StatusOr<int> s{Status::Ok()};
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kInternal);
}

TEST(StatusTest, DetailSurvivesContext) {
  Status s(StatusCode::kResourceExhausted, "throttled",
           ErrorDetail{429, "TooManyRequests", std::chrono::milliseconds(1500), "c1"});
  Status c = s.WithContext("ctx");
  EXPECT_EQ(c.detail().http_status, 429);
  EXPECT_EQ(c.detail().retry_after->count(), 1500);
}

}  // namespace
}  // namespace vmrelease

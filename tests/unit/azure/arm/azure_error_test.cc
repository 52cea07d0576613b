// ARM error bodies → Status, and Status → the error kind reconcilers act on.
#include "controller/azure/azure_error.h"

#include <gtest/gtest.h>

#include "controller/common/log.h"

namespace vmrelease::azure {
namespace {

using namespace std::chrono_literals;

http::Response Resp(int status, std::string body, http::Headers h = {}) {
  return http::Response{.status = status, .headers = std::move(h), .body = std::move(body)};
}

TEST(ArmErrorBodyTest, ParsesWrappedErrorWithDetails) {
  auto e = ParseArmErrorBody(R"({"error":{"code":"InvalidParameter","message":"bad size",
      "target":"properties.hardwareProfile","details":[{"code":"Sku","message":"not offered"},
      {"message":"only message"}],"additionalInfo":[{"type":"x","info":{}}]}})");
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->code, "InvalidParameter");
  EXPECT_EQ(e->message, "bad size");
  EXPECT_EQ(e->target, "properties.hardwareProfile");
  EXPECT_EQ(e->details, (std::vector<std::string>{"Sku: not offered", "only message"}));
}

TEST(ArmErrorBodyTest, ParsesUnwrappedForm) {
  auto e = ParseArmErrorBody(R"({"code":"NotFound","message":"gone"})");
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->code, "NotFound");
  EXPECT_EQ(e->message, "gone");
}

TEST(ArmErrorBodyTest, RejectsNonErrorBodies) {
  EXPECT_FALSE(ParseArmErrorBody("").has_value());
  EXPECT_FALSE(ParseArmErrorBody("<html>bad gateway</html>").has_value());
  EXPECT_FALSE(ParseArmErrorBody(R"({"id":"/subscriptions/x"})").has_value());
  EXPECT_FALSE(ParseArmErrorBody("[1,2]").has_value());
}

TEST(RetryAfterTest, SecondsOrHttpDate) {
  EXPECT_EQ(ParseRetryAfter({{"Retry-After", "17"}}), std::chrono::milliseconds(17000));
  EXPECT_EQ(ParseRetryAfter({{"retry-after", "0"}}), std::chrono::milliseconds(0));
  EXPECT_FALSE(ParseRetryAfter({}).has_value());
  // An HTTP-date in the past means "now" (RFC 9110 allows either form).
  EXPECT_EQ(ParseRetryAfter({{"Retry-After", "Wed, 21 Oct 2015 07:28:00 GMT"}}),
            std::chrono::milliseconds(0));
  EXPECT_FALSE(ParseRetryAfter({{"Retry-After", "-3"}}).has_value());
  EXPECT_FALSE(ParseRetryAfter({{"Retry-After", "5s"}}).has_value());
}

TEST(ArmHttpErrorTest, KeepsCodeMessageStatusRetryAfterAndCorrelation) {
  Status s = ArmHttpError(Resp(429, R"({"error":{"code":"TooManyRequests","message":"slow down"}})",
                               {{"Retry-After", "30"}, {"x-ms-correlation-request-id", "corr-1"}}),
                          "GET /subscriptions/s/x");
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(s.detail().http_status, 429);
  EXPECT_EQ(s.detail().reason, "TooManyRequests");
  EXPECT_EQ(s.detail().retry_after, std::chrono::milliseconds(30000));
  EXPECT_EQ(s.detail().correlation_id, "corr-1");
  EXPECT_NE(s.message().find("GET /subscriptions/s/x: HTTP 429: TooManyRequests: slow down"),
            std::string::npos)
      << s.message();
  EXPECT_EQ(ClassifyArmError(s), ArmErrorKind::kThrottled);
  EXPECT_TRUE(IsTransientArmError(s));
}

TEST(ArmHttpErrorTest, NonJsonBodyIsKeptShort) {
  Status s = ArmHttpError(Resp(502, std::string(1000, 'x')), "PUT /a");
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_LT(s.message().size(), 260u);
  EXPECT_EQ(ClassifyArmError(s), ArmErrorKind::kServer);
}

TEST(ArmHttpErrorTest, MessagesAreRedacted) {
  log::RegisterSecret("leaky-secret-value-42");
  Status s = ArmHttpError(
      Resp(
          400,
          R"({"error":{"code":"InvalidParameter","message":"secret leaky-secret-value-42 in sig=abc&x"}})"),
      "PUT /a");
  EXPECT_EQ(s.message().find("leaky-secret-value-42"), std::string::npos) << s.message();
}

struct ClassifyCase {
  int http_status;
  std::string code;
  std::string message;
  StatusCode want_code;
  ArmErrorKind want_kind;
};

class ArmClassifyTest : public ::testing::TestWithParam<ClassifyCase> {};

TEST_P(ArmClassifyTest, HttpErrors) {
  const ClassifyCase& c = GetParam();
  Status s = ArmHttpError(
      Resp(c.http_status,
           nlohmann::json{{"error", {{"code", c.code}, {"message", c.message}}}}.dump()),
      "X /y");
  EXPECT_EQ(s.code(), c.want_code) << s.ToString();
  EXPECT_EQ(ClassifyArmError(s), c.want_kind) << ArmErrorKindName(ClassifyArmError(s));
  EXPECT_EQ(s.detail().reason, c.code);
}

INSTANTIATE_TEST_SUITE_P(
    Table, ArmClassifyTest,
    ::testing::Values(
        ClassifyCase{404, "ResourceNotFound", "nope", StatusCode::kNotFound,
                     ArmErrorKind::kNotFound},
        ClassifyCase{409, "Conflict", "busy", StatusCode::kAborted, ArmErrorKind::kConflict},
        ClassifyCase{412, "PreconditionFailed", "exists", StatusCode::kFailedPrecondition,
                     ArmErrorKind::kConflict},
        ClassifyCase{429, "TooManyRequests", "slow", StatusCode::kResourceExhausted,
                     ArmErrorKind::kThrottled},
        ClassifyCase{409, "QuotaExceeded", "cores", StatusCode::kResourceExhausted,
                     ArmErrorKind::kQuota},
        ClassifyCase{400, "OperationNotAllowed",
                     "Operation could not be completed as it results in exceeding approved "
                     "standardDSv5Family Cores quota",
                     StatusCode::kResourceExhausted, ArmErrorKind::kQuota},
        ClassifyCase{409, "SkuNotAvailable", "no capacity", StatusCode::kResourceExhausted,
                     ArmErrorKind::kQuota},
        ClassifyCase{400, "InvalidParameter", "bad", StatusCode::kInvalidArgument,
                     ArmErrorKind::kInvalid},
        ClassifyCase{401, "ExpiredAuthenticationToken", "old", StatusCode::kUnauthenticated,
                     ArmErrorKind::kAuth},
        ClassifyCase{403, "AuthorizationFailed", "no role", StatusCode::kPermissionDenied,
                     ArmErrorKind::kAuth},
        ClassifyCase{500, "InternalServerError", "oops", StatusCode::kUnavailable,
                     ArmErrorKind::kServer},
        ClassifyCase{503, "ServiceUnavailable", "later", StatusCode::kUnavailable,
                     ArmErrorKind::kServer}));

TEST(ArmClassifyTest, TransportAndOperationFailures) {
  EXPECT_EQ(ClassifyArmError(UnavailableError("connection refused")), ArmErrorKind::kTransport);
  EXPECT_EQ(ClassifyArmError(DeadlineExceededError("timed out")), ArmErrorKind::kTransport);
  EXPECT_EQ(ClassifyArmError(Status()), ArmErrorKind::kNone);
  EXPECT_EQ(ClassifyArmError(AlreadyExistsError("version exists")), ArmErrorKind::kConflict);

  Status failed = ArmOperationError({.code = "OSProvisioningTimedOut", .message = "no boot"},
                                    "PUT /vm", "corr-9");
  EXPECT_EQ(failed.code(), StatusCode::kUnknown);
  EXPECT_EQ(failed.detail().reason, "OSProvisioningTimedOut");
  EXPECT_EQ(failed.detail().correlation_id, "corr-9");
  EXPECT_EQ(ClassifyArmError(failed), ArmErrorKind::kOperationFailed);
  EXPECT_FALSE(IsTransientArmError(failed));
  EXPECT_NE(failed.message().find("operation failed: OSProvisioningTimedOut: no boot"),
            std::string::npos);

  Status quota = ArmOperationError({.code = "QuotaExceeded", .message = "cores"}, "PUT /vm");
  EXPECT_EQ(ClassifyArmError(quota), ArmErrorKind::kQuota);
  Status conflict = ArmOperationError({.code = "Conflict", .message = "x"}, "PUT /vm");
  EXPECT_EQ(ClassifyArmError(conflict), ArmErrorKind::kConflict);
}

}  // namespace
}  // namespace vmrelease::azure

// The LRO state machine (initial response → how to poll; poll response → next
// state), OperationRef (de)serialisation, and the blocking wait helper.
#include "controller/azure/lro.h"

#include <gtest/gtest.h>

#include <deque>

#include "controller/azure/azure_error.h"

namespace vmrelease::azure {
namespace {

using namespace std::chrono_literals;

const std::string kRes =
    "https://management.azure.com/subscriptions/s/resourceGroups/g/providers/"
    "Microsoft.Compute/virtualMachines/vm?api-version=2025-11-01";
const std::string kAsync =
    "https://management.azure.com/subscriptions/s/providers/Microsoft.Compute/locations/westus/"
    "operations/op1?api-version=2025-11-01";
const std::string kLoc =
    "https://management.azure.com/subscriptions/s/providers/Microsoft.Compute/locations/westus/"
    "operationResults/op1?monitor=true&api-version=2025-11-01";

http::Response R(int status, std::string body = "", http::Headers h = {}) {
  return {.status = status, .headers = std::move(h), .body = std::move(body)};
}

// --- initial responses -------------------------------------------------------------

struct InitialCase {
  std::string name;
  std::string method;
  http::Response response;
  OperationState want_state;
  OperationRef::Via want_via;
  Duration want_retry_after;
};

class InitialResponseTest : public ::testing::TestWithParam<InitialCase> {};

TEST_P(InitialResponseTest, Interprets) {
  const InitialCase& c = GetParam();
  Operation op = InterpretInitialResponse(c.method, kRes, c.response, 15s);
  EXPECT_EQ(op.state, c.want_state) << OperationStateName(op.state);
  if (op.state == OperationState::kInProgress) {
    EXPECT_EQ(op.ref.via(), c.want_via);
    EXPECT_EQ(op.retry_after, c.want_retry_after);
  }
  EXPECT_EQ(op.ref.method, c.method);
  EXPECT_EQ(op.ref.resource_url, kRes);
}

INSTANTIATE_TEST_SUITE_P(
    Table, InitialResponseTest,
    ::testing::Values(
        InitialCase{"PutCreatingWithAsyncHeader", "PUT",
                    R(201, R"({"properties":{"provisioningState":"Creating"}})",
                      {{"Azure-AsyncOperation", kAsync}, {"Retry-After", "10"}}),
                    OperationState::kInProgress, OperationRef::Via::kAsyncOperation, 10s},
        InitialCase{"PutCreatingNoHeadersPollsResource", "PUT",
                    R(201, R"({"properties":{"provisioningState":"Creating"}})"),
                    OperationState::kInProgress, OperationRef::Via::kResource, 15s},
        InitialCase{"PutSucceededSynchronously", "PUT",
                    R(201, R"({"properties":{"provisioningState":"Succeeded"}})"),
                    OperationState::kSucceeded, OperationRef::Via::kResource, 0s},
        InitialCase{"PutWithoutProvisioningStateIsDone", "PUT", R(200, R"({"name":"x"})"),
                    OperationState::kSucceeded, OperationRef::Via::kResource, 0s},
        InitialCase{"PutFailedSynchronously", "PUT",
                    R(200, R"({"properties":{"provisioningState":"Failed"}})"),
                    OperationState::kFailed, OperationRef::Via::kResource, 0s},
        InitialCase{
            "Put200LocationIsNotAPollingUrl", "PUT",
            R(200, R"({"properties":{"provisioningState":"Succeeded"}})", {{"Location", kLoc}}),
            OperationState::kSucceeded, OperationRef::Via::kResource, 0s},
        InitialCase{"DeleteAcceptedWithLocation", "DELETE", R(202, "", {{"Location", kLoc}}),
                    OperationState::kInProgress, OperationRef::Via::kLocation, 15s},
        InitialCase{"DeleteAcceptedWithBothPrefersAsync", "DELETE",
                    R(202, "", {{"Location", kLoc}, {"Azure-AsyncOperation", kAsync}}),
                    OperationState::kInProgress, OperationRef::Via::kAsyncOperation, 15s},
        InitialCase{"DeleteDoneWith200", "DELETE", R(200), OperationState::kSucceeded,
                    OperationRef::Via::kResource, 0s},
        InitialCase{"DeleteAcceptedNoHeadersPollsResource", "DELETE", R(202),
                    OperationState::kInProgress, OperationRef::Via::kResource, 15s},
        InitialCase{"PostRunAccepted", "POST",
                    R(202, "", {{"Azure-AsyncOperation", kAsync}, {"Retry-After", "3"}}),
                    OperationState::kInProgress, OperationRef::Via::kAsyncOperation, 3s},
        InitialCase{"PatchAcceptedWithLocation", "PATCH", R(202, "", {{"Location", kLoc}}),
                    OperationState::kInProgress, OperationRef::Via::kLocation, 15s}),
    [](const auto& info) { return info.param.name; });

// --- poll responses ----------------------------------------------------------------

OperationRef Ref(const std::string& method, std::string async, std::string loc) {
  return OperationRef{.method = method,
                      .resource_url = kRes,
                      .async_url = std::move(async),
                      .location_url = std::move(loc)};
}

TEST(PollResponseTest, AsyncInProgressCarriesRetryAfterAndPercent) {
  auto step = InterpretPollResponse(
      Ref("PUT", kAsync, ""),
      R(200, R"({"status":"InProgress","percentComplete":40})", {{"Retry-After", "7"}}), 15s);
  ASSERT_TRUE(step.ok()) << step.status().ToString();
  EXPECT_EQ(step->op.state, OperationState::kInProgress);
  EXPECT_EQ(step->op.retry_after, 7s);
  EXPECT_EQ(step->op.percent_complete, 40.0);
  EXPECT_EQ(step->op.status_text, "InProgress");
  EXPECT_TRUE(step->final_get_url.empty());
}

TEST(PollResponseTest, AnyNonTerminalStatusIsInProgress) {
  for (const char* s : {"Running", "Accepted", "Creating", "Updating", "Deleting", "NotStarted"}) {
    auto step = InterpretPollResponse(Ref("PUT", kAsync, ""),
                                      R(200, nlohmann::json{{"status", s}}.dump()), 15s);
    ASSERT_TRUE(step.ok());
    EXPECT_EQ(step->op.state, OperationState::kInProgress) << s;
  }
}

TEST(PollResponseTest, AsyncSucceededPutNeedsFinalGetOfResource) {
  auto step =
      InterpretPollResponse(Ref("PUT", kAsync, kLoc), R(200, R"({"status":"succeeded"})"), 15s);
  ASSERT_TRUE(step.ok());
  EXPECT_EQ(step->op.state, OperationState::kSucceeded);
  EXPECT_EQ(step->final_get_url, kRes);
}

TEST(PollResponseTest, AsyncSucceededPostReadsLocationElseProperties) {
  auto with_loc =
      InterpretPollResponse(Ref("POST", kAsync, kLoc), R(200, R"({"status":"Succeeded"})"), 15s);
  ASSERT_TRUE(with_loc.ok());
  EXPECT_EQ(with_loc->final_get_url, kLoc);
  auto no_loc =
      InterpretPollResponse(Ref("POST", kAsync, ""),
                            R(200, R"({"status":"Succeeded","properties":{"output":"hi"}})"), 15s);
  ASSERT_TRUE(no_loc.ok());
  EXPECT_TRUE(no_loc->final_get_url.empty());
  EXPECT_EQ(no_loc->op.result["output"], "hi");
}

TEST(PollResponseTest, AsyncSucceededDeleteHasNoResult) {
  auto step =
      InterpretPollResponse(Ref("DELETE", kAsync, kLoc), R(200, R"({"status":"Succeeded"})"), 15s);
  ASSERT_TRUE(step.ok());
  EXPECT_EQ(step->op.state, OperationState::kSucceeded);
  EXPECT_TRUE(step->final_get_url.empty());
  EXPECT_TRUE(step->op.result.is_null());
}

TEST(PollResponseTest, AsyncFailedSurfacesAzureCodeAndMessage) {
  auto step = InterpretPollResponse(
      Ref("PUT", kAsync, ""),
      R(200,
        R"({"status":"Failed","error":{"code":"ReplicationFailed","message":"region eastus unavailable"}})",
        {{"x-ms-correlation-request-id", "corr-5"}}),
      15s);
  ASSERT_TRUE(step.ok());
  EXPECT_EQ(step->op.state, OperationState::kFailed);
  EXPECT_EQ(step->op.error.detail().reason, "ReplicationFailed");
  EXPECT_EQ(step->op.error.detail().correlation_id, "corr-5");
  EXPECT_NE(step->op.error.message().find("region eastus unavailable"), std::string::npos);
  EXPECT_EQ(ClassifyArmError(step->op.error), ArmErrorKind::kOperationFailed);
}

TEST(PollResponseTest, AsyncCanceledIsFailedWithoutErrorBody) {
  auto step =
      InterpretPollResponse(Ref("POST", kAsync, ""), R(200, R"({"status":"Canceled"})"), 15s);
  ASSERT_TRUE(step.ok());
  EXPECT_EQ(step->op.state, OperationState::kFailed);
  EXPECT_EQ(step->op.error.detail().reason, "Canceled");
}

TEST(PollResponseTest, AsyncStatusReadErrorsAreNotOperationOutcomes) {
  auto missing = InterpretPollResponse(
      Ref("PUT", kAsync, ""), R(404, R"({"error":{"code":"NotFound","message":"x"}})"), 15s);
  EXPECT_FALSE(missing.ok());
  auto garbage = InterpretPollResponse(Ref("PUT", kAsync, ""), R(200, "{}"), 15s);
  EXPECT_FALSE(garbage.ok());
}

TEST(PollResponseTest, LocationFollowsNewLocationHeader) {
  const std::string next = kLoc + "&page=2";
  auto step = InterpretPollResponse(Ref("DELETE", "", kLoc),
                                    R(202, "", {{"Location", next}, {"Retry-After", "4"}}), 15s);
  ASSERT_TRUE(step.ok());
  EXPECT_EQ(step->op.state, OperationState::kInProgress);
  EXPECT_EQ(step->op.ref.location_url, next);
  EXPECT_EQ(step->op.retry_after, 4s);
}

TEST(PollResponseTest, LocationDoneAndFailed) {
  auto done = InterpretPollResponse(Ref("DELETE", "", kLoc), R(204), 15s);
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(done->op.state, OperationState::kSucceeded);

  auto put_done = InterpretPollResponse(
      Ref("PUT", "", kLoc), R(200, R"({"properties":{"provisioningState":"Succeeded"}})"), 15s);
  ASSERT_TRUE(put_done.ok());
  EXPECT_EQ(put_done->op.result["properties"]["provisioningState"], "Succeeded");
  EXPECT_TRUE(put_done->final_get_url.empty());

  auto failed = InterpretPollResponse(
      Ref("POST", "", kLoc), R(400, R"({"error":{"code":"VMAgentNotReady","message":"agent"}})"),
      15s);
  ASSERT_TRUE(failed.ok());
  EXPECT_EQ(failed->op.state, OperationState::kFailed);
  EXPECT_EQ(failed->op.error.detail().reason, "VMAgentNotReady");
}

TEST(PollResponseTest, ResourcePolling) {
  auto creating = InterpretPollResponse(
      Ref("PUT", "", ""), R(200, R"({"properties":{"provisioningState":"Creating"}})"), 15s);
  ASSERT_TRUE(creating.ok());
  EXPECT_EQ(creating->op.state, OperationState::kInProgress);
  auto invisible = InterpretPollResponse(Ref("PUT", "", ""), R(404), 15s);
  ASSERT_TRUE(invisible.ok());
  EXPECT_EQ(invisible->op.state, OperationState::kInProgress);
  auto failed = InterpretPollResponse(
      Ref("PUT", "", ""), R(200, R"({"properties":{"provisioningState":"Failed"}})"), 15s);
  ASSERT_TRUE(failed.ok());
  EXPECT_EQ(failed->op.state, OperationState::kFailed);
  EXPECT_EQ(failed->op.error.detail().reason, "ProvisioningStateFailed");
  auto gone = InterpretPollResponse(Ref("DELETE", "", ""), R(404), 15s);
  ASSERT_TRUE(gone.ok());
  EXPECT_EQ(gone->op.state, OperationState::kSucceeded);
  auto deleting = InterpretPollResponse(
      Ref("DELETE", "", ""), R(200, R"({"properties":{"provisioningState":"Deleting"}})"), 15s);
  ASSERT_TRUE(deleting.ok());
  EXPECT_EQ(deleting->op.state, OperationState::kInProgress);
}

// --- OperationRef ---------------------------------------------------------------------

TEST(OperationRefTest, RoundTripsExactly) {
  for (const OperationRef& ref : {Ref("PUT", kAsync, ""), Ref("DELETE", "", kLoc),
                                  Ref("POST", kAsync, kLoc), Ref("PATCH", "", "")}) {
    const std::string s = ref.Serialize();
    auto back = OperationRef::Parse(s);
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(*back, ref);
    EXPECT_EQ(back->poll_url(), ref.poll_url());
    EXPECT_EQ(back->Serialize(), s);
  }
}

TEST(OperationRefTest, PollUrlPreference) {
  EXPECT_EQ(Ref("PUT", kAsync, kLoc).poll_url(), kAsync);
  EXPECT_EQ(Ref("PUT", "", kLoc).poll_url(), kLoc);
  EXPECT_EQ(Ref("PUT", "", "").poll_url(), kRes);
}

TEST(OperationRefTest, RejectsMalformed) {
  EXPECT_FALSE(OperationRef::Parse("").ok());
  EXPECT_FALSE(OperationRef::Parse("not json").ok());
  EXPECT_FALSE(OperationRef::Parse(R"({"v":2,"method":"PUT","resource":"https://a/b"})").ok());
  EXPECT_FALSE(OperationRef::Parse(R"({"v":1,"method":"GET","resource":"https://a/b"})").ok());
  EXPECT_FALSE(OperationRef::Parse(R"({"v":1,"method":"PUT"})").ok());
  EXPECT_FALSE(
      OperationRef::Parse(R"({"v":1,"method":"PUT","resource":"https://a/b","async":"ftp://x"})")
          .ok());
  EXPECT_FALSE(OperationRef::Parse(R"({"v":1,"method":"PUT","resource":7})").ok());
}

// --- WaitForOperation -------------------------------------------------------------------

class ScriptedPoller final : public OperationPoller {
 public:
  std::deque<StatusOr<Operation>> answers;
  int polls = 0;
  StatusOr<Operation> Poll(const OperationRef&) override {
    ++polls;
    auto a = answers.front();
    answers.pop_front();
    return a;
  }
};

Operation InProgress(Duration retry_after) {
  Operation op;
  op.ref = Ref("PUT", kAsync, "");
  op.retry_after = retry_after;
  return op;
}

TEST(WaitForOperationTest, SleepsRetryAfterBetweenPolls) {
  ManualClock clock;
  std::vector<Duration> slept;
  Sleeper sleep = [&](Duration d) {
    slept.push_back(d);
    clock.Advance(d);
  };
  ScriptedPoller poller;
  poller.answers.push_back(InProgress(20s));
  Operation done = InProgress(0s);
  done.state = OperationState::kSucceeded;
  done.result = {{"ok", true}};
  poller.answers.push_back(done);
  auto r = WaitForOperation(poller, InProgress(10s), clock, sleep, 1h);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->result["ok"], true);
  EXPECT_EQ(poller.polls, 2);
  EXPECT_EQ(slept, (std::vector<Duration>{10s, 20s}));
}

TEST(WaitForOperationTest, FailedOperationIsTheError) {
  ManualClock clock;
  ScriptedPoller poller;
  Operation failed = InProgress(0s);
  failed.state = OperationState::kFailed;
  failed.error = ArmOperationError({.code = "Boom", .message = "it broke"}, "PUT /x");
  poller.answers.push_back(failed);
  auto r = WaitForOperation(
      poller, InProgress(1s), clock, [&](Duration d) { clock.Advance(d); }, 1h);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().detail().reason, "Boom");
}

TEST(WaitForOperationTest, TimesOutOnClockTime) {
  ManualClock clock;
  ScriptedPoller poller;
  for (int i = 0; i < 10; ++i) poller.answers.push_back(InProgress(30s));
  auto r = WaitForOperation(
      poller, InProgress(30s), clock, [&](Duration d) { clock.Advance(d); }, 100s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_EQ(poller.polls, 4);  // at 30, 60, 90 and (capped) 100 seconds
}

TEST(WaitForOperationTest, PollErrorsPropagate) {
  ManualClock clock;
  ScriptedPoller poller;
  poller.answers.push_back(UnavailableError("down"));
  auto r = WaitForOperation(
      poller, InProgress(1s), clock, [&](Duration d) { clock.Advance(d); }, 1h);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace vmrelease::azure

// ArmClient against a scripted local server: retry policy (429/5xx/transport,
// Retry-After, backoff, bounds) on a ManualClock, 401 handling, the origin
// check on polling URLs, and request/correlation ids in logs.
#include "controller/azure/arm_client.h"

#include <gtest/gtest.h>

#include <deque>
#include <mutex>
#include <thread>

#include "controller/azure/azure_error.h"
#include "controller/common/log.h"
#include "controller/http/server.h"

namespace vmrelease::azure {
namespace {

using namespace std::chrono_literals;

struct Scripted {
  int status = 200;
  http::Headers headers;
  std::string body;
  std::chrono::milliseconds delay{0};  // hold the answer (client timeouts)
};

struct Seen {
  std::string method;
  std::string path;
  std::map<std::string, std::string> params;
  http::Headers headers;
  std::string body;
};

class ScriptedServer {
 public:
  ScriptedServer() {
    auto s = http::Server::Start({}, [this](const http::ServerRequest& req, http::Responder& res) {
      Scripted next;
      {
        std::lock_guard g(mu_);
        seen_.push_back({req.method, req.path, req.params, req.headers, req.body});
        if (!script_.empty()) {
          next = script_.front();
          script_.pop_front();
        } else {
          next = fallback_;
        }
      }
      if (next.delay.count() > 0) std::this_thread::sleep_for(next.delay);
      http::Headers h = next.headers;
      h.Set("x-ms-correlation-request-id", "corr-" + std::to_string(seen().size()));
      h.Set("x-ms-request-id", "req-" + std::to_string(seen().size()));
      if (!next.body.empty()) h.Set("Content-Type", "application/json");
      res.Send(next.status, h, next.body);
    });
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    server_ = std::move(*s);
  }
  void Add(Scripted s) {
    std::lock_guard g(mu_);
    script_.push_back(std::move(s));
  }
  void SetFallback(Scripted s) {
    std::lock_guard g(mu_);
    fallback_ = std::move(s);
  }
  std::vector<Seen> seen() const {
    std::lock_guard g(mu_);
    return seen_;
  }
  std::string url() const { return server_->base_url(); }

 private:
  mutable std::mutex mu_;
  std::deque<Scripted> script_;
  Scripted fallback_{.status = 200, .body = "{}"};
  std::vector<Seen> seen_;
  std::unique_ptr<http::Server> server_;
};

class CountingCredential final : public TokenCredential {
 public:
  StatusOr<AccessToken> GetToken(const std::string& scope) override {
    std::lock_guard g(mu_);
    scopes.push_back(scope);
    return AccessToken{.token = "tok-" + std::to_string(generation), .expires_on = {}};
  }
  void Invalidate(const std::string&) override {
    std::lock_guard g(mu_);
    ++invalidations;
    ++generation;
  }
  std::string Describe() const override { return "counting"; }
  std::mutex mu_;
  std::vector<std::string> scopes;
  int invalidations = 0;
  int generation = 1;
};

class ArmClientTest : public ::testing::Test {
 protected:
  std::unique_ptr<ArmClient> Client(RetryPolicy retry = {},
                                    std::chrono::milliseconds timeout = 5s) {
    return std::make_unique<ArmClient>(cred_, ArmClientOptions{.base_url = server_.url(),
                                                               .clock = &clock_,
                                                               .sleep =
                                                                   [this](Duration d) {
                                                                     sleeps_.push_back(d);
                                                                     clock_.Advance(d);
                                                                   },
                                                               .retry = retry,
                                                               .request_timeout = timeout});
  }
  static Scripted Error(int status, const std::string& code, http::Headers h = {}) {
    return {
        .status = status,
        .headers = std::move(h),
        .body =
            nlohmann::json{{"error", {{"code", code}, {"message", code + " happened"}}}}.dump()};
  }

  ScriptedServer server_;
  CountingCredential cred_;
  ManualClock clock_;
  std::vector<Duration> sleeps_;
};

TEST_F(ArmClientTest, RetriesThrottlingHonouringRetryAfterWithOneClientRequestId) {
  server_.Add(Error(429, "TooManyRequests", {{"Retry-After", "7"}}));
  server_.Add(Error(503, "ServiceUnavailable", {{"Retry-After", "3"}}));
  server_.Add({.status = 200, .body = R"({"name":"vm1"})"});
  auto arm = Client();
  auto r =
      arm->Get("/subscriptions/s/resourceGroups/g/providers/Microsoft.Compute/virtualMachines/vm1",
               kComputeApiVersion, {{"$expand", "instanceView"}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)["name"], "vm1");
  EXPECT_EQ(sleeps_, (std::vector<Duration>{7s, 3s}));
  const auto seen = server_.seen();
  ASSERT_EQ(seen.size(), 3u);
  const std::string id = seen[0].headers.Get("x-ms-client-request-id");
  EXPECT_EQ(id.size(), 36u);
  for (const auto& s : seen) {
    EXPECT_EQ(s.headers.Get("x-ms-client-request-id"), id);
    EXPECT_EQ(s.headers.Get("Authorization"), "Bearer tok-1");
    EXPECT_EQ(s.params.at("api-version"), kComputeApiVersion);
    EXPECT_EQ(s.params.at("$expand"), "instanceView");
  }
  EXPECT_EQ(arm->stats().retries, 2);
  EXPECT_EQ(arm->stats().attempts, 3);
  EXPECT_EQ(cred_.scopes.front(), kArmScope);
}

TEST_F(ArmClientTest, ExponentialBackoffWithJitterWhenNoRetryAfter) {
  for (int i = 0; i < 3; ++i) server_.Add(Error(500, "InternalServerError"));
  auto arm = Client(
      {.max_attempts = 5, .backoff = {.initial = 1s, .max = 60s, .factor = 2, .jitter = 0.2}});
  ASSERT_TRUE(arm->Get("/subscriptions/s", "2020-01-01").ok());
  ASSERT_EQ(sleeps_.size(), 3u);
  const Duration base[] = {1s, 2s, 4s};
  for (int i = 0; i < 3; ++i) {
    EXPECT_GE(sleeps_[i], base[i] * 8 / 10) << i;
    EXPECT_LE(sleeps_[i], base[i] * 12 / 10) << i;
  }
}

TEST_F(ArmClientTest, AttemptsAreBoundedPerCallAndTheLastErrorIsReturned) {
  // Every attempt fails differently, so the error returned shows which one it was.
  server_.Add(Error(503, "ServiceUnavailable"));
  server_.Add(Error(429, "TooManyRequests"));
  server_.Add(Error(500, "InternalServerError"));
  server_.Add(Error(502, "BadGateway"));
  server_.SetFallback(Error(504, "GatewayTimeout"));  // a fifth attempt would get this
  auto arm = Client({.max_attempts = 4, .backoff = {.initial = 1s, .max = 1s}});
  auto r = arm->Get("/subscriptions/s", "2020-01-01");
  ASSERT_FALSE(r.ok());
  auto seen = server_.seen();
  ASSERT_EQ(seen.size(), 4u);
  EXPECT_EQ(sleeps_.size(), 3u);
  EXPECT_EQ(r.status().detail().http_status, 502) << r.status().ToString();
  EXPECT_EQ(r.status().detail().reason, "BadGateway");
  EXPECT_EQ(r.status().detail().correlation_id, "corr-4");
  EXPECT_EQ(ClassifyArmError(r.status()), ArmErrorKind::kServer);
  const std::string id = seen[0].headers.Get("x-ms-client-request-id");
  for (const auto& s : seen) EXPECT_EQ(s.headers.Get("x-ms-client-request-id"), id);
  EXPECT_EQ(arm->stats().attempts, 4);
  EXPECT_EQ(arm->stats().retries, 3);

  // The budget is per call: the next call gets its own id and its own four attempts.
  auto again = arm->Get("/subscriptions/s", "2020-01-01");
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().detail().reason, "GatewayTimeout");
  seen = server_.seen();
  ASSERT_EQ(seen.size(), 8u);
  const std::string next_id = seen[4].headers.Get("x-ms-client-request-id");
  EXPECT_NE(next_id, id);
  for (size_t i = 4; i < seen.size(); ++i)
    EXPECT_EQ(seen[i].headers.Get("x-ms-client-request-id"), next_id);
}

TEST_F(ArmClientTest, ElapsedTimeIsBounded) {
  server_.SetFallback(Error(429, "TooManyRequests", {{"Retry-After", "60"}}));
  auto arm = Client({.max_attempts = 100, .max_elapsed = 100s});
  auto r = arm->Get("/subscriptions/s", "2020-01-01");
  ASSERT_FALSE(r.ok());
  // Attempts at t=0 and t=60; a third at t=120 would exceed 100 s.
  EXPECT_EQ(server_.seen().size(), 2u);
  EXPECT_EQ(sleeps_, (std::vector<Duration>{60s}));
  EXPECT_EQ(ClassifyArmError(r.status()), ArmErrorKind::kThrottled);
  EXPECT_EQ(r.status().detail().retry_after, std::chrono::milliseconds(60000));
}

TEST_F(ArmClientTest, RetryAfterIsCapped) {
  server_.Add(Error(503, "ServiceUnavailable", {{"Retry-After", "86400"}}));
  auto arm = Client({.max_elapsed = 48h, .max_retry_after = 2min});
  ASSERT_TRUE(arm->Get("/subscriptions/s", "2020-01-01").ok());
  EXPECT_EQ(sleeps_, (std::vector<Duration>{2min}));
}

TEST_F(ArmClientTest, ClientErrorsAreNotRetried) {
  server_.Add(Error(400, "InvalidParameter"));
  server_.Add(Error(404, "ResourceNotFound"));
  server_.Add(Error(409, "Conflict"));
  auto arm = Client();
  auto bad = arm->Get("/a", "v");
  auto missing = arm->Get("/b", "v");
  auto conflict = arm->Get("/c", "v");
  EXPECT_EQ(ClassifyArmError(bad.status()), ArmErrorKind::kInvalid);
  EXPECT_EQ(ClassifyArmError(missing.status()), ArmErrorKind::kNotFound);
  EXPECT_EQ(ClassifyArmError(conflict.status()), ArmErrorKind::kConflict);
  EXPECT_EQ(server_.seen().size(), 3u);
  EXPECT_TRUE(sleeps_.empty());
  EXPECT_EQ(missing.status().detail().correlation_id, "corr-2");
}

TEST_F(ArmClientTest, UnauthorizedInvalidatesTokenAndRetriesOnce) {
  server_.Add(Error(401, "ExpiredAuthenticationToken"));
  server_.Add({.status = 200, .body = "{}"});
  auto arm = Client();
  ASSERT_TRUE(arm->Get("/a", "v").ok());
  auto seen = server_.seen();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].headers.Get("Authorization"), "Bearer tok-1");
  EXPECT_EQ(seen[1].headers.Get("Authorization"), "Bearer tok-2");
  EXPECT_EQ(cred_.invalidations, 1);
  EXPECT_EQ(arm->stats().auth_retries, 1);
  EXPECT_TRUE(sleeps_.empty());

  server_.Add(Error(401, "InvalidAuthenticationToken"));
  server_.Add(Error(401, "InvalidAuthenticationToken"));
  auto r = arm->Get("/b", "v");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(server_.seen().size(), 4u);  // once more, not forever
  EXPECT_EQ(cred_.invalidations, 2);
}

TEST_F(ArmClientTest, NoAnswerIsRetriedAsTransport) {
  server_.Add({.status = 200, .body = "{}", .delay = 2500ms});
  server_.Add({.status = 200, .body = R"({"second":true})"});
  auto arm = Client({.backoff = {.initial = 1s, .max = 1s, .jitter = 0}}, 1s);
  auto r = arm->Get("/a", "v");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)["second"], true);
  EXPECT_EQ(sleeps_, (std::vector<Duration>{1s}));
}

TEST_F(ArmClientTest, TransportFailureAfterRetriesIsTransportKind) {
  auto port = http::FindFreePort();
  ASSERT_TRUE(port.ok());
  ArmClient arm(cred_, {.base_url = "http://127.0.0.1:" + std::to_string(*port),
                        .clock = &clock_,
                        .sleep = [this](Duration d) { clock_.Advance(d); },
                        .retry = {.max_attempts = 3},
                        .request_timeout = 2s});
  auto r = arm.Get("/a", "v");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(ClassifyArmError(r.status()), ArmErrorKind::kTransport);
  EXPECT_NE(r.status().message().find("giving up after 3 attempts"), std::string::npos);
  EXPECT_EQ(arm.stats().attempts, 3);
}

TEST_F(ArmClientTest, RefusesPollingUrlsOnAnotherOrigin) {
  server_.Add(
      {.status = 202, .headers = {{"Azure-AsyncOperation", "http://attacker.example/ops/1"}}});
  auto arm = Client();
  auto op = arm->Begin({.method = "DELETE", .path = "/a", .api_version = "v"});
  ASSERT_FALSE(op.ok());
  EXPECT_EQ(op.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(op.status().message().find("refusing to send ARM credentials"), std::string::npos);

  OperationRef foreign{.method = "PUT",
                       .resource_url = server_.url() + "/a",
                       .async_url = "https://attacker.example/ops/2"};
  const size_t before = server_.seen().size();
  auto polled = arm->Poll(foreign);
  ASSERT_FALSE(polled.ok());
  EXPECT_EQ(server_.seen().size(), before);
}

TEST_F(ArmClientTest, DeleteOfMissingResourceIsDone) {
  server_.Add(Error(404, "ResourceNotFound"));
  server_.Add({.status = 204});
  auto arm = Client();
  for (int i = 0; i < 2; ++i) {
    auto op = arm->Begin({.method = "DELETE", .path = "/gone", .api_version = "v"});
    ASSERT_TRUE(op.ok()) << op.status().ToString();
    EXPECT_EQ(op->state, OperationState::kSucceeded);
  }
}

TEST_F(ArmClientTest, BeginSendsJsonBodyAndExtraHeaders) {
  server_.Add({.status = 201, .body = R"({"properties":{"provisioningState":"Succeeded"}})"});
  auto arm = Client();
  auto op = arm->Begin({.method = "PUT",
                        .path = "/subscriptions/s/x",
                        .api_version = "v1",
                        .body = nlohmann::json{{"location", "westus"}},
                        .headers = {{"If-None-Match", "*"}}});
  ASSERT_TRUE(op.ok());
  EXPECT_EQ(op->state, OperationState::kSucceeded);
  const Seen s = server_.seen().back();
  EXPECT_EQ(s.method, "PUT");
  EXPECT_EQ(s.headers.Get("If-None-Match"), "*");
  EXPECT_EQ(s.headers.Get("Content-Type"), "application/json");
  EXPECT_EQ(nlohmann::json::parse(s.body)["location"], "westus");
}

TEST_F(ArmClientTest, LogsClientRequestIdWithCorrelationAndRequestIds) {
  std::vector<std::string> lines;
  std::mutex mu;
  log::SetCaptureForTesting([&](const std::string& l) {
    std::lock_guard g(mu);
    lines.push_back(l);
  });
  server_.Add(Error(429, "TooManyRequests", {{"Retry-After", "1"}}));
  server_.Add({.status = 200, .body = "{}"});
  auto arm = Client();
  ASSERT_TRUE(arm->Get("/subscriptions/s/thing", "v").ok());
  log::SetCaptureForTesting(nullptr);
  const std::string id = server_.seen()[0].headers.Get("x-ms-client-request-id");
  int requests = 0, retries = 0;
  for (const auto& l : lines) {
    auto j = nlohmann::json::parse(l);
    if (j.value("client_request_id", "") != id) continue;
    if (j["msg"] == "arm request") {
      ++requests;
      EXPECT_EQ(j["path"], "/subscriptions/s/thing");
      EXPECT_EQ(j["correlation_id"], "corr-" + std::to_string(requests));
      EXPECT_EQ(j["request_id"], "req-" + std::to_string(requests));
    }
    if (j["msg"] == "retrying ARM request") ++retries;
    EXPECT_EQ(l.find("tok-1"), std::string::npos) << l;
  }
  EXPECT_EQ(requests, 2);
  EXPECT_EQ(retries, 1);
}

TEST(ArmUrlTest, BuildsEncodedUrls) {
  CountingCredential cred;
  ArmClient arm(cred, {.base_url = "https://management.example.com/"});
  EXPECT_EQ(arm.Url("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/galleries/g",
                    kGalleryApiVersion, {{"$expand", "ReplicationStatus"}}),
            "https://management.example.com/subscriptions/s/resourceGroups/rg/providers/"
            "Microsoft.Compute/galleries/g?api-version=2025-03-03&%24expand=ReplicationStatus");
  EXPECT_EQ(arm.Url("https://management.example.com/ops/1?x=1", "v"),
            "https://management.example.com/ops/1?x=1");
}

TEST(ArmRequestIdTest, IsUuidV4AndUnique) {
  const std::string a = NewRequestId(), b = NewRequestId();
  EXPECT_NE(a, b);
  ASSERT_EQ(a.size(), 36u);
  EXPECT_EQ(a[14], '4');
  EXPECT_TRUE(a[19] == '8' || a[19] == '9' || a[19] == 'a' || a[19] == 'b');
}

}  // namespace
}  // namespace vmrelease::azure

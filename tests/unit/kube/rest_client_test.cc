// Kubernetes Status → error kinds, and RestClient's requests, retries and
// watch decoding against a small in-test HTTP server.
#include "controller/kube/rest_client.h"

#include <gtest/gtest.h>

#include <atomic>
#include <deque>
#include <fstream>
#include <sstream>
#include <thread>

#include "controller/http/server.h"
#include "controller/kube/errors.h"
#include "tests/support/testing/process.h"

namespace vmrelease::kube {
namespace {

using std::chrono::seconds;
using ::vmrelease::testing::TempDir;
using ::vmrelease::testing::WaitFor;
using ::vmrelease::testing::WriteFile;

std::string Example(const std::string& name) {
  // The reference examples are copied into the test data next to this file.
  std::ifstream in(::vmrelease::testing::SourceDir() + "/tests/unit/kube/testdata/" + name);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

http::Response Resp(int status, std::string body, http::Headers h = {}) {
  return {status, std::move(h), std::move(body)};
}

// --- Status → error kinds ---------------------------------------------------------

struct MappingCase {
  std::string name;
  http::Response response;
  StatusCode code;
  std::string reason;
  std::function<bool(const Status&)> predicate;
};

class StatusMappingTest : public ::testing::TestWithParam<MappingCase> {};

TEST_P(StatusMappingTest, MapsToCanonicalCodeReasonAndPredicate) {
  const MappingCase& tc = GetParam();
  Status s = FromResponse(tc.response, "op");
  EXPECT_EQ(s.code(), tc.code) << s.ToString();
  EXPECT_EQ(s.detail().http_status, tc.response.status);
  EXPECT_EQ(s.detail().reason, tc.reason);
  EXPECT_TRUE(tc.predicate(s)) << s.ToString();
  EXPECT_EQ(s.message().rfind("op: ", 0), 0u);
}

INSTANTIATE_TEST_SUITE_P(
    Kinds, StatusMappingTest,
    ::testing::Values(
        MappingCase{"StaleUpdateConflict", Resp(409, Example("status-409-conflict.example.json")),
                    StatusCode::kAborted, "Conflict",
                    [](const Status& s) { return IsConflict(s) && !IsAlreadyExists(s); }},
        MappingCase{"AlreadyExists", Resp(409, Example("status-409-alreadyexists.example.json")),
                    StatusCode::kAlreadyExists, "AlreadyExists",
                    [](const Status& s) { return IsAlreadyExists(s) && !IsConflict(s); }},
        MappingCase{"ExpiredList", Resp(410, Example("status-410-expired-list.example.json")),
                    StatusCode::kOutOfRange, "Expired", [](const Status& s) { return IsGone(s); }},
        MappingCase{"NotFound", Resp(404, R"({"kind":"Status","reason":"NotFound","code":404,
                                  "message":"imagereleases.vmrelease.io \"x\" not found"})"),
                    StatusCode::kNotFound, "NotFound",
                    [](const Status& s) { return IsNotFound(s) && !IsRetryable(s); }},
        MappingCase{"InvalidWithCauses",
                    Resp(422, R"({"kind":"Status","reason":"Invalid","code":422,
                                  "message":"ImageRelease.vmrelease.io \"x\" is invalid",
                                  "details":{"causes":[
                                    {"reason":"FieldValueRequired","message":"Required value",
                                     "field":"spec.image"}]}})"),
                    StatusCode::kInvalidArgument, "Invalid",
                    [](const Status& s) {
                      return IsInvalid(s) &&
                             s.message().find("spec.image: Required value") != std::string::npos;
                    }},
        MappingCase{"TooManyRequestsHeader",
                    Resp(429, R"({"kind":"Status","reason":"TooManyRequests","code":429})",
                         {{"Retry-After", "3"}}),
                    StatusCode::kResourceExhausted, "TooManyRequests",
                    [](const Status& s) {
                      return IsTooManyRequests(s) && IsRetryable(s) &&
                             s.detail().retry_after == std::chrono::seconds(3);
                    }},
        MappingCase{"TooManyRequestsBody",
                    Resp(429, R"({"kind":"Status","reason":"TooManyRequests","code":429,
                                  "details":{"retryAfterSeconds":2}})"),
                    StatusCode::kResourceExhausted, "TooManyRequests",
                    [](const Status& s) { return s.detail().retry_after == seconds(2); }},
        MappingCase{"Unauthorized", Resp(401, R"({"kind":"Status","reason":"Unauthorized"})"),
                    StatusCode::kUnauthenticated, "Unauthorized",
                    [](const Status& s) { return IsUnauthorized(s); }},
        MappingCase{"Forbidden", Resp(403, R"({"kind":"Status","reason":"Forbidden"})"),
                    StatusCode::kPermissionDenied, "Forbidden",
                    [](const Status& s) { return IsForbidden(s) && !IsRetryable(s); }},
        MappingCase{"InternalError", Resp(500, R"({"kind":"Status","reason":"InternalError"})"),
                    StatusCode::kInternal, "InternalError",
                    [](const Status& s) { return IsServerError(s) && IsRetryable(s); }},
        MappingCase{"ServiceUnavailable",
                    Resp(503, R"({"kind":"Status","reason":"ServiceUnavailable"})"),
                    StatusCode::kUnavailable, "ServiceUnavailable",
                    [](const Status& s) { return IsServerError(s); }},
        MappingCase{"GatewayTimeout", Resp(504, ""), StatusCode::kDeadlineExceeded, "Timeout",
                    [](const Status& s) { return IsServerError(s); }},
        MappingCase{
            "ProxyHtmlPage", Resp(502, "<html>bad gateway</html>"), StatusCode::kUnavailable,
            "InternalError",
            [](const Status& s) { return s.message().find("bad gateway") != std::string::npos; }}),
    [](const ::testing::TestParamInfo<MappingCase>& info) { return info.param.name; });

TEST(StatusMappingTest, WatchErrorEventAndTransportErrors) {
  Status s = FromKubeStatus(Json::parse(R"json({"kind":"Status","status":"Failure",
      "message":"too old resource version: 10245 (10596)","reason":"Expired","code":410})json"),
                            0, "watch");
  EXPECT_TRUE(IsGone(s));
  EXPECT_EQ(s.detail().http_status, 410);
  Status transport = UnavailableError("connection refused");
  EXPECT_TRUE(IsTransportError(transport));
  EXPECT_TRUE(IsRetryable(transport));
  EXPECT_FALSE(IsTransportError(FromResponse(Resp(503, ""), "x")));
}

// --- RestClient ----------------------------------------------------------------------

struct Seen {
  std::string method, path, query, body, content_type, auth, accept;
  std::map<std::string, std::string> params;
};

// An HTTP server that answers from a queue and records every request.
class FakeApi {
 public:
  using Answer = std::function<void(const http::ServerRequest&, http::Responder&)>;
  FakeApi() {
    auto s = http::Server::Start({}, [this](const http::ServerRequest& req, http::Responder& res) {
      Answer a;
      {
        std::lock_guard g(mu_);
        seen_.push_back({req.method, req.path, req.query, req.body, req.headers.Get("Content-Type"),
                         req.headers.Get("Authorization"), req.headers.Get("Accept"), req.params});
        if (!answers_.empty()) {
          a = std::move(answers_.front());
          answers_.pop_front();
        }
      }
      if (a) {
        a(req, res);
      } else {
        res.Send(200, {{"Content-Type", "application/json"}}, R"({"kind":"Thing"})");
      }
    });
    server_ = std::move(*s);
  }
  void Reply(int status, std::string body, http::Headers h = {}) {
    h.Set("Content-Type", "application/json");
    std::lock_guard g(mu_);
    answers_.push_back(
        [=](const http::ServerRequest&, http::Responder& res) { res.Send(status, h, body); });
  }
  void Then(Answer a) {
    std::lock_guard g(mu_);
    answers_.push_back(std::move(a));
  }
  std::vector<Seen> seen() {
    std::lock_guard g(mu_);
    return seen_;
  }
  std::string url() const { return server_->base_url(); }

 private:
  std::mutex mu_;
  std::deque<Answer> answers_;
  std::vector<Seen> seen_;
  std::unique_ptr<http::Server> server_;
};

const ResourceType kReleases{"vmrelease.io", "v1alpha1", "imagereleases", "ImageRelease", true};

std::unique_ptr<RestClient> NewClient(FakeApi& api, Clock* clock = nullptr,
                                      std::shared_ptr<TokenSource> token = nullptr) {
  ClusterConfig cfg;
  cfg.server = api.url();
  cfg.token = token ? token : TokenSource::Static("t0ken-abcdefgh");
  RestClient::Options o;
  o.clock = clock;
  return std::move(*RestClient::FromConfig(std::move(cfg), o));
}

TEST(RestClientTest, GetAndListBuildKubernetesPathsAndQueries) {
  FakeApi api;
  auto client = NewClient(api);
  api.Reply(200, R"({"metadata":{"name":"a","namespace":"ns","resourceVersion":"7"}})");
  auto got = client->Get(kReleases, {"ns", "a b"});
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ((*got)["kind"], "ImageRelease");  // stamped when the server omits it
  EXPECT_EQ((*got)["apiVersion"], "vmrelease.io/v1alpha1");

  api.Reply(200, R"({"metadata":{"resourceVersion":"9","continue":"c1","remainingItemCount":1},
                    "items":[{"metadata":{"name":"a"}}]})");
  auto page = client->List(kReleases, {.ns = "ns",
                                       .label_selector = "app=x,tier!=db",
                                       .field_selector = "metadata.name=a",
                                       .limit = 1});
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_EQ(page->resource_version, "9");
  EXPECT_EQ(page->continue_token, "c1");
  EXPECT_EQ(page->remaining_item_count, 1);
  ASSERT_EQ(page->items.size(), 1u);
  EXPECT_EQ(page->items[0]["kind"], "ImageRelease");

  auto seen = api.seen();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].method, "GET");
  EXPECT_EQ(seen[0].path, "/apis/vmrelease.io/v1alpha1/namespaces/ns/imagereleases/a b");
  EXPECT_EQ(seen[0].auth, "Bearer t0ken-abcdefgh");
  EXPECT_EQ(seen[0].accept, "application/json");
  EXPECT_EQ(seen[1].path, "/apis/vmrelease.io/v1alpha1/namespaces/ns/imagereleases");
  EXPECT_EQ(seen[1].params["labelSelector"], "app=x,tier!=db");
  EXPECT_EQ(seen[1].params["fieldSelector"], "metadata.name=a");
  EXPECT_EQ(seen[1].params["limit"], "1");
  EXPECT_EQ(CollectionPath(ConfigMapResource(), "ns"), "/api/v1/namespaces/ns/configmaps");
  EXPECT_EQ(CollectionPath(kReleases, ""), "/apis/vmrelease.io/v1alpha1/imagereleases");
  EXPECT_EQ(ObjectPath(NamespaceResource(), {"ignored", "prod"}), "/api/v1/namespaces/prod");
}

TEST(RestClientTest, ListAllFollowsContinueTokens) {
  FakeApi api;
  auto client = NewClient(api);
  api.Reply(200, R"({"metadata":{"resourceVersion":"5","continue":"p2"},
                    "items":[{"metadata":{"name":"a"}},{"metadata":{"name":"b"}}]})");
  api.Reply(200, R"({"metadata":{"resourceVersion":"5"},"items":[{"metadata":{"name":"c"}}]})");
  auto all = ListAll(*client, kReleases, {.limit = 2});
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->items.size(), 3u);
  EXPECT_EQ(all->resource_version, "5");
  EXPECT_TRUE(all->continue_token.empty());
  auto seen = api.seen();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[1].params["continue"], "p2");
  EXPECT_EQ(seen[1].params["limit"], "2");
}

TEST(RestClientTest, WritesUseTheRightVerbsPathsAndContentTypes) {
  FakeApi api;
  auto client = NewClient(api);
  Json obj = {{"metadata", {{"name", "a"}, {"namespace", "ns"}, {"resourceVersion", "3"}}},
              {"spec", {{"x", 1}}}};
  ASSERT_TRUE(client->Create(kReleases, obj, {.field_manager = "vmrelease"}).ok());
  ASSERT_TRUE(client->Update(kReleases, obj).ok());
  ASSERT_TRUE(client->UpdateStatus(kReleases, obj).ok());
  ASSERT_TRUE(
      client->Patch(kReleases, {"ns", "a"}, PatchType::kMerge, {{"spec", {{"x", 2}}}}).ok());
  ASSERT_TRUE(client
                  ->PatchStatus(kReleases, {"ns", "a"}, PatchType::kJson,
                                Json::array({{{"op", "add"}, {"path", "/status"}, {"value", 1}}}))
                  .ok());
  ASSERT_TRUE(
      client
          ->Delete(kReleases, {"ns", "a"},
                   {.uid = "u1", .resource_version = "3", .propagation_policy = "Foreground"})
          .ok());
  auto missing_ns = client->Create(kReleases, {{"metadata", {{"name", "x"}}}});
  EXPECT_EQ(missing_ns.status().code(), StatusCode::kInvalidArgument);

  auto seen = api.seen();
  ASSERT_EQ(seen.size(), 6u);  // the invalid create never left the process
  const std::string base = "/apis/vmrelease.io/v1alpha1/namespaces/ns/imagereleases";
  EXPECT_EQ(seen[0].method, "POST");
  EXPECT_EQ(seen[0].path, base);
  EXPECT_EQ(seen[0].params["fieldManager"], "vmrelease");
  EXPECT_EQ(Json::parse(seen[0].body)["kind"], "ImageRelease");
  EXPECT_EQ(seen[1].method, "PUT");
  EXPECT_EQ(seen[1].path, base + "/a");
  EXPECT_EQ(Json::parse(seen[1].body)["metadata"]["resourceVersion"], "3");
  EXPECT_EQ(seen[2].path, base + "/a/status");
  EXPECT_EQ(seen[3].method, "PATCH");
  EXPECT_EQ(seen[3].content_type, "application/merge-patch+json");
  EXPECT_EQ(seen[4].path, base + "/a/status");
  EXPECT_EQ(seen[4].content_type, "application/json-patch+json");
  EXPECT_EQ(seen[5].method, "DELETE");
  Json del = Json::parse(seen[5].body);
  EXPECT_EQ(del["preconditions"]["uid"], "u1");
  EXPECT_EQ(del["preconditions"]["resourceVersion"], "3");
  EXPECT_EQ(del["propagationPolicy"], "Foreground");
}

TEST(RestClientTest, ReadsRetryServerErrorsAndHonourRetryAfter) {
  FakeApi api;
  ManualClock clock;
  auto client = NewClient(api, &clock);
  api.Reply(500, R"({"kind":"Status","reason":"InternalError","code":500})");
  api.Reply(429, R"({"kind":"Status","reason":"TooManyRequests","code":429})",
            {{"Retry-After", "2"}});
  api.Reply(200, R"({"metadata":{"name":"a"}})");
  std::atomic<bool> done{false};
  StatusOr<Json> got = InternalError("unset");
  std::thread t([&] {
    got = client->Get(kReleases, {"ns", "a"});
    done = true;
  });
  clock.AwaitWaiters(1);  // backing off after the 500 (≤ 120ms)
  clock.Advance(std::chrono::milliseconds(120));
  ASSERT_TRUE(WaitFor([&] { return api.seen().size() == 2; }, seconds(10)));
  clock.AwaitWaiters(1);  // waiting for Retry-After
  clock.Advance(std::chrono::milliseconds(1999));
  EXPECT_EQ(api.seen().size(), 2u);
  clock.Advance(std::chrono::milliseconds(1));
  t.join();
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(api.seen().size(), 3u);
}

TEST(RestClientTest, ReadsGiveUpAfterMaxAttempts) {
  FakeApi api;
  ClusterConfig cfg;
  cfg.server = api.url();
  RestClient::Options o;
  o.max_read_attempts = 2;
  o.read_backoff = {.initial = std::chrono::milliseconds(1), .max = std::chrono::milliseconds(1)};
  auto client = std::move(*RestClient::FromConfig(cfg, o));
  for (int i = 0; i < 3; ++i) api.Reply(503, R"({"kind":"Status","reason":"ServiceUnavailable"})");
  auto got = client->Get(kReleases, {"ns", "a"});
  EXPECT_TRUE(IsServerError(got.status()));
  EXPECT_EQ(api.seen().size(), 2u);
}

TEST(RestClientTest, WritesAreNotRetriedOnServerErrorsButAreOnTooManyRequests) {
  FakeApi api;
  ManualClock clock;
  auto client = NewClient(api, &clock);
  Json obj = {{"metadata", {{"name", "a"}, {"namespace", "ns"}}}};
  api.Reply(500, R"({"kind":"Status","reason":"InternalError","code":500})");
  auto r = client->Create(kReleases, obj);
  EXPECT_EQ(r.status().code(), StatusCode::kInternal);
  EXPECT_EQ(api.seen().size(), 1u);  // outcome unknown: never blindly repeated

  api.Reply(409, Example("status-409-conflict.example.json"));
  EXPECT_TRUE(IsConflict(client->Update(kReleases, obj).status()));
  EXPECT_EQ(api.seen().size(), 2u);

  api.Reply(429, R"({"kind":"Status","reason":"TooManyRequests","code":429})",
            {{"Retry-After", "1"}});
  api.Reply(201, R"({"metadata":{"name":"a"}})");
  StatusOr<Json> created = InternalError("unset");
  std::thread t([&] { created = client->Create(kReleases, obj); });
  clock.AwaitWaiters(1);
  clock.Advance(seconds(1));
  t.join();
  EXPECT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_EQ(api.seen().size(), 4u);
}

TEST(RestClientTest, Unauthorized401ReReadsARotatedTokenOnce) {
  FakeApi api;
  TempDir dir;
  ManualClock clock;
  WriteFile(dir.Join("token"), "old-token-aaaaaaaa");
  auto token = *TokenSource::FromFile(dir.Join("token"), clock, std::chrono::minutes(10));
  auto client = NewClient(api, &clock, token);
  WriteFile(dir.Join("token"), "new-token-bbbbbbbb");  // rotated before the refresh interval
  api.Reply(401, R"({"kind":"Status","reason":"Unauthorized","code":401})");
  api.Reply(200, R"({"metadata":{"name":"a"}})");
  ASSERT_TRUE(client->Get(kReleases, {"ns", "a"}).ok());
  auto seen = api.seen();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].auth, "Bearer old-token-aaaaaaaa");
  EXPECT_EQ(seen[1].auth, "Bearer new-token-bbbbbbbb");

  // Still 401 with the fresh token: reported, not looped.
  api.Reply(401, R"({"kind":"Status","reason":"Unauthorized","code":401})");
  api.Reply(401, R"({"kind":"Status","reason":"Unauthorized","code":401})");
  EXPECT_TRUE(IsUnauthorized(client->Get(kReleases, {"ns", "a"}).status()));
  EXPECT_EQ(api.seen().size(), 4u);
}

TEST(RestClientTest, WatchDecodesEventsBookmarksAndErrorEvents) {
  FakeApi api;
  auto client = NewClient(api);
  api.Then([](const http::ServerRequest&, http::Responder& res) {
    auto w = res.Stream(200, {{"Content-Type", "application/json"}});
    w->Write(R"({"type":"ADDED","object":{"metadata":{"name":"a","resourceVersion":"11"}}})"
             "\n");
    w->Write(
        R"({"type":"BOOKMARK","object":{"kind":"ImageRelease","apiVersion":"vmrelease.io/v1alpha1","metadata":{"resourceVersion":"12"}}})"
        "\n\n");
    w->Write(R"({"type":"DELETED","object":{"metadata":{"name":"a","resourceVersion":"13"}}})"
             "\n");
    w->Write(
        R"json({"type":"ERROR","object":{"kind":"Status","status":"Failure","message":"too old resource version: 10 (13)","reason":"Expired","code":410}})json"
        "\n");
    w->Close();
  });
  auto stream =
      client->Watch(kReleases, {.ns = "ns", .resource_version = "10", .timeout_seconds = 300});
  ASSERT_TRUE(stream.ok()) << stream.status().ToString();
  auto e1 = (*stream)->Next();
  ASSERT_TRUE(e1.ok() && e1->has_value());
  EXPECT_EQ((*e1)->type, WatchEventType::kAdded);
  EXPECT_EQ((*e1)->object["kind"], "ImageRelease");
  auto e2 = (*stream)->Next();
  ASSERT_TRUE(e2.ok() && e2->has_value());
  EXPECT_EQ((*e2)->type, WatchEventType::kBookmark);
  EXPECT_EQ(ResourceVersion((*e2)->object), "12");
  auto e3 = (*stream)->Next();
  ASSERT_TRUE(e3.ok() && e3->has_value());
  EXPECT_EQ((*e3)->type, WatchEventType::kDeleted);
  auto e4 = (*stream)->Next();
  EXPECT_TRUE(IsGone(e4.status())) << e4.status().ToString();

  auto seen = api.seen();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].path, "/apis/vmrelease.io/v1alpha1/namespaces/ns/imagereleases");
  EXPECT_EQ(seen[0].params["watch"], "true");
  EXPECT_EQ(seen[0].params["resourceVersion"], "10");
  EXPECT_EQ(seen[0].params["allowWatchBookmarks"], "true");
  EXPECT_EQ(seen[0].params["timeoutSeconds"], "300");
}

TEST(RestClientTest, WatchEndsCleanlyAndCanBeCancelled) {
  FakeApi api;
  auto client = NewClient(api);
  api.Then([](const http::ServerRequest&, http::Responder& res) {
    res.Stream(200, {{"Content-Type", "application/json"}})->Close();
  });
  auto ended = client->Watch(kReleases, {});
  ASSERT_TRUE(ended.ok());
  auto none = (*ended)->Next();
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());

  std::shared_ptr<http::ChunkWriter> keep;
  std::mutex mu;
  api.Then([&](const http::ServerRequest&, http::Responder& res) {
    std::lock_guard g(mu);
    keep = res.Stream(200, {{"Content-Type", "application/json"}});
  });
  auto quiet = client->Watch(kReleases, {});
  ASSERT_TRUE(quiet.ok());
  std::thread canceller([&] {
    // Gives Next() a chance to block first; the outcome is kCancelled either way.
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    (*quiet)->Cancel();
  });
  auto r = (*quiet)->Next();
  canceller.join();
  EXPECT_EQ(r.status().code(), StatusCode::kCancelled) << r.status().ToString();
  std::lock_guard g(mu);
  if (keep) keep->Close();
}

TEST(RestClientTest, WatchRefusedIsMappedLikeAnyError) {
  FakeApi api;
  auto client = NewClient(api);
  api.Reply(403, R"({"kind":"Status","reason":"Forbidden","code":403,
                     "message":"imagereleases is forbidden"})");
  auto r = client->Watch(kReleases, {});
  EXPECT_TRUE(IsForbidden(r.status()));
  EXPECT_NE(r.status().message().find("forbidden"), std::string::npos);
}

}  // namespace
}  // namespace vmrelease::kube

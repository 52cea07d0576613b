// The local API server over real HTTPS (the binary, started by the fixture):
// authentication, watch from a resourceVersion, bookmarks, 410 after
// compaction and after the history window, pagination with continue-token
// expiry, fault injection and dropped watches.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <thread>

#include "tests/support/apiserver/fixture.h"

namespace vmrelease::testing {
namespace {

using nlohmann::json;

constexpr char kCms[] = "/api/v1/namespaces/default/configmaps";

class ApiServerIntegrationTest : public ::testing::Test {
 protected:
  void StartServer(std::vector<std::string> extra = {}) {
    auto s = LocalApiServer::Start({.crds_dir = "", .extra_args = std::move(extra)});
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    server_ = std::move(s.value());
  }
  json Call(const std::string& method, const std::string& path, const json& body = nullptr,
            int want = 0, const std::string& content_type = "application/json") {
    auto r = server_->Request(method, path, body.is_null() ? "" : body.dump(), content_type);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) return json();
    if (want != 0) {
      EXPECT_EQ(r->status, want) << method << " " << path << ": " << r->body;
    }
    return json::parse(r->body, nullptr, false);
  }
  json CreateCm(const std::string& name, const json& labels = json::object()) {
    return Call("POST", kCms,
                {{"metadata", {{"name", name}, {"labels", labels}}}, {"data", {{"k", name}}}}, 201);
  }
  // Reads watch events until `n` arrived or the stream ends.
  static std::vector<json> ReadEvents(http::Stream& s, size_t n) {
    std::vector<json> out;
    while (out.size() < n) {
      auto line = s.ReadLine();
      if (!line.ok() || !line->has_value()) break;
      if ((*line)->empty()) continue;
      out.push_back(json::parse(**line));
    }
    return out;
  }
  // True when the stream ends cleanly (not by a read error or timeout) with no
  // further event.
  static bool EndsWithoutEvents(http::Stream& s) {
    while (true) {
      auto line = s.ReadLine();
      if (!line.ok()) return false;
      if (!line->has_value()) return true;
      if (!(*line)->empty()) return false;
    }
  }
  static std::string Rv(const json& obj) { return obj["metadata"]["resourceVersion"]; }

  std::unique_ptr<LocalApiServer> server_;
};

TEST_F(ApiServerIntegrationTest, RequiresTheBearerToken) {
  StartServer();
  http::Client client({.tls = server_->tls()});
  for (const std::string auth : {"", "Bearer wrong-token"}) {
    http::Request req{.url = server_->base_url() + "/api/v1/namespaces"};
    if (!auth.empty()) req.headers.Set("Authorization", auth);
    auto r = client.Send(req);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->status, 401);
    json st = json::parse(r->body);
    EXPECT_EQ(st["kind"], "Status");
    EXPECT_EQ(st["reason"], "Unauthorized");
    EXPECT_EQ(st["code"], 401);
  }
  json ns = Call("GET", "/api/v1/namespaces", nullptr, 200);
  EXPECT_EQ(ns["kind"], "NamespaceList");
  EXPECT_EQ(server_->log().find(server_->token()), std::string::npos)
      << "token leaked into the log";
}

TEST_F(ApiServerIntegrationTest, DiscoveryShapes) {
  StartServer();
  json api = Call("GET", "/api", nullptr, 200);
  EXPECT_EQ(api["kind"], "APIVersions");
  EXPECT_EQ(api["versions"], json({"v1"}));
  json leases = Call("GET", "/apis/coordination.k8s.io/v1", nullptr, 200);
  EXPECT_EQ(leases["kind"], "APIResourceList");
  EXPECT_EQ(leases["groupVersion"], "coordination.k8s.io/v1");
  EXPECT_EQ(leases["resources"][0]["name"], "leases");
  EXPECT_EQ(leases["resources"][0]["namespaced"], true);
  json group = Call("GET", "/apis/coordination.k8s.io", nullptr, 200);
  EXPECT_EQ(group["preferredVersion"]["groupVersion"], "coordination.k8s.io/v1");
  json groups = Call("GET", "/apis", nullptr, 200);
  EXPECT_EQ(groups["kind"], "APIGroupList");
  json crds = Call("GET", "/apis/apiextensions.k8s.io/v1", nullptr, 200);
  bool has_status = false;
  for (const auto& r : crds["resources"])
    has_status = has_status || r["name"] == "customresourcedefinitions/status";
  EXPECT_TRUE(has_status);
  json missing = Call("GET", "/apis/nope.example.com/v1", nullptr, 404);
  EXPECT_EQ(missing["reason"], "NotFound");
}

TEST_F(ApiServerIntegrationTest, WatchFromResourceVersionWithBookmarks) {
  StartServer({"--bookmark-interval", "200ms"});
  json a = CreateCm("a");
  auto stream = server_->OpenStream(
      std::string(kCms) + "?watch=true&allowWatchBookmarks=true&resourceVersion=" + Rv(a));
  ASSERT_TRUE(stream.ok()) << stream.status().ToString();
  EXPECT_EQ((*stream)->status(), 200);
  json b = CreateCm("b");
  Call("PATCH", std::string(kCms) + "/a", {{"data", {{"k", "changed"}}}}, 200,
       "application/merge-patch+json");
  Call("DELETE", std::string(kCms) + "/b", nullptr, 200);
  // Bookmarks may interleave on a slow machine; they never carry a newer version than seen.
  std::vector<json> events;
  while (events.size() < 3) {
    auto next = ReadEvents(**stream, 1);
    ASSERT_EQ(next.size(), 1u);
    if (next[0]["type"] != "BOOKMARK") events.push_back(next[0]);
  }
  EXPECT_EQ(events[0]["type"], "ADDED");
  EXPECT_EQ(events[0]["object"]["metadata"]["name"], "b");
  EXPECT_EQ(events[1]["type"], "MODIFIED");
  EXPECT_EQ(events[1]["object"]["data"]["k"], "changed");
  EXPECT_EQ(events[2]["type"], "DELETED");
  const std::string last_rv = Rv(events[2]["object"]);
  // Nothing else happens: bookmarks now carry the latest version.
  auto bookmark = ReadEvents(**stream, 1);
  ASSERT_EQ(bookmark.size(), 1u);
  EXPECT_EQ(bookmark[0]["type"], "BOOKMARK");
  EXPECT_EQ(bookmark[0]["object"]["kind"], "ConfigMap");
  EXPECT_EQ(bookmark[0]["object"]["apiVersion"], "v1");
  EXPECT_EQ(Rv(bookmark[0]["object"]), last_rv);
  (*stream)->Cancel();
}

TEST_F(ApiServerIntegrationTest, WatchWithResourceVersionZeroStartsWithCurrentState) {
  StartServer();
  CreateCm("x", {{"app", "web"}});
  CreateCm("y", {{"app", "db"}});
  auto stream = server_->OpenStream(
      std::string(kCms) + "?watch=1&resourceVersion=0&labelSelector=app%3Dweb&timeoutSeconds=2");
  ASSERT_TRUE(stream.ok());
  auto events = ReadEvents(**stream, 1);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]["type"], "ADDED");
  EXPECT_EQ(events[0]["object"]["metadata"]["name"], "x");
  // An object that stops matching is sent as DELETED.
  Call("PATCH", std::string(kCms) + "/x", {{"metadata", {{"labels", {{"app", "db"}}}}}}, 200,
       "application/merge-patch+json");
  auto more = ReadEvents(**stream, 1);
  ASSERT_EQ(more.size(), 1u);
  EXPECT_EQ(more[0]["type"], "DELETED");
  // timeoutSeconds ends the stream cleanly.
  auto rest = ReadEvents(**stream, 100);
  EXPECT_TRUE(rest.empty());
}

TEST_F(ApiServerIntegrationTest, GoneAfterCompactionAndAfterTheHistoryWindow) {
  StartServer({"--history-size", "5"});
  json first = CreateCm("first");
  const std::string old = Rv(first);
  CreateCm("second");
  ASSERT_TRUE(server_->Compact().ok());
  auto stream = server_->OpenStream(std::string(kCms) + "?watch=true&resourceVersion=" + old);
  ASSERT_TRUE(stream.ok());
  auto events = ReadEvents(**stream, 2);
  ASSERT_EQ(events.size(), 1u) << "the stream must end after the ERROR event";
  EXPECT_EQ(events[0]["type"], "ERROR");
  EXPECT_EQ(events[0]["object"]["kind"], "Status");
  EXPECT_EQ(events[0]["object"]["code"], 410);
  EXPECT_EQ(events[0]["object"]["reason"], "Expired");
  EXPECT_EQ(events[0]["object"]["message"].get<std::string>().rfind(
                "too old resource version: " + old + " (", 0),
            0u);

  // History window: 5 events; 6 more writes push `start` out of it.
  json mark = CreateCm("mark");
  for (int i = 0; i < 6; ++i) CreateCm("w" + std::to_string(i));
  auto s2 = server_->OpenStream(std::string(kCms) + "?watch=true&resourceVersion=" + Rv(mark));
  ASSERT_TRUE(s2.ok());
  auto e2 = ReadEvents(**s2, 1);
  ASSERT_EQ(e2.size(), 1u);
  EXPECT_EQ(e2[0]["type"], "ERROR");
  EXPECT_EQ(e2[0]["object"]["code"], 410);
}

TEST_F(ApiServerIntegrationTest, PaginationAndContinueExpiry) {
  StartServer();
  for (int i = 0; i < 7; ++i) CreateCm("p" + std::to_string(i));
  std::vector<std::string> names;
  std::string cont;
  std::string list_rv;
  int pages = 0;
  do {
    json page =
        Call("GET", std::string(kCms) + "?limit=3" + (cont.empty() ? "" : "&continue=" + cont),
             nullptr, 200);
    for (const auto& item : page["items"]) names.push_back(item["metadata"]["name"]);
    if (list_rv.empty()) list_rv = page["metadata"]["resourceVersion"];
    EXPECT_EQ(page["metadata"]["resourceVersion"], list_rv);
    cont = page["metadata"].value("continue", "");
    ++pages;
  } while (!cont.empty() && pages < 10);
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(names.size(), 7u);
  json first = Call("GET", std::string(kCms) + "?limit=2", nullptr, 200);
  const std::string token = first["metadata"]["continue"];
  ASSERT_FALSE(token.empty());
  CreateCm("later");
  ASSERT_TRUE(server_->Compact().ok());
  json expired = Call("GET", std::string(kCms) + "?limit=2&continue=" + token, nullptr, 410);
  EXPECT_EQ(expired["reason"], "Expired");
  EXPECT_EQ(expired["code"], 410);
}

TEST_F(ApiServerIntegrationTest, FailNextAndFailRateAnswerWithKubeStatus) {
  StartServer();
  ASSERT_TRUE(server_->SetFaults({{"failNext", 2}, {"failNextCode", 429}}).ok());
  for (int i = 0; i < 2; ++i) {
    auto r = server_->Request("GET", kCms);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->status, 429);
    EXPECT_EQ(r->headers.Get("Retry-After"), "1");
    json st = json::parse(r->body);
    EXPECT_EQ(st["reason"], "TooManyRequests");
    EXPECT_EQ(st["details"]["retryAfterSeconds"], 1);
  }
  Call("GET", kCms, nullptr, 200);
  // Admin endpoints are never subject to faults.
  ASSERT_TRUE(server_->SetFaults({{"failRate", 1.0}, {"failCodes", {500, 503}}}).ok());
  json faults = json::parse(server_->Request("GET", "/admin/faults")->body);
  EXPECT_EQ(faults["failRate"], 1.0);
  std::set<int> codes;
  for (int i = 0; i < 30; ++i) {
    auto r = server_->Request("GET", kCms);
    ASSERT_TRUE(r.ok());
    codes.insert(r->status);
    json st = json::parse(r->body);
    EXPECT_EQ(st["kind"], "Status");
    EXPECT_EQ(st["reason"], r->status == 500 ? "InternalError" : "ServiceUnavailable");
  }
  EXPECT_EQ(codes, (std::set<int>{500, 503}));
  // Watch establishment fails too.
  auto w = server_->OpenStream(std::string(kCms) + "?watch=true");
  ASSERT_TRUE(w.ok());
  EXPECT_GE((*w)->status(), 500);
  ASSERT_TRUE(server_->SetFaults(json::object()).ok());
  Call("GET", kCms, nullptr, 200);
  EXPECT_EQ(server_->Request("POST", "/admin/faults", R"({"failRate": 2})")->status, 400);
}

TEST_F(ApiServerIntegrationTest, FaultFlagsAreCheckedLikeTheAdminEndpoint) {
  // No codes given: the fail rate answers 500, as POST /admin/faults would.
  StartServer({"--fail-rate", "1", "--fail-codes", ""});
  auto r = server_->Request("GET", kCms);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 500);
  EXPECT_EQ(json::parse(server_->Request("GET", "/admin/faults")->body)["failCodes"],
            json::array({500}));
  auto bad = LocalApiServer::Start({.crds_dir = "", .extra_args = {"--fail-codes", "700"}});
  ASSERT_FALSE(bad.ok());
}

TEST_F(ApiServerIntegrationTest, DroppedWatchesEndTheirStreams) {
  StartServer();
  auto s1 = server_->OpenStream(std::string(kCms) + "?watch=true");
  auto s2 = server_->OpenStream("/api/v1/namespaces?watch=true&resourceVersion=0");
  ASSERT_TRUE(s1.ok() && s2.ok());
  ASSERT_EQ(ReadEvents(**s2, 4).size(), 4u);  // the four default namespaces
  ASSERT_TRUE(server_->DropWatches().ok());
  EXPECT_TRUE(EndsWithoutEvents(**s1));
  EXPECT_TRUE(EndsWithoutEvents(**s2));
  // Periodic drops from the fault settings.
  ASSERT_TRUE(server_->SetFaults({{"dropWatchesEveryMs", 100}}).ok());
  auto s3 = server_->OpenStream(std::string(kCms) + "?watch=true");
  ASSERT_TRUE(s3.ok());
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(EndsWithoutEvents(**s3));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(20));
}

TEST_F(ApiServerIntegrationTest, ClientCertificateMode) {
  StartServer({"--auth", "client-cert"});
  EXPECT_TRUE(server_->token().empty());
  Call("GET", "/api/v1/namespaces", nullptr, 200);
  http::Client anonymous({.tls = {.ca_pem = server_->ca_pem()}});
  auto r = anonymous.Send({.url = server_->base_url() + "/api/v1/namespaces"});
  EXPECT_FALSE(r.ok() && r->status == 200) << "mTLS must reject a client without a certificate";
  const std::string kc = ReadFile(server_->kubeconfig());
  EXPECT_NE(kc.find("client-certificate-data"), std::string::npos);
  EXPECT_EQ(kc.find("token:"), std::string::npos);
}

TEST_F(ApiServerIntegrationTest, SlowWatcherDoesNotBlockWriters) {
  StartServer();
  // A watcher that never reads.
  auto idle = server_->OpenStream(std::string(kCms) + "?watch=true");
  ASSERT_TRUE(idle.ok());
  auto reader = server_->OpenStream(std::string(kCms) + "?watch=true");
  ASSERT_TRUE(reader.ok());
  for (int i = 0; i < 200; ++i) CreateCm("s" + std::to_string(i));
  EXPECT_EQ(ReadEvents(**reader, 200).size(), 200u);
}

TEST_F(ApiServerIntegrationTest, ConcurrentWritersAndAWatcherAgree) {
  StartServer();
  const std::string start = Call("GET", kCms, nullptr, 200)["metadata"]["resourceVersion"];
  auto stream = server_->OpenStream(std::string(kCms) + "?watch=true&resourceVersion=" + start);
  ASSERT_TRUE(stream.ok());
  constexpr int kThreads = 4, kPerThread = 40;
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const std::string name = "t" + std::to_string(t) + "-" + std::to_string(i);
        auto c = server_->Request("POST", kCms, json({{"metadata", {{"name", name}}}}).dump());
        EXPECT_TRUE(c.ok() && c->status == 201);
        auto u = server_->Request("PATCH", std::string(kCms) + "/" + name,
                                  R"({"data":{"v":")" + std::to_string(i) + R"("}})",
                                  "application/merge-patch+json");
        EXPECT_TRUE(u.ok() && u->status == 200);
      }
    });
  }
  for (auto& w : writers) w.join();
  auto events = ReadEvents(**stream, 2 * kThreads * kPerThread);
  ASSERT_EQ(events.size(), static_cast<size_t>(2 * kThreads * kPerThread));
  // Events arrive in resourceVersion order, and replaying them gives the listed state.
  long long last = std::stoll(start);
  std::map<std::string, json> state;
  for (const auto& e : events) {
    const long long rv = std::stoll(Rv(e["object"]));
    EXPECT_GT(rv, last);
    last = rv;
    state[e["object"]["metadata"]["name"]] = e["object"];
  }
  json list = Call("GET", kCms, nullptr, 200);
  ASSERT_EQ(list["items"].size(), state.size());
  for (const auto& item : list["items"]) EXPECT_EQ(item, state[item["metadata"]["name"]]);
  EXPECT_EQ(list["metadata"]["resourceVersion"], std::to_string(last));
}

TEST_F(ApiServerIntegrationTest, LatencyFaultDelaysApiRequestsOnly) {
  StartServer();
  ASSERT_TRUE(server_->SetFaults({{"latencyMs", 300}}).ok());
  auto t0 = std::chrono::steady_clock::now();
  Call("GET", kCms, nullptr, 200);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(300));
  ASSERT_TRUE(server_->SetFaults(json::object()).ok());
}

}  // namespace
}  // namespace vmrelease::testing

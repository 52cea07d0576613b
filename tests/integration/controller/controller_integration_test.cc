// The vmrelease-controller binary against the local API server: it observes
// both kinds, serves metrics and probes, honours the pause annotation, shuts
// down cleanly, refuses bad configuration, and elects exactly one leader.
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <mutex>
#include <regex>
#include <set>
#include <thread>

#include "controller/common/clock.h"
#include "controller/http/client.h"
#include "controller/http/server.h"
#include "controller/kube/config.h"
#include "controller/kube/errors.h"
#include "controller/kube/rest_client.h"
#include "tests/support/apiserver/fixture.h"
#include "tests/support/stack/controller_process.h"

namespace vmrelease::itest {
namespace {

using kube::Json;
using std::chrono::milliseconds;
using std::chrono::seconds;
using ::vmrelease::testing::LocalApiServer;
using ::vmrelease::testing::WaitFor;

const kube::ResourceType kReleases{"vmrelease.io", "v1alpha1", "imagereleases", "ImageRelease",
                                   true};
const kube::ResourceType kPins{"vmrelease.io", "v1alpha1", "environmentpins", "EnvironmentPin",
                               true};

std::unique_ptr<LocalApiServer> StartServer() {
  auto s = LocalApiServer::Start({.crds_dir = ::vmrelease::testing::SourceDir() +
                                              "/tests/integration/controller/testdata/crds"});
  if (!s.ok()) {
    ADD_FAILURE() << s.status().ToString();
    return nullptr;
  }
  return std::move(*s);
}

std::unique_ptr<kube::RestClient> ClientFor(const LocalApiServer& server) {
  auto cfg = kube::LoadKubeconfig({.path = server.kubeconfig()});
  if (!cfg.ok()) return nullptr;
  auto c = kube::RestClient::FromConfig(*cfg);
  return c.ok() ? std::move(*c) : nullptr;
}

Json Object(const kube::ResourceType& t, const std::string& name) {
  return {{"apiVersion", t.ApiVersion()},
          {"kind", t.kind},
          {"metadata", {{"namespace", "default"}, {"name", name}}},
          {"spec", {{"image", "sql-server-baseline"}, {"version", "1.3.0"}}}};
}

// The version in the top-level CMakeLists.txt's project() call, e.g. "0.1.0".
std::string ProjectVersion() {
  std::smatch m;
  const std::string cmake =
      ::vmrelease::testing::ReadFile(::vmrelease::testing::SourceDir() + "/CMakeLists.txt");
  if (!std::regex_search(cmake, m, std::regex(R"(project\(vmrelease VERSION ([0-9.]+))")))
    return "<no project version in CMakeLists.txt>";
  return m[1];
}

// The "observed object" lines of one process, as "Kind/ns/name@rv".
// "Kind/namespace/name@resourceVersion" of every reconcile the controller started
// (its debug line "reconcile started" carries what the reconcile saw).
std::vector<std::string> Observed(const ControllerProcess& p) {
  std::vector<std::string> out;
  for (const Json& l : p.Find("reconcile started")) {
    const std::string kind =
        l.value("controller", "") == "imagerelease" ? "ImageRelease" : "EnvironmentPin";
    out.push_back(kind + "/" + l.value("namespace", "") + "/" + l.value("name", "") + "@" +
                  l.value("resourceVersion", ""));
  }
  return out;
}

bool Contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

std::string LeaseHolder(kube::KubeClient& client) {
  auto lease = client.Get(kube::LeaseResource(), {"default", "vmrelease-controller"});
  if (!lease.ok()) return "<" + lease.status().message() + ">";
  return lease->value("/spec/holderIdentity"_json_pointer, std::string());
}

// Every version of the leader Lease from a watch, in order: the released record a
// leader writes on its way out can be overwritten by the next candidate within one
// retry period, so a single read after the fact could miss it.
class LeaseHistory {
 public:
  LeaseHistory(kube::KubeClient& client, const std::string& from_version) {
    auto stream =
        client.Watch(kube::LeaseResource(), {.ns = "default", .resource_version = from_version});
    if (!stream.ok()) {
      ADD_FAILURE() << "watching leases: " << stream.status().ToString();
      return;
    }
    stream_ = std::move(*stream);
    thread_ = std::thread([this] {
      while (true) {
        auto event = stream_->Next();
        if (!event.ok() || !event->has_value()) return;
        const kube::WatchEvent& e = **event;
        if (e.type == kube::WatchEventType::kBookmark) continue;
        if (e.object.value("/metadata/name"_json_pointer, std::string()) != "vmrelease-controller")
          continue;
        std::lock_guard g(mu_);
        specs_.push_back(e.object.value("spec", Json::object()));
      }
    });
  }
  ~LeaseHistory() { Stop(); }
  void Stop() {
    if (stream_) stream_->Cancel();
    if (thread_.joinable()) thread_.join();
  }
  std::vector<Json> specs() {
    std::lock_guard g(mu_);
    return specs_;
  }

 private:
  std::unique_ptr<kube::WatchStream> stream_;
  std::thread thread_;
  std::mutex mu_;
  std::vector<Json> specs_;
};

std::string Holder(const Json& spec) { return spec.value("holderIdentity", std::string()); }

double SecondsSince(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// Seconds from `since` to the timestamp of the process's first `msg` line: the
// moment the process itself logged it, free of this test's polling delay.
double LoggedSecondsAfter(const ControllerProcess& p, const std::string& msg,
                          std::chrono::system_clock::time_point since) {
  WallTime at;
  if (!ParseRfc3339(p.Field(msg, "ts"), &at)) return 1e9;
  return std::chrono::duration<double>(at - since).count();
}

TEST(ControllerBinaryTest, ObservesBothKindsServesMetricsAndStopsCleanly) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  auto client = ClientFor(*server);
  ASSERT_NE(client, nullptr);
  auto release = client->Create(kReleases, Object(kReleases, "sql-server-baseline-1.3.0"));
  ASSERT_TRUE(release.ok()) << release.status().ToString();
  auto pin = client->Create(kPins, Object(kPins, "production-sql"));
  ASSERT_TRUE(pin.ok()) << pin.status().ToString();

  auto ctl = ControllerProcess::Start(
      server->kubeconfig(),
      {"--metrics-bind-address", "127.0.0.1:0", "--workers", "3", "--log-level", "debug"});
  ASSERT_NE(ctl, nullptr);
  const std::string want_release =
      "ImageRelease/default/sql-server-baseline-1.3.0@" + kube::ResourceVersion(*release);
  const std::string want_pin =
      "EnvironmentPin/default/production-sql@" + kube::ResourceVersion(*pin);
  ASSERT_TRUE(WaitFor(
      [&] {
        auto seen = Observed(*ctl);
        return Contains(seen, want_release) && Contains(seen, want_pin);
      },
      seconds(30)))
      << ctl->log();
  for (const Json& l : ctl->Find("reconcile started")) {
    EXPECT_EQ(l["generation"], 1);  // the line carries what it saw
    EXPECT_EQ(l["level"], "debug");
  }
  // Every line of a reconcile carries the object and the reconcile's id, the lines the
  // reconciler causes included: here the debug lines of its requests to the API server
  // (this release has no source or build: its first reconcile adds the finalizer, then
  // stalls and says so).
  ASSERT_TRUE(
      WaitFor([&] { return ctl->Logged("reconcile stalled; waiting for a change"); }, seconds(30)))
      << ctl->log();
  // The controller goes on reconciling while the test reads its log, so every check below
  // works on one snapshot per message, taken in the order that keeps them consistent: a
  // reconcile logs "started" before any of its requests or its "stalled" line, so the
  // "started" snapshot, taken last, holds the id of every line in the earlier snapshots.
  const std::vector<Json> requests = ctl->Find("request");
  const std::vector<Json> stalled = ctl->Find("reconcile stalled; waiting for a change");
  const std::vector<Json> started = ctl->Find("reconcile started");
  const std::regex uuid("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");
  std::set<std::string> started_ids;
  for (const Json& l : started) {
    EXPECT_TRUE(std::regex_match(l.value("reconcileID", ""), uuid)) << l.dump();
    started_ids.insert(l.value("reconcileID", ""));
  }
  EXPECT_EQ(started_ids.size(), started.size()) << "one id per reconcile";
  const std::string release_path =
      "/apis/vmrelease.io/v1alpha1/namespaces/default/imagereleases/sql-server-baseline-1.3.0";
  int finalizer_patches = 0;
  for (const Json& l : requests) {
    const std::string url = l.value("url", "");
    if (l.value("method", "") != "PATCH" || url.size() < release_path.size() ||
        url.compare(url.size() - release_path.size(), release_path.size(), release_path) != 0)
      continue;
    ++finalizer_patches;
    EXPECT_EQ(l.value("logger", ""), "http") << l.dump();
    EXPECT_EQ(l.value("controller", ""), "imagerelease") << l.dump();
    EXPECT_EQ(l.value("namespace", ""), "default") << l.dump();
    EXPECT_EQ(l.value("name", ""), "sql-server-baseline-1.3.0") << l.dump();
    EXPECT_EQ(started_ids.count(l.value("reconcileID", "")), 1u)
        << "the id of the reconcile that sent it: " << l.dump();
  }
  EXPECT_GE(finalizer_patches, 1) << ctl->log();
  EXPECT_FALSE(stalled.empty());
  for (const Json& l : stalled) {
    EXPECT_EQ(started_ids.count(l.value("reconcileID", "")), 1u) << l.dump();
  }
  for (const Json& l : ctl->Find("started")) {
    EXPECT_FALSE(l.contains("reconcileID")) << "not a reconcile's line: " << l.dump();
    EXPECT_EQ(l.value("version", ""), ProjectVersion()) << l.dump();
  }

  // A change is seen again; a paused object is skipped with a log line. (Re-read: the
  // reconciler has added its finalizer and status since.)
  StatusOr<Json> updated = AbortedError("not tried");
  for (int attempt = 0; attempt < 20 && !updated.ok(); ++attempt) {
    auto current = client->Get(kReleases, {"default", "sql-server-baseline-1.3.0"});
    ASSERT_TRUE(current.ok());
    Json edit = *current;
    edit["spec"]["version"] = "1.3.1";
    updated = client->Update(kReleases, edit);
    if (!updated.ok()) {
      ASSERT_TRUE(kube::IsConflict(updated.status())) << updated.status().ToString();
    }
  }
  ASSERT_TRUE(updated.ok()) << updated.status().ToString();
  // The edit is seen: a reconcile of generation 2. (Not "of the update's resourceVersion":
  // the reconciler's own status write can land between the update and the worker's read,
  // and the worker then rightly starts from the newer object.)
  const int64_t want_generation = (*updated)["metadata"].value("generation", int64_t{0});
  ASSERT_EQ(want_generation, 2);
  ASSERT_TRUE(WaitFor(
      [&] {
        for (const Json& l : ctl->Find("reconcile started")) {
          if (l.value("controller", "") == "imagerelease" &&
              l.value("name", "") == "sql-server-baseline-1.3.0" &&
              l.value("generation", int64_t{0}) == want_generation) {
            return true;
          }
        }
        return false;
      },
      seconds(30)))
      << ctl->log();
  auto paused =
      client->Patch(kPins, {"default", "production-sql"}, kube::PatchType::kMerge,
                    {{"metadata", {{"annotations", {{"vmrelease.io/reconcile", "disabled"}}}}}});
  ASSERT_TRUE(paused.ok());
  ASSERT_TRUE(
      WaitFor([&] { return ctl->Logged("reconcile paused by annotation; skipping"); }, seconds(30)))
      << ctl->log();
  EXPECT_FALSE(Contains(Observed(*ctl),
                        "EnvironmentPin/default/production-sql@" + kube::ResourceVersion(*paused)));

  // Metrics and probes over HTTP.
  ASSERT_TRUE(WaitFor([&] { return !ctl->metrics_url().empty(); }, seconds(10)));
  http::Client http;
  auto ready = http.Send({.url = ctl->metrics_url() + "/readyz"});
  ASSERT_TRUE(ready.ok());
  EXPECT_EQ(ready->status, 200);
  EXPECT_EQ(http.Send({.url = ctl->metrics_url() + "/healthz"})->status, 200);
  auto metrics = http.Send({.url = ctl->metrics_url() + "/metrics"});
  ASSERT_TRUE(metrics.ok());
  EXPECT_EQ(metrics->status, 200);
  for (const char* name :
       {"controller_runtime_reconcile_total{controller=\"imagerelease\",result=\"success\"}",
        "controller_runtime_reconcile_total{controller=\"environmentpin\",result=\"success\"}",
        "controller_runtime_reconcile_errors_total{controller=\"imagerelease\"}",
        "controller_runtime_reconcile_time_seconds_bucket{controller=\"imagerelease\"",
        "controller_runtime_max_concurrent_reconciles{controller=\"imagerelease\"} 3",
        "workqueue_depth{name=\"imagerelease\"}", "workqueue_adds_total{name=\"environmentpin\"}",
        "workqueue_queue_duration_seconds_bucket{name=\"imagerelease\"",
        "workqueue_work_duration_seconds_bucket{name=\"imagerelease\"",
        "workqueue_retries_total{name=\"imagerelease\"}",
        "workqueue_unfinished_work_seconds{name=\"imagerelease\"}",
        "workqueue_longest_running_processor_seconds{name=\"imagerelease\"}"}) {
    EXPECT_NE(metrics->body.find(name), std::string::npos) << "missing " << name;
  }

  const auto term = std::chrono::steady_clock::now();
  ctl->Signal(SIGTERM);
  auto code = ctl->process().Wait(seconds(30));
  ASSERT_TRUE(code.ok()) << "did not stop after SIGTERM\n" << ctl->log();
  EXPECT_EQ(*code, 0);
  EXPECT_TRUE(ctl->Logged("stopped"));
  std::printf("controller: SIGTERM to exit in %.2fs\n", SecondsSince(term));
}

TEST(ControllerBinaryTest, RefusesBadFlagsAndUnusableConfiguration) {
  using ::vmrelease::testing::BinPath;
  using ::vmrelease::testing::RunCommand;
  ::vmrelease::testing::TempDir dir;
  auto r = RunCommand({BinPath("vmrelease-controller"), "--workers", "0"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--workers"), std::string::npos) << r.err;
  r = RunCommand({BinPath("vmrelease-controller"), "--log-format", "xml"});
  EXPECT_EQ(r.exit_code, 2);
  // Inconsistent lease settings (renew deadline = lease duration) are bad
  // flags too: refused before connecting to anything.
  r = RunCommand({BinPath("vmrelease-controller"), "--kubeconfig", dir.Join("missing"),
                  "--leader-elect", "--leader-elect-renew-deadline", "15s"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("lease duration must be greater than the renew deadline"), std::string::npos)
      << r.err;

  r = RunCommand({BinPath("vmrelease-controller"), "--kubeconfig", dir.Join("missing")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("unusable Kubernetes configuration"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(dir.Join("missing")), std::string::npos) << r.err;

  ::vmrelease::testing::WriteFile(dir.Join("broken"), "clusters: [\n");
  r = RunCommand({BinPath("vmrelease-controller"), "--kubeconfig", dir.Join("broken")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("not valid YAML"), std::string::npos) << r.err;

  // --version: the project version and the commit built from, exit code 0, nothing else
  // started (no kubeconfig is needed).
  r = RunCommand({BinPath("vmrelease-controller"), "--version"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind(std::string("vmrelease-controller ") + ProjectVersion() + " (commit ", 0),
            0u)
      << r.out;
  // The commit is one of this checkout's (HEAD when built, "-dirty" with uncommitted
  // changes; HEAD may have moved since the build), or "unknown" outside a git checkout.
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.out, m, std::regex(R"(\(commit ([0-9a-z]+)(-dirty)?\)\n$)")))
      << r.out;
  const std::string commit = m[1];
  const std::string source = ::vmrelease::testing::SourceDir();
  if (RunCommand({"git", "-C", source, "rev-parse", "--git-dir"}).exit_code == 0) {
    auto known =
        RunCommand({"git", "-C", source, "rev-parse", "--verify", "--quiet", commit + "^{commit}"});
    EXPECT_EQ(known.exit_code, 0) << commit << " is not a commit of " << source;
    EXPECT_EQ(commit.size(), 12u) << commit;
  } else {
    EXPECT_EQ(commit, "unknown");
  }

  // Parses, but nothing listens there.
  auto port = http::FindFreePort();
  ASSERT_TRUE(port.ok());
  ::vmrelease::testing::WriteFile(dir.Join("unreachable"),
                                  "current-context: x\n"
                                  "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:" +
                                      std::to_string(*port) +
                                      "', insecure-skip-tls-verify: true}}]\n"
                                      "users: [{name: u, user: {token: some-token-value}}]\n"
                                      "contexts: [{name: x, context: {cluster: c, user: u}}]\n");
  r = RunCommand({BinPath("vmrelease-controller"), "--kubeconfig", dir.Join("unreachable"),
                  "--metrics-bind-address", "0"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("cannot reach the Kubernetes API server"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("some-token-value"), std::string::npos) << "token leaked: " << r.err;
}

TEST(ControllerBinaryTest, LeaderElectionOneLeaderFailoverAndRelease) {
  // Short lease settings; the bounds below follow from them.
  const double kLease = 4.0, kRetry = 0.5;
  const std::vector<std::string> flags = {"--leader-elect",
                                          "--leader-elect-lease-duration",
                                          "4s",
                                          "--leader-elect-renew-deadline",
                                          "2s",
                                          "--leader-elect-retry-period",
                                          "500ms",
                                          "--metrics-bind-address",
                                          "127.0.0.1:0",
                                          "--log-level",
                                          "debug"};
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  auto client = ClientFor(*server);
  ASSERT_NE(client, nullptr);

  auto a = ControllerProcess::Start(server->kubeconfig(), flags);
  ASSERT_NE(a, nullptr);
  ASSERT_TRUE(WaitFor([&] { return a->Logged("successfully acquired lease"); }, seconds(30)))
      << a->log();
  auto b = ControllerProcess::Start(server->kubeconfig(), flags);
  ASSERT_NE(b, nullptr);
  ASSERT_TRUE(WaitFor([&] { return b->Logged("observed lease holder"); }, seconds(30))) << b->log();
  EXPECT_EQ(LeaseHolder(*client), a->identity());

  ASSERT_TRUE(client->Create(kReleases, Object(kReleases, "r1")).ok());
  ASSERT_TRUE(client->Create(kPins, Object(kPins, "p1")).ok());
  ASSERT_TRUE(WaitFor([&] { return Observed(*a).size() >= 2; }, seconds(30))) << a->log();
  // Several retry periods later the follower still has not reconciled anything,
  // though its caches are warm (ready) and it keeps watching the lease.
  std::this_thread::sleep_for(milliseconds(static_cast<int>(4 * kRetry * 1000)));
  EXPECT_TRUE(Observed(*b).empty()) << b->log();
  EXPECT_FALSE(b->Logged("successfully acquired lease"));
  // Ready means leading: the follower's caches are warm, yet it answers 503 (issue 13:
  // a standby is not Ready); the leader answers 200.
  http::Client http;
  ASSERT_TRUE(WaitFor([&] { return !b->metrics_url().empty(); }, seconds(10)));
  auto b_ready = http.Send({.url = b->metrics_url() + "/readyz"});
  ASSERT_TRUE(b_ready.ok());
  EXPECT_EQ(b_ready->status, 503);
  EXPECT_NE(b_ready->body.find("not the leader"), std::string::npos) << b_ready->body;
  EXPECT_EQ(http.Send({.url = a->metrics_url() + "/readyz"})->status, 200);
  auto a_metrics = http.Send({.url = a->metrics_url() + "/metrics"});
  ASSERT_TRUE(a_metrics.ok());
  EXPECT_NE(a_metrics->body.find("leader_election_master_status{name=\"vmrelease-controller\"} 1"),
            std::string::npos);
  EXPECT_NE(http.Send({.url = b->metrics_url() + "/metrics"})
                ->body.find("leader_election_master_status{name=\"vmrelease-controller\"} 0"),
            std::string::npos);

  // kill -9 the leader: no release, the follower must wait out the lease.
  const auto killed = std::chrono::system_clock::now();
  a->Signal(SIGKILL);
  ASSERT_TRUE(WaitFor([&] { return b->Logged("successfully acquired lease"); }, seconds(30)))
      << b->log();
  const double failover = LoggedSecondsAfter(*b, "successfully acquired lease", killed);
  EXPECT_EQ(LeaseHolder(*client), b->identity());
  // Not before the lease could have expired, and within lease duration + retry
  // period (plus 1s for process scheduling on a loaded machine).
  EXPECT_GE(failover, kLease - kRetry - 0.1);
  EXPECT_LE(failover, kLease + kRetry + 1.0);
  ASSERT_TRUE(WaitFor([&] { return Observed(*b).size() >= 2; }, seconds(30))) << b->log();
  // Leading now, b turns ready.
  EXPECT_TRUE(WaitFor(
      [&] {
        auto r = http.Send({.url = b->metrics_url() + "/readyz"});
        return r.ok() && r->status == 200;
      },
      seconds(10)));

  // A clean shutdown releases the lease at once: the next candidate needs no expiry.
  auto c = ControllerProcess::Start(server->kubeconfig(), flags);
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(WaitFor([&] { return c->Logged("observed lease holder"); }, seconds(30))) << c->log();
  auto before = client->Get(kube::LeaseResource(), {"default", "vmrelease-controller"});
  ASSERT_TRUE(before.ok()) << before.status().ToString();
  ASSERT_EQ(Holder((*before)["spec"]), b->identity());
  const int b_transitions = (*before)["spec"].value("leaseTransitions", -1);
  auto watcher = ClientFor(*server);
  ASSERT_NE(watcher, nullptr);
  LeaseHistory history(*watcher, kube::ResourceVersion(*before));
  const auto terminated = std::chrono::steady_clock::now();
  const auto terminated_wall = std::chrono::system_clock::now();
  b->Signal(SIGTERM);
  auto code = b->process().Wait(seconds(30));
  ASSERT_TRUE(code.ok()) << b->log();
  EXPECT_EQ(*code, 0);
  EXPECT_TRUE(b->Logged("released leader lease")) << b->log();
  const double b_exit = SecondsSince(terminated);
  ASSERT_TRUE(WaitFor([&] { return c->Logged("successfully acquired lease"); }, seconds(30)))
      << c->log();
  const double handover = LoggedSecondsAfter(*c, "successfully acquired lease", terminated_wall);
  EXPECT_EQ(LeaseHolder(*client), c->identity());
  // Handed over within about one retry period, and in any case before an
  // unreleased lease could have expired: b renewed at most a retry period
  // before the signal, so expiry lets c in no earlier than kLease - kRetry after it.
  EXPECT_LT(handover, kLease - kRetry - 0.1);
  EXPECT_LE(handover, b_exit + 1.2 * kRetry + 1.0);
  ASSERT_TRUE(WaitFor(
      [&] {
        auto h = history.specs();
        return !h.empty() && Holder(h.back()) == c->identity();
      },
      seconds(10)));
  history.Stop();

  // What b wrote last, as the Lease object held it: released the way client-go's
  // ReleaseOnCancel writes it (no holder, a 1 s duration, the transitions kept),
  // and only then taken by c. Without the release the first record after b's
  // renewals would be c's, written once b's lease had expired.
  const std::vector<Json> versions = history.specs();
  size_t first_not_b = 0;
  while (first_not_b < versions.size() && Holder(versions[first_not_b]) == b->identity())
    ++first_not_b;
  ASSERT_LT(first_not_b, versions.size());
  const Json& released = versions[first_not_b];
  EXPECT_EQ(Holder(released), "") << "b (" << b->identity() << ") must release the lease before c ("
                                  << c->identity()
                                  << ") takes it; next record: " << released.dump();
  EXPECT_EQ(released.value("leaseDurationSeconds", -1), 1) << released.dump();
  EXPECT_EQ(released.value("leaseTransitions", -1), b_transitions) << released.dump();
  WallTime released_at;
  ASSERT_TRUE(ParseRfc3339(released.value("renewTime", std::string()), &released_at))
      << released.dump();
  EXPECT_GE(released_at, terminated_wall - milliseconds(50)) << "written on the way out";
  ASSERT_LT(first_not_b + 1, versions.size());
  const Json& taken = versions[first_not_b + 1];
  EXPECT_EQ(Holder(taken), c->identity()) << "released, then taken by c: " << taken.dump();
  EXPECT_EQ(taken.value("leaseTransitions", -1), b_transitions + 1);

  std::printf(
      "leader election (lease %.1fs, retry %.1fs): failover after kill -9 in %.2fs; after "
      "SIGTERM the leader exited in %.2fs and the next took over %.2fs after the signal\n",
      kLease, kRetry, failover, b_exit, handover);
  c->Signal(SIGTERM);
  EXPECT_TRUE(c->process().Wait(seconds(30)).ok());
}

}  // namespace
}  // namespace vmrelease::itest

// Prometheus metrics under controller-runtime's names, and the metrics/probe server.
#include <gtest/gtest.h>

#include <atomic>

#include "controller/http/client.h"
#include "controller/kube/controller.h"
#include "controller/metrics/product_metrics.h"
#include "controller/metrics/prometheus.h"
#include "controller/metrics/server.h"
#include "tests/support/testing/process.h"

namespace vmrelease::metrics {
namespace {

using ::vmrelease::testing::WaitFor;

bool Has(const std::string& text, const std::string& line) {
  return text.find(line) != std::string::npos;
}

TEST(PrometheusMetricsTest, ExposesControllerRuntimeNames) {
  PrometheusMetrics prom;
  class Ok final : public kube::Reconciler {
   public:
    std::atomic<int> bad_calls{0};
    kube::ReconcileResult Reconcile(const kube::ObjectRef& ref) override {
      // Fails once, then succeeds on the (rate-limited) retry.
      if (ref.name == "bad" && bad_calls++ == 0) return UnavailableError("nope");
      if (ref.name == "stalled") return kube::ReconcileError::Stalled(InvalidArgumentError("x"));
      return kube::Action::AwaitChange();
    }
  } rec;
  kube::Controller ctl({.name = "imagerelease", .workers = 2, .metrics = &prom}, rec);
  ctl.Start();
  ctl.Enqueue({"ns", "good"});
  ctl.Enqueue({"ns", "bad"});
  ctl.Enqueue({"ns", "stalled"});
  ASSERT_TRUE(WaitFor(
      [&] {
        return Has(prom.Scrape(),
                   "controller_runtime_reconcile_total{controller=\"imagerelease\",result="
                   "\"success\"} 2") &&
               Has(prom.Scrape(),
                   "controller_runtime_terminal_reconcile_errors_total{controller="
                   "\"imagerelease\"} 1");
      },
      std::chrono::seconds(10)));
  ctl.Stop();
  const std::string text = prom.Scrape();
  for (const char* name :
       {"workqueue_depth{name=\"imagerelease\"}", "workqueue_adds_total{name=\"imagerelease\"} 4",
        "workqueue_queue_duration_seconds_bucket{name=\"imagerelease\"",
        "workqueue_work_duration_seconds_count{name=\"imagerelease\"}",
        "workqueue_retries_total{name=\"imagerelease\"} 1",
        "workqueue_unfinished_work_seconds{name=\"imagerelease\"}",
        "workqueue_longest_running_processor_seconds{name=\"imagerelease\"}",
        "controller_runtime_reconcile_total{controller=\"imagerelease\",result=\"requeue\"} 0",
        "controller_runtime_reconcile_total{controller=\"imagerelease\",result=\"error\"} 2",
        "controller_runtime_reconcile_errors_total{controller=\"imagerelease\"} 2",
        "controller_runtime_reconcile_time_seconds_count{controller=\"imagerelease\"} 4",
        "controller_runtime_max_concurrent_reconciles{controller=\"imagerelease\"} 2",
        "controller_runtime_active_workers{controller=\"imagerelease\"} 0",
        "# TYPE controller_runtime_reconcile_time_seconds histogram"}) {
    EXPECT_TRUE(Has(text, name)) << "missing " << name << "\n" << text;
  }
  auto le = prom.NewLeaderElectionMetrics("vmrelease-controller");
  le->SetLeader(true);
  EXPECT_TRUE(Has(prom.Scrape(), "leader_election_master_status{name=\"vmrelease-controller\"} 1"));
}

TEST(ProductMetricsTest, PinSeriesFollowTheResolutionAndGoWithThePin) {
  PrometheusMetrics prom;
  ProductMetrics product(prom);
  product.SetPin({.ns = "default",
                  .name = "prod",
                  .environment = "production",
                  .image = "sql",
                  .version = "1.2.0",
                  .ready = true,
                  .behind_by = 2});
  std::string text = prom.Scrape();
  const std::string labels = "environment=\"production\",image=\"sql\",namespace=\"default\"";
  EXPECT_TRUE(Has(text, "vmrelease_pin_info{" + labels + ",version=\"1.2.0\"} 1")) << text;
  EXPECT_TRUE(Has(text, "vmrelease_pin_behind_by{" + labels + "} 2")) << text;
  EXPECT_TRUE(Has(text, "vmrelease_pin_ready{" + labels + "} 1")) << text;
  EXPECT_TRUE(Has(text, "vmrelease_pin_revoked{" + labels + "} 0")) << text;

  // Revoked under the pin: still the same version, not ready, revoked = 1.
  product.SetPin({.ns = "default",
                  .name = "prod",
                  .environment = "production",
                  .image = "sql",
                  .version = "1.2.0",
                  .ready = false,
                  .behind_by = 2,
                  .revoked = true});
  text = prom.Scrape();
  EXPECT_TRUE(Has(text, "vmrelease_pin_revoked{" + labels + "} 1")) << text;
  EXPECT_TRUE(Has(text, "vmrelease_pin_ready{" + labels + "} 0")) << text;

  // A move replaces the info series (one version at a time).
  product.SetPin({.ns = "default",
                  .name = "prod",
                  .environment = "production",
                  .image = "sql",
                  .version = "1.3.0",
                  .ready = true,
                  .behind_by = 0});
  text = prom.Scrape();
  EXPECT_FALSE(Has(text, "version=\"1.2.0\"")) << text;
  EXPECT_TRUE(Has(text, "vmrelease_pin_info{" + labels + ",version=\"1.3.0\"} 1")) << text;

  product.ForgetPin("default", "prod");
  text = prom.Scrape();
  EXPECT_FALSE(Has(text, "vmrelease_pin_info{")) << text;
  EXPECT_FALSE(Has(text, "vmrelease_pin_ready{")) << text;
}

TEST(MetricsServerTest, ParsesBindAddresses) {
  auto a = ParseBindAddress("127.0.0.1:8080");
  ASSERT_TRUE(a.ok() && a->has_value());
  EXPECT_EQ((*a)->host, "127.0.0.1");
  EXPECT_EQ((*a)->port, 8080);
  a = ParseBindAddress(":9090");
  ASSERT_TRUE(a.ok() && a->has_value());
  EXPECT_EQ((*a)->host, "0.0.0.0");
  a = ParseBindAddress("[::1]:0");
  ASSERT_TRUE(a.ok() && a->has_value());
  EXPECT_EQ((*a)->host, "::1");
  a = ParseBindAddress("0");
  ASSERT_TRUE(a.ok());
  EXPECT_FALSE(a->has_value());
  EXPECT_FALSE(ParseBindAddress("8080x").ok());
  EXPECT_FALSE(ParseBindAddress("host:99999").ok());
  EXPECT_FALSE(ParseBindAddress("host:").ok());
}

TEST(MetricsServerTest, ServesMetricsHealthAndReadiness) {
  PrometheusMetrics prom;
  auto q = prom.NewWorkQueueMetrics("pins");
  q->IncAdds();
  std::atomic<bool> ready{false};
  auto server =
      MetricsServer::Start({.bind_address = "127.0.0.1:0",
                            .metrics = &prom,
                            .ready = [&] { return ready.load(); },
                            .why_not_ready = [] { return std::string("caches not synced"); }});
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  ASSERT_NE(*server, nullptr);
  http::Client client;
  const std::string base = (*server)->base_url();
  auto m = client.Send({.url = base + "/metrics"});
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->status, 200);
  EXPECT_TRUE(Has(m->body, "workqueue_adds_total{name=\"pins\"} 1"));
  EXPECT_TRUE(Has(m->headers.Get("Content-Type"), "text/plain"));
  EXPECT_EQ(client.Send({.url = base + "/healthz"})->status, 200);
  auto r = client.Send({.url = base + "/readyz"});
  EXPECT_EQ(r->status, 503);
  EXPECT_TRUE(Has(r->body, "caches not synced"));
  ready = true;
  EXPECT_EQ(client.Send({.url = base + "/readyz"})->status, 200);
  EXPECT_EQ(client.Send({.url = base + "/nope"})->status, 404);
  EXPECT_EQ(client.Send({.method = "POST", .url = base + "/metrics"})->status, 405);
}

TEST(MetricsServerTest, ZeroDisablesTheServer) {
  auto server = MetricsServer::Start({.bind_address = "0"});
  ASSERT_TRUE(server.ok());
  EXPECT_EQ(*server, nullptr);
  EXPECT_FALSE(MetricsServer::Start({.bind_address = "nonsense"}).ok());
}

}  // namespace
}  // namespace vmrelease::metrics

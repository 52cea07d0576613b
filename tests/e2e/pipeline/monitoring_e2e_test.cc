// The dashboard's and the alerts' queries against what the controller really exports (issue
// 13): one stack (local API server, Azurite, the fake ARM, the controller with
// --leader-elect), a release published to the gallery and to blob storage, and a pin on
// it. Then /metrics is scraped; `promtool check metrics` must find nothing to lint, and
// every metric name in deploy/grafana/vmrelease.json and deploy/prometheus/alerts.yaml must
// have a series in the scrape (tests/e2e/deploy/manifests.py queries). An unknown name
// fails: a copy of the dashboard with one is refused.
#include <gtest/gtest.h>

#include "controller/http/client.h"
#include "tests/e2e/pipeline/pipeline_e2e_util.h"

namespace vmrelease::testing {
namespace {

using Json = nlohmann::json;
using namespace std::chrono_literals;

// The first Python with PyYAML (Debian's python3-yaml), as deploy_test.sh picks it.
std::string Python() {
  for (const char* candidate : {"/usr/bin/python3", "python3"}) {
    if (RunCommand({candidate, "-c", "import yaml"}).exit_code == 0) return candidate;
  }
  return "python3";
}

TEST(MonitoringE2ETest, EveryDashboardAndAlertMetricHasASeriesAndPromtoolFindsTheScrapeClean) {
  PipelineStack::Options options;
  options.controller_flags = {"--leader-elect"};
  auto stack = NewFastStack(std::move(options));
  ASSERT_NE(stack, nullptr);
  PipelineStack& s = *stack;

  ReleaseSpecOptions release{.name = "app-1-0-0", .image = "app", .version = "1.0.0"};
  release.gallery = true;  // ARM requests besides the blob ones
  ASSERT_TRUE(s.Create(s.Release(release)).ok());
  std::string why;
  ASSERT_FALSE(s.WaitForPhase("app-1-0-0", "Released", 180s, &why).is_null()) << why << "\n"
                                                                              << s.ControllerLogs();
  ASSERT_TRUE(s.CreatePin("app-production", "production", "app", "1.0.0").ok());
  bool ok = false;
  Json pin = s.WaitForPin(
      "app-production",
      [](const Json& p) { return ConditionOf(p, "Ready").value("status", "") == "True"; }, 60s,
      &ok);
  ASSERT_TRUE(ok) << pin.dump(2);

  // The pin's series are set by the reconcile that wrote its status; wait for them.
  http::Client http;
  std::string scrape;
  ASSERT_TRUE(WaitFor(
      [&] {
        auto r = http.Send({.url = s.controller()->metrics_url() + "/metrics"});
        scrape = r.ok() && r->status == 200 ? r->body : "";
        return scrape.find("vmrelease_pin_info{") != std::string::npos &&
               scrape.find("leader_election_master_status{name=\"vmrelease-controller\"} 1") !=
                   std::string::npos;
      },
      30s))
      << scrape;

  CommandResult lint = RunCommand({ToolPath("promtool"), "check", "metrics"}, {}, scrape);
  EXPECT_EQ(lint.exit_code, 0) << lint.out << lint.err;
  EXPECT_EQ(lint.out + lint.err, "") << "promtool check metrics found problems";

  TempDir dir;
  const std::string scrape_file = dir.Join("metrics.txt");
  WriteFile(scrape_file, scrape);
  const std::string manifests = SourceDir() + "/tests/e2e/deploy/manifests.py";
  const std::string dashboard = SourceDir() + "/deploy/grafana/vmrelease.json";
  const std::string alerts = SourceDir() + "/deploy/prometheus/alerts.yaml";
  const std::string python = Python();
  CommandResult names = RunCommand({python, manifests, "queries", scrape_file, dashboard, alerts});
  EXPECT_EQ(names.exit_code, 0) << names.out << names.err;
  std::printf("%s", names.out.c_str());

  // The check can fail: the dashboard with a metric the controller does not export.
  std::string text = ReadFile(dashboard);
  const std::string known = "vmrelease_pin_behind_by{";
  const size_t at = text.find(known);
  ASSERT_NE(at, std::string::npos);
  text.replace(at, known.size() - 1, "vmrelease_pin_lag_versions");
  WriteFile(dir.Join("broken.json"), text);
  CommandResult broken =
      RunCommand({python, manifests, "queries", scrape_file, dir.Join("broken.json")});
  EXPECT_EQ(broken.exit_code, 1) << broken.out << broken.err;
  EXPECT_NE(broken.out.find("metric vmrelease_pin_lag_versions is not in"), std::string::npos)
      << broken.out;
}

}  // namespace
}  // namespace vmrelease::testing

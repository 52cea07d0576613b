// Crash safety of the job validation backend: the controller is killed with
// SIGKILL again and again while four releases run their checks in Jobs (run by
// the job runner); every release must reach Released with each check started
// exactly once (adopted after a crash, never run again once recorded), never two
// runs of one check at once, and no Job, Pod, Secret or staging blob left.
#include <gtest/gtest.h>

#include <sstream>

#include "tests/e2e/pipeline/pipeline_e2e_util.h"

namespace vmrelease::testing {
namespace {

using Json = nlohmann::json;
using namespace std::chrono_literals;

// Records each start of the check (and any overlap of two runs) under MARKER_DIR, takes a while.
constexpr char kMarkedCheck[] = R"sh(m="$MARKER_DIR/$RELEASE-$VMRELEASE_CHECK_NAME"
echo $$ >>"$m.starts"
mkdir "$m.running" 2>/dev/null || echo "overlap $$" >>"$m.overlaps"
sleep "$CHECK_SLEEP"
rmdir "$m.running"
echo "$VMRELEASE_CHECK_NAME done")sh";

TEST(JobValidationCrashE2ETest, KillNineDuringJobChecksLeavesNothingAndNeverRunsACheckTwice) {
  if (RunCommand({"sh", "-c", "command -v curl"}).exit_code != 0) GTEST_SKIP() << "needs curl";
  const auto t0 = std::chrono::steady_clock::now();
  PipelineStack::Options so;
  so.job_runner = true;
  auto stack = NewFastStack(std::move(so));
  ASSERT_NE(stack, nullptr);
  PipelineStack& s = *stack;
  const std::vector<std::string> checks = {"first", "second", "third"};
  std::vector<std::string> names;
  for (int i = 0; i < 4; ++i) {
    ReleaseSpecOptions o;
    o.version = "5." + std::to_string(i) + ".0";
    o.name = "app-5-" + std::to_string(i);
    o.validation = "job";
    o.check_env = {
        {"MARKER_DIR", s.marker_dir()}, {"RELEASE", o.name}, {"CHECK_SLEEP", i % 2 ? "5" : "6"}};
    o.checks.clear();
    for (const std::string& c : checks) o.checks.push_back({c, kMarkedCheck});
    names.push_back(o.name);
    ASSERT_TRUE(s.Create(s.Release(o)).ok());
  }
  const int kills = KillNineUntilReleased(s, names, {.seed = 17, .for_at_most = 3min});
  for (const std::string& n : names) {
    std::string why;
    Json r = s.WaitForPhase(n, "Released", 120s, &why);
    ASSERT_FALSE(r.is_null()) << why;
    const Json* results = kube::Find(r, {"status", "validation", "results"});
    ASSERT_TRUE(results && results->size() == checks.size()) << r["status"].dump(2);
  }
  EXPECT_GE(kills, 20);
  LeakReport leaks;
  EXPECT_TRUE(NothingLeaks(s, 60s, &leaks));
  int starts = 0, overlaps = 0, twice = 0;
  std::string diagnosis;
  for (const std::string& n : names) {
    for (const std::string& c : checks) {
      const std::string base = s.marker_dir() + "/" + n + "-" + c;
      const int k = static_cast<int>(FileLines(base + ".starts").size());
      starts += k;
      twice += k > 1;
      if (k > 1) {
        // Who started it again: the controller (a second Job) or the job runner (a second Pod)?
        const std::string job = "vmr-check-" + n + "-" + c;
        diagnosis +=
            "\n== " + n + "/" + c + " started " + std::to_string(k) + " times; log lines:\n";
        for (const std::string& log : {s.ControllerLogs(), s.job_runner()->log()}) {
          std::istringstream in(log);
          for (std::string line; std::getline(in, line);)
            if (line.find(job) != std::string::npos) diagnosis += line + "\n";
        }
      }
      overlaps += static_cast<int>(FileLines(base + ".overlaps").size());
    }
  }
  EXPECT_EQ(overlaps, 0) << "a check ran twice at the same time";
  EXPECT_EQ(twice, 0) << "a check ran again" << diagnosis;
  EXPECT_EQ(starts, static_cast<int>(names.size() * checks.size()));
  std::printf(
      "job validation crash safety: %d kill -9 over %zu releases x %zu checks in %.0f s; all "
      "Released; check starts %d, checks run twice %d, overlapping runs %d; leaked: %zu Jobs, %zu "
      "Pods, %zu Secrets, %zu staging blobs, %zu processes\n",
      kills, names.size(), checks.size(),
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), starts, twice,
      overlaps, leaks.jobs.size(), leaks.pods.size(), leaks.secrets.size(),
      leaks.staging_blobs.size(), leaks.processes.size());
}

}  // namespace
}  // namespace vmrelease::testing

// Crash safety of the job build backend: the controller is killed with SIGKILL
// again and again while four releases build in Jobs (run by the job runner);
// every release must reach Released with one build start each, never two builds
// of one release at once, and no Job, Pod, Secret or staging blob left.
#include <gtest/gtest.h>

#include "tests/e2e/pipeline/pipeline_e2e_util.h"

namespace vmrelease::testing {
namespace {

using Json = nlohmann::json;
using namespace std::chrono_literals;

TEST(JobCrashE2ETest, KillNineDuringJobBuildsLeavesNothingAndNeverBuildsTwice) {
  if (RunCommand({"sh", "-c", "command -v qemu-img && command -v curl"}).exit_code != 0)
    GTEST_SKIP() << "needs qemu-img and curl";
  PipelineStack::Options so;
  so.job_runner = true;
  auto stack = NewFastStack(std::move(so));
  ASSERT_NE(stack, nullptr);
  PipelineStack& s = *stack;
  std::vector<std::string> names;
  for (int i = 0; i < 4; ++i) {
    ReleaseSpecOptions o;
    o.version = "4." + std::to_string(i) + ".0";
    o.name = "app-4-" + std::to_string(i);
    o.build = "job";
    o.build_env = {{"BUILD_SECONDS", "20"}, {"DISK_MIB", "3"}};
    names.push_back(o.name);
    ASSERT_TRUE(s.Create(s.Release(o)).ok());
  }
  const int kills = KillNineUntilReleased(s, names, {.seed = 11, .for_at_most = 4min});
  for (const std::string& n : names) {
    std::string why;
    Json r = s.WaitForPhase(n, "Released", 180s, &why);
    ASSERT_FALSE(r.is_null()) << why;
  }
  EXPECT_GE(kills, 20);
  LeakReport leaks;
  EXPECT_TRUE(NothingLeaks(s, 60s, &leaks));
  int starts = 0, overlaps = 0;
  for (const std::string& n : names) {
    auto r = s.GetRelease(n);
    const std::string base = s.marker_dir() + "/app-" + std::string((*r)["spec"]["version"]);
    starts += static_cast<int>(FileLines(base + ".starts").size());
    overlaps += static_cast<int>(FileLines(base + ".overlaps").size());
  }
  EXPECT_EQ(overlaps, 0) << "a build ran twice at the same time";
  EXPECT_EQ(starts, static_cast<int>(names.size())) << "a build Job was created twice";
  std::printf(
      "job crash safety: %d kill -9 over %zu releases; all Released; build starts %d, overlapping "
      "builds %d; leaked: %zu Jobs, %zu Pods, %zu Secrets, %zu staging blobs, %zu processes\n",
      kills, names.size(), starts, overlaps, leaks.jobs.size(), leaks.pods.size(),
      leaks.secrets.size(), leaks.staging_blobs.size(), leaks.processes.size());
}

}  // namespace
}  // namespace vmrelease::testing

// A job build that never finishes is stopped at spec.build.timeout (5m, the
// shortest the API allows) and cleaned up: Failed at Build with BuildTimedOut,
// no Job, Pod, Secret, staging blob or process left. Takes about 5 minutes.
#include <gtest/gtest.h>

#include "tests/e2e/pipeline/pipeline_e2e_util.h"

namespace vmrelease::testing {
namespace {

using Json = nlohmann::json;
using namespace std::chrono_literals;

TEST(JobTimeoutE2ETest, NeverEndingJobBuildIsStoppedAtTheTimeout) {
  if (RunCommand({"sh", "-c", "command -v qemu-img && command -v curl"}).exit_code != 0)
    GTEST_SKIP() << "needs qemu-img and curl";
  PipelineStack::Options so;
  so.job_runner = true;
  auto stack = NewFastStack(std::move(so));
  ASSERT_NE(stack, nullptr);
  PipelineStack& s = *stack;
  ReleaseSpecOptions o{.name = "app-5-0-0", .image = "app", .version = "5.0.0"};
  o.build = "job";
  o.build_timeout = "5m";
  o.build_env = {{"BUILD_SECONDS", "100000"}};
  ASSERT_TRUE(s.Create(s.Release(o)).ok());
  std::string why;
  Json r = s.WaitForPhase("app-5-0-0", "Failed", 8min, &why);
  ASSERT_FALSE(r.is_null()) << why;
  EXPECT_EQ(ConditionOf(r, "Ready").value("reason", ""), "BuildTimedOut") << r["status"].dump();
  EXPECT_TRUE(NothingLeaks(s, 60s));
}

}  // namespace
}  // namespace vmrelease::testing

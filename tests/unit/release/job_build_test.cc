// The job build backend on an in-memory API server and a ManualClock: a Job that
// never finishes is stopped at spec.build.timeout and removed, with its Secret.
#include "controller/release/job_build.h"

#include <gtest/gtest.h>

#include "controller/release/jobs.h"
#include "tests/support/azurite/fake_blob_store.h"
#include "tests/unit/kube/fake_client.h"

namespace vmrelease::release {
namespace {

using Json = nlohmann::json;

TEST(JobBuildTest, NeverEndingJobIsStoppedAtTheTimeoutAndRemoved) {
  kube::testing::MemoryClient kube;
  testing::FakeBlobStore staging;
  ASSERT_TRUE(staging.CreateContainer("vmrelease-staging").ok());
  ManualClock clock;
  TaskRunner tasks(1);
  Environment env;
  env.clock = &clock;
  env.kube = &kube;
  env.staging = &staging;
  env.tasks = &tasks;
  api::ImageRelease rel;
  rel.metadata.ns = "default";
  rel.metadata.name = "app-1-0-0";
  rel.metadata.uid = "uid-1";
  rel.spec.image = "app";
  rel.spec.version = "1.0.0";
  rel.spec.build.job = api::JobBackend{
      .pod_template = {{"spec", {{"containers", {{{"name", "b"}, {"image", "x"}}}}}}}};
  rel.spec.build.timeout = "5m";
  const ReleaseNames names = ReleaseNames::For(rel);
  api::ImageReleaseStatus status;
  JobBuildBackend backend;
  auto reconcile = [&] {
    ReleaseContext ctx{rel, status, names, env, clock.WallNow()};
    return backend.Build(ctx);
  };

  StepResult r = reconcile();
  ASSERT_EQ(r.kind(), StepResult::Kind::kWait) << r.message();
  auto job = kube.Peek(jobs::JobResource(), {"default", names.job});
  ASSERT_TRUE(job.has_value());
  EXPECT_EQ((*job)["spec"]["activeDeadlineSeconds"], 300);
  EXPECT_EQ((*job)["spec"]["backoffLimit"], 0);
  EXPECT_EQ((*job)["spec"]["template"]["spec"]["restartPolicy"], "Never");
  EXPECT_EQ(job->dump().find("sig="), std::string::npos) << "the SAS is in the Job";
  ASSERT_TRUE(kube.Peek(kube::SecretResource(), {"default", names.job}).has_value());

  clock.Advance(std::chrono::minutes(4));
  EXPECT_EQ(reconcile().kind(), StepResult::Kind::kWait);
  EXPECT_EQ(kube.CountCalls("create"), 2u) << "a second Job or Secret was created";
  clock.Advance(std::chrono::minutes(1));
  r = reconcile();
  EXPECT_EQ(r.kind(), StepResult::Kind::kFailed);
  EXPECT_EQ(r.reason(), reason::kBuildTimedOut);
  // Stopped at once; Cleanup reports Done once nothing is left.
  EXPECT_FALSE(kube.Peek(jobs::JobResource(), {"default", names.job}).has_value());
  ReleaseContext ctx{rel, status, names, env, clock.WallNow()};
  EXPECT_TRUE(backend.Cleanup(ctx).done());
  EXPECT_FALSE(kube.Peek(kube::SecretResource(), {"default", names.job}).has_value());
}

}  // namespace
}  // namespace vmrelease::release

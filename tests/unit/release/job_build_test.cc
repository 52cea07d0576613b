// The job build backend on an in-memory API server and a ManualClock: the build
// gets write-only SAS URLs for its VHD and its inventory (in a Secret, never in the
// Job), and a Job that never finishes is stopped at spec.build.timeout and removed,
// with its Secret and the inventory blob.
#include "controller/release/job_build.h"

#include <gtest/gtest.h>

#include "controller/common/crypto.h"
#include "controller/release/jobs.h"
#include "tests/support/azurite/fake_blob_store.h"
#include "tests/unit/kube/fake_client.h"

namespace vmrelease::release {
namespace {

using Json = nlohmann::json;

struct JobBuildFixture {
  JobBuildFixture() {
    EXPECT_TRUE(staging.CreateContainer("vmrelease-staging").ok());
    env.clock = &clock;
    env.kube = &kube;
    env.staging = &staging;
    env.tasks = &tasks;
    rel.metadata.ns = "default";
    rel.metadata.name = "app-1-0-0";
    rel.metadata.uid = "uid-1";
    rel.spec.image = "app";
    rel.spec.version = "1.0.0";
    rel.spec.build.job = api::JobBackend{
        .pod_template = {{"spec", {{"containers", {{{"name", "b"}, {"image", "x"}}}}}}}};
    names = ReleaseNames::For(rel);
  }
  StepResult Build() {
    ReleaseContext ctx{rel, status, names, env, clock.WallNow()};
    return backend.Build(ctx);
  }
  StepResult Cleanup() {
    ReleaseContext ctx{rel, status, names, env, clock.WallNow()};
    return backend.Cleanup(ctx);
  }

  kube::testing::MemoryClient kube;
  testing::FakeBlobStore staging;
  ManualClock clock;
  TaskRunner tasks{1};
  Environment env;
  api::ImageRelease rel;
  ReleaseNames names;
  api::ImageReleaseStatus status;
  JobBuildBackend backend;
};

TEST(JobBuildTest, TheBuildGetsAWriteOnlySasForTheVhdAndOneForItsInventoryBesideIt) {
  JobBuildFixture f;
  ASSERT_EQ(f.Build().kind(), StepResult::Kind::kWait);
  auto secret = f.kube.Peek(kube::SecretResource(), {"default", f.names.job});
  ASSERT_TRUE(secret.has_value());
  std::map<std::string, std::string> urls;
  for (const char* key : {"VMRELEASE_OUTPUT_URL", "VMRELEASE_INVENTORY_URL"}) {
    auto url = Base64Decode((*secret)["data"].value(key, ""));
    ASSERT_TRUE(url.ok()) << key;
    urls[key] = *url;
  }
  EXPECT_NE(urls["VMRELEASE_OUTPUT_URL"].find("/default/app-1-0-0/uid-1.vhd?"), std::string::npos);
  EXPECT_NE(urls["VMRELEASE_INVENTORY_URL"].find("/default/app-1-0-0/uid-1.inventory.json?"),
            std::string::npos);
  for (const auto& [key, url] : urls)
    EXPECT_NE(url.find("sp=cw&"), std::string::npos) << key << " is not write-only";
  // Both reach the container through the Secret, never as plain values.
  auto job = f.kube.Peek(jobs::JobResource(), {"default", f.names.job});
  ASSERT_TRUE(job.has_value());
  int from_secret = 0;
  for (const Json& e : (*job)["spec"]["template"]["spec"]["containers"][0]["env"])
    if (urls.count(e.value("name", "")) > 0) {
      EXPECT_EQ(e["valueFrom"]["secretKeyRef"].value("name", ""), f.names.job) << e.dump();
      ++from_secret;
    }
  EXPECT_EQ(from_secret, 2);

  // The inventory blob the build left goes with the Job.
  ASSERT_TRUE(
      f.staging.PutBlockBlob({"vmrelease-staging", f.names.staging_inventory}, "{}", {}).ok());
  EXPECT_TRUE(f.Cleanup().done());
  EXPECT_FALSE(f.staging.GetProperties({"vmrelease-staging", f.names.staging_inventory}).ok());
  EXPECT_FALSE(f.kube.Peek(kube::SecretResource(), {"default", f.names.job}).has_value());
}

TEST(JobBuildTest, NeverEndingJobIsStoppedAtTheTimeoutAndRemoved) {
  JobBuildFixture f;
  f.rel.spec.build.timeout = "5m";
  StepResult r = f.Build();
  ASSERT_EQ(r.kind(), StepResult::Kind::kWait) << r.message();
  auto job = f.kube.Peek(jobs::JobResource(), {"default", f.names.job});
  ASSERT_TRUE(job.has_value());
  EXPECT_EQ((*job)["spec"]["activeDeadlineSeconds"], 300);
  EXPECT_EQ((*job)["spec"]["backoffLimit"], 0);
  EXPECT_EQ((*job)["spec"]["template"]["spec"]["restartPolicy"], "Never");
  EXPECT_EQ(job->dump().find("sig="), std::string::npos) << "the SAS is in the Job";
  ASSERT_TRUE(f.kube.Peek(kube::SecretResource(), {"default", f.names.job}).has_value());

  f.clock.Advance(std::chrono::minutes(4));
  EXPECT_EQ(f.Build().kind(), StepResult::Kind::kWait);
  EXPECT_EQ(f.kube.CountCalls("create"), 2u) << "a second Job or Secret was created";
  f.clock.Advance(std::chrono::minutes(1));
  r = f.Build();
  EXPECT_EQ(r.kind(), StepResult::Kind::kFailed);
  EXPECT_EQ(r.reason(), reason::kBuildTimedOut);
  // Stopped at once; Cleanup reports Done once nothing is left.
  EXPECT_FALSE(f.kube.Peek(jobs::JobResource(), {"default", f.names.job}).has_value());
  EXPECT_TRUE(f.Cleanup().done());
  EXPECT_FALSE(f.kube.Peek(kube::SecretResource(), {"default", f.names.job}).has_value());
}

}  // namespace
}  // namespace vmrelease::release

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
    rel.spec.source.platform_image =
        api::PlatformImage{.publisher = "Debian", .offer = "debian-12", .sku = "12-gen2"};
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

// The env of every container of the build Job, by name (plain values only).
std::map<std::string, std::string> JobEnv(JobBuildFixture& f) {
  std::map<std::string, std::string> env;
  auto job = f.kube.Peek(jobs::JobResource(), {"default", f.names.job});
  if (!job) return env;
  for (const Json& e : (*job)["spec"]["template"]["spec"]["containers"][0]["env"])
    if (e.contains("value")) env[e.value("name", "")] = e.value("value", "");
  return env;
}

TEST(JobBuildTest, ThePlatformImageSourceReachesTheBuildAndAPinnedVersionIsRecorded) {
  JobBuildFixture f;
  ASSERT_EQ(f.Build().kind(), StepResult::Kind::kWait);
  auto env = JobEnv(f);
  EXPECT_EQ(env["VMRELEASE_SOURCE_KIND"], "platformImage");
  EXPECT_EQ(env["VMRELEASE_SOURCE_PUBLISHER"], "Debian");
  EXPECT_EQ(env["VMRELEASE_SOURCE_OFFER"], "debian-12");
  EXPECT_EQ(env["VMRELEASE_SOURCE_SKU"], "12-gen2");
  EXPECT_EQ(env["VMRELEASE_SOURCE_VERSION"], "latest");
  EXPECT_EQ(env["VMRELEASE_VERSION"], "1.0.0");
  EXPECT_FALSE(f.status.build->source_version) << "latest is not a version";

  JobBuildFixture g;
  g.rel.spec.source.platform_image->version = "0.20260101.1";
  ASSERT_EQ(g.Build().kind(), StepResult::Kind::kWait);
  EXPECT_EQ(JobEnv(g)["VMRELEASE_SOURCE_VERSION"], "0.20260101.1");
  EXPECT_EQ(g.status.build->source_version, std::optional<std::string>("0.20260101.1"));
}

// Lineage: the build waits, stalled and saying why, until the source release is Released; then
// it starts with that release's version and artifact.
TEST(JobBuildTest, ABuildOnAnEarlierReleaseWaitsUntilItIsReleasedThenGetsItsArtifact) {
  JobBuildFixture f;
  f.rel.spec.source = api::ReleaseSource{.release = "app-0-9-0"};
  StepResult r = f.Build();
  ASSERT_EQ(r.kind(), StepResult::Kind::kStalled) << r.message();
  EXPECT_NE(r.message().find("ImageRelease app-0-9-0 does not exist in namespace default"),
            std::string::npos)
      << r.message();
  const kube::ResourceType releases{api::kGroup, api::kGroupVersion, api::kImageReleasePlural,
                                    api::kImageReleaseKind, true};
  Json source = {{"apiVersion", "vmrelease.io/v1alpha1"},
                 {"kind", "ImageRelease"},
                 {"metadata", {{"name", "app-0-9-0"}, {"namespace", "default"}}},
                 {"spec", {{"image", "app"}, {"version", "0.9.0"}}},
                 {"status", {{"phase", "Validating"}}}};
  f.kube.Put(releases, source);
  r = f.Build();
  ASSERT_EQ(r.kind(), StepResult::Kind::kStalled) << r.message();
  EXPECT_NE(r.message().find("app-0-9-0 is Validating, not Released"), std::string::npos)
      << r.message();
  EXPECT_FALSE(f.kube.Peek(jobs::JobResource(), {"default", f.names.job}).has_value())
      << "a build started on an unvalidated release";

  const std::string id =
      "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/"
      "Microsoft.Compute/galleries/g/images/app/versions/0.9.0";
  source["status"] = {{"phase", "Released"},
                      {"artifact",
                       {{"galleryImageVersionId", id},
                        {"vhdUri", "https://acct.blob.core.windows.net/images/app/0.9.0.vhd"}}}};
  f.kube.Put(releases, source);
  ASSERT_EQ(f.Build().kind(), StepResult::Kind::kWait);
  auto env = JobEnv(f);
  EXPECT_EQ(env["VMRELEASE_SOURCE_KIND"], "release");
  EXPECT_EQ(env["VMRELEASE_SOURCE_RELEASE"], "app-0-9-0");
  EXPECT_EQ(env["VMRELEASE_SOURCE_RELEASE_VERSION"], "0.9.0");
  EXPECT_EQ(env["VMRELEASE_SOURCE_GALLERY_IMAGE_VERSION_ID"], id);
  EXPECT_EQ(env["VMRELEASE_SOURCE_VHD_URL"],
            "https://acct.blob.core.windows.net/images/app/0.9.0.vhd");
  EXPECT_EQ(f.status.build->source_version, std::optional<std::string>("0.9.0"));
}

// In a cluster the failed Job's Pods go some time after the Job (garbage collection), so the
// failure is first recorded while the cleanup waits, and told again by a later pass: that pass
// must still say what failed, not a bare "build failed".
TEST(JobBuildTest, AFailureToldAgainAfterTheCleanupWaitedStillQuotesTheBuildsLastLine) {
  JobBuildFixture f;
  ASSERT_EQ(f.Build().kind(), StepResult::Kind::kWait);
  Json job = *f.kube.Peek(jobs::JobResource(), {"default", f.names.job});
  job["status"]["conditions"] = {
      {{"type", "Failed"}, {"status", "True"}, {"reason", "BackoffLimitExceeded"}}};
  f.kube.Put(jobs::JobResource(), job);
  const Json pod = {
      {"metadata",
       {{"name", f.names.job + "-abcde"},
        {"namespace", "default"},
        {"labels", {{jobs::kLabelJob, f.names.job}, {jobs::kLabelReleaseUid, "uid-1"}}}}},
      {"status",
       {{"containerStatuses",
         {{{"name", "b"},
           {"state",
            {{"terminated", {{"exitCode", 3}, {"message", "building\nERROR: disk full\n"}}}}}}}}}}};
  f.kube.Put(jobs::PodResource(), pod);
  StepResult first = f.Build();
  ASSERT_EQ(first.kind(), StepResult::Kind::kFailed);
  EXPECT_NE(first.message().find("ERROR: disk full"), std::string::npos) << first.message();
  // The cleanup waits for the Pod (it lingers here as it may in a cluster).
  EXPECT_FALSE(f.Cleanup().done());
  StepResult again = f.Build();
  ASSERT_EQ(again.kind(), StepResult::Kind::kFailed);
  EXPECT_EQ(again.reason(), reason::kBuildFailed);
  EXPECT_NE(again.message().find("exit code 3: ERROR: disk full"), std::string::npos)
      << again.message();
  EXPECT_NE(again.message().find(f.names.job), std::string::npos) << again.message();
}

}  // namespace
}  // namespace vmrelease::release

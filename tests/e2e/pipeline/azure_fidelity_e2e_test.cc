// Issue 16's never-overwrite guarantee at the reconciler level, with a fake ARM
// that ignores If-None-Match on gallery PUTs (as Compute Gallery may: it does
// not document the header): a gallery image version created by another release
// while this one builds is never updated and the release fails at Stage with
// VersionConflict; our own version, created by a controller that was killed
// before it heard the PUT's answer, is adopted by the next one (no second PUT).
#include <gtest/gtest.h>

#include "controller/azure/arm_client.h"
#include "controller/azure/arm_gallery.h"
#include "controller/azure/client_secret_credential.h"
#include "controller/common/crypto.h"
#include "tests/e2e/pipeline/pipeline_e2e_util.h"

namespace vmrelease::testing {
namespace {

using Json = nlohmann::json;
using namespace std::chrono_literals;

constexpr char kVersionPuts[] = "PUT Microsoft.Compute/galleries/images/versions";
constexpr char kVersionPatches[] = "PATCH Microsoft.Compute/galleries/images/versions";
constexpr char kOtherUid[] = "5d0c2a4e-0000-4000-8000-0123456789ab";

azure::GalleryImageRef AppImage() { return {kSubscription, kGalleryGroup, kGallery, "app"}; }

class AzureFidelityE2ETest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    PipelineStack::Options o;
    o.arm.ignore_if_none_match = true;
    o.arm.no_answer_delay = 6s;  // how long a kSlowAnswer PUT keeps its answer
    stack_ = NewFastStack(o).release();
  }
  static void TearDownTestSuite() {
    delete stack_;
    stack_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(stack_, nullptr); }
  PipelineStack& s() { return *stack_; }

  // Gallery version `version` of image app, created through ARM as another release would.
  void CreateOthersVersion(const std::string& version, const std::string& source_vhd_uri) {
    azure::ClientSecretCredential credential(
        {.tenant_id = kTenant, .client_id = kClientId, .client_secret = kClientSecret},
        {.authority_host = s().arm().base_url() + "/", .imds_endpoint = s().arm().base_url()});
    azure::ArmClient arm(credential, {.base_url = s().arm().base_url(),
                                      .default_poll_interval = std::chrono::milliseconds(100)});
    azure::ArmGallery other(arm);
    azure::ImageVersionSpec spec;
    spec.location = kGalleryLocation;
    spec.source_storage_account_id =
        std::string("/subscriptions/") + kSubscription + "/resourceGroups/" + kGalleryGroup +
        "/providers/Microsoft.Storage/storageAccounts/" + kAzuriteAccount;
    spec.source_vhd_uri = source_vhd_uri;
    spec.target_regions = {{.name = kGalleryLocation, .exclude_from_latest = true}};
    spec.exclude_from_latest = true;
    spec.owner_uid = kOtherUid;
    auto op = other.CreateImageVersion(AppImage(), version, spec);
    ASSERT_TRUE(op.ok()) << op.status().ToString();
    ASSERT_TRUE(arm.Wait(*op, std::chrono::seconds(30)).ok());
  }
  static PipelineStack* stack_;
};
PipelineStack* AzureFidelityE2ETest::stack_ = nullptr;

TEST_F(AzureFidelityE2ETest, AnotherReleasesGalleryVersionIsNeverUpdatedAndTheReleaseStalls) {
  // The release is created paused, so the other version can be put in its way
  // with the very source (staging blob) this release will send: a PUT of it
  // would be taken as an update by a service that ignores If-None-Match.
  ReleaseSpecOptions o{.name = "app-5-0-0", .image = "app", .version = "5.0.0"};
  o.gallery = true;
  // The build takes a while: the other version appears while it runs, after the check that
  // stops a release from building a version someone else already has (that check is not
  // what this test is about: Stage's own guard is).
  o.build_env = {{"BUILD_SECONDS", "4"}};
  Json obj = s().Release(o);
  obj["metadata"]["annotations"] = {{"vmrelease.io/reconcile", "disabled"}};
  auto created = s().Create(obj);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  const std::string uid = (*created)["metadata"]["uid"];
  const std::string staging_url =
      s().azurite().account_url() + "/vmrelease-staging/default/app-5-0-0/" + uid + ".vhd";

  ASSERT_TRUE(
      s().PatchRelease("app-5-0-0",
                       {{"metadata", {{"annotations", {{"vmrelease.io/reconcile", nullptr}}}}}})
          .ok());
  bool building = false;
  const Json started = WaitForRelease(
      s(), "app-5-0-0",
      [](const Json& r) {
        return !StatusString(r, {"status", "build", "startedAt"}).empty();
      },
      30s, &building);
  ASSERT_TRUE(building) << started.dump(2);

  // Another release (another uid) creates version 5.0.0 meanwhile.
  CreateOthersVersion("5.0.0", staging_url);
  const std::string id = AppImage().VersionId("5.0.0");
  const std::optional<Json> before = s().arm().Resource(id);
  ASSERT_TRUE(before.has_value());
  ASSERT_EQ((*before)["tags"][azure::kReleaseUidTag], kOtherUid);
  const int puts = s().arm().RequestCount(kVersionPuts);
  const int patches = s().arm().RequestCount(kVersionPatches);
  ASSERT_EQ(StatusString(*s().GetRelease("app-5-0-0"), {"status", "phase"}), "Building")
      << "the build ended before the other version was in place";

  std::string why;
  const Json failed = s().WaitForPhase("app-5-0-0", "Failed", 60s, &why);
  ASSERT_FALSE(failed.is_null()) << why << "\n" << s().ControllerLogs();
  EXPECT_EQ(StatusString(failed, {"status", "failedStep"}), "Stage");
  const Json stalled = ConditionOf(failed, "Stalled");
  EXPECT_EQ(stalled.value("status", ""), "True");
  EXPECT_EQ(stalled.value("reason", ""), "VersionConflict") << stalled.dump();
  EXPECT_TRUE(Contains(stalled.value("message", ""), "5.0.0")) << stalled.dump();
  // The other version is untouched: no PUT or PATCH reached it, byte for byte the same.
  EXPECT_EQ(StatusString(failed, {"status", "artifact", "vhdUri"}), staging_url)
      << "the other version must carry this release's own source for the test to mean anything";
  EXPECT_EQ(s().arm().RequestCount(kVersionPuts), puts);
  EXPECT_EQ(s().arm().RequestCount(kVersionPatches), patches);
  EXPECT_EQ(s().arm().Resource(id), before);
  EXPECT_FALSE(failed["status"]["artifact"].contains("galleryImageVersionId"));

  // Deleting the failed release does not take the other's version with it.
  ASSERT_TRUE(s().DeleteRelease("app-5-0-0").ok());
  ASSERT_TRUE(s().WaitGone("app-5-0-0", 30s)) << s().Summary("app-5-0-0");
  EXPECT_EQ(s().arm().Resource(id), before);
}

// A version another release already has: nothing is built (the build would only fail at
// Stage); the release stalls in Building saying whose it is, and nothing is sent to it.
TEST_F(AzureFidelityE2ETest, AVersionAnotherReleaseAlreadyHasStopsTheReleaseBeforeItBuilds) {
  CreateOthersVersion("5.2.0", s().azurite().account_url() + "/vmrelease-staging/other.vhd");
  const int puts = s().arm().RequestCount(kVersionPuts);
  ReleaseSpecOptions o{.name = "app-5-2-0", .image = "app", .version = "5.2.0"};
  o.gallery = true;
  ASSERT_TRUE(s().Create(s().Release(o)).ok());
  bool ok = false;
  const Json stalled = WaitForRelease(
      s(), "app-5-2-0",
      [](const Json& r) { return ConditionOf(r, "Stalled").value("status", "") == "True"; }, 60s,
      &ok);
  ASSERT_TRUE(ok) << stalled.dump(2) << s().ControllerLogs();
  EXPECT_EQ(StatusString(stalled, {"status", "phase"}), "Building");
  const Json cond = ConditionOf(stalled, "Stalled");
  EXPECT_EQ(cond.value("reason", ""), "VersionConflict") << cond.dump();
  EXPECT_TRUE(Contains(cond.value("message", ""), std::string("uid ") + kOtherUid)) << cond.dump();
  EXPECT_FALSE(stalled["status"].contains("build")) << stalled["status"].dump(2);
  EXPECT_EQ(s().arm().RequestCount(kVersionPuts), puts);
}

TEST_F(AzureFidelityE2ETest, OwnVersionCreatedBeforeACrashIsAdoptedNotCreatedAgain) {
  ReleaseSpecOptions o{.name = "app-5-1-0", .image = "app", .version = "5.1.0"};
  o.gallery = true;
  o.regions = {"westeurope", "northeurope"};
  const std::string id = AppImage().VersionId("5.1.0");
  // The staging PUT lands at once but is answered only after 6 s: the controller
  // is killed in between, so nothing of it reaches the release's status.
  s().arm().InjectFault(fake_arm::FaultKind::kSlowAnswer, 1, "/versions/5.1.0", "PUT");
  const int puts = s().arm().RequestCount(kVersionPuts);
  ASSERT_TRUE(s().Create(s().Release(o)).ok());
  ASSERT_TRUE(WaitFor([&] { return s().arm().Exists(id); }, 60s)) << s().Summary("app-5-1-0");
  s().StopController(SIGKILL);
  // The status says Building or Staging (whether the move to Staging was written
  // before the kill is a race the test does not control): nothing of the PUT is in it.
  const Json at_kill = *s().GetRelease("app-5-1-0");
  const std::string phase_at_kill = StatusString(at_kill, {"status", "phase"});
  EXPECT_TRUE(phase_at_kill == "Building" || phase_at_kill == "Staging")
      << at_kill["status"].dump(2);
  EXPECT_FALSE(at_kill["status"].contains("artifact") &&
               at_kill["status"]["artifact"].contains("galleryImageVersionId"))
      << at_kill["status"].dump(2);
  EXPECT_FALSE(at_kill["status"].contains("operation")) << at_kill["status"].dump(2);
  const std::string sha_at_kill = StatusString(at_kill, {"status", "artifact", "sha256"});
  ASSERT_EQ(sha_at_kill.size(), 64u) << "the upload had completed" << at_kill["status"].dump(2);
  EXPECT_EQ(s().arm().RequestCount(kVersionPuts), puts + 1);

  ASSERT_TRUE(s().StartController().ok());
  std::string why;
  const Json released = s().WaitForPhase("app-5-1-0", "Released", 90s, &why);
  ASSERT_FALSE(released.is_null()) << why << "\n" << s().ControllerLogs();
  // One version, ours, created by the one PUT before the crash and then published.
  EXPECT_EQ(s().arm().RequestCount(kVersionPuts), puts + 1) << "the version was PUT again";
  const auto version = s().arm().Resource(id);
  ASSERT_TRUE(version.has_value());
  EXPECT_EQ((*version)["tags"][azure::kReleaseUidTag], released["metadata"]["uid"]);
  EXPECT_EQ((*version)["properties"]["publishingProfile"]["targetRegions"].size(), 2u);
  int versions = 0;
  for (const std::string& rid : s().arm().ResourceIds())
    versions += Contains(rid, "/versions/5.1.0") ? 1 : 0;
  EXPECT_EQ(versions, 1);
  EXPECT_EQ(StatusString(released, {"status", "artifact", "galleryImageVersionId"}), id);
  // The adopted version was made from the staged VHD of the one build: the VHD
  // was neither rebuilt nor replaced, so what was validated and published is
  // what the gallery version holds.
  EXPECT_EQ(FileLines(s().marker_dir() + "/app-5.1.0.starts").size(), 1u) << "built again";
  EXPECT_EQ(StatusString(released, {"status", "artifact", "sha256"}), sha_at_kill);
  auto blob = s().blobs().GetBlob({"images", "app/5.1.0.vhd"});
  ASSERT_TRUE(blob.ok()) << blob.status().ToString();
  EXPECT_EQ(Sha256Hex(*blob), sha_at_kill);
  EXPECT_TRUE(s().Leaks().clean()) << s().Leaks().ToString();
}

}  // namespace
}  // namespace vmrelease::testing

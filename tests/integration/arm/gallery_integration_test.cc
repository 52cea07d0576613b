// Compute Gallery through the real ARM client against the fake ARM: a version
// from a VHD reaching Succeeded through several polls with Retry-After
// honoured, replication region by region, the never-overwrite rule, updates,
// failed operations and resuming a saved operation in a new client.
#include <gtest/gtest.h>

#include "controller/azure/azure_error.h"
#include "tests/integration/arm/arm_flows.h"

namespace vmrelease::azure {
namespace {

using namespace testflows;

class GalleryIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    env_ = ArmTestEnv::Start({.lro_polls = 4, .retry_after_seconds = 10});
    gallery_ = std::make_unique<ArmGallery>(env_->arm());
    env_->fake().AddGallery(kImage.subscription_id, kImage.resource_group, kImage.gallery,
                            "westeurope");
    MustWait(*env_, gallery_->CreateImageDefinition(kImage, Definition()));
    env_->fake().ResetCounters();
    env_->clear_sleeps();
  }
  std::unique_ptr<ArmTestEnv> env_;
  std::unique_ptr<ArmGallery> gallery_;
};

TEST_F(GalleryIntegrationTest, VersionFromVhdReachesSucceededThroughSeveralPolls) {
  ImageVersionSpec spec = VersionSpec("1.3.0.vhd");
  WallTime eol = env_->clock().WallNow() + std::chrono::hours(24 * 90);
  spec.end_of_life = eol;
  spec.safety.block_deletion_before_end_of_life = true;
  const int polls_before = env_->arm().stats().polls;
  auto op = gallery_->CreateImageVersion(kImage, "1.3.0", spec);
  ASSERT_TRUE(op.ok()) << op.status().ToString();
  EXPECT_EQ(op->state, OperationState::kInProgress);
  EXPECT_EQ(op->ref.via(), OperationRef::Via::kAsyncOperation);
  EXPECT_EQ(op->retry_after, 10s);

  auto done = env_->arm().Wait(*op, 1h);
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  EXPECT_EQ(done->state, OperationState::kSucceeded);
  ImageVersion v = ParseImageVersion(done->result);
  EXPECT_EQ(v.provisioning_state, "Succeeded");
  EXPECT_EQ(v.spec.source_vhd_uri, VhdUri("1.3.0.vhd"));
  EXPECT_EQ(v.spec.source_storage_account_id, kStorageAccount);
  EXPECT_TRUE(v.spec.exclude_from_latest);
  ASSERT_TRUE(v.spec.end_of_life.has_value());
  EXPECT_EQ(FormatRfc3339(*v.spec.end_of_life), FormatRfc3339(eol));
  EXPECT_EQ(v.spec.safety.block_deletion_before_end_of_life, true);
  ASSERT_EQ(v.spec.target_regions.size(), 1u);
  EXPECT_EQ(v.spec.target_regions[0].storage_account_type, "Standard_ZRS");

  // Exactly the configured InProgress polls, each after the Retry-After the fake sent.
  EXPECT_EQ(env_->fake().RequestCount("GET operations"), 4);
  EXPECT_EQ(env_->sleeps(), std::vector<Duration>(4, std::chrono::seconds(10)));
  EXPECT_EQ(env_->arm().stats().polls - polls_before, 4);
  EXPECT_EQ(env_->fake().RequestCount("PUT Microsoft.Compute/galleries/images/versions"), 1);
  // GET before the PUT (never overwrite) and the final GET after Succeeded.
  EXPECT_EQ(env_->fake().RequestCount("GET Microsoft.Compute/galleries/images/versions"), 2);
}

TEST_F(GalleryIntegrationTest, ReplicationProgressesRegionByRegion) {
  ImageVersionSpec spec = VersionSpec("1.4.0.vhd");
  spec.target_regions.push_back({.name = "northeurope", .regional_replica_count = 2});
  ASSERT_TRUE(gallery_->CreateImageVersion(kImage, "1.4.0", spec).ok());
  std::vector<std::string> seen;
  for (int i = 0; i < 4; ++i) {
    auto v = gallery_->GetImageVersion(kImage, "1.4.0", /*replication_status=*/true);
    ASSERT_TRUE(v.ok()) << v.status().ToString();
    ASSERT_TRUE(v->replication.has_value());
    ASSERT_EQ(v->replication->regions.size(), 2u);
    std::string line = v->provisioning_state + " " + v->replication->aggregated_state;
    for (const auto& r : v->replication->regions)
      line += " " + r.region + "=" + r.state + ":" + std::to_string(r.progress);
    seen.push_back(line);
  }
  EXPECT_EQ(seen, (std::vector<std::string>{
                      "Creating InProgress westeurope=Replicating:50 northeurope=Replicating:0",
                      "Creating InProgress westeurope=Completed:100 northeurope=Replicating:0",
                      "Creating InProgress westeurope=Completed:100 northeurope=Replicating:50",
                      "Succeeded Completed westeurope=Completed:100 northeurope=Completed:100"}));
}

TEST_F(GalleryIntegrationTest, AnExistingVersionIsNeverOverwritten) {
  MustWait(*env_, gallery_->CreateImageVersion(kImage, "1.3.0", VersionSpec("a.vhd")));
  const auto before = env_->fake().Resource(kImage.VersionId("1.3.0"));
  ASSERT_TRUE(before.has_value());

  // Same content: adopted as it is, nothing sent.
  auto again = gallery_->CreateImageVersion(kImage, "1.3.0", VersionSpec("a.vhd"));
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->state, OperationState::kSucceeded);

  // Different content: refused before any PUT.
  auto other = gallery_->CreateImageVersion(kImage, "1.3.0", VersionSpec("b.vhd"));
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(ClassifyArmError(other.status()), ArmErrorKind::kConflict);
  EXPECT_EQ(other.status().detail().reason, "GalleryImageVersionExists");
  EXPECT_NE(other.status().message().find("a.vhd"), std::string::npos);
  EXPECT_NE(other.status().message().find("b.vhd"), std::string::npos);
  EXPECT_EQ(env_->fake().RequestCount("PUT Microsoft.Compute/galleries/images/versions"), 1);
  EXPECT_EQ(env_->fake().Resource(kImage.VersionId("1.3.0")), before);

  // ARM's PUT is create-or-update; the create path sends If-None-Match: * so a
  // version that appeared after its GET is not replaced either (412).
  auto raw = env_->arm().Begin({.method = "PUT",
                                .path = kImage.VersionId("1.3.0"),
                                .api_version = kGalleryApiVersion,
                                .body = ImageVersionBody(VersionSpec("b.vhd")),
                                .headers = {{"If-None-Match", "*"}}});
  ASSERT_FALSE(raw.ok());
  EXPECT_EQ(raw.status().detail().http_status, 412);
  EXPECT_EQ(env_->fake().Resource(kImage.VersionId("1.3.0")), before);
}

TEST_F(GalleryIntegrationTest, AVersionStillBeingCreatedIsAdoptedAndFollowed) {
  ASSERT_TRUE(gallery_->CreateImageVersion(kImage, "2.0.0", VersionSpec("c.vhd")).ok());
  // A restarted controller does not know the operation; it finds the version Creating.
  auto adopted = gallery_->CreateImageVersion(kImage, "2.0.0", VersionSpec("c.vhd"));
  ASSERT_TRUE(adopted.ok());
  EXPECT_EQ(adopted->state, OperationState::kInProgress);
  EXPECT_EQ(adopted->ref.via(), OperationRef::Via::kResource);
  Operation done = MustWait(*env_, adopted);
  EXPECT_EQ(ParseImageVersion(done.result).provisioning_state, "Succeeded");
  EXPECT_EQ(env_->fake().RequestCount("PUT Microsoft.Compute/galleries/images/versions"), 1);
}

TEST_F(GalleryIntegrationTest, AFailedOperationSurfacesTheAzureCodeAndMessage) {
  env_->fake().FailNextOperation({.id_contains = "versions/3.0.0",
                                  .code = "GalleryImageVersionReplicationFailed",
                                  .message = "Replication to northeurope failed: disk too large"});
  auto op = gallery_->CreateImageVersion(kImage, "3.0.0", VersionSpec("d.vhd"));
  ASSERT_TRUE(op.ok());
  auto done = env_->arm().Wait(*op, 1h);
  ASSERT_FALSE(done.ok());
  EXPECT_EQ(done.status().detail().reason, "GalleryImageVersionReplicationFailed");
  EXPECT_NE(done.status().message().find("Replication to northeurope failed: disk too large"),
            std::string::npos)
      << done.status().message();
  EXPECT_EQ(ClassifyArmError(done.status()), ArmErrorKind::kOperationFailed);
  auto v = gallery_->GetImageVersion(kImage, "3.0.0", true);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->provisioning_state, "Failed");
  EXPECT_EQ(v->replication->aggregated_state, "Failed");
}

TEST_F(GalleryIntegrationTest, ResumesASavedOperationInANewClient) {
  std::string saved;
  {
    auto cred = env_->NewCredential();
    auto first = env_->NewClient(*cred);
    ArmGallery g(*first);
    auto op = g.CreateImageVersion(kImage, "1.5.0", VersionSpec("e.vhd"));
    ASSERT_TRUE(op.ok());
    auto polled = g.Poll(op->ref);  // one non-blocking poll, like a reconcile
    ASSERT_TRUE(polled.ok());
    EXPECT_EQ(polled->state, OperationState::kInProgress);
    EXPECT_EQ(polled->percent_complete, 25.0);
    saved = polled->ref.Serialize();
  }  // the first client and its credential are gone ("controller restart")

  auto ref = OperationRef::Parse(saved);
  ASSERT_TRUE(ref.ok()) << ref.status().ToString();
  auto cred = env_->NewCredential();
  auto second = env_->NewClient(*cred);
  ArmGallery g(*second);
  int polls = 0;
  Operation now;
  do {
    auto p = g.Poll(*ref);
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    now = *p;
    ++polls;
  } while (!now.done() && polls < 10);
  EXPECT_EQ(now.state, OperationState::kSucceeded);
  EXPECT_EQ(polls, 3);  // 4 polls in total, one before the restart
  EXPECT_EQ(ParseImageVersion(now.result).name, "1.5.0");
  EXPECT_EQ(env_->fake().TokensIssued(), 2);
}

TEST_F(GalleryIntegrationTest, PublishingUpdatesAndDeletionRules) {
  MustWait(*env_, gallery_->CreateImageVersion(kImage, "1.3.0", VersionSpec("f.vhd")));
  const WallTime eol = env_->clock().WallNow() + std::chrono::hours(24 * 90);
  PublishingUpdate update{
      .target_regions = std::vector<TargetRegion>{{.name = "westeurope",
                                                   .regional_replica_count = 2,
                                                   .storage_account_type = "Standard_ZRS"},
                                                  {.name = "eastus2", .regional_replica_count = 1}},
      .exclude_from_latest = false,
      .end_of_life = eol,
      .safety = SafetyProfile{.block_deletion_before_end_of_life = true}};
  MustWait(*env_, gallery_->UpdateImageVersion(kImage, "1.3.0", update));
  EXPECT_EQ(env_->fake().RequestCount("PATCH Microsoft.Compute/galleries/images/versions"), 1);
  auto v = gallery_->GetImageVersion(kImage, "1.3.0", true);
  ASSERT_TRUE(v.ok());
  EXPECT_FALSE(v->spec.exclude_from_latest);
  ASSERT_EQ(v->spec.target_regions.size(), 2u);
  EXPECT_EQ(v->spec.target_regions[1].name, "eastus2");
  EXPECT_EQ(v->spec.target_regions[0].regional_replica_count, 2);
  EXPECT_EQ(FormatRfc3339(*v->spec.end_of_life), FormatRfc3339(eol));
  EXPECT_EQ(v->replication->aggregated_state, "Completed");
  EXPECT_EQ(v->spec.source_vhd_uri, VhdUri("f.vhd"));  // content untouched

  // Deletion is blocked until the end of life date.
  auto blocked = gallery_->DeleteImageVersion(kImage, "1.3.0");
  ASSERT_FALSE(blocked.ok());
  EXPECT_EQ(ClassifyArmError(blocked.status()), ArmErrorKind::kConflict);
  EXPECT_EQ(blocked.status().detail().reason, "OperationNotAllowed");
  env_->clock().Advance(std::chrono::hours(24 * 91));
  MustWait(*env_, gallery_->DeleteImageVersion(kImage, "1.3.0"));
  auto gone = gallery_->GetImageVersion(kImage, "1.3.0", false);
  EXPECT_EQ(gone.status().code(), StatusCode::kNotFound);
  // Deleting again is a no-op.
  auto again = gallery_->DeleteImageVersion(kImage, "1.3.0");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->state, OperationState::kSucceeded);
}

TEST_F(GalleryIntegrationTest, ImageDefinitionIsAdoptedOrRefused) {
  auto same = gallery_->CreateImageDefinition(kImage, Definition());
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(same->state, OperationState::kSucceeded);
  ImageDefinition linux = Definition();
  linux.os_type = "Linux";
  auto other = gallery_->CreateImageDefinition(kImage, linux);
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.status().code(), StatusCode::kAlreadyExists);
  auto got = gallery_->GetImageDefinition(kImage);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->os_type, "Windows");
  EXPECT_EQ(got->provisioning_state, "Succeeded");
  GalleryImageRef missing = kImage;
  missing.image = "nope";
  EXPECT_EQ(gallery_->GetImageDefinition(missing).status().code(), StatusCode::kNotFound);
  EXPECT_FALSE(gallery_->CreateImageVersion(kImage, "1.0", VersionSpec("x.vhd")).ok());
  ImageVersionSpec with_sas = VersionSpec("x.vhd");
  with_sas.source_vhd_uri += "?sv=2024&sig=abc";
  EXPECT_EQ(gallery_->CreateImageVersion(kImage, "1.0.0", with_sas).status().code(),
            StatusCode::kInvalidArgument);
}

TEST_F(GalleryIntegrationTest, MalformedBodiesAndWrongApiVersionsAreBadRequests) {
  auto malformed = env_->arm().Begin(
      {.method = "PUT",
       .path = kImage.VersionId("1.0.0"),
       .api_version = kGalleryApiVersion,
       .body = nlohmann::json{{"location", "westeurope"}, {"properties", "not-an-object"}}});
  ASSERT_FALSE(malformed.ok());
  EXPECT_EQ(ClassifyArmError(malformed.status()), ArmErrorKind::kInvalid);
  auto old_api = env_->arm().Get(kImage.Id(), "2019-12-01");
  ASSERT_FALSE(old_api.ok());
  EXPECT_EQ(old_api.status().detail().reason, "InvalidApiVersionParameter");
  EXPECT_EQ(env_->arm().stats().retries, 0);
}

}  // namespace
}  // namespace vmrelease::azure

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
  EXPECT_EQ((*before)["tags"][kReleaseUidTag], kReleaseUid);

  // Ours, same content: adopted as it is, nothing sent.
  auto again = gallery_->CreateImageVersion(kImage, "1.3.0", VersionSpec("a.vhd"));
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->state, OperationState::kSucceeded);

  // Ours, different content: refused before any PUT.
  auto other = gallery_->CreateImageVersion(kImage, "1.3.0", VersionSpec("b.vhd"));
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(ClassifyArmError(other.status()), ArmErrorKind::kConflict);
  EXPECT_EQ(other.status().detail().reason, "GalleryImageVersionExists");
  EXPECT_NE(other.status().message().find("a.vhd"), std::string::npos);
  EXPECT_NE(other.status().message().find("b.vhd"), std::string::npos);
  EXPECT_EQ(env_->fake().RequestCount("PUT Microsoft.Compute/galleries/images/versions"), 1);
  EXPECT_EQ(env_->fake().Resource(kImage.VersionId("1.3.0")), before);

  // Another release's claim on the same version: VersionConflict, naming both.
  auto theirs =
      gallery_->CreateImageVersion(kImage, "1.3.0", VersionSpec("a.vhd", kOtherReleaseUid));
  ASSERT_FALSE(theirs.ok());
  EXPECT_TRUE(IsVersionConflict(theirs.status())) << theirs.status().ToString();
  EXPECT_EQ(ClassifyArmError(theirs.status()), ArmErrorKind::kConflict);
  EXPECT_NE(theirs.status().message().find(kReleaseUid), std::string::npos);
  EXPECT_NE(theirs.status().message().find(kOtherReleaseUid), std::string::npos);
  EXPECT_EQ(env_->fake().Resource(kImage.VersionId("1.3.0")), before);

  // ARM's PUT is create-or-update; the create path sends If-None-Match: * so a
  // version that appeared after its GET is not replaced either (412) — when
  // the service honours it.
  auto raw = env_->arm().Begin({.method = "PUT",
                                .path = kImage.VersionId("1.3.0"),
                                .api_version = kGalleryApiVersion,
                                .body = ImageVersionBody(VersionSpec("a.vhd", kOtherReleaseUid)),
                                .headers = {{"If-None-Match", "*"}}});
  ASSERT_FALSE(raw.ok());
  EXPECT_EQ(raw.status().detail().http_status, 412);
  EXPECT_EQ(env_->fake().Resource(kImage.VersionId("1.3.0")), before);
  ASSERT_TRUE(gallery_->CreateImageVersion(kImage, "1.3.0", VersionSpec("a.vhd")).ok());
}

TEST_F(GalleryIntegrationTest, AnotherReleasesVersionIsNeverTouchedWhenIfNoneMatchIsIgnored) {
  env_->fake().SetIgnoreIfNoneMatch(true);
  ArmGallery theirs(env_->arm());
  MustWait(*env_,
           theirs.CreateImageVersion(kImage, "1.3.0", VersionSpec("a.vhd", kOtherReleaseUid)));
  const std::string id = kImage.VersionId("1.3.0");
  const auto before = env_->fake().Resource(id);
  ASSERT_TRUE(before.has_value());
  env_->fake().ResetCounters();

  // The switch is real: a PUT with If-None-Match: * now updates the version
  // (shown on a scratch version, 7.0.0).
  MustWait(*env_,
           theirs.CreateImageVersion(kImage, "7.0.0", VersionSpec("s.vhd", kOtherReleaseUid)));
  auto raw = env_->arm().Begin({.method = "PUT",
                                .path = kImage.VersionId("7.0.0"),
                                .api_version = kGalleryApiVersion,
                                .body = ImageVersionBody(VersionSpec("s.vhd", kReleaseUid)),
                                .headers = {{"If-None-Match", "*"}}});
  ASSERT_TRUE(raw.ok()) << raw.status().ToString();
  EXPECT_EQ((*env_->fake().Resource(kImage.VersionId("7.0.0")))["tags"][kReleaseUidTag],
            kReleaseUid);
  env_->fake().ResetCounters();

  // Same VHD, so Azure would accept the PUT as an update — but we never send it.
  auto create = gallery_->CreateImageVersion(kImage, "1.3.0", VersionSpec("a.vhd"));
  ASSERT_FALSE(create.ok());
  EXPECT_TRUE(IsVersionConflict(create.status())) << create.status().ToString();
  EXPECT_NE(create.status().message().find("belongs to release uid " + kOtherReleaseUid),
            std::string::npos)
      << create.status().message();
  EXPECT_NE(create.status().message().find("(uid " + kReleaseUid + ")"), std::string::npos);

  // Revoking or publishing it, or deleting it, is refused the same way.
  auto update = gallery_->UpdateImageVersion(
      kImage, "1.3.0", {.owner_uid = kReleaseUid, .exclude_from_latest = false});
  ASSERT_FALSE(update.ok());
  EXPECT_TRUE(IsVersionConflict(update.status())) << update.status().ToString();
  auto del = gallery_->DeleteOwnedImageVersion(kImage, "1.3.0", kReleaseUid);
  ASSERT_FALSE(del.ok());
  EXPECT_TRUE(IsVersionConflict(del.status())) << del.status().ToString();

  EXPECT_EQ(env_->fake().RequestCount("PUT Microsoft.Compute/galleries/images/versions"), 0);
  EXPECT_EQ(env_->fake().RequestCount("PATCH Microsoft.Compute/galleries/images/versions"), 0);
  EXPECT_EQ(env_->fake().RequestCount("DELETE Microsoft.Compute/galleries/images/versions"), 0);
  EXPECT_EQ(env_->fake().Resource(id), before);

  // A version without the tag (made by hand or another tool) is not ours either.
  nlohmann::json untagged = ImageVersionBody(VersionSpec("u.vhd"));
  untagged.erase("tags");
  MustWait(*env_, env_->arm().Begin({.method = "PUT",
                                     .path = kImage.VersionId("1.6.0"),
                                     .api_version = kGalleryApiVersion,
                                     .body = untagged}));
  auto hand_made = gallery_->CreateImageVersion(kImage, "1.6.0", VersionSpec("u.vhd"));
  ASSERT_FALSE(hand_made.ok());
  EXPECT_TRUE(IsVersionConflict(hand_made.status()));
  EXPECT_NE(hand_made.status().message().find("carries no vmrelease-release-uid tag"),
            std::string::npos)
      << hand_made.status().message();
}

TEST_F(GalleryIntegrationTest, OurVersionIsAdoptedAfterACrashWhenIfNoneMatchIsIgnored) {
  env_->fake().SetIgnoreIfNoneMatch(true);
  {
    auto cred = env_->NewCredential();
    auto client = env_->NewClient(*cred);
    ArmGallery before_crash(*client);
    auto op = before_crash.CreateImageVersion(kImage, "1.8.0", VersionSpec("h.vhd"));
    ASSERT_TRUE(op.ok()) << op.status().ToString();
    EXPECT_EQ(op->state, OperationState::kInProgress);
  }  // the controller dies before recording the operation

  auto cred = env_->NewCredential();
  auto client = env_->NewClient(*cred);
  ArmGallery after_crash(*client);
  auto adopted = after_crash.CreateImageVersion(kImage, "1.8.0", VersionSpec("h.vhd"));
  ASSERT_TRUE(adopted.ok()) << adopted.status().ToString();
  EXPECT_EQ(adopted->state, OperationState::kInProgress);
  Operation done = MustWait(*env_, adopted, &after_crash);
  EXPECT_EQ(ParseImageVersion(done.result).provisioning_state, "Succeeded");
  EXPECT_EQ(ParseImageVersion(done.result).spec.owner_uid, kReleaseUid);
  EXPECT_EQ(env_->fake().RequestCount("PUT Microsoft.Compute/galleries/images/versions"), 1);
}

// The create PUT lands but its answer is lost; the client's retry meets the
// version it just made (412 when If-None-Match is honoured, 409 while its
// operation runs when it is ignored). Reading it back adopts it.
class LostCreateAnswerTest : public GalleryIntegrationTest,
                             public ::testing::WithParamInterface<bool> {};

TEST_P(LostCreateAnswerTest, TheVersionIsReadBackAndAdopted) {
  env_->fake().SetIgnoreIfNoneMatch(GetParam());
  env_->fake().InjectFault(fake_arm::FaultKind::kLostAnswer, 1, "/versions/1.9.0", "PUT");
  auto op = gallery_->CreateImageVersion(kImage, "1.9.0", VersionSpec("l.vhd"));
  ASSERT_TRUE(op.ok()) << op.status().ToString();
  EXPECT_EQ(op->state, OperationState::kInProgress);
  EXPECT_EQ(env_->fake().RequestCount("PUT Microsoft.Compute/galleries/images/versions"), 2);
  Operation done = MustWait(*env_, op);
  const ImageVersion v = ParseImageVersion(done.result);
  EXPECT_EQ(v.provisioning_state, "Succeeded");
  EXPECT_EQ(v.spec.owner_uid, kReleaseUid);
  EXPECT_EQ(v.spec.source_vhd_uri, VhdUri("l.vhd"));

  // Another release's lost answer the same way: its version is found, and refused.
  env_->fake().InjectFault(fake_arm::FaultKind::kLostAnswer, 1, "/versions/1.9.1", "PUT");
  env_->fake().InjectFault(fake_arm::FaultKind::kServerError500, 7, "/versions/1.9.1", "PUT");
  ArmGallery theirs(env_->arm());
  auto their_op =
      theirs.CreateImageVersion(kImage, "1.9.1", VersionSpec("m.vhd", kOtherReleaseUid));
  ASSERT_TRUE(their_op.ok()) << their_op.status().ToString();  // it landed: adopted by its owner
  auto ours = gallery_->CreateImageVersion(kImage, "1.9.1", VersionSpec("m.vhd"));
  EXPECT_TRUE(IsVersionConflict(ours.status())) << ours.status().ToString();
}

INSTANTIATE_TEST_SUITE_P(IfNoneMatch, LostCreateAnswerTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "Ignored" : "Honoured"; });

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
      .owner_uid = kReleaseUid,
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

// The excludeFromLatest flags of the stored version: "profile" then each region's.
std::string LatestFlags(ArmTestEnv& env, const std::string& id) {
  const auto v = env.fake().Resource(id);
  if (!v) return "missing";
  const nlohmann::json& pub = (*v)["properties"]["publishingProfile"];
  std::string out = "profile=" + pub["excludeFromLatest"].dump();
  for (const auto& r : pub["targetRegions"])
    out += " " + r["name"].get<std::string>() + "=" + r["excludeFromLatest"].dump();
  return out;
}

TEST_F(GalleryIntegrationTest, PublishAndRevocationSetExcludeFromLatestInEveryRegion) {
  const std::string id = kImage.VersionId("1.3.0");
  // Azure keeps a flag per region, false unless sent — whatever the profile says.
  nlohmann::json bare = ImageVersionBody(VersionSpec("r.vhd"));
  for (auto& r : bare["properties"]["publishingProfile"]["targetRegions"])
    r.erase("excludeFromLatest");
  MustWait(*env_, env_->arm().Begin({.method = "PUT",
                                     .path = kImage.VersionId("0.0.1"),
                                     .api_version = kGalleryApiVersion,
                                     .body = bare}));
  EXPECT_EQ(LatestFlags(*env_, kImage.VersionId("0.0.1")), "profile=true westeurope=false");

  // Staged: excluded from latest, in the validation region only — at both levels.
  MustWait(*env_, gallery_->CreateImageVersion(kImage, "1.3.0", VersionSpec("r.vhd")));
  EXPECT_EQ(LatestFlags(*env_, id), "profile=true westeurope=true");

  // More regions while still staged: the new ones stay excluded like the version.
  MustWait(*env_,
           gallery_->UpdateImageVersion(kImage, "1.3.0",
                                        {.owner_uid = kReleaseUid,
                                         .target_regions = std::vector<TargetRegion>{
                                             {.name = "westeurope"}, {.name = "northeurope"}}}));
  EXPECT_EQ(LatestFlags(*env_, id), "profile=true westeurope=true northeurope=true");

  // Published to three regions (no per-region flags given): all take the new value.
  MustWait(*env_, gallery_->UpdateImageVersion(
                      kImage, "1.3.0",
                      {.owner_uid = kReleaseUid,
                       .target_regions = std::vector<TargetRegion>{{.name = "westeurope"},
                                                                   {.name = "northeurope"},
                                                                   {.name = "eastus2",
                                                                    .exclude_from_latest = true}},
                       .exclude_from_latest = false}));
  EXPECT_EQ(LatestFlags(*env_, id),
            "profile=false westeurope=false northeurope=false eastus2=false");

  // Revoked: the regions as read back (each with its own false) all flip.
  MustWait(*env_, gallery_->UpdateImageVersion(
                      kImage, "1.3.0", {.owner_uid = kReleaseUid, .exclude_from_latest = true}));
  EXPECT_EQ(LatestFlags(*env_, id), "profile=true westeurope=true northeurope=true eastus2=true");
  auto v = gallery_->GetImageVersion(kImage, "1.3.0", false);
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->spec.exclude_from_latest);
  for (const auto& r : v->spec.target_regions) EXPECT_EQ(r.exclude_from_latest, true) << r.name;
  EXPECT_EQ(v->spec.source_vhd_uri, VhdUri("r.vhd"));  // content untouched

  // An update that does not change the flag leaves every level alone.
  MustWait(*env_, gallery_->UpdateImageVersion(kImage, "1.3.0",
                                               {.owner_uid = kReleaseUid, .replica_count = 2}));
  EXPECT_EQ(LatestFlags(*env_, id), "profile=true westeurope=true northeurope=true eastus2=true");
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

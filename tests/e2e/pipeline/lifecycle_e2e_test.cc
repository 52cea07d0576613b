// After Released, end to end against one stack: revocation and its withdrawal
// (what the gallery and the blob show), the finalizer holding a deletion for
// the retention period and for the pins that resolve to the release, and what
// deletionPolicy Delete and Retain leave in Azure.
#include <gtest/gtest.h>

#include <thread>

#include "tests/e2e/pipeline/pipeline_e2e_util.h"

namespace vmrelease::testing {
namespace {

using Json = nlohmann::json;
using namespace std::chrono_literals;

std::string VersionId(const std::string& version) {
  return std::string("/subscriptions/") + kSubscription + "/resourceGroups/" + kGalleryGroup +
         "/providers/Microsoft.Compute/galleries/" + kGallery + "/images/app/versions/" + version;
}

class LifecycleE2ETest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { stack_ = NewFastStack().release(); }
  static void TearDownTestSuite() {
    delete stack_;
    stack_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(stack_, nullptr); }
  PipelineStack& s() { return *stack_; }

  // Creates the releases and waits until every one is Released.
  void Release(const std::vector<ReleaseSpecOptions>& releases) {
    for (const auto& o : releases) ASSERT_TRUE(s().Create(s().Release(o)).ok()) << o.name;
    for (const auto& o : releases) {
      std::string why;
      ASSERT_FALSE(s().WaitForPhase(o.name, "Released", 90s, &why).is_null())
          << why << "\n"
          << s().ControllerLogs();
    }
  }
  // The fake's stored gallery version: excludeFromLatest at the profile and per region.
  struct Exclusion {
    std::optional<bool> profile;
    std::vector<std::pair<std::string, bool>> regions;
  };
  Exclusion ExclusionOf(const std::string& version) {
    Exclusion out;
    auto v = s().arm().Resource(VersionId(version));
    if (!v) return out;
    const Json& pub = (*v)["properties"]["publishingProfile"];
    if (pub.contains("excludeFromLatest")) out.profile = pub["excludeFromLatest"].get<bool>();
    for (const Json& r : pub.value("targetRegions", Json::array()))
      out.regions.emplace_back(r.value("name", ""), r.value("excludeFromLatest", false));
    return out;
  }
  static PipelineStack* stack_;
};
PipelineStack* LifecycleE2ETest::stack_ = nullptr;

ReleaseSpecOptions GalleryAndBlob(const std::string& name, const std::string& version) {
  ReleaseSpecOptions o{.name = name, .image = "app", .version = version};
  o.gallery = true;
  o.regions = {"westeurope", "northeurope"};
  return o;
}

TEST_F(LifecycleE2ETest, RevocationExcludesFromLatestEverywhereTagsTheBlobAndIsUndone) {
  Release({GalleryAndBlob("app-2-0-0", "2.0.0")});
  const azure::BlobRef blob{"images", "app/2.0.0.vhd"};
  Exclusion ex = ExclusionOf("2.0.0");
  ASSERT_EQ(ex.profile, false);
  ASSERT_EQ(ex.regions.size(), 2u);

  // The exclusion takes a few polls: meanwhile the release is not Ready as Released.
  s().arm().SetLroPolls(6);
  ASSERT_TRUE(s().PatchRelease("app-2-0-0", {{"spec",
                                              {{"revocation",
                                                {{"reason", "CVE-2026-1234 in openssl"},
                                                 {"reference", "https://example.test/adv/1"}}}}}})
                  .ok());
  bool revoking = false;
  const Json during = WaitForRelease(
      s(), "app-2-0-0",
      [](const Json& r) { return ConditionOf(r, "Ready").value("reason", "") == "Revoking"; }, 30s,
      &revoking);
  s().arm().SetLroPolls(2);
  ASSERT_TRUE(revoking) << during["status"].dump(2);
  EXPECT_EQ(ConditionOf(during, "Ready").value("status", ""), "False");
  EXPECT_EQ(ConditionOf(during, "Reconciling").value("status", ""), "True");
  std::string why;
  const Json revoked = s().WaitForPhase("app-2-0-0", "Revoked", 60s, &why);
  ASSERT_FALSE(revoked.is_null()) << why << "\n" << s().ControllerLogs();
  const Json ready = ConditionOf(revoked, "Ready");
  EXPECT_EQ(ready.value("status", ""), "False");
  EXPECT_EQ(ready.value("reason", ""), "Revoked");
  EXPECT_TRUE(Contains(ready.value("message", ""), "CVE-2026-1234")) << ready.dump();
  EXPECT_FALSE(StatusString(revoked, {"status", "revokedAt"}).empty());
  EXPECT_EQ(revoked["status"].value("observedGeneration", int64_t{0}),
            revoked["metadata"].value("generation", int64_t{-1}));
  ASSERT_TRUE(
      WaitFor([&] { return !EventsWithReason(s(), "app-2-0-0", "ReleaseRevoked").empty(); }, 10s));
  const Json event = EventsWithReason(s(), "app-2-0-0", "ReleaseRevoked")[0];
  EXPECT_EQ(event.value("type", ""), "Warning");
  EXPECT_TRUE(Contains(event.value("note", ""), "CVE-2026-1234")) << event.dump();
  // The gallery: excluded from latest at the profile and in every target region.
  ex = ExclusionOf("2.0.0");
  EXPECT_EQ(ex.profile, true);
  ASSERT_EQ(ex.regions.size(), 2u);
  for (const auto& [region, excluded] : ex.regions) EXPECT_TRUE(excluded) << region;
  // The blob: tagged revoked, its other tags kept.
  auto tags = s().blobs().GetTags(blob);
  ASSERT_TRUE(tags.ok()) << tags.status().ToString();
  EXPECT_EQ((*tags)["revoked"], "true");
  EXPECT_EQ((*tags)["vmrelease-version"], "2.0.0");

  // Withdrawn: Released again, everything back to what the spec asks.
  ASSERT_TRUE(s().PatchRelease("app-2-0-0", {{"spec", {{"revocation", nullptr}}}}).ok());
  bool ok = false;
  const Json restored = WaitForRelease(
      s(), "app-2-0-0",
      [](const Json& r) {
        return StatusString(r, {"status", "phase"}) == "Released" &&
               ConditionOf(r, "Ready").value("status", "") == "True";
      },
      60s, &ok);
  ASSERT_TRUE(ok) << restored["status"].dump(2);
  EXPECT_FALSE(restored["status"].contains("revokedAt")) << restored["status"].dump(2);
  ex = ExclusionOf("2.0.0");
  EXPECT_EQ(ex.profile, false);
  for (const auto& [region, excluded] : ex.regions) EXPECT_FALSE(excluded) << region;
  tags = s().blobs().GetTags(blob);
  ASSERT_TRUE(tags.ok()) << tags.status().ToString();
  EXPECT_EQ(tags->count("revoked"), 0u);
  EXPECT_EQ((*tags)["vmrelease-version"], "2.0.0");
  EXPECT_TRUE(
      WaitFor([&] { return !EventsWithReason(s(), "app-2-0-0", "ReleaseRestored").empty(); }, 10s));
}

TEST_F(LifecycleE2ETest, RetentionHoldsTheDeletionUntilTheEndOfLife) {
  ReleaseSpecOptions o{.name = "ret-3-0-0", .image = "ret", .version = "3.0.0"};
  o.retention_days = 30;
  Release({o});
  const std::string eol = StatusString(*s().GetRelease("ret-3-0-0"), {"status", "endOfLife"});
  ASSERT_FALSE(eol.empty());

  ASSERT_TRUE(s().DeleteRelease("ret-3-0-0").ok());
  bool ok = false;
  Json held = WaitForRelease(
      s(), "ret-3-0-0",
      [](const Json& r) { return ConditionOf(r, "DeletionBlocked").value("status", "") == "True"; },
      30s, &ok);
  ASSERT_TRUE(ok) << held.dump(2) << s().ControllerLogs();
  const Json blocked = ConditionOf(held, "DeletionBlocked");
  EXPECT_EQ(blocked.value("reason", ""), "RetentionNotExpired");
  EXPECT_TRUE(Contains(blocked.value("message", ""), eol)) << blocked.dump() << " vs " << eol;
  // It stays, marked for deletion, with what it published.
  std::this_thread::sleep_for(2s);
  auto still = s().GetRelease("ret-3-0-0");
  ASSERT_TRUE(still.ok()) << still.status().ToString();
  EXPECT_TRUE((*still)["metadata"].contains("deletionTimestamp"));
  EXPECT_EQ(StatusString(*still, {"status", "phase"}), "Released");
  EXPECT_TRUE(s().blobs().GetProperties({"images", "ret/3.0.0.vhd"}).ok());
}

TEST_F(LifecycleE2ETest, PinsResolvingToTheReleaseHoldItsDeletion) {
  Release({{.name = "pinned-3-1-0", .image = "pinned", .version = "3.1.0"},
           {.name = "pinned-3-2-0", .image = "pinned", .version = "3.2.0"}});
  ASSERT_TRUE(s().CreatePin("prod-pinned", "production", "pinned", "3.1.0").ok());
  ASSERT_TRUE(s().CreatePin("staging-pinned", "staging", "pinned", "3.1.0").ok());
  auto resolved_to = [](const std::string& v) {
    return [v](const Json& p) { return StatusString(p, {"status", "resolved", "version"}) == v; };
  };
  bool ok = false;
  Json pin = s().WaitForPin("prod-pinned", resolved_to("3.1.0"), 30s, &ok);
  ASSERT_TRUE(ok) << pin.dump(2) << s().ControllerLogs();
  pin = s().WaitForPin("staging-pinned", resolved_to("3.1.0"), 30s, &ok);
  ASSERT_TRUE(ok) << pin.dump(2);
  // The release says where it runs (kubectl get ir -o wide: Pinned-By).
  Json rel = WaitForRelease(
      s(), "pinned-3-1-0",
      [](const Json& r) {
        return kube::Find(r, {"status", "pinnedBy"}) && r["status"]["pinnedBy"].size() == 2;
      },
      30s, &ok);
  ASSERT_TRUE(ok) << rel.dump(2);
  EXPECT_EQ(rel["status"]["pinnedBy"][0],
            Json({{"environment", "production"}, {"pin", "prod-pinned"}}));
  EXPECT_EQ(rel["status"]["pinnedBy"][1],
            Json({{"environment", "staging"}, {"pin", "staging-pinned"}}));

  ASSERT_TRUE(s().DeleteRelease("pinned-3-1-0").ok());
  Json held = WaitForRelease(
      s(), "pinned-3-1-0",
      [](const Json& r) {
        return ConditionOf(r, "DeletionBlocked").value("reason", "") == "PinnedByEnvironments";
      },
      30s, &ok);
  ASSERT_TRUE(ok) << held.dump(2);
  std::string msg = ConditionOf(held, "DeletionBlocked").value("message", "");
  EXPECT_TRUE(Contains(msg, "prod-pinned")) << msg;
  EXPECT_TRUE(Contains(msg, "staging-pinned")) << msg;
  EXPECT_EQ(ConditionOf(held, "DeletionBlocked").value("status", ""), "True");
  // The pins keep it while it is being deleted.
  EXPECT_EQ(StatusString(*s().GetPin("prod-pinned"), {"status", "resolved", "version"}), "3.1.0");

  // One pin moves to another version: the other one still holds it, and the
  // condition says so.
  ASSERT_TRUE(s().PatchPin("staging-pinned", {{"spec", {{"version", "3.2.0"}}}}).ok());
  pin = s().WaitForPin("staging-pinned", resolved_to("3.2.0"), 30s, &ok);
  ASSERT_TRUE(ok) << pin.dump(2);
  held = WaitForRelease(
      s(), "pinned-3-1-0",
      [](const Json& r) {
        return !Contains(ConditionOf(r, "DeletionBlocked").value("message", ""), "staging-pinned");
      },
      30s, &ok);
  ASSERT_TRUE(ok) << held.dump(2);
  msg = ConditionOf(held, "DeletionBlocked").value("message", "");
  EXPECT_TRUE(Contains(msg, "prod-pinned")) << msg;
  EXPECT_TRUE((*s().GetRelease("pinned-3-1-0"))["metadata"].contains("deletionTimestamp"));

  // The last pin moves too: the deletion finishes.
  ASSERT_TRUE(s().PatchPin("prod-pinned", {{"spec", {{"version", "3.2.0"}}}}).ok());
  EXPECT_TRUE(s().WaitGone("pinned-3-1-0", 30s)) << s().Summary("pinned-3-1-0");
  pin = s().WaitForPin("prod-pinned", resolved_to("3.2.0"), 30s, &ok);
  ASSERT_TRUE(ok) << pin.dump(2);
  // A pin deleted under a release releases it as well.
  ASSERT_TRUE(s().DeleteRelease("pinned-3-2-0").ok());
  held = WaitForRelease(
      s(), "pinned-3-2-0",
      [](const Json& r) {
        return ConditionOf(r, "DeletionBlocked").value("reason", "") == "PinnedByEnvironments";
      },
      30s, &ok);
  ASSERT_TRUE(ok) << held.dump(2);
  ASSERT_TRUE(s().DeletePin("prod-pinned").ok());
  ASSERT_TRUE(s().DeletePin("staging-pinned").ok());
  EXPECT_TRUE(s().WaitGone("pinned-3-2-0", 30s)) << s().Summary("pinned-3-2-0");
}

TEST_F(LifecycleE2ETest, DeletionPolicyDeleteRemovesTheArtifactsRetainKeepsThem) {
  ReleaseSpecOptions del = GalleryAndBlob("app-4-0-0", "4.0.0");
  del.deletion_policy = "Delete";
  ReleaseSpecOptions keep = GalleryAndBlob("app-4-1-0", "4.1.0");
  keep.deletion_policy = "Retain";
  Release({del, keep});
  ASSERT_TRUE(s().arm().Exists(VersionId("4.0.0")));
  ASSERT_TRUE(s().arm().Exists(VersionId("4.1.0")));
  ASSERT_TRUE(s().blobs().GetProperties({"images", "app/4.0.0.vhd"}).ok());
  ASSERT_TRUE(s().blobs().GetProperties({"images", "app/4.1.0.vhd"}).ok());

  ASSERT_TRUE(s().DeleteRelease("app-4-0-0").ok());
  ASSERT_TRUE(s().DeleteRelease("app-4-1-0").ok());
  ASSERT_TRUE(s().WaitGone("app-4-0-0", 60s)) << s().Summary("app-4-0-0");
  ASSERT_TRUE(s().WaitGone("app-4-1-0", 60s)) << s().Summary("app-4-1-0");

  EXPECT_FALSE(s().arm().Exists(VersionId("4.0.0"))) << "Delete leaves the gallery version";
  auto gone = s().blobs().GetProperties({"images", "app/4.0.0.vhd"});
  EXPECT_EQ(gone.status().code(), StatusCode::kNotFound) << gone.status().ToString();
  EXPECT_TRUE(s().arm().Exists(VersionId("4.1.0"))) << "Retain removed the gallery version";
  EXPECT_TRUE(s().blobs().GetProperties({"images", "app/4.1.0.vhd"}).ok())
      << "Retain removed the blob";
  const LeakReport leaks = s().Leaks();
  EXPECT_TRUE(leaks.clean()) << leaks.ToString();
}

// Stage records the staged gallery version's id only once its create has finished; a release
// deleted while the create runs must not leave that version behind.
TEST_F(LifecycleE2ETest, DeletedWhileStagingLeavesNoGalleryVersion) {
  struct RestorePolls {
    PipelineStack& s;
    ~RestorePolls() { s.arm().SetLroPolls(2); }
  } restore{s()};
  s().arm().SetLroPolls(12);  // the create is polled about once a second
  ASSERT_TRUE(s().Create(s().Release(GalleryAndBlob("app-5-0-0", "5.0.0"))).ok());
  std::string why;
  ASSERT_FALSE(s().WaitForPhase("app-5-0-0", "Staging", 90s, &why).is_null()) << why;
  ASSERT_TRUE(WaitFor([&] { return s().arm().Exists(VersionId("5.0.0")); }, 30s));
  auto staging = s().GetRelease("app-5-0-0");
  ASSERT_TRUE(staging.ok());
  ASSERT_EQ(StatusString(*staging, {"status", "artifact", "galleryImageVersionId"}), "")
      << "the create finished before the deletion: this test needs it running";
  s().arm().SetLroPolls(2);
  ASSERT_TRUE(s().DeleteRelease("app-5-0-0").ok());
  ASSERT_TRUE(s().WaitGone("app-5-0-0", 90s)) << s().Summary("app-5-0-0");
  EXPECT_FALSE(s().arm().Exists(VersionId("5.0.0"))) << "the staged version was left behind";
  const LeakReport leaks = s().Leaks();
  EXPECT_TRUE(leaks.clean()) << leaks.ToString();
}

// A release that failed while publishing has a gallery version with
// blockDeletionBeforeEndOfLife: Azure refuses to delete it before its end of life, so the
// deletion is held with that reason instead of being retried forever.
TEST_F(LifecycleE2ETest, AFailedPublishWithRetentionHoldsItsDeletionWithAzuresReason) {
  // Someone else's blob where this version would be published, put there after the build
  // began (before, the release would not build at all): BlobConflict after the gallery version
  // got its end of life.
  struct RestorePolls {
    PipelineStack& s;
    ~RestorePolls() { s.arm().SetLroPolls(2); }
  } restore{s()};
  s().arm().SetLroPolls(6);
  ReleaseSpecOptions o = GalleryAndBlob("app-6-0-0", "6.0.0");
  o.retention_days = 30;
  ASSERT_TRUE(s().Create(s().Release(o)).ok());
  std::string why;
  ASSERT_FALSE(s().WaitForPhase("app-6-0-0", "Staging", 90s, &why).is_null()) << why;
  ASSERT_TRUE(s().blobs().CreateContainer("images").ok());
  ASSERT_TRUE(s().blobs().PutBlockBlob({"images", "app/6.0.0.vhd"}, "not ours", {}).ok());
  s().arm().SetLroPolls(2);
  const Json failed = s().WaitForPhase("app-6-0-0", "Failed", 90s, &why);
  ASSERT_FALSE(failed.is_null()) << why << s().ControllerLogs();
  ASSERT_EQ(ConditionOf(failed, "Stalled").value("reason", ""), "BlobConflict") << failed.dump(2);
  const std::string eol = StatusString(failed, {"status", "endOfLife"});
  ASSERT_FALSE(eol.empty()) << failed.dump(2);
  // Never what new VMs get from `latest`: excluded in the profile and in every region.
  const Exclusion ex = ExclusionOf("6.0.0");
  EXPECT_EQ(ex.profile, std::optional<bool>(true));
  ASSERT_EQ(ex.regions.size(), 2u);
  for (const auto& [region, excluded] : ex.regions) EXPECT_TRUE(excluded) << region;

  ASSERT_TRUE(s().DeleteRelease("app-6-0-0").ok());
  bool ok = false;
  Json held = WaitForRelease(
      s(), "app-6-0-0",
      [](const Json& r) { return ConditionOf(r, "DeletionBlocked").value("status", "") == "True"; },
      30s, &ok);
  ASSERT_TRUE(ok) << held.dump(2) << s().ControllerLogs();
  const Json blocked = ConditionOf(held, "DeletionBlocked");
  EXPECT_EQ(blocked.value("reason", ""), "RetentionNotExpired");
  EXPECT_TRUE(Contains(blocked.value("message", ""), eol)) << blocked.dump();
  EXPECT_TRUE(s().arm().Exists(VersionId("6.0.0")));
  // Held, not retried: no further delete requests while it waits.
  const char* route = "DELETE Microsoft.Compute/galleries/images/versions";
  const int deletes = s().arm().RequestCount(route);
  std::this_thread::sleep_for(3s);
  EXPECT_EQ(s().arm().RequestCount(route), deletes);
  EXPECT_TRUE(s().GetRelease("app-6-0-0").ok());
}

// Someone else published this version already (here a blob vmrelease did not write; in life,
// e.g. a release of the same image and version in another namespace): nothing is built, the
// release stalls in Building saying so, and goes on by itself once the blob is gone.
TEST_F(LifecycleE2ETest, AVersionSomeoneElsePublishedStallsBeforeAnythingIsBuilt) {
  ASSERT_TRUE(s().blobs().CreateContainer("images").ok());
  ASSERT_TRUE(s().blobs().PutBlockBlob({"images", "app/7.0.0.vhd"}, "not ours", {}).ok());
  ASSERT_TRUE(s().Create(s().Release(GalleryAndBlob("app-7-0-0", "7.0.0"))).ok());
  bool ok = false;
  const Json stalled = WaitForRelease(
      s(), "app-7-0-0",
      [](const Json& r) { return ConditionOf(r, "Stalled").value("status", "") == "True"; }, 60s,
      &ok);
  ASSERT_TRUE(ok) << stalled.dump(2) << s().ControllerLogs();
  EXPECT_EQ(StatusString(stalled, {"status", "phase"}), "Building") << stalled["status"].dump(2);
  const Json cond = ConditionOf(stalled, "Stalled");
  EXPECT_EQ(cond.value("reason", ""), "BlobConflict");
  EXPECT_TRUE(Contains(cond.value("message", ""), "app/7.0.0.vhd")) << cond.dump();
  EXPECT_TRUE(Contains(cond.value("message", ""), "was not published by vmrelease")) << cond.dump();
  EXPECT_FALSE(stalled["status"].contains("build")) << "built although it cannot be published";
  EXPECT_FALSE(s().arm().Exists(VersionId("7.0.0")));

  ASSERT_TRUE(s().blobs().Delete({"images", "app/7.0.0.vhd"}).ok());
  std::string why;
  ASSERT_FALSE(s().WaitForPhase("app-7-0-0", "Released", 90s, &why).is_null())
      << why << s().ControllerLogs();
}

}  // namespace
}  // namespace vmrelease::testing

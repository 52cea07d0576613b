// The EnvironmentPin reconciler against an in-memory API (MemoryClient), with the
// informer caches fed by hand and a ManualClock: what it writes (status, the
// export ConfigMap, Events, metrics) and what it does not write at steady state.
#include "controller/pin/reconciler.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "controller/pin/export.h"
#include "tests/unit/kube/fake_client.h"

namespace vmrelease::pin {
namespace {

using namespace std::chrono_literals;
using kube::Json;
using kube::testing::MemoryClient;
using ::testing::HasSubstr;

const kube::ResourceType kPins{"vmrelease.io", "v1alpha1", "environmentpins", "EnvironmentPin",
                               true};
const kube::ResourceType kReleases{"vmrelease.io", "v1alpha1", "imagereleases", "ImageRelease",
                                   true};

class RecordingMetrics final : public PinMetrics {
 public:
  void SetPin(const PinSample& s) override { last[s.name] = s; }
  void ForgetPin(const std::string&, const std::string& name) override {
    last.erase(name);
    ++forgotten;
  }
  std::map<std::string, PinSample> last;
  int forgotten = 0;
};

class PinReconcilerTest : public ::testing::Test {
 protected:
  PinReconcilerTest() {
    pins_.AddIndex(kImageIndex, ImageIndex);
    releases_.AddIndex(kImageIndex, ImageIndex);
    reconciler_ = std::make_unique<Reconciler>(
        ReconcilerOptions{.client = client_,
                          .pins = pins_,
                          .releases = releases_,
                          .clock = clock_,
                          .type = kPins,
                          .metrics = &metrics_,
                          .publish_event = [this](kube::Event e) { events_.push_back(e); }});
  }

  void PutRelease(const std::string& version, const std::string& phase = "Released",
                  bool revoked = false) {
    Json r = {{"apiVersion", "vmrelease.io/v1alpha1"},
              {"kind", "ImageRelease"},
              {"metadata",
               {{"name", "app-" + version},
                {"namespace", "default"},
                {"uid", "uid-app-" + version},
                {"creationTimestamp", "2025-12-01T00:00:00Z"}}},
              {"spec",
               {{"image", "app"},
                {"version", version},
                {"changelog", {{{"kind", "Fix"}, {"summary", "fix " + version}}}}}},
              {"status",
               {{"phase", phase},
                {"artifact",
                 {{"sha256", std::string(64, 'b')},
                  {"galleryImageVersionId", "/sub/x/versions/" + version}}},
                {"publish", {{"blobUri", "http://127.0.0.1/images/app/" + version + ".vhd"}}}}}};
    if (revoked) r["spec"]["revocation"] = {{"reason", "CVE-2026-1"}};
    client_.Put(kReleases, r);
    Sync();
  }
  void PutPin(const std::string& name, const std::string& env, Json spec_extra,
              const std::string& created = "2025-12-01T00:00:00Z") {
    Json p = {{"apiVersion", "vmrelease.io/v1alpha1"},
              {"kind", "EnvironmentPin"},
              {"metadata",
               {{"name", name},
                {"namespace", "default"},
                {"uid", "uid-" + name},
                {"generation", 1},
                {"creationTimestamp", created}}},
              {"spec", {{"environment", env}, {"image", "app"}}}};
    p["spec"].merge_patch(spec_extra);
    client_.Put(kPins, p);
    Sync();
  }
  // What a watch would deliver: the caches become what the API holds.
  void Sync() {
    std::vector<kube::ObjectPtr> pins, releases;
    for (Json& o : client_.All(kPins)) pins.push_back(std::make_shared<const Json>(std::move(o)));
    for (Json& o : client_.All(kReleases))
      releases.push_back(std::make_shared<const Json>(std::move(o)));
    pins_.Replace(std::move(pins));
    releases_.Replace(std::move(releases));
  }
  kube::ReconcileResult Run(const std::string& name) {
    kube::ReconcileResult r = reconciler_->Reconcile({"default", name});
    Sync();
    return r;
  }
  Json Pin(const std::string& name) { return *client_.Peek(kPins, {"default", name}); }
  std::string ReadyReason(const std::string& name) {
    const Json pin = Pin(name);
    for (const Json& c : pin["status"]["conditions"])
      if (c["type"] == "Ready") return c["reason"];
    return "";
  }
  size_t Writes() {
    return client_.CountCalls("patch") + client_.CountCalls("update") +
           client_.CountCalls("create");
  }
  int EventsWith(const std::string& reason, kube::EventType type) {
    int n = 0;
    for (const kube::Event& e : events_) n += e.reason == reason && e.type == type;
    return n;
  }

  MemoryClient client_;
  kube::Store pins_, releases_;
  ManualClock clock_;
  RecordingMetrics metrics_;
  std::vector<kube::Event> events_;
  std::unique_ptr<Reconciler> reconciler_;
};

TEST_F(PinReconcilerTest, ExportsTheResolutionOwnedByThePinAndNeverRewritesIt) {
  PutRelease("1.0.0");
  PutPin("prod", "production",
         {{"version", "1.0.0"}, {"export", {{"configMap", {{"name", "app-production"}}}}}});
  ASSERT_TRUE(Run("prod").ok());
  Json pin = Pin("prod");
  EXPECT_EQ(pin["status"]["resolved"]["version"], "1.0.0");
  EXPECT_EQ(pin["status"]["resolved"]["release"], "app-1.0.0");
  EXPECT_EQ(ReadyReason("prod"), "Resolved");
  EXPECT_EQ(EventsWith("Pinned", kube::EventType::kNormal), 1);

  auto cm = client_.Peek(ConfigMapType(), {"default", "app-production"});
  ASSERT_TRUE(cm);
  const Json& data = (*cm)["data"];
  EXPECT_EQ(data["image"], "app");
  EXPECT_EQ(data["version"], "1.0.0");
  EXPECT_EQ(data["release"], "app-1.0.0");
  EXPECT_EQ(data["galleryImageVersionId"], "/sub/x/versions/1.0.0");
  EXPECT_EQ(data["vhdUri"], "http://127.0.0.1/images/app/1.0.0.vhd");
  EXPECT_EQ(data["sha256"], std::string(64, 'b'));
  const Json all = Json::parse(data["resolution.json"].get<std::string>());
  EXPECT_EQ(all["version"], "1.0.0");
  EXPECT_EQ(all["vhdUri"], "http://127.0.0.1/images/app/1.0.0.vhd");
  const Json& owner = (*cm)["metadata"]["ownerReferences"][0];
  EXPECT_EQ(owner["kind"], "EnvironmentPin");
  EXPECT_EQ(owner["name"], "prod");
  EXPECT_EQ(owner["uid"], "uid-prod");
  EXPECT_EQ(owner["controller"], true);

  // Steady state: more reconciles (time passing, unrelated wake-ups) write nothing.
  const size_t writes = Writes();
  const std::string rv = (*cm)["metadata"]["resourceVersion"];
  for (int i = 0; i < 5; ++i) {
    clock_.Advance(1h);
    ASSERT_TRUE(Run("prod").ok());
  }
  EXPECT_EQ(Writes(), writes);
  EXPECT_EQ((*client_.Peek(ConfigMapType(),
                           {"default", "app-production"}))["metadata"]["resourceVersion"],
            rv);

  // A new resolution rewrites it.
  PutRelease("1.1.0");
  client_.Put(kPins, [&] {
    Json p = Pin("prod");
    p["spec"]["version"] = "1.1.0";
    p["metadata"]["generation"] = 2;
    return p;
  }());
  Sync();
  ASSERT_TRUE(Run("prod").ok());
  EXPECT_EQ((*client_.Peek(ConfigMapType(), {"default", "app-production"}))["data"]["version"],
            "1.1.0");
  EXPECT_EQ(Pin("prod")["status"]["observedGeneration"], 2);
}

TEST_F(PinReconcilerTest, AConfigMapItDoesNotOwnIsNotTakenOver) {
  PutRelease("1.0.0");
  client_.Put(ConfigMapType(), {{"apiVersion", "v1"},
                                {"kind", "ConfigMap"},
                                {"metadata", {{"name", "theirs"}, {"namespace", "default"}}},
                                {"data", {{"k", "v"}}}});
  PutPin("prod", "production",
         {{"version", "1.0.0"}, {"export", {{"configMap", {{"name", "theirs"}}}}}});
  ASSERT_TRUE(Run("prod").ok());
  EXPECT_EQ(ReadyReason("prod"), "ExportFailed");
  EXPECT_EQ(Pin("prod")["status"]["resolved"]["version"], "1.0.0");
  EXPECT_EQ((*client_.Peek(ConfigMapType(), {"default", "theirs"}))["data"], Json({{"k", "v"}}));
}

TEST_F(PinReconcilerTest, ARenamedOrDroppedExportRemovesTheOldConfigMapOnly) {
  PutRelease("1.0.0");
  PutPin("prod", "production",
         {{"version", "1.0.0"}, {"export", {{"configMap", {{"name", "app-production"}}}}}});
  ASSERT_TRUE(Run("prod").ok());
  ASSERT_TRUE(client_.Peek(ConfigMapType(), {"default", "app-production"}));
  // Someone else's ConfigMap carrying the same label is never touched.
  client_.Put(ConfigMapType(), {{"apiVersion", "v1"},
                                {"kind", "ConfigMap"},
                                {"metadata",
                                 {{"name", "lookalike"},
                                  {"namespace", "default"},
                                  {"labels", {{"vmrelease.io/pin", "prod"}}}}},
                                {"data", {{"k", "v"}}}});
  auto edit = [&](const std::function<void(Json&)>& f, int generation) {
    Json p = Pin("prod");
    f(p["spec"]);
    p["metadata"]["generation"] = generation;
    client_.Put(kPins, p);
    Sync();
  };

  edit([](Json& spec) { spec["export"]["configMap"]["name"] = "app-prod"; }, 2);
  ASSERT_TRUE(Run("prod").ok());
  EXPECT_FALSE(client_.Peek(ConfigMapType(), {"default", "app-production"}));
  ASSERT_TRUE(client_.Peek(ConfigMapType(), {"default", "app-prod"}));
  EXPECT_EQ((*client_.Peek(ConfigMapType(), {"default", "app-prod"}))["data"]["version"], "1.0.0");
  EXPECT_TRUE(client_.Peek(ConfigMapType(), {"default", "lookalike"}));
  EXPECT_EQ(EventsWith("ExportRemoved", kube::EventType::kNormal), 1);

  // Reconciles of the same generation do not look again.
  const size_t lists = client_.CountCalls("list");
  ASSERT_TRUE(Run("prod").ok());
  EXPECT_EQ(client_.CountCalls("list"), lists);

  edit([](Json& spec) { spec.erase("export"); }, 3);
  ASSERT_TRUE(Run("prod").ok());
  EXPECT_FALSE(client_.Peek(ConfigMapType(), {"default", "app-prod"}));
  EXPECT_TRUE(client_.Peek(ConfigMapType(), {"default", "lookalike"}));
  EXPECT_EQ(ReadyReason("prod"), "Resolved");
}

TEST_F(PinReconcilerTest, RevocationKeepsThePinWarnsOnceAndRaisesTheMetric) {
  PutRelease("1.0.0");
  PutRelease("1.1.0");
  PutPin("dev", "dev", {{"track", {{"semver", ">=1.0.0 <2.0.0"}}}});
  ASSERT_TRUE(Run("dev").ok());
  EXPECT_EQ(Pin("dev")["status"]["resolved"]["version"], "1.1.0");
  EXPECT_FALSE(metrics_.last["dev"].revoked);
  EXPECT_TRUE(metrics_.last["dev"].ready);

  PutRelease("1.1.0", "Revoked", /*revoked=*/true);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(Run("dev").ok());
    clock_.Advance(10min);
  }
  const Json pin = Pin("dev");
  EXPECT_EQ(pin["status"]["resolved"]["version"], "1.1.0") << "a track pin fell back on its own";
  EXPECT_EQ(ReadyReason("dev"), "ReleaseRevoked");
  EXPECT_EQ(EventsWith("ReleaseRevoked", kube::EventType::kWarning), 1);
  EXPECT_TRUE(metrics_.last["dev"].revoked);
  EXPECT_FALSE(metrics_.last["dev"].ready);
  EXPECT_EQ(metrics_.last["dev"].version, "1.1.0");

  // A person moves it: the metric clears.
  Json p = Pin("dev");
  p["spec"]["track"]["semver"] = "<1.1.0";
  client_.Put(kPins, p);
  Sync();
  ASSERT_TRUE(Run("dev").ok());
  EXPECT_EQ(Pin("dev")["status"]["resolved"]["version"], "1.0.0");
  EXPECT_EQ(Pin("dev")["status"]["history"][0]["reason"], "Tracked");
  EXPECT_FALSE(metrics_.last["dev"].revoked);
}

TEST_F(PinReconcilerTest, WaitingForAReleaseWarnsOnceNotAtEveryPhase) {
  PutPin("dev", "dev", {{"version", "1.0.0"}});
  for (const char* phase : {"Pending", "Building", "Staging", "Validating", "Publishing"}) {
    PutRelease("1.0.0", phase);
    ASSERT_TRUE(Run("dev").ok());
    EXPECT_EQ(ReadyReason("dev"), "ReleaseNotReady");
    EXPECT_NE(Pin("dev").dump().find(std::string("phase ") + phase), std::string::npos)
        << "the status still names the phase";
  }
  EXPECT_EQ(EventsWith("ReleaseNotReady", kube::EventType::kWarning), 1);
  PutRelease("1.0.0", "Released");
  ASSERT_TRUE(Run("dev").ok());
  EXPECT_EQ(Pin("dev")["status"]["resolved"]["version"], "1.0.0");
}

TEST_F(PinReconcilerTest, AGateRequeuesForTheMomentItOpens) {
  PutRelease("1.0.0");
  PutRelease("1.1.0");
  PutPin("dev", "dev", {{"version", "1.1.0"}});
  PutPin("prod", "production",
         {{"version", "1.0.0"},
          {"promotion", {{"requirePinnedIn", {{{"environment", "dev"}, {"forAtLeast", "10m"}}}}}}});
  ASSERT_TRUE(Run("dev").ok());
  // 1.0.0 never ran in dev: production is blocked with no time to wait for.
  auto r = Run("prod");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r.action().requeue_after());
  EXPECT_EQ(ReadyReason("prod"), "PromotionBlocked");
  EXPECT_EQ(EventsWith("PromotionBlocked", kube::EventType::kWarning), 1);

  // Production asks for 1.1.0, which dev runs: blocked for 10 minutes.
  clock_.Advance(4min);
  Json p = Pin("prod");
  p["spec"]["version"] = "1.1.0";
  client_.Put(kPins, p);
  Sync();
  r = Run("prod");
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r.action().requeue_after());
  EXPECT_EQ(*r.action().requeue_after(), 6min);
  EXPECT_THAT(Pin("prod")["status"]["conditions"].dump(), HasSubstr("dev must run 1.1.0"));
  EXPECT_EQ(EventsWith("PromotionBlocked", kube::EventType::kWarning), 2);
  // Looking again before then changes nothing (no write, no Event).
  const size_t writes = Writes();
  clock_.Advance(3min);
  r = Run("prod");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r.action().requeue_after(), 3min);
  EXPECT_EQ(Writes(), writes);
  EXPECT_EQ(EventsWith("PromotionBlocked", kube::EventType::kWarning), 2);

  clock_.Advance(3min);
  r = Run("prod");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r.action().requeue_after());
  EXPECT_EQ(Pin("prod")["status"]["resolved"]["version"], "1.1.0");
  EXPECT_EQ(ReadyReason("prod"), "Resolved");
}

TEST_F(PinReconcilerTest, DuplicatePinStallsTheYoungerOne) {
  PutRelease("1.0.0");
  PutPin("prod", "production", {{"version", "1.0.0"}}, "2025-12-01T00:00:00Z");
  PutPin("prod-again", "production", {{"version", "1.0.0"}}, "2025-12-02T00:00:00Z");
  auto r = Run("prod-again");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind(), kube::ErrorKind::kStalled);
  EXPECT_EQ(ReadyReason("prod-again"), "DuplicatePin");
  EXPECT_FALSE(Pin("prod-again")["status"].contains("resolved"));
  ASSERT_TRUE(Run("prod").ok());
  EXPECT_EQ(ReadyReason("prod"), "Resolved");
}

TEST_F(PinReconcilerTest, AGonePinForgetsItsMetrics) {
  PutRelease("1.0.0");
  PutPin("prod", "production", {{"version", "1.0.0"}});
  ASSERT_TRUE(Run("prod").ok());
  EXPECT_EQ(metrics_.last.count("prod"), 1u);
  ASSERT_TRUE(client_.Delete(kPins, kube::ObjectRef{"default", "prod"}, {}).ok());
  Sync();
  ASSERT_TRUE(Run("prod").ok());
  EXPECT_EQ(metrics_.last.count("prod"), 0u);
}

}  // namespace
}  // namespace vmrelease::pin

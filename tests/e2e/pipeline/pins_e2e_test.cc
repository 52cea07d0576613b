// EnvironmentPins end to end with the release pipeline: the real controller
// binary against the local API server, Azurite and the fake ARM. A dev pin
// tracks a range and follows each release as it is Released; a production pin
// gated on dev waits out a (short, real) soak time, exports its resolution to a
// ConfigMap, rolls back at once; revocation holds a pin where it is.
#include <gtest/gtest.h>

#include <thread>

#include "controller/http/client.h"
#include "tests/e2e/pipeline/pipeline_e2e_util.h"

namespace vmrelease::testing {
namespace {

using Json = nlohmann::json;
using namespace std::chrono_literals;

constexpr auto kSoak = 6s;
const kube::ResourceType kConfigMaps{"", "v1", "configmaps", "ConfigMap", true};

std::string Resolved(const Json& pin) {
  return StatusString(pin, {"status", "resolved", "version"});
}

std::function<bool(const Json&)> ResolvedTo(const std::string& v) {
  return [v](const Json& p) { return Resolved(p) == v; };
}

WallTime TimeOf(const std::string& rfc3339) {
  WallTime t{};
  EXPECT_TRUE(ParseRfc3339(rfc3339, &t)) << rfc3339;
  return t;
}

class PinsE2ETest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { stack_ = NewFastStack().release(); }
  static void TearDownTestSuite() {
    delete stack_;
    stack_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(stack_, nullptr); }
  PipelineStack& s() { return *stack_; }

  // Creates a release of `image` with a changelog entry per kind.
  void CreateRelease(const std::string& image, const std::string& version) {
    std::string name = image + "-" + version;
    for (char& c : name) c = c == '.' ? '-' : c;
    Json r = s().Release({.name = name, .image = image, .version = version});
    r["spec"]["changelog"] = {{{"kind", "Security"}, {"summary", "patched in " + version}},
                              {{"kind", "Feature"}, {"summary", "new in " + version}}};
    ASSERT_TRUE(s().Create(r).ok()) << name;
  }
  void WaitReleased(const std::string& name) {
    std::string why;
    ASSERT_FALSE(s().WaitForPhase(name, "Released", 120s, &why).is_null()) << why << "\n"
                                                                           << s().ControllerLogs();
  }
  // The Events about a pin with `reason`.
  std::vector<Json> PinEvents(const std::string& pin, const std::string& reason) {
    return EventsWithReason(s(), pin, reason);
  }
  // Whether such an Event shows up: the controller writes a pin's Events after its
  // status, so one may not be there yet when the status is seen.
  bool PinEventSeen(const std::string& pin, const std::string& reason) {
    return WaitFor([&] { return !PinEvents(pin, reason).empty(); }, 10s);
  }
  std::string Metrics() {
    http::Client http;
    auto r = http.Send({.url = s().controller()->metrics_url() + "/metrics"});
    return r.ok() ? r->body : "";
  }
  static PipelineStack* stack_;
};
PipelineStack* PinsE2ETest::stack_ = nullptr;

TEST_F(PinsE2ETest, DevTracksProductionWaitsForItsGateThenRollsBack) {
  ASSERT_TRUE(s().CreatePin("app-dev", {{"environment", "dev"},
                                        {"image", "app"},
                                        {"track", {{"semver", ">=1.0.0 <2.0.0"}}}})
                  .ok());
  ASSERT_TRUE(
      s().CreatePin("app-production",
                    {{"environment", "production"},
                     {"image", "app"},
                     {"version", "1.0.0"},
                     {"promotion",
                      {{"requirePinnedIn", {{{"environment", "dev"}, {"forAtLeast", "6s"}}}}}},
                     {"export", {{"configMap", {{"name", "app-production-image"}}}}}})
          .ok());
  // Nothing exists yet: both say so.
  bool ok = false;
  Json prod = s().WaitForPin(
      "app-production",
      [](const Json& p) {
        return ConditionOf(p, "Ready").value("reason", "") == "ReleaseNotFound";
      },
      30s, &ok);
  ASSERT_TRUE(ok) << prod.dump(2) << s().ControllerLogs();

  // 1.0.0 is Released: dev takes it at once, production after dev ran it for 6 s.
  CreateRelease("app", "1.0.0");
  WaitReleased("app-1-0-0");
  Json dev = s().WaitForPin("app-dev", ResolvedTo("1.0.0"), 30s, &ok);
  ASSERT_TRUE(ok) << dev.dump(2);
  EXPECT_EQ(dev["status"]["history"][0]["reason"], "Tracked");
  prod = s().WaitForPin("app-production", ResolvedTo("1.0.0"), 60s, &ok);
  ASSERT_TRUE(ok) << prod.dump(2);
  const WallTime dev_100 = TimeOf(StatusString(dev, {"status", "resolved", "since"}));
  EXPECT_GE(TimeOf(StatusString(prod, {"status", "resolved", "since"})) - dev_100, kSoak - 1s)
      << "production moved before dev had run 1.0.0 for its soak time";
  EXPECT_EQ(prod["status"]["history"][0]["reason"], "Pinned");
  EXPECT_TRUE(PinEventSeen("app-production", "PromotionBlocked"));

  // Production asks for 1.1.0 before it exists, then 1.1.0 is Released: dev
  // follows at once, production is PromotionBlocked until the soak time passed.
  ASSERT_TRUE(s().PatchPin("app-production", {{"spec", {{"version", "1.1.0"}}}}).ok());
  prod = s().WaitForPin(
      "app-production",
      [](const Json& p) {
        return ConditionOf(p, "Ready").value("reason", "") == "ReleaseNotFound";
      },
      30s, &ok);
  ASSERT_TRUE(ok) << prod.dump(2);
  EXPECT_EQ(Resolved(prod), "1.0.0") << "a pin lost its last good resolution";
  const size_t blocks_before = PinEvents("app-production", "PromotionBlocked").size();
  CreateRelease("app", "1.1.0");
  bool saw_blocked = false;
  prod = s().WaitForPin(
      "app-production",
      [&](const Json& p) {
        const Json ready = ConditionOf(p, "Ready");
        if (ready.value("reason", "") == "PromotionBlocked" && Resolved(p) == "1.0.0" &&
            Contains(ready.value("message", ""), "1.1.0"))
          saw_blocked = true;
        return Resolved(p) == "1.1.0";
      },
      180s, &ok);
  ASSERT_TRUE(ok) << prod.dump(2) << s().Summary("app-1-1-0");
  dev = *s().GetPin("app-dev");
  ASSERT_EQ(Resolved(dev), "1.1.0");
  EXPECT_EQ(dev["status"]["history"][0]["reason"], "Tracked");
  EXPECT_EQ(dev["status"]["history"][1]["version"], "1.0.0");
  EXPECT_FALSE(dev["status"]["history"][1].value("to", "").empty());
  const WallTime dev_110 = TimeOf(StatusString(dev, {"status", "resolved", "since"}));
  EXPECT_GE(TimeOf(StatusString(prod, {"status", "resolved", "since"})) - dev_110, kSoak - 1s);
  EXPECT_TRUE(saw_blocked || PinEvents("app-production", "PromotionBlocked").size() > blocks_before)
      << "production never said it was held by its gate";
  bool message_names_dev = false;
  for (const Json& e : PinEvents("app-production", "PromotionBlocked")) {
    EXPECT_EQ(e.value("type", ""), "Warning");
    if (Contains(e.value("note", ""), "dev")) message_names_dev = true;
  }
  EXPECT_TRUE(message_names_dev);
  // What changed between the two: 1.1.0's entries only.
  ASSERT_EQ(prod["status"]["changes"].size(), 2u) << prod["status"].dump(2);
  EXPECT_EQ(prod["status"]["changes"][0]["version"], "1.1.0");
  EXPECT_EQ(prod["status"]["changes"][0]["kind"], "Security");
  EXPECT_EQ(ConditionOf(prod, "Ready").value("status", ""), "True");
  EXPECT_EQ(ConditionOf(prod, "Resolved").value("status", ""), "True");
  EXPECT_EQ(prod["status"]["behindBy"], 0);
  EXPECT_EQ(prod["status"]["latestVersion"], "1.1.0");
  EXPECT_TRUE(PinEventSeen("app-production", "Pinned"));

  // The export: the resolution, owned by the pin.
  auto cm = s().client().Get(kConfigMaps, {"default", "app-production-image"});
  ASSERT_TRUE(cm.ok()) << cm.status().ToString();
  EXPECT_EQ((*cm)["data"]["version"], "1.1.0");
  EXPECT_EQ((*cm)["data"]["release"], "app-1-1-0");
  EXPECT_EQ((*cm)["data"]["image"], "app");
  EXPECT_TRUE(Contains((*cm)["data"]["vhdUri"].get<std::string>(), "app/1.1.0.vhd"));
  EXPECT_EQ(Json::parse((*cm)["data"]["resolution.json"].get<std::string>())["version"], "1.1.0");
  EXPECT_EQ((*cm)["metadata"]["ownerReferences"][0]["uid"], prod["metadata"]["uid"]);

  // Where does 1.1.0 run? Its status says: dev and production.
  Json rel = WaitForRelease(
      s(), "app-1-1-0",
      [](const Json& r) {
        const Json* p = kube::Find(r, {"status", "pinnedBy"});
        return p && p->size() == 2;
      },
      30s, &ok);
  ASSERT_TRUE(ok) << rel["status"].dump(2);
  EXPECT_EQ(rel["status"]["pinnedBy"][0]["environment"], "dev");
  EXPECT_EQ(rel["status"]["pinnedBy"][1]["environment"], "production");

  // Steady state: nothing is written any more (pins, release, ConfigMap).
  const std::string prod_rv = prod["metadata"]["resourceVersion"];
  const std::string dev_rv = dev["metadata"]["resourceVersion"];
  const std::string cm_rv = (*cm)["metadata"]["resourceVersion"];
  std::this_thread::sleep_for(3s);
  EXPECT_EQ((*s().GetPin("app-production"))["metadata"]["resourceVersion"], prod_rv);
  EXPECT_EQ((*s().GetPin("app-dev"))["metadata"]["resourceVersion"], dev_rv);
  EXPECT_EQ((*s().client().Get(kConfigMaps,
                               {"default", "app-production-image"}))["metadata"]["resourceVersion"],
            cm_rv);

  // Back to 1.0.0: at once, as a rollback, the changes say what is undone.
  const auto rollback_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(s().PatchPin("app-production", {{"spec", {{"version", "1.0.0"}}}}).ok());
  prod = s().WaitForPin("app-production", ResolvedTo("1.0.0"), 30s, &ok);
  ASSERT_TRUE(ok) << prod.dump(2);
  EXPECT_LT(std::chrono::steady_clock::now() - rollback_at, kSoak + 10s);
  EXPECT_EQ(prod["status"]["history"][0]["reason"], "RolledBack");
  EXPECT_EQ(prod["status"]["history"][1]["version"], "1.1.0");
  EXPECT_EQ(prod["status"]["history"][2]["version"], "1.0.0");
  ASSERT_EQ(prod["status"]["changes"].size(), 2u);
  EXPECT_EQ(prod["status"]["changes"][0]["version"], "1.1.0");
  EXPECT_EQ(prod["status"]["behindBy"], 1);
  EXPECT_TRUE(PinEventSeen("app-production", "RolledBack"));
  ASSERT_TRUE(WaitFor(
      [&] {
        auto c = s().client().Get(kConfigMaps, {"default", "app-production-image"});
        return c.ok() && (*c)["data"].value("version", "") == "1.0.0";
      },
      30s));
  const std::string metrics = Metrics();
  EXPECT_TRUE(Contains(metrics,
                       "vmrelease_pin_info{environment=\"production\",image=\"app\","
                       "namespace=\"default\",version=\"1.0.0\"} 1"))
      << metrics;
  EXPECT_TRUE(Contains(metrics,
                       "vmrelease_pin_behind_by{environment=\"production\",image="
                       "\"app\",namespace=\"default\"} 1"))
      << metrics;
}

TEST_F(PinsE2ETest, RevocationHoldsThePinWhereItIs) {
  CreateRelease("rev", "1.0.0");
  CreateRelease("rev", "1.1.0");
  WaitReleased("rev-1-0-0");
  WaitReleased("rev-1-1-0");
  ASSERT_TRUE(
      s().CreatePin("rev-dev",
                    {{"environment", "dev"}, {"image", "rev"}, {"track", {{"semver", "^1.0.0"}}}})
          .ok());
  bool ok = false;
  Json dev = s().WaitForPin("rev-dev", ResolvedTo("1.1.0"), 30s, &ok);
  ASSERT_TRUE(ok) << dev.dump(2) << s().ControllerLogs();

  ASSERT_TRUE(
      s().PatchRelease("rev-1-1-0", {{"spec", {{"revocation", {{"reason", "CVE-2026-9"}}}}}}).ok());
  dev = s().WaitForPin(
      "rev-dev",
      [](const Json& p) { return ConditionOf(p, "Ready").value("reason", "") == "ReleaseRevoked"; },
      60s, &ok);
  ASSERT_TRUE(ok) << dev.dump(2);
  EXPECT_EQ(ConditionOf(dev, "Ready").value("status", ""), "False");
  std::this_thread::sleep_for(2s);
  dev = *s().GetPin("rev-dev");
  EXPECT_EQ(Resolved(dev), "1.1.0") << "a track pin fell back on its own";
  ASSERT_TRUE(WaitFor([&] { return PinEvents("rev-dev", "ReleaseRevoked").size() == 1; }, 10s));
  EXPECT_EQ(PinEvents("rev-dev", "ReleaseRevoked")[0].value("type", ""), "Warning");
  const std::string revoked =
      "vmrelease_pin_revoked{environment=\"dev\",image=\"rev\",namespace=\"default\"}";
  EXPECT_TRUE(Contains(Metrics(), revoked + " 1")) << Metrics();

  // A person moves it: Ready again, the metric clears.
  ASSERT_TRUE(s().PatchPin("rev-dev", {{"spec", {{"track", {{"semver", "~1.0.0"}}}}}}).ok());
  dev = s().WaitForPin("rev-dev", ResolvedTo("1.0.0"), 30s, &ok);
  ASSERT_TRUE(ok) << dev.dump(2);
  EXPECT_EQ(ConditionOf(dev, "Ready").value("status", ""), "True");
  EXPECT_TRUE(WaitFor([&] { return Contains(Metrics(), revoked + " 0"); }, 10s)) << Metrics();
}

}  // namespace
}  // namespace vmrelease::testing

// The pipeline's rules, end to end against one stack: a version is released
// once (the younger of two claims stalls with DuplicateVersion until the older
// goes), a spec the API server let through but a real cluster's CEL rules would
// refuse stalls with InvalidSpec naming the field, local builds need
// --allow-local-builds (LocalBuildsDisabled), `vmrelease.io/reconcile:
// disabled` pauses a release in flight until the annotation goes, and a release
// nested 9,000 levels deep (which a real API server accepts) stalls naming the
// field while the controller keeps reconciling the others.
#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include "tests/e2e/pipeline/pipeline_e2e_util.h"

namespace vmrelease::testing {
namespace {

using Json = nlohmann::json;
using namespace std::chrono_literals;

class RulesE2ETest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { stack_ = NewFastStack().release(); }
  static void TearDownTestSuite() {
    delete stack_;
    stack_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(stack_, nullptr); }
  void TearDown() override {
    if (!HasFailure() || !stack_) return;
    // The controller's last words, for a failure that timing made rare.
    const std::string logs = stack_->ControllerLogs();
    const size_t from = logs.size() > 32768 ? logs.find('\n', logs.size() - 32768) : 0;
    std::printf("controller log (tail):\n%s\n",
                logs.substr(from == std::string::npos ? 0 : from).c_str());
  }
  PipelineStack& s() { return *stack_; }
  static PipelineStack* stack_;
};
PipelineStack* RulesE2ETest::stack_ = nullptr;

bool StalledWith(const Json& obj, const std::string& reason) {
  const Json c = ConditionOf(obj, "Stalled");
  return c.value("status", "") == "True" && c.value("reason", "") == reason;
}

TEST_F(RulesE2ETest, YoungerReleaseOfTheSameVersionStallsUntilTheOlderGoes) {
  // The older one builds slowly, so it is still in flight when the younger arrives.
  ReleaseSpecOptions older{.name = "dup-a", .image = "dup", .version = "1.0.0"};
  older.build_env = {{"BUILD_SECONDS", "30"}};
  ASSERT_TRUE(s().Create(s().Release(older)).ok());
  std::string why;
  ASSERT_FALSE(s().WaitForPhase("dup-a", "Building", 30s, &why).is_null()) << why;
  ReleaseSpecOptions younger{.name = "dup-b", .image = "dup", .version = "1.0.0"};
  ASSERT_TRUE(s().Create(s().Release(younger)).ok());

  bool ok = false;
  Json y = WaitForRelease(
      s(), "dup-b", [](const Json& r) { return StalledWith(r, "DuplicateVersion"); }, 30s, &ok);
  ASSERT_TRUE(ok) << s().Summary("dup-b");
  const Json stalled = ConditionOf(y, "Stalled");
  EXPECT_TRUE(Contains(stalled.value("message", ""), "dup-a")) << stalled.dump();
  EXPECT_TRUE(Contains(stalled.value("message", ""), "1.0.0")) << stalled.dump();
  EXPECT_EQ(ConditionOf(y, "Ready").value("reason", ""), "DuplicateVersion");
  EXPECT_EQ(StatusString(y, {"status", "phase"}), "Pending") << y["status"].dump(2);
  EXPECT_EQ(y["status"].value("observedGeneration", int64_t{0}), 1);
  // kubectl describe says why, once.
  ASSERT_TRUE(
      WaitFor([&] { return !EventsWithReason(s(), "dup-b", "DuplicateVersion").empty(); }, 10s));
  const auto dup_events = EventsWithReason(s(), "dup-b", "DuplicateVersion");
  EXPECT_EQ(dup_events.size(), 1u);
  EXPECT_EQ(dup_events[0].value("type", ""), "Warning");
  EXPECT_TRUE(Contains(dup_events[0].value("note", ""), "dup-a")) << dup_events[0].dump();
  // It never builds: no build status, one build start (the older one's).
  std::this_thread::sleep_for(2s);
  y = *s().GetRelease("dup-b");
  EXPECT_FALSE(y["status"].contains("build")) << y["status"].dump(2);
  EXPECT_TRUE(StalledWith(y, "DuplicateVersion"));
  EXPECT_EQ(FileLines(s().marker_dir() + "/dup-1.0.0.starts").size(), 1u);
  // The older one is not bothered by the younger.
  EXPECT_EQ(StatusString(*s().GetRelease("dup-a"), {"status", "phase"}), "Building");

  // The older one goes (its build is stopped): the younger one proceeds.
  ASSERT_TRUE(s().DeleteRelease("dup-a").ok());
  ASSERT_TRUE(s().WaitGone("dup-a", 30s)) << s().Summary("dup-a");
  const Json released = s().WaitForPhase("dup-b", "Released", 60s, &why);
  ASSERT_FALSE(released.is_null()) << why;
  EXPECT_TRUE(ConditionOf(released, "Stalled").empty());
  EXPECT_EQ(ConditionOf(released, "Ready").value("status", ""), "True");
  EXPECT_EQ(FileLines(s().marker_dir() + "/dup-1.0.0.starts").size(), 2u);
  // One Event per phase entered, the stall in between included.
  ASSERT_TRUE(WaitFor([&] { return EventsWithReason(s(), "dup-b", "Released").size() == 1; }, 10s));
  for (const char* phase : {"Pending", "Building", "Staging", "Validating", "Publishing"})
    EXPECT_EQ(EventsWithReason(s(), "dup-b", phase).size(), 1u) << phase;
  EXPECT_EQ(EventsWithReason(s(), "dup-b", "DuplicateVersion").size(), 1u);
  EXPECT_TRUE(s().Leaks().processes.empty()) << s().Leaks().ToString();
}

TEST_F(RulesE2ETest, SpecBreakingACelRuleStallsWithInvalidSpecNamingTheField) {
  // Two build backends: the local API server has no CEL, so the controller must refuse it.
  Json two = s().Release({.name = "inv-builds", .image = "inv", .version = "1.0.0"});
  two["spec"]["build"]["job"] = {
      {"template",
       {{"spec", {{"containers", {{{"name", "packer"}, {"image", "hashicorp/packer:1.11"}}}}}}}}};
  auto created = s().Create(two);
  ASSERT_TRUE(created.ok()) << "the local API server accepted it: " << created.status().ToString();
  // A check allowed longer than the whole validation.
  Json slow = s().Release({.name = "inv-timeout", .image = "inv", .version = "1.0.1"});
  slow["spec"]["validation"]["timeout"] = "10m";
  slow["spec"]["validation"]["checks"][0]["timeout"] = "20m";
  ASSERT_TRUE(s().Create(slow).ok());

  bool ok = false;
  Json b = WaitForRelease(
      s(), "inv-builds", [](const Json& r) { return StalledWith(r, "InvalidSpec"); }, 30s, &ok);
  ASSERT_TRUE(ok) << s().Summary("inv-builds");
  const std::string msg = ConditionOf(b, "Stalled").value("message", "");
  std::printf("InvalidSpec (two build backends): %s\n", msg.c_str());
  EXPECT_TRUE(Contains(msg, "spec.build")) << msg;
  EXPECT_TRUE(Contains(msg, "exactly one of job, imageBuilder, local")) << msg;
  EXPECT_EQ(ConditionOf(b, "Ready").value("reason", ""), "InvalidSpec");
  EXPECT_EQ(StatusString(b, {"status", "phase"}), "Pending");

  Json t = WaitForRelease(
      s(), "inv-timeout", [](const Json& r) { return StalledWith(r, "InvalidSpec"); }, 30s, &ok);
  ASSERT_TRUE(ok) << s().Summary("inv-timeout");
  const std::string tmsg = ConditionOf(t, "Stalled").value("message", "");
  std::printf("InvalidSpec (check timeout): %s\n", tmsg.c_str());
  EXPECT_TRUE(Contains(tmsg, "spec.validation")) << tmsg;
  EXPECT_TRUE(Contains(tmsg, "timeout")) << tmsg;
  EXPECT_FALSE(Contains(tmsg, "spec.build")) << tmsg;
  // Neither built anything.
  for (const char* name : {"inv-builds", "inv-timeout"})
    EXPECT_FALSE((*s().GetRelease(name))["status"].contains("build")) << name;
  EXPECT_TRUE(FileLines(s().marker_dir() + "/inv-1.0.0.starts").empty());
  EXPECT_TRUE(FileLines(s().marker_dir() + "/inv-1.0.1.starts").empty());
  // kubectl describe says why.
  EXPECT_TRUE(
      WaitFor([&] { return !EventsWithReason(s(), "inv-timeout", "InvalidSpec").empty(); }, 10s))
      << "no InvalidSpec Event";

  // Fixing the spec (what can change) lets it go on.
  ASSERT_TRUE(
      s().PatchRelease(
             "inv-timeout",
             {{"spec",
               {{"validation", {{"checks", {{{"name", "smoke"}, {"script", "echo ok"}}}}}}}}})
          .ok());
  std::string why;
  const Json released = s().WaitForPhase("inv-timeout", "Released", 60s, &why);
  ASSERT_FALSE(released.is_null()) << why;
  EXPECT_TRUE(ConditionOf(released, "Stalled").empty());
  EXPECT_EQ(released["status"].value("observedGeneration", int64_t{0}),
            released["metadata"].value("generation", int64_t{-1}));
}

TEST_F(RulesE2ETest, LocalBuildWithoutAllowLocalBuildsStallsWithLocalBuildsDisabled) {
  s().options().allow_local_builds = false;
  ASSERT_TRUE(s().StartController().ok());
  // Whatever happens here, the next tests get a controller with the flag again.
  bool restored = false;
  auto restore = [&] {
    if (restored) return;
    restored = true;
    s().options().allow_local_builds = true;
    EXPECT_TRUE(s().StartController().ok());
  };
  struct Guard {
    std::function<void()> f;
    ~Guard() { f(); }
  } guard{restore};
  ASSERT_TRUE(s().Create(s().Release({.name = "nolocal", .image = "nolocal"})).ok());
  bool ok = false;
  Json r = WaitForRelease(
      s(), "nolocal", [](const Json& o) { return StalledWith(o, "LocalBuildsDisabled"); }, 30s,
      &ok);
  ASSERT_TRUE(ok) << s().Summary("nolocal") << s().ControllerLogs();
  const std::string msg = ConditionOf(r, "Stalled").value("message", "");
  EXPECT_TRUE(Contains(msg, "spec.build.local")) << msg;
  EXPECT_TRUE(Contains(msg, "--allow-local-builds")) << msg;
  EXPECT_FALSE(r["status"].contains("build"));
  EXPECT_EQ(StatusString(r, {"status", "phase"}), "Pending");
  EXPECT_TRUE(FileLines(s().marker_dir() + "/nolocal-1.0.0.starts").empty());

  // The same controller with the flag builds it.
  restore();
  std::string why;
  ASSERT_FALSE(s().WaitForPhase("nolocal", "Released", 60s, &why).is_null()) << why;
}

TEST_F(RulesE2ETest, ReconcileDisabledAnnotationPausesAReleaseInFlight) {
  ReleaseSpecOptions o{.name = "paused", .image = "paused"};
  o.build_env = {{"BUILD_SECONDS", "2"}};
  ASSERT_TRUE(s().Create(s().Release(o)).ok());
  std::string why;
  ASSERT_FALSE(s().WaitForPhase("paused", "Building", 30s, &why).is_null()) << why;
  ASSERT_TRUE(
      s().PatchRelease("paused",
                       {{"metadata", {{"annotations", {{"vmrelease.io/reconcile", "disabled"}}}}}})
          .ok());
  std::this_thread::sleep_for(1s);  // a reconcile in flight when the annotation landed ends
  const Json before = *s().GetRelease("paused");
  ASSERT_EQ(StatusString(before, {"status", "phase"}), "Building") << before["status"].dump(2);

  // The build command itself finishes (it runs outside the controller)...
  const std::string marker = s().marker_dir() + "/paused-1.0.0";
  ASSERT_TRUE(WaitFor(
      [&] {
        return !FileLines(marker + ".starts").empty() &&
               !std::filesystem::exists(marker + ".running");
      },
      30s));
  // ...but the paused release does not move on: no status change at all.
  std::this_thread::sleep_for(3s);
  const Json during = *s().GetRelease("paused");
  EXPECT_EQ(during["status"], before["status"]);
  EXPECT_EQ(during["metadata"]["resourceVersion"], before["metadata"]["resourceVersion"]);
  EXPECT_FALSE(during["status"].contains("artifact")) << during["status"].dump(2);
  bool logged = false;
  for (const Json& l : s().controller()->Find("reconcile paused by annotation; skipping"))
    logged |= l.value("key", "") == "default/paused";
  EXPECT_TRUE(logged);

  // Removing the annotation resumes it.
  ASSERT_TRUE(
      s().PatchRelease("paused",
                       {{"metadata", {{"annotations", {{"vmrelease.io/reconcile", nullptr}}}}}})
          .ok());
  const Json released = s().WaitForPhase("paused", "Released", 60s, &why);
  ASSERT_FALSE(released.is_null()) << why;
  EXPECT_EQ(FileLines(marker + ".starts").size(), 1u) << "resuming must not rebuild\n"
                                                      << s().ControllerLogs();
  EXPECT_EQ(StatusString(released, {"status", "build", "startedAt"}),
            StatusString(before, {"status", "build", "startedAt"}));
}

// {"a":{"a":...{}}} nested `depth` levels, as text (never built as a JSON value here:
// copying one recurses once per level).
std::string NestedObjects(size_t depth) {
  std::string s;
  for (size_t i = 0; i + 1 < depth; ++i) s += "{\"a\":";
  return s + "{}" + std::string(depth - 1, '}');
}

TEST_F(RulesE2ETest, JobTemplateNested9000LevelsDeepStallsNamingTheFieldAndOthersGoOn) {
  constexpr char kPath[] = "/apis/vmrelease.io/v1alpha1/namespaces/default/imagereleases";
  Json r = s().Release({.name = "deep", .image = "deep", .version = "1.0.0"});
  r["spec"]["build"] = {
      {"job",
       {{"template",
         {{"spec",
           {{"containers", {{{"name", "packer"}, {"image", "hashicorp/packer:1.11"}}}},
            {"deep", "DEEP"}}}}}}}};
  std::string body = r.dump();
  const size_t at = body.find("\"DEEP\"");
  ASSERT_NE(at, std::string::npos);
  body.replace(at, 6, NestedObjects(9000));
  // Accepted, as by a real API server (x-kubernetes-preserve-unknown-fields, under 10,000).
  auto created = s().api().Request("POST", kPath, body);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  ASSERT_EQ(created->status, 201) << created->body.substr(0, 400);
  // A release created after it is reconciled all the way.
  ASSERT_TRUE(
      s().Create(s().Release({.name = "after-deep", .image = "deep", .version = "1.0.1"})).ok());

  // The deep one stalls with a message naming the field (read raw: the test copies
  // nothing that deep either).
  Json stalled;
  const bool ok = WaitFor(
      [&] {
        auto got = s().api().Request("GET", std::string(kPath) + "/deep");
        if (!got.ok() || got->status != 200) return false;
        const Json obj = Json::parse(got->body);
        stalled = ConditionOf(obj, "Stalled");
        return StalledWith(obj, "InvalidSpec");
      },
      60s);
  ASSERT_TRUE(ok) << stalled.dump() << "\n" << s().ControllerLogs().substr(0, 4000);
  const std::string msg = stalled.value("message", "");
  std::printf("InvalidSpec (9,000 levels): %.200s...\n", msg.c_str());
  EXPECT_EQ(msg.rfind("spec.build.job.template.spec.deep.a.a.a", 0), 0u) << msg;
  EXPECT_TRUE(Contains(msg, "nested deeper than 64 levels")) << msg;
  EXPECT_LT(msg.size(), 4200u);

  std::string why;
  const Json released = s().WaitForPhase("after-deep", "Released", 90s, &why);
  ASSERT_FALSE(released.is_null()) << why << "\n" << s().Summary("after-deep");
  EXPECT_TRUE(FileLines(s().marker_dir() + "/deep-1.0.0.starts").empty()) << "nothing was built";

  // Deleting it needs no cleanup: it goes, and the controller is still the first one.
  auto del = s().api().Request("DELETE", std::string(kPath) + "/deep");
  ASSERT_TRUE(del.ok()) << del.status().ToString();
  EXPECT_TRUE(WaitFor(
      [&] {
        auto got = s().api().Request("GET", std::string(kPath) + "/deep");
        return got.ok() && got->status == 404;
      },
      30s))
      << "the deep release was never let go";
  EXPECT_FALSE(Contains(s().ControllerLogs(), "Segmentation fault"));
}

}  // namespace
}  // namespace vmrelease::testing

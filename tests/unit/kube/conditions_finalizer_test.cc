// Reading conditions, the kstatus summary, and the finalizer flow.
#include <gtest/gtest.h>

#include "controller/kube/conditions.h"
#include "controller/kube/finalizer.h"
#include "controller/kube/own_writes.h"
#include "tests/unit/kube/fake_client.h"

namespace vmrelease::kube {
namespace {

using std::chrono::seconds;
using testing::MemoryClient;

TEST(ConditionsTest, ReadsConditionsOfAnyObject) {
  const Json conds = Json::parse(R"([{"type":"Ready","status":"True","reason":"Released",
      "message":"ok","observedGeneration":3,"lastTransitionTime":"2026-01-01T00:00:00Z"},
      {"type":"Stalled","status":"False"}, "junk", {"status":"True"}])");
  auto c = FindCondition(conds, "Ready");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->reason, "Released");
  EXPECT_EQ(c->observed_generation, 3);
  EXPECT_EQ(c->last_transition_time, "2026-01-01T00:00:00Z");
  EXPECT_TRUE(IsConditionTrue(conds, "Ready"));
  EXPECT_FALSE(IsConditionTrue(conds, "Stalled"));
  EXPECT_FALSE(FindCondition(conds, "Reconciling").has_value());
  EXPECT_FALSE(FindCondition(Json(), "Ready").has_value());
  EXPECT_FALSE(FindCondition(Json::object(), "Ready").has_value());
}

TEST(ConditionsTest, KStatusSummary) {
  auto obj = [](int64_t gen, int64_t observed, Json conds) {
    return Json{{"metadata", {{"name", "x"}, {"generation", gen}}},
                {"status", {{"observedGeneration", observed}, {"conditions", conds}}}};
  };
  auto cond = [](const char* t, const char* s) { return Json{{"type", t}, {"status", s}}; };
  EXPECT_EQ(SummarizeKStatus(obj(2, 2, Json::array({cond("Ready", "True")}))).status,
            KStatus::kCurrent);
  EXPECT_EQ(SummarizeKStatus(obj(3, 2, Json::array({cond("Ready", "True")}))).status,
            KStatus::kInProgress);
  EXPECT_EQ(SummarizeKStatus(obj(2, 2, Json::array({cond("Reconciling", "True")}))).status,
            KStatus::kInProgress);
  EXPECT_EQ(
      SummarizeKStatus(obj(2, 2, Json::array({cond("Stalled", "True"), cond("Ready", "False")})))
          .status,
      KStatus::kFailed);
  EXPECT_EQ(SummarizeKStatus(obj(2, 2, Json::array({cond("Ready", "False")}))).status,
            KStatus::kInProgress);
  Json deleting = obj(2, 2, Json::array());
  deleting["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z";
  EXPECT_EQ(SummarizeKStatus(deleting).status, KStatus::kTerminating);
  EXPECT_STREQ(KStatusName(KStatus::kCurrent), "Current");
}

const ResourceType kType{"vmrelease.io", "v1alpha1", "imagereleases", "ImageRelease", true};
constexpr char kFinalizer[] = "vmrelease.io/cleanup";

TEST(FinalizerTest, PatchesTestTheResourceVersionAndTheEntry) {
  Json obj = testing::Obj("ns", "a", "7");
  EXPECT_EQ(AddFinalizerPatch(obj, kFinalizer),
            Json::parse(R"([{"op":"test","path":"/metadata/resourceVersion","value":"7"},
                            {"op":"add","path":"/metadata/finalizers",
                             "value":["vmrelease.io/cleanup"]}])"));
  obj["metadata"]["finalizers"] = {"other", kFinalizer};
  EXPECT_TRUE(HasFinalizer(obj, kFinalizer));
  EXPECT_EQ(RemoveFinalizerPatch(obj, kFinalizer),
            Json::parse(R"([{"op":"test","path":"/metadata/resourceVersion","value":"7"},
                            {"op":"test","path":"/metadata/finalizers/1",
                             "value":"vmrelease.io/cleanup"},
                            {"op":"remove","path":"/metadata/finalizers/1"}])"));
  obj["metadata"]["finalizers"] = {"other"};
  EXPECT_EQ(AddFinalizerPatch(obj, kFinalizer)[1]["path"], "/metadata/finalizers/-");
}

struct FlowCase {
  std::string name;
  bool deleting;
  bool has_finalizer;
  bool expect_apply, expect_cleanup;
  bool finalizer_after;  // present on the stored object afterwards
};

class FinalizeFlowTest : public ::testing::TestWithParam<FlowCase> {};

TEST_P(FinalizeFlowTest, RunsTheRightStep) {
  const FlowCase& tc = GetParam();
  MemoryClient client;
  Json obj = testing::Obj("ns", "a", "");
  if (tc.has_finalizer) obj["metadata"]["finalizers"] = {kFinalizer};
  if (tc.deleting) obj["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z";
  client.Put(kType, obj);
  Json stored = *client.Peek(kType, {"ns", "a"});
  bool applied = false, cleaned = false;
  ReconcileResult r = Finalize(
      client, kType, kFinalizer, stored,
      [&](const Json&) -> ReconcileResult {
        applied = true;
        return Action::RequeueAfter(seconds(60));
      },
      [&](const Json&) -> ReconcileResult {
        cleaned = true;
        return Action::AwaitChange();
      });
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(applied, tc.expect_apply);
  EXPECT_EQ(cleaned, tc.expect_cleanup);
  EXPECT_EQ(HasFinalizer(*client.Peek(kType, {"ns", "a"}), kFinalizer), tc.finalizer_after);
  if (tc.expect_apply) {
    EXPECT_EQ(r.action().requeue_after(), seconds(60));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Flow, FinalizeFlowTest,
    ::testing::Values(
        FlowCase{"NewObjectGetsFinalizerFirst", false, false, false, false, true},
        FlowCase{"LiveObjectIsApplied", false, true, true, false, true},
        FlowCase{"DeletingObjectIsCleanedThenReleased", true, true, false, true, false},
        FlowCase{"DeletingWithoutOurFinalizerIsLeftAlone", true, false, false, false, false}),
    [](const ::testing::TestParamInfo<FlowCase>& info) { return info.param.name; });

TEST(FinalizerTest, FailedCleanupKeepsTheFinalizer) {
  MemoryClient client;
  Json obj = testing::Obj("ns", "a", "");
  obj["metadata"]["finalizers"] = {kFinalizer};
  obj["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z";
  client.Put(kType, obj);
  ReconcileResult r = Finalize(
      client, kType, kFinalizer, *client.Peek(kType, {"ns", "a"}),
      [](const Json&) -> ReconcileResult { return Action::AwaitChange(); },
      [](const Json&) -> ReconcileResult {
        return ReconcileError::Transient(UnavailableError("azure down"));
      });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind(), ErrorKind::kTransient);
  EXPECT_TRUE(HasFinalizer(*client.Peek(kType, {"ns", "a"}), kFinalizer));
}

TEST(FinalizerTest, AStaleObjectLosesTheRaceInsteadOfClobbering) {
  MemoryClient client;
  client.Put(kType, testing::Obj("ns", "a", ""));
  Json stale = *client.Peek(kType, {"ns", "a"});
  client.Put(kType, stale);  // someone else wrote meanwhile: new resourceVersion
  auto r = AddFinalizer(client, kType, stale, kFinalizer);
  EXPECT_FALSE(r.ok());  // the `test` op failed
  EXPECT_FALSE(HasFinalizer(*client.Peek(kType, {"ns", "a"}), kFinalizer));
  ReconcileResult flow = Finalize(
      client, kType, kFinalizer, stale, [](const Json&) { return Action::AwaitChange(); },
      [](const Json&) { return Action::AwaitChange(); });
  ASSERT_FALSE(flow.ok());
  EXPECT_EQ(flow.error().kind(), ErrorKind::kTransient);
}

TEST(OwnWritesTest, TheCacheIsBehindWhileItHoldsAnyVersionOurChainedWritesReplaced) {
  // A finalizer added (rv 1 → 2), then the first status written (rv 2 → 3) in
  // the same reconcile: a cache at 1 or at 2 is behind, at 3 it has caught up.
  auto at = [](const char* rv) { return Json{{"metadata", {{"resourceVersion", rv}}}}; };
  const TimePoint t0{};
  OwnWrites writes(seconds(5));
  writes.Remember("ns/a", at("1"), t0);
  writes.Remember("ns/a", at("2"), t0 + seconds(1));
  EXPECT_TRUE(writes.CacheBehind("ns/a", at("1"), t0 + seconds(2)));
  EXPECT_TRUE(writes.CacheBehind("ns/a", at("2"), t0 + seconds(2)));
  EXPECT_FALSE(writes.CacheBehind("ns/b", at("1"), t0 + seconds(2)));
  EXPECT_FALSE(writes.CacheBehind("ns/a", at("3"), t0 + seconds(2)));
  // Caught up: the record is gone, an old version no longer counts.
  EXPECT_FALSE(writes.CacheBehind("ns/a", at("2"), t0 + seconds(2)));

  // A write the server answered as a no-op keeps its version: patience ends the wait.
  writes.Remember("ns/a", at("7"), t0);
  EXPECT_TRUE(writes.CacheBehind("ns/a", at("7"), t0 + seconds(4)));
  EXPECT_FALSE(writes.CacheBehind("ns/a", at("7"), t0 + seconds(6)));

  // A write long after the last one starts a new chain: what the old one replaced is forgotten.
  writes.Remember("ns/a", at("8"), t0);
  writes.Remember("ns/a", at("9"), t0 + seconds(10));
  EXPECT_FALSE(writes.CacheBehind("ns/a", at("8"), t0 + seconds(11)));
}

}  // namespace
}  // namespace vmrelease::kube

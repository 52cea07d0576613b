// JobController, one reconcile at a time against an in-memory client, caches
// filled by the test and a ManualClock: which Pods it creates and deletes,
// which status it writes (conditions, reasons, counters, times) and when it
// asks to be called again.
#include "tests/support/jobrunner/job_controller.h"

#include <gtest/gtest.h>

#include "tests/support/jobrunner/kubelet.h"
#include "tests/support/jobrunner/resources.h"
#include "tests/unit/kube/fake_client.h"

namespace vmrelease::jobrunner {
namespace {

using kube::Json;
using kube::testing::MemoryClient;

constexpr char kUid[] = "job-uid-1";

Json MakeJob(Json spec_extra = Json::object(), Json status = Json()) {
  Json spec = {{"parallelism", 1},
               {"completions", 1},
               {"backoffLimit", 0},
               {"completionMode", "NonIndexed"},
               {"suspend", false},
               {"template",
                {{"metadata", {{"labels", {{"batch.kubernetes.io/controller-uid", kUid}}}}},
                 {"spec",
                  {{"restartPolicy", "Never"},
                   {"containers", {{{"name", "main"}, {"image", "x"}, {"command", {"true"}}}}}}}}}};
  spec.merge_patch(spec_extra);
  Json job = {{"apiVersion", "batch/v1"},
              {"kind", "Job"},
              {"metadata", {{"name", "build"}, {"namespace", "ns"}, {"uid", kUid}}},
              {"spec", spec}};
  if (!status.is_null()) job["status"] = status;
  return job;
}

Json MakePod(const std::string& name, const std::string& phase, bool finalizer = true,
             Json status_extra = Json::object()) {
  Json pod = {{"apiVersion", "v1"},
              {"kind", "Pod"},
              {"metadata",
               {{"name", name},
                {"namespace", "ns"},
                {"uid", "uid-" + name},
                {"annotations", {{kRunnerAnnotation, "true"}}},
                {"ownerReferences",
                 {{{"kind", "Job"}, {"name", "build"}, {"uid", kUid}, {"controller", true}}}}}},
              {"status", {{"phase", phase}}}};
  if (finalizer) pod["metadata"]["finalizers"] = {kJobTrackingFinalizer};
  pod["status"].merge_patch(status_extra);
  return pod;
}

class JobControllerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pods_.AddIndex(kPodOwnerIndex, ControllerOwnerUid);
    jobs_.Replace({});
    pods_.Replace({});
  }

  // The Job as the server and the cache see it.
  void PutJob(const Json& job) {
    client_.Put(JobResource(), job);
    jobs_.Apply(std::make_shared<const Json>(*client_.Peek(JobResource(), {"ns", "build"})));
  }
  // The cache catches up with the server's copy of the Job.
  void SyncJobCache() {
    jobs_.Apply(std::make_shared<const Json>(*client_.Peek(JobResource(), {"ns", "build"})));
  }
  // The Pod as the server and the cache see it (the server's copy: the
  // controller compares the cache with the server before it creates a Pod).
  void PutPod(const Json& pod) {
    client_.Put(PodResource(), pod);
    pods_.Apply(std::make_shared<const Json>(
        *client_.Peek(PodResource(), {"ns", pod["metadata"].value("name", "")})));
  }
  // The Pod cache catches up with the server (e.g. with the Pods the
  // controller created).
  void SyncPodCache() {
    auto all = client_.List(PodResource(), {});
    ASSERT_TRUE(all.ok());
    std::vector<kube::ObjectPtr> objs;
    for (const Json& p : all->items) objs.push_back(std::make_shared<const Json>(p));
    pods_.Replace(objs);
  }

  kube::ReconcileResult Run(JobControllerOptions options = {}) {
    controller_ = std::make_unique<JobController>(client_, jobs_, pods_, nullptr, clock_, options);
    auto r = controller_->Reconcile({"ns", "build"});
    if (!r.ok()) std::cerr << "reconcile: " << r.error().status().ToString() << "\n";
    return r;
  }

  Json Status() { return client_.Peek(JobResource(), {"ns", "build"}).value()["status"]; }

  std::vector<std::string> Conditions() {
    std::vector<std::string> out;
    for (const auto& c : Status().value("conditions", Json::array()))
      out.push_back(c.value("type", "") + ":" + c.value("reason", ""));
    return out;
  }

  // Status writes, in order.
  std::vector<Json> StatusWrites() {
    std::vector<Json> out;
    for (const auto& c : client_.calls())
      if (c.verb == "update" && c.resource == "jobs.batch") out.push_back(c.body["status"]);
    return out;
  }

  size_t Calls(const std::string& verb, const std::string& resource) {
    size_t n = 0;
    for (const auto& c : client_.calls()) n += c.verb == verb && c.resource == resource;
    return n;
  }

  ManualClock clock_;
  MemoryClient client_;
  kube::Store jobs_, pods_;
  std::unique_ptr<JobController> controller_;
};

TEST_F(JobControllerTest, FirstSyncCreatesAPodAndSetsStartTime) {
  PutJob(MakeJob());
  auto r = Run();
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r.action().requeue_after());
  ASSERT_EQ(Calls("create", "pods"), 1u);
  const Json pod = client_.All(PodResource())[0];
  EXPECT_EQ(pod["metadata"]["generateName"], "build-");
  EXPECT_EQ(pod["metadata"]["finalizers"], Json({kJobTrackingFinalizer}));
  EXPECT_EQ(pod["metadata"]["ownerReferences"][0]["blockOwnerDeletion"], true);
  EXPECT_EQ(pod["metadata"]["labels"]["job-name"], "build");
  EXPECT_EQ(pod["metadata"]["annotations"][kRunnerAnnotation], "true");
  EXPECT_EQ(Status()["startTime"], FormatRfc3339(clock_.WallNow()));
  EXPECT_EQ(Status()["active"], 1);
}

TEST_F(JobControllerTest, APodCreatedButNotYetCachedIsNotCreatedAgain) {
  PutJob(MakeJob());
  ASSERT_TRUE(Run().ok());
  SyncJobCache();  // the Job's status moved on; the cache has not seen the Pod
  auto again = controller_->Reconcile({"ns", "build"});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(Calls("create", "pods"), 1u);
}

TEST_F(JobControllerTest, ACountedPodNextToAStaleJobInTheCacheIsNotReplaced) {
  PutJob(MakeJob(Json::object(), {{"startTime", "2026-01-01T00:00:00Z"}, {"active", 1}}));
  PutPod(MakePod("build-a", "Succeeded"));
  ASSERT_TRUE(Run().ok());  // counted: the server's Job is Complete, the Pod lost its finalizer
  SyncPodCache();           // the Pod cache caught up, the Job cache has not
  auto again = controller_->Reconcile({"ns", "build"});
  EXPECT_EQ(Calls("create", "pods"), 0u) << "the container would run a second time";
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().kind(), kube::ErrorKind::kWaiting);
  SyncJobCache();
  EXPECT_TRUE(controller_->Reconcile({"ns", "build"}).ok());
  EXPECT_EQ(Calls("create", "pods"), 0u);
}

TEST_F(JobControllerTest, SucceededPodIsCountedInTwoPhasesThenTheJobCompletes) {
  PutJob(MakeJob(Json::object(), {{"startTime", "2026-01-01T00:00:00Z"}, {"active", 1}}));
  PutPod(MakePod("build-a", "Succeeded"));
  ASSERT_TRUE(Run().ok());
  const auto writes = StatusWrites();
  ASSERT_EQ(writes.size(), 2u);
  // Recorded as uncounted before its finalizer goes, counted after.
  EXPECT_EQ(writes[0]["uncountedTerminatedPods"]["succeeded"], Json({"uid-build-a"}));
  EXPECT_EQ(writes[0]["succeeded"], 0);
  EXPECT_EQ(writes[1]["uncountedTerminatedPods"], Json::object());
  EXPECT_EQ(writes[1]["succeeded"], 1);
  EXPECT_EQ(Calls("patch", "pods"), 1u);
  EXPECT_EQ(Conditions(), (std::vector<std::string>{"SuccessCriteriaMet:CompletionsReached",
                                                    "Complete:CompletionsReached"}));
  EXPECT_EQ(Status()["completionTime"], FormatRfc3339(clock_.WallNow()));
  EXPECT_EQ(Status()["active"], 0);
}

TEST_F(JobControllerTest, KubernetesOneThirtyCompletesWithoutInterimConditionOrReason) {
  PutJob(MakeJob(Json::object(), {{"startTime", "2026-01-01T00:00:00Z"}}));
  PutPod(MakePod("build-a", "Succeeded"));
  ASSERT_TRUE(Run({.interim_conditions = false}).ok());
  EXPECT_EQ(Conditions(), std::vector<std::string>{"Complete:"});
  EXPECT_FALSE(Status()["conditions"][0].contains("message"));
}

TEST_F(JobControllerTest, FailedPodBeyondBackoffLimitFailsTheJobWithoutCompletionTime) {
  PutJob(MakeJob(Json::object(), {{"startTime", "2026-01-01T00:00:00Z"}}));
  PutPod(MakePod("build-a", "Failed"));
  ASSERT_TRUE(Run().ok());
  EXPECT_EQ(Conditions(), (std::vector<std::string>{"FailureTarget:BackoffLimitExceeded",
                                                    "Failed:BackoffLimitExceeded"}));
  EXPECT_EQ(Status()["failed"], 1);
  EXPECT_FALSE(Status().contains("completionTime"));
  EXPECT_EQ(Calls("create", "pods"), 0u);
}

TEST_F(JobControllerTest, DeadlineDeletesTheActivePodAndFailsOnceItIsGone) {
  const std::string start = FormatRfc3339(clock_.WallNow() - std::chrono::seconds(10));
  PutJob(MakeJob({{"activeDeadlineSeconds", 5}}, {{"startTime", start}, {"active", 1}}));
  PutPod(MakePod("build-a", "Running"));
  ASSERT_TRUE(Run().ok());
  EXPECT_EQ(Calls("delete", "pods"), 1u);
  // 1.31+: the interim condition first; Failed waits for the Pod to stop.
  EXPECT_EQ(Conditions(), std::vector<std::string>{"FailureTarget:DeadlineExceeded"});
  EXPECT_EQ(Status()["active"], 0);
  EXPECT_EQ(Status()["terminating"], 1);

  // The kubelet stopped it: terminal, still holding the finalizer.
  SyncJobCache();
  PutPod(MakePod("build-a", "Failed"));
  ASSERT_TRUE(Run().ok());
  EXPECT_EQ(Conditions(), (std::vector<std::string>{"FailureTarget:DeadlineExceeded",
                                                    "Failed:DeadlineExceeded"}));
  EXPECT_EQ(Status()["failed"], 1);
  EXPECT_EQ(Status()["terminating"], 0);
}

TEST_F(JobControllerTest, BeforeTheDeadlineItAsksToBeCalledAtTheDeadline) {
  const std::string start = FormatRfc3339(clock_.WallNow() - std::chrono::seconds(2));
  PutJob(MakeJob({{"activeDeadlineSeconds", 5}}, {{"startTime", start}, {"active", 1}}));
  PutPod(MakePod("build-a", "Running"));
  auto r = Run();
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r.action().requeue_after());
  EXPECT_NEAR(std::chrono::duration<double>(*r.action().requeue_after()).count(), 3.0, 0.1);
  EXPECT_TRUE(Conditions().empty());
}

TEST_F(JobControllerTest, AFailedPodIsReplacedAfterTheBackOff) {
  PutJob(MakeJob({{"backoffLimit", 6}},
                 {{"startTime", "2026-01-01T00:00:00Z"}, {"failed", 1}, {"succeeded", 0}}));
  const std::string finished = FormatRfc3339(clock_.WallNow() - std::chrono::seconds(3));
  PutPod(
      MakePod("build-a", "Failed", false,
              {{"containerStatuses",
                {{{"name", "main"}, {"state", {{"terminated", {{"finishedAt", finished}}}}}}}}}));
  auto r = Run({.pod_failure_backoff = std::chrono::seconds(10)});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Calls("create", "pods"), 0u);
  ASSERT_TRUE(r.action().requeue_after());
  EXPECT_NEAR(std::chrono::duration<double>(*r.action().requeue_after()).count(), 7.0, 0.1);
  clock_.Advance(std::chrono::seconds(7));
  SyncJobCache();
  ASSERT_TRUE(controller_->Reconcile({"ns", "build"}).ok());
  EXPECT_EQ(Calls("create", "pods"), 1u);
}

TEST_F(JobControllerTest, OnFailureRestartsAtTheBackoffLimitFailTheJob) {
  PutJob(MakeJob({{"backoffLimit", 2}, {"template", {{"spec", {{"restartPolicy", "OnFailure"}}}}}},
                 {{"startTime", "2026-01-01T00:00:00Z"}, {"active", 1}}));
  PutPod(MakePod("build-a", "Running", true,
                 {{"containerStatuses", {{{"name", "main"}, {"restartCount", 2}}}}}));
  ASSERT_TRUE(Run().ok());
  EXPECT_EQ(Conditions(), std::vector<std::string>{"FailureTarget:BackoffLimitExceeded"});
  EXPECT_EQ(Calls("delete", "pods"), 1u);
}

TEST_F(JobControllerTest, SuspendingDeletesActivePodsWithoutCountingThemAndResumeResetsStart) {
  PutJob(MakeJob({{"suspend", true}}, {{"startTime", "2026-01-01T00:00:00Z"}, {"active", 1}}));
  PutPod(MakePod("build-a", "Running"));
  ASSERT_TRUE(Run().ok());
  EXPECT_EQ(Conditions(), std::vector<std::string>{"Suspended:JobSuspended"});
  EXPECT_EQ(Calls("delete", "pods"), 1u);
  EXPECT_EQ(Calls("patch", "pods"), 1u) << "its finalizer goes: not a failure";
  EXPECT_EQ(Status()["failed"], 0);
  EXPECT_EQ(Status()["active"], 0);

  Json job = client_.Peek(JobResource(), {"ns", "build"}).value();
  job["spec"]["suspend"] = false;
  pods_.Replace({});
  clock_.Advance(std::chrono::seconds(30));
  PutJob(job);
  ASSERT_TRUE(Run().ok());
  EXPECT_EQ(Conditions(), std::vector<std::string>{"Suspended:JobResumed"});
  EXPECT_EQ(Status()["startTime"], FormatRfc3339(clock_.WallNow()));
  EXPECT_EQ(Calls("create", "pods"), 1u);
}

TEST_F(JobControllerTest, JobsOfAnotherControllerAreLeftAlone) {
  PutJob(MakeJob({{"managedBy", "example.com/other"}}));
  ASSERT_TRUE(Run().ok());
  EXPECT_TRUE(client_.calls().empty());
  EXPECT_EQ(Calls("create", "pods"), 0u);
  ASSERT_TRUE(Run({.managed_by = "example.com/other"}).ok());
  EXPECT_EQ(Calls("create", "pods"), 1u);
}

TEST_F(JobControllerTest, ADeletedJobLetsItsPodsGoAndCreatesNothing) {
  Json job = MakeJob(Json::object(), {{"startTime", "2026-01-01T00:00:00Z"}, {"active", 1}});
  job["metadata"]["deletionTimestamp"] = "2026-01-01T00:01:00Z";
  PutJob(job);
  PutPod(MakePod("build-a", "Running"));
  ASSERT_TRUE(Run().ok());
  EXPECT_EQ(Calls("patch", "pods"), 1u);
  EXPECT_EQ(Calls("create", "pods"), 0u);
  EXPECT_TRUE(StatusWrites().empty());
}

TEST_F(JobControllerTest, AConflictingStatusWriteIsRetriedShortlyAndOtherErrorsAreTransient) {
  PutJob(MakeJob());
  client_.FailNext("update", 1, kube::testing::KubeError(409, "Conflict", "modified"));
  auto r = Run();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind(), kube::ErrorKind::kWaiting);
  EXPECT_EQ(r.error().requeue_after(), std::chrono::milliseconds(200));
  // The Pod it created is not in the cache yet: it waits for the cache, it
  // does not create a second one.
  r = Run();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind(), kube::ErrorKind::kWaiting);
  EXPECT_EQ(Calls("create", "pods"), 1u);
  SyncPodCache();
  client_.FailNext("update", 1, kube::testing::KubeError(500, "InternalError", "boom"));
  r = Run();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind(), kube::ErrorKind::kTransient);
}

}  // namespace
}  // namespace vmrelease::jobrunner

// Jobs and Pods in the local API server's store, as kube-apiserver's
// strategies shape them (defaults, generated selector and labels, validation,
// immutable fields, the Job DELETE default, garbage collection of dependents
// created for absent owners), kubectl's columns, and the pods/log store.
#include "tests/support/apiserver/workloads.h"

#include <gtest/gtest.h>

#include "tests/support/apiserver/pod_logs.h"
#include "tests/support/apiserver/store.h"

namespace vmrelease::apiserver {
namespace {

using nlohmann::json;

json NewJob(const std::string& name, json pod_spec = json::object()) {
  json spec = {{"containers", {{{"name", "c"}, {"image", "busybox"}, {"command", {"true"}}}}},
               {"restartPolicy", "Never"}};
  spec.merge_patch(pod_spec);
  return {{"apiVersion", "batch/v1"},
          {"kind", "Job"},
          {"metadata", {{"name", name}}},
          {"spec", {{"template", {{"spec", spec}}}}}};
}

class WorkloadsTest : public ::testing::Test {
 protected:
  std::shared_ptr<const ResourceType> Type(const std::string& group, const std::string& plural) {
    return store_.Lookup(group, "v1", plural);
  }
  ApiOr<WriteResult> CreateJob(json job) {
    return store_.Create(*Type("batch", "jobs"), "default", std::move(job), {});
  }

  ManualClock clock_;
  Store store_{clock_, Store::Options{}};
};

TEST_F(WorkloadsTest, AJobGetsDefaultsTheGeneratedSelectorAndTemplateLabels) {
  auto r = CreateJob(NewJob("build"));
  ASSERT_TRUE(r.ok()) << r.error().message;
  const json& job = r->object->obj;
  const std::string uid = job["metadata"]["uid"];
  const json& spec = job["spec"];
  EXPECT_EQ(spec["completions"], 1);
  EXPECT_EQ(spec["parallelism"], 1);
  EXPECT_EQ(spec["backoffLimit"], 6);
  EXPECT_EQ(spec["completionMode"], "NonIndexed");
  EXPECT_EQ(spec["suspend"], false);
  EXPECT_EQ(spec["podReplacementPolicy"], "TerminatingOrFailed");
  EXPECT_EQ(spec["selector"], json({{"matchLabels", {{kControllerUidLabel, uid}}}}));
  const json labels = spec["template"]["metadata"]["labels"];
  EXPECT_EQ(labels[kJobNameLabel], "build");
  EXPECT_EQ(labels[kLegacyJobNameLabel], "build");
  EXPECT_EQ(labels[kControllerUidLabel], uid);
  EXPECT_EQ(labels[kLegacyControllerUidLabel], uid);
  EXPECT_EQ(job["metadata"]["labels"], labels) << "copied from the template, as defaulting does";
  const json& c = spec["template"]["spec"]["containers"][0];
  EXPECT_EQ(c["terminationMessagePath"], "/dev/termination-log");
  EXPECT_EQ(c["terminationMessagePolicy"], "File");
  EXPECT_EQ(c["imagePullPolicy"], "Always") << "untagged image";
  EXPECT_EQ(spec["template"]["spec"]["terminationGracePeriodSeconds"], 30);
  EXPECT_FALSE(job.contains("status"));
}

TEST_F(WorkloadsTest, InvalidJobsAreRefusedWithTheApiserversText) {
  auto r = CreateJob(NewJob("bad", {{"restartPolicy", "Always"}}));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, 422);
  EXPECT_NE(r.error().message.find("spec.template.spec.restartPolicy: Unsupported value: "
                                   "\"Always\": supported values: \"OnFailure\", \"Never\""),
            std::string::npos)
      << r.error().message;
  json no_image = NewJob("bad2");
  no_image["spec"]["template"]["spec"]["containers"][0].erase("image");
  r = CreateJob(no_image);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("spec.template.spec.containers[0].image: Required value"),
            std::string::npos);
  json selector = NewJob("bad3");
  selector["spec"]["selector"] = {{"matchLabels", {{kControllerUidLabel, "someone-else"}}}};
  r = CreateJob(selector);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("`selector` not auto-generated"), std::string::npos)
      << r.error().message;
}

TEST_F(WorkloadsTest, ARunningJobsTemplateAndSelectorAreImmutableItsStatusIsNot) {
  auto r = CreateJob(NewJob("build"));
  ASSERT_TRUE(r.ok());
  json edit = r->object->obj;
  edit["spec"]["template"]["spec"]["containers"][0]["image"] = "other";
  auto u = store_.Update(*Type("batch", "jobs"), "default", "build", edit, {});
  ASSERT_FALSE(u.ok());
  EXPECT_NE(u.error().message.find("spec.template: Invalid value"), std::string::npos);
  EXPECT_NE(u.error().message.find("field is immutable"), std::string::npos);
  json status = r->object->obj;
  status["status"] = {{"active", 1}};
  EXPECT_TRUE(
      store_
          .Update(*Type("batch", "jobs"), "default", "build", status, {.status_subresource = true})
          .ok());
}

TEST_F(WorkloadsTest, DeletingAJobWithoutAPolicyOrphansItsPods) {
  auto job = CreateJob(NewJob("build"));
  ASSERT_TRUE(job.ok());
  const std::string uid = job->object->obj["metadata"]["uid"];
  json pod = {{"metadata",
               {{"name", "build-x"},
                {"ownerReferences",
                 {{{"apiVersion", "batch/v1"},
                   {"kind", "Job"},
                   {"name", "build"},
                   {"uid", uid},
                   {"controller", true}}}}}},
              {"spec", {{"containers", {{{"name", "c"}, {"image", "x"}}}}}}};
  ASSERT_TRUE(store_.Create(*Type("", "pods"), "default", pod, {}).ok());
  ASSERT_TRUE(store_.Delete(*Type("batch", "jobs"), "default", "build", {}).ok());
  auto left = store_.Get(*Type("", "pods"), "default", "build-x");
  ASSERT_TRUE(left.ok()) << "Orphan is batch/v1's default";
  EXPECT_FALSE((*left)->obj["metadata"].contains("ownerReferences"));
}

TEST_F(WorkloadsTest, ADependentCreatedForAnAbsentOwnerIsCollected) {
  json pod = {{"metadata",
               {{"name", "late"},
                {"ownerReferences",
                 {{{"apiVersion", "batch/v1"},
                   {"kind", "Job"},
                   {"name", "gone"},
                   {"uid", "no-such-uid"},
                   {"controller", true}}}}}},
              {"spec", {{"containers", {{{"name", "c"}, {"image", "x"}}}}}}};
  auto r = store_.Create(*Type("", "pods"), "default", pod, {});
  ASSERT_TRUE(r.ok()) << "the create itself succeeds, as on a real cluster";
  EXPECT_FALSE(store_.Get(*Type("", "pods"), "default", "late").ok());
}

TEST_F(WorkloadsTest, PodsGetDefaultsAndTheirGracePeriodWhenDeleted) {
  json pod = {{"metadata", {{"name", "p"}, {"finalizers", {"example.com/hold"}}}},
              {"spec",
               {{"terminationGracePeriodSeconds", 7},
                {"containers", {{{"name", "c"}, {"image", "registry/tool:1.2"}}}}}}};
  auto r = store_.Create(*Type("", "pods"), "default", pod, {});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->object->obj["status"], json({{"phase", "Pending"}, {"qosClass", "BestEffort"}}));
  EXPECT_EQ(r->object->obj["spec"]["containers"][0]["imagePullPolicy"], "IfNotPresent");
  EXPECT_EQ(r->object->obj["spec"]["restartPolicy"], "Always");
  auto d = store_.Delete(*Type("", "pods"), "default", "p", {});
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->object->obj["metadata"]["deletionGracePeriodSeconds"], 7);
}

TEST(WorkloadColumnsTest, PodStatusIsWhatKubectlWouldPrint) {
  auto pod = [](json status, bool deleting = false) {
    json p = {{"metadata", {{"name", "p"}}}, {"status", std::move(status)}};
    if (deleting) p["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z";
    return p;
  };
  auto terminated = [](int code, const std::string& reason) {
    return json{{"phase", code == 0 ? "Succeeded" : "Failed"},
                {"containerStatuses",
                 {{{"state", {{"terminated", {{"exitCode", code}, {"reason", reason}}}}}}}}};
  };
  EXPECT_EQ(PodStatusReason(pod({{"phase", "Pending"}})), "Pending");
  EXPECT_EQ(PodStatusReason(pod(terminated(0, "Completed"))), "Completed");
  EXPECT_EQ(PodStatusReason(pod(terminated(3, "Error"))), "Error");
  EXPECT_EQ(
      PodStatusReason(pod(
          {{"phase", "Running"},
           {"containerStatuses", {{{"state", {{"waiting", {{"reason", "CrashLoopBackOff"}}}}}}}}})),
      "CrashLoopBackOff");
  EXPECT_EQ(PodStatusReason(pod({{"phase", "Running"},
                                 {"containerStatuses",
                                  {{{"ready", true}, {"state", {{"running", json::object()}}}}}}},
                                true)),
            "Terminating");
}

TEST(WorkloadColumnsTest, JobStatusAndCompletions) {
  const auto cols = JobColumns();
  ASSERT_EQ(cols[0].name, "Status");
  ASSERT_EQ(cols[1].name, "Completions");
  const WallTime now = WallTime(std::chrono::seconds(1767225700));
  json job = {{"metadata", {{"name", "j"}}},
              {"spec", {{"completions", 3}, {"parallelism", 2}}},
              {"status",
               {{"succeeded", 1},
                {"startTime", "2026-01-01T00:00:00Z"},
                {"conditions", {{{"type", "FailureTarget"}, {"status", "True"}}}}}}};
  EXPECT_EQ(cols[0].compute(job, now), "FailureTarget");
  EXPECT_EQ(cols[1].compute(job, now), "1/3");
  EXPECT_EQ(cols[2].compute(job, now), "100s");
  job["status"]["conditions"].push_back({{"type", "Failed"}, {"status", "True"}});
  EXPECT_EQ(cols[0].compute(job, now), "Failed");
  job["spec"].erase("completions");
  EXPECT_EQ(cols[1].compute(job, now), "1/1 of 2");
}

TEST(PodLogsTest, AppendsAreIdempotentByOffsetAndKeepThePreviousRun) {
  bool exists = true;
  PodLogs logs([&](const std::string&, const std::string&, const std::string&) { return exists; });
  const LogKey key{"ns", "p", "uid-1", "c"};
  EXPECT_TRUE(logs.Append(key, 0, 0, "one\n", false).ok);
  EXPECT_EQ(logs.Append(key, 0, 2, "e\ntwo\n", false).size, 8) << "overlap skipped";
  EXPECT_FALSE(logs.Append(key, 0, 100, "gap", false).ok);
  EXPECT_EQ(logs.Read(key, false)->text, "one\ntwo\n");
  logs.Append(key, 1, 0, "second run\n", true);
  EXPECT_EQ(logs.Read(key, false)->text, "second run\n");
  EXPECT_TRUE(logs.Read(key, false)->final);
  EXPECT_EQ(logs.Read(key, true)->text, "one\ntwo\n");
  EXPECT_TRUE(logs.Read(key, true)->final) << "a newer run ended the older one";
  EXPECT_FALSE(logs.Read({"ns", "p", "other-uid", "c"}, false)) << "another Pod of that name";
  exists = false;
  logs.Append({"ns", "q", "uid-2", "c"}, 0, 0, "x", false);  // prunes Pods that are gone
  EXPECT_FALSE(logs.Read(key, false));
}

TEST(PodLogsTest, KeepsOnlyTheTailOfALongRun) {
  PodLogs logs([](const std::string&, const std::string&, const std::string&) { return true; },
               /*max_bytes=*/10);
  const LogKey key{"ns", "p", "u", "c"};
  logs.Append(key, 0, 0, "0123456789abcdef", false);
  auto snap = logs.Read(key, false);
  EXPECT_EQ(snap->text, "6789abcdef");
  EXPECT_EQ(snap->size, 16);
}

}  // namespace
}  // namespace vmrelease::apiserver

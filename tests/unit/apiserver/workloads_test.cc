// Jobs, Pods, Deployments and RBAC objects in the local API server's store, as kube-apiserver's
// strategies shape them (defaults, generated selector and labels, validation,
// immutable fields, the Job DELETE default, garbage collection of dependents
// created for absent owners), kubectl's columns, and the pods/log store.
#include "tests/support/apiserver/workloads.h"

#include <gtest/gtest.h>

#include <functional>

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

json NewDeployment(const std::string& name) {
  const json labels = {{"app", name}};
  const json container = {{"name", "c"}, {"image", "example/c:1"}};
  json tmpl = {{"metadata", {{"labels", labels}}}, {"spec", {{"containers", {container}}}}};
  json spec = {{"selector", {{"matchLabels", labels}}}, {"template", tmpl}};
  return {{"apiVersion", "apps/v1"},
          {"kind", "Deployment"},
          {"metadata", {{"name", name}}},
          {"spec", spec}};
}

TEST_F(WorkloadsTest, ADeploymentGetsTheApiserversDefaultsAndAnImmutableSelector) {
  auto r = store_.Create(*Type("apps", "deployments"), "default", NewDeployment("web"), {});
  ASSERT_TRUE(r.ok()) << r.error().message;
  const json& spec = r->object->obj["spec"];
  EXPECT_EQ(spec["replicas"], 1);
  EXPECT_EQ(spec["revisionHistoryLimit"], 10);
  EXPECT_EQ(spec["progressDeadlineSeconds"], 600);
  EXPECT_EQ(spec["strategy"],
            json({{"type", "RollingUpdate"},
                  {"rollingUpdate", {{"maxSurge", "25%"}, {"maxUnavailable", "25%"}}}}));
  EXPECT_EQ(spec["template"]["spec"]["restartPolicy"], "Always");
  EXPECT_EQ(spec["template"]["spec"]["containers"][0]["imagePullPolicy"], "IfNotPresent");
  EXPECT_EQ(r->object->obj["metadata"]["generation"], 1);

  json edit = r->object->obj;
  edit["spec"]["replicas"] = 3;
  auto u = store_.Update(*Type("apps", "deployments"), "default", "web", edit, {});
  ASSERT_TRUE(u.ok()) << u.error().message;
  EXPECT_EQ(u->object->obj["metadata"]["generation"], 2);
  edit = u->object->obj;
  edit["spec"]["selector"]["matchLabels"]["app"] = "other";
  edit["spec"]["template"]["metadata"]["labels"]["app"] = "other";
  u = store_.Update(*Type("apps", "deployments"), "default", "web", edit, {});
  ASSERT_FALSE(u.ok());
  EXPECT_NE(u.error().message.find("spec.selector: Invalid value"), std::string::npos);
  EXPECT_NE(u.error().message.find("field is immutable"), std::string::npos);
}

// One object the apiserver's validation refuses, and the message it must name.
struct InvalidCase {
  std::string name;
  std::string plural;
  bool namespaced;
  std::function<json()> object;
  std::string message;
};

void PrintTo(const InvalidCase& c, std::ostream* os) { *os << c.name; }

class InvalidAppsAndRbacTest : public WorkloadsTest,
                               public ::testing::WithParamInterface<InvalidCase> {};

TEST_P(InvalidAppsAndRbacTest, IsRefusedWithTheApiserversText) {
  const InvalidCase& c = GetParam();
  const std::string group = c.plural == "deployments" ? "apps" : "rbac.authorization.k8s.io";
  auto r = store_.Create(*Type(group, c.plural), c.namespaced ? "default" : "", c.object(), {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, 422);
  EXPECT_NE(r.error().message.find(c.message), std::string::npos) << r.error().message;
}

json Rbac(const std::string& kind, json body) {
  body["apiVersion"] = "rbac.authorization.k8s.io/v1";
  body["kind"] = kind;
  body["metadata"] = {{"name", "x"}};
  return body;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, InvalidAppsAndRbacTest,
    ::testing::Values(
        InvalidCase{"SelectorNotMatchingTheTemplate", "deployments", true,
                    [] {
                      json d = NewDeployment("web");
                      d["spec"]["selector"]["matchLabels"]["app"] = "db";
                      return d;
                    },
                    "spec.template.metadata.labels: Invalid value: {\"app\":\"web\"}: `selector` "
                    "does not match template `labels`"},
        InvalidCase{"NoSelector", "deployments", true,
                    [] {
                      json d = NewDeployment("web");
                      d["spec"].erase("selector");
                      return d;
                    },
                    "spec.selector: Required value"},
        InvalidCase{"RestartPolicyNever", "deployments", true,
                    [] {
                      json d = NewDeployment("web");
                      d["spec"]["template"]["spec"]["restartPolicy"] = "Never";
                      return d;
                    },
                    "spec.template.spec.restartPolicy: Unsupported value: \"Never\": supported "
                    "values: \"Always\""},
        InvalidCase{"ARolloutThatCannotProgress", "deployments", true,
                    [] {
                      json d = NewDeployment("web");
                      d["spec"]["strategy"] = {
                          {"type", "RollingUpdate"},
                          {"rollingUpdate", {{"maxSurge", 0}, {"maxUnavailable", "0%"}}}};
                      return d;
                    },
                    "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: \"0%\": may not "
                    "be 0 when `maxSurge` is 0"},
        InvalidCase{
            "RollingUpdateParametersWithRecreate", "deployments", true,
            [] {
              json d = NewDeployment("web");
              d["spec"]["strategy"] = {{"type", "Recreate"}, {"rollingUpdate", {{"maxSurge", 1}}}};
              return d;
            },
            "spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy "
            "`type` is 'Recreate'"},
        InvalidCase{"NegativeReplicas", "deployments", true,
                    [] {
                      json d = NewDeployment("web");
                      d["spec"]["replicas"] = -1;
                      return d;
                    },
                    "spec.replicas: Invalid value: -1: must be greater than or equal to 0"},
        InvalidCase{"RuleWithoutVerbs", "clusterroles", false,
                    [] {
                      return Rbac("ClusterRole",
                                  {{"rules", {{{"apiGroups", {""}}, {"resources", {"pods"}}}}}});
                    },
                    "rules[0].verbs: Required value"},
        InvalidCase{"RuleWithoutResources", "roles", true,
                    [] {
                      return Rbac("Role", {{"rules", {{{"apiGroups", {""}}, {"verbs", {"get"}}}}}});
                    },
                    "rules[0].resources: Required value"},
        InvalidCase{"NonResourceUrlsInARole", "roles", true,
                    [] {
                      return Rbac(
                          "Role",
                          {{"rules", {{{"nonResourceURLs", {"/metrics"}}, {"verbs", {"get"}}}}}});
                    },
                    "namespaced rules cannot apply to non-resource URLs"},
        InvalidCase{
            "ClusterRoleBindingToARole", "clusterrolebindings", false,
            [] {
              return Rbac(
                  "ClusterRoleBinding",
                  {{"roleRef",
                    {{"apiGroup", "rbac.authorization.k8s.io"}, {"kind", "Role"}, {"name", "r"}}}});
            },
            "roleRef.kind: Unsupported value: \"Role\": supported values: "
            "\"ClusterRole\""},
        InvalidCase{"BindingWithoutRoleRef", "rolebindings", true,
                    [] { return Rbac("RoleBinding", json::object()); }, "roleRef: Required value"},
        InvalidCase{"ServiceAccountWithoutNamespaceInAClusterRoleBinding", "clusterrolebindings",
                    false,
                    [] {
                      return Rbac("ClusterRoleBinding",
                                  {{"roleRef",
                                    {{"apiGroup", "rbac.authorization.k8s.io"},
                                     {"kind", "ClusterRole"},
                                     {"name", "r"}}},
                                   {"subjects", {{{"kind", "ServiceAccount"}, {"name", "sa"}}}}});
                    },
                    "subjects[0].namespace: Required value"}),
    [](const ::testing::TestParamInfo<InvalidCase>& info) { return info.param.name; });

TEST_F(WorkloadsTest, ABindingsRoleRefNeverChanges) {
  json rb = Rbac(
      "RoleBinding",
      {{"roleRef", {{"apiGroup", "rbac.authorization.k8s.io"}, {"kind", "Role"}, {"name", "a"}}},
       {"subjects", {{{"kind", "User"}, {"name", "jane"}}}}});
  auto r = store_.Create(*Type("rbac.authorization.k8s.io", "rolebindings"), "default", rb, {});
  ASSERT_TRUE(r.ok()) << r.error().message;
  json edit = r->object->obj;
  edit["subjects"][0]["name"] = "joe";
  auto u =
      store_.Update(*Type("rbac.authorization.k8s.io", "rolebindings"), "default", "x", edit, {});
  ASSERT_TRUE(u.ok()) << "subjects may change: " << u.error().message;
  edit = u->object->obj;
  edit["roleRef"]["name"] = "b";
  u = store_.Update(*Type("rbac.authorization.k8s.io", "rolebindings"), "default", "x", edit, {});
  ASSERT_FALSE(u.ok());
  EXPECT_NE(u.error().message.find("roleRef: Invalid value"), std::string::npos);
  EXPECT_NE(u.error().message.find("cannot change roleRef"), std::string::npos);
}

TEST(WorkloadColumnsTest, DeploymentReadyUpToDateAvailable) {
  json d = NewDeployment("web");
  d["spec"]["replicas"] = 2;
  d["status"] = {{"readyReplicas", 1}, {"updatedReplicas", 2}, {"availableReplicas", 1}};
  std::vector<std::string> cells;
  for (const PrinterColumn& c : DeploymentColumns()) {
    if (c.compute && c.name != "Age") cells.push_back(c.compute(d, WallTime{}).dump());
  }
  EXPECT_EQ(cells, (std::vector<std::string>{"\"1/2\"", "2", "1", "\"c\"", "\"example/c:1\"",
                                             "\"app=web\""}));
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

// The job runner (vmrelease-job-runner) against the local API server, with
// real kubectl: Jobs run as local processes and end with the status the Job
// controller and the kubelet would write (../shared/reference/kubernetes/jobs.md).
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "controller/common/clock.h"
#include "tests/integration/kube/kube_test_util.h"
#include "tests/support/jobrunner/fixture.h"
#include "tests/support/jobrunner/kubelet.h"
#include "tests/support/jobrunner/processes.h"

namespace vmrelease {
namespace {

using kube::Json;
using testing::JobRunnerProcess;
using testing::ReadFile;
using testing::WaitFor;

const kube::ResourceType kJobs{"batch", "v1", "jobs", "Job", true};
const kube::ResourceType kPods{"", "v1", "pods", "Pod", true};

const Json* Condition(const Json& obj, const std::string& type) {
  const Json* conds = kube::Find(obj, {"status", "conditions"});
  if (conds == nullptr || !conds->is_array()) return nullptr;
  for (const auto& c : *conds)
    if (c.value("type", "") == type) return &c;
  return nullptr;
}

std::vector<std::string> ConditionTypes(const Json& obj) {
  std::vector<std::string> out;
  const Json* conds = kube::Find(obj, {"status", "conditions"});
  if (conds != nullptr && conds->is_array())
    for (const auto& c : *conds) out.push_back(c.value("type", "") + "=" + c.value("status", ""));
  return out;
}

// The process group of a running process (/proc/<pid>/stat field 5).
int ProcessGroup(int pid) {
  std::string stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  const size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return -1;
  std::istringstream in(stat.substr(paren + 1));
  std::string state;
  int ppid = 0, pgrp = -1;
  in >> state >> ppid >> pgrp;
  return pgrp;
}

bool GroupAlive(int pgid) { return ::kill(-pgid, 0) == 0; }

class JobRunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = kube::itest::StartServer();
    ASSERT_TRUE(server_);
    client_ = kube::itest::ClientFor(*server_);
    ASSERT_TRUE(client_);
    StartRunner({"--pod-failure-backoff", "0", "--restart-backoff", "1s"});
  }

  void StartRunner(std::vector<std::string> args) {
    runner_.reset();
    auto r = JobRunnerProcess::Start({.kubeconfig = server_->kubeconfig(), .extra_args = args});
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    runner_ = std::move(*r);
  }

  std::string Path(const std::string& name) const { return files_.Join(name); }

  Json NewJob(const std::string& name, const std::vector<std::string>& command,
              Json spec = Json::object(), Json container = Json::object()) {
    container["name"] = "main";
    container["image"] = "registry.example/tools:1";
    container["command"] = command;
    Json pod_spec = {{"restartPolicy", "Never"}, {"containers", {container}}};
    if (spec.contains("podSpec")) {
      pod_spec.merge_patch(spec["podSpec"]);
      spec.erase("podSpec");
    }
    spec["template"] = {{"spec", pod_spec}};
    return {{"apiVersion", "batch/v1"},
            {"kind", "Job"},
            {"metadata", {{"name", name}, {"namespace", "default"}}},
            {"spec", spec}};
  }

  Json Create(const Json& job) {
    auto r = client_->Create(kJobs, job);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : Json();
  }

  Json GetJob(const std::string& name) {
    auto r = client_->Get(kJobs, {"default", name});
    return r.ok() ? *r : Json();
  }

  // Waits for a True condition of `type` on the Job; returns the Job.
  Json WaitForCondition(const std::string& name, const std::string& type,
                        std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    Json job;
    const bool ok = WaitFor(
        [&] {
          job = GetJob(name);
          const Json* c = Condition(job, type);
          return c != nullptr && c->value("status", "") == "True";
        },
        timeout);
    EXPECT_TRUE(ok) << "job " << name << " never got " << type << "=True: " << job.dump(2)
                    << "\nrunner log:\n"
                    << runner_->log();
    return job;
  }

  std::vector<Json> PodsOf(const std::string& job) {
    auto r = client_->List(
        kPods, {.ns = "default", .label_selector = "batch.kubernetes.io/job-name=" + job});
    return r.ok() ? r->items : std::vector<Json>();
  }

  // Waits until the file exists and is not empty; returns its content.
  std::string WaitForFile(const std::string& path) {
    std::string content;
    EXPECT_TRUE(WaitFor(
        [&] {
          content = ReadFile(path);
          return !content.empty();
        },
        std::chrono::seconds(30)))
        << path << " never written; runner log:\n"
        << runner_->log();
    return content;
  }

  testing::TempDir files_;
  std::unique_ptr<testing::LocalApiServer> server_;
  std::unique_ptr<kube::RestClient> client_;
  std::unique_ptr<JobRunnerProcess> runner_;
};

TEST_F(JobRunnerTest, SucceedingCommandCompletesTheJobWithConditionsTimesAndLogs) {
  const Json created =
      Create(NewJob("hello", {"sh", "-c",
                              "echo hello from the job; echo line two; printf 'build 42 ok' > "
                              "/dev/termination-log"}));
  const Json job = WaitForCondition("hello", "Complete");
  const Json st = job["status"];
  EXPECT_EQ(st.value("succeeded", -1), 1);
  EXPECT_EQ(st.value("failed", -1), 0);
  EXPECT_EQ(st.value("active", -1), 0);
  EXPECT_EQ(st.value("ready", -1), 0);
  EXPECT_EQ(st["uncountedTerminatedPods"], Json::object());
  // Kubernetes 1.31+ (the local server says 1.32): SuccessCriteriaMet, then Complete.
  EXPECT_EQ(ConditionTypes(job),
            (std::vector<std::string>{"SuccessCriteriaMet=True", "Complete=True"}));
  const Json* complete = Condition(job, "Complete");
  EXPECT_EQ(complete->value("reason", ""), "CompletionsReached");
  EXPECT_EQ(complete->value("message", ""), "Reached expected number of succeeded pods");
  EXPECT_EQ(Condition(job, "SuccessCriteriaMet")->value("reason", ""), "CompletionsReached");
  // completionTime is the Complete condition's transition; startTime precedes it.
  EXPECT_EQ(st.value("completionTime", ""), complete->value("lastTransitionTime", ""));
  WallTime start, done, created_at;
  ASSERT_TRUE(ParseRfc3339(st.value("startTime", ""), &start));
  ASSERT_TRUE(ParseRfc3339(st.value("completionTime", ""), &done));
  ASSERT_TRUE(ParseRfc3339(created["metadata"].value("creationTimestamp", ""), &created_at));
  EXPECT_LE(created_at, start);
  EXPECT_LE(start, done);
  EXPECT_LT(done - start, std::chrono::seconds(20));

  const auto pods = PodsOf("hello");
  ASSERT_EQ(pods.size(), 1u);
  const Json& pod = pods[0];
  EXPECT_EQ(pod["metadata"].value("name", "").rfind("hello-", 0), 0u);
  EXPECT_EQ(pod["metadata"]["name"].get<std::string>().size(), std::string("hello-").size() + 5);
  EXPECT_EQ(pod["metadata"]["labels"]["batch.kubernetes.io/controller-uid"], kube::Uid(job));
  EXPECT_EQ(pod["metadata"]["labels"]["controller-uid"], kube::Uid(job));
  EXPECT_EQ(pod["metadata"]["labels"]["job-name"], "hello");
  const Json owner = pod["metadata"]["ownerReferences"][0];
  EXPECT_EQ(owner["kind"], "Job");
  EXPECT_EQ(owner["uid"], kube::Uid(job));
  EXPECT_EQ(owner["controller"], true);
  EXPECT_EQ(owner["blockOwnerDeletion"], true);
  EXPECT_FALSE(pod["metadata"].contains("finalizers")) << "counted Pods lose job-tracking";
  EXPECT_EQ(pod["status"]["phase"], "Succeeded");
  const Json term = pod["status"]["containerStatuses"][0]["state"]["terminated"];
  EXPECT_EQ(term["exitCode"], 0);
  EXPECT_EQ(term["reason"], "Completed");
  EXPECT_EQ(term["message"], "build 42 ok");
  EXPECT_TRUE(term.contains("startedAt") && term.contains("finishedAt"));
  const Json* ready = Condition(pod, "Ready");
  ASSERT_NE(ready, nullptr);
  EXPECT_EQ(ready->value("reason", ""), "PodCompleted");

  // What users look at.
  auto logs = server_->Kubectl({"logs", "job/hello"});
  EXPECT_EQ(logs.exit_code, 0) << logs.err;
  EXPECT_EQ(logs.out, "hello from the job\nline two\n");
  logs = server_->Kubectl({"logs", "pod/" + pod["metadata"].value("name", ""), "--tail=1"});
  EXPECT_EQ(logs.out, "line two\n");
  auto get = server_->Kubectl({"get", "jobs"});
  EXPECT_NE(get.out.find("COMPLETIONS"), std::string::npos) << get.out;
  EXPECT_NE(get.out.find("Complete"), std::string::npos) << get.out;
  EXPECT_NE(get.out.find("1/1"), std::string::npos) << get.out;
  get = server_->Kubectl({"get", "pods"});
  EXPECT_NE(get.out.find("Completed"), std::string::npos) << get.out;
  EXPECT_NE(get.out.find("0/1"), std::string::npos) << get.out;
  auto wait = server_->Kubectl({"wait", "--for=condition=complete", "job/hello", "--timeout=10s"});
  EXPECT_EQ(wait.exit_code, 0) << wait.err;
  auto describe = server_->Kubectl({"describe", "job", "hello"});
  EXPECT_NE(describe.out.find("1 Succeeded"), std::string::npos) << describe.out;
  EXPECT_NE(describe.out.find("SuccessfulCreate"), std::string::npos) << describe.out;
  EXPECT_NE(describe.out.find("Completed"), std::string::npos) << describe.out;
  describe = server_->Kubectl({"describe", "pod", pod["metadata"].value("name", "")});
  EXPECT_NE(describe.out.find("Exit Code:    0"), std::string::npos) << describe.out;
  EXPECT_NE(describe.out.find("build 42 ok"), std::string::npos) << describe.out;
}

TEST_F(JobRunnerTest, FailingCommandWithBackoffLimitZeroFailsTheJobWithTheTerminationMessage) {
  Json spec = {{"backoffLimit", 0}};
  Create(
      NewJob("from-file", {"sh", "-c", "echo 'disk full' > /dev/termination-log; exit 3"}, spec));
  Create(NewJob("from-logs", {"sh", "-c", "echo step one; echo 'fatal: no space' >&2; exit 7"},
                spec, {{"terminationMessagePolicy", "FallbackToLogsOnError"}}));
  for (const auto& [name, code, message] : std::vector<std::tuple<std::string, int, std::string>>{
           {"from-file", 3, "disk full\n"}, {"from-logs", 7, "step one\nfatal: no space\n"}}) {
    SCOPED_TRACE(name);
    const Json job = WaitForCondition(name, "Failed");
    EXPECT_EQ(ConditionTypes(job), (std::vector<std::string>{"FailureTarget=True", "Failed=True"}));
    const Json* failed = Condition(job, "Failed");
    EXPECT_EQ(failed->value("reason", ""), "BackoffLimitExceeded");
    EXPECT_EQ(failed->value("message", ""), "Job has reached the specified backoff limit");
    EXPECT_EQ(Condition(job, "FailureTarget")->value("reason", ""), "BackoffLimitExceeded");
    EXPECT_EQ(job["status"].value("failed", -1), 1);
    EXPECT_EQ(job["status"].value("succeeded", -1), 0);
    EXPECT_FALSE(job["status"].contains("completionTime"));
    const auto pods = PodsOf(name);
    ASSERT_EQ(pods.size(), 1u) << "backoffLimit 0: no retry";
    EXPECT_EQ(pods[0]["status"]["phase"], "Failed");
    const Json term = pods[0]["status"]["containerStatuses"][0]["state"]["terminated"];
    EXPECT_EQ(term["exitCode"], code);
    EXPECT_EQ(term["reason"], "Error");
    EXPECT_EQ(term["message"], message);
  }
  auto get = server_->Kubectl({"get", "pods"});
  EXPECT_NE(get.out.find("Error"), std::string::npos) << get.out;
}

TEST_F(JobRunnerTest, BackoffLimitRetriesWithNewPodsThenFails) {
  Create(NewJob("retry", {"sh", "-c", "echo attempt >> " + Path("attempts") + "; exit 1"},
                {{"backoffLimit", 2}}));
  const Json job = WaitForCondition("retry", "Failed");
  EXPECT_EQ(job["status"].value("failed", -1), 3) << "backoffLimit 2 allows three Pods";
  EXPECT_EQ(PodsOf("retry").size(), 3u);
  EXPECT_EQ(ReadFile(Path("attempts")), "attempt\nattempt\nattempt\n");
}

TEST_F(JobRunnerTest, OnFailureRestartsTheContainerInPlace) {
  const std::string count = Path("count");
  Create(NewJob("in-place",
                {"sh", "-c",
                 "n=$(cat " + count + " 2>/dev/null || echo 0); echo $((n+1)) > " + count +
                     "; echo run $n; [ $n -ge 2 ]"},
                {{"podSpec", {{"restartPolicy", "OnFailure"}}}}));
  const Json job = WaitForCondition("in-place", "Complete", std::chrono::seconds(40));
  EXPECT_EQ(job["status"].value("succeeded", -1), 1);
  const auto pods = PodsOf("in-place");
  ASSERT_EQ(pods.size(), 1u) << "restarted in place, not replaced";
  const Json cs = pods[0]["status"]["containerStatuses"][0];
  EXPECT_EQ(cs["restartCount"], 2);
  EXPECT_EQ(cs["lastState"]["terminated"]["exitCode"], 1);
  EXPECT_EQ(cs["state"]["terminated"]["exitCode"], 0);
  EXPECT_EQ(ReadFile(count), "3\n");
  auto previous =
      server_->Kubectl({"logs", "pod/" + pods[0]["metadata"].value("name", ""), "--previous"});
  EXPECT_EQ(previous.out, "run 1\n") << previous.err;
  auto current = server_->Kubectl({"logs", "job/in-place"});
  EXPECT_EQ(current.out, "run 2\n") << current.err;
}

TEST_F(JobRunnerTest, ActiveDeadlineFailsTheJobAndKillsTheProcessGroup) {
  // The command ignores SIGTERM, so the kill escalates to SIGKILL after the
  // Pod's grace period; a background child shares the group. (`$$$$` is the
  // shell's `$$`: Kubernetes expands `$$` in command to `$`.)
  Create(NewJob(
      "slow",
      {"sh", "-c",
       "trap '' TERM; sleep 300 & echo $$$$ > " + Path("pid") + "; while true; do sleep 0.2; done"},
      {{"activeDeadlineSeconds", 2}, {"podSpec", {{"terminationGracePeriodSeconds", 1}}}}));
  const int pid = std::atoi(WaitForFile(Path("pid")).c_str());
  ASSERT_GT(pid, 0);
  const int pgid = ProcessGroup(pid);
  ASSERT_GT(pgid, 1);
  EXPECT_TRUE(GroupAlive(pgid));
  const Json job = WaitForCondition("slow", "Failed", std::chrono::seconds(20));
  const Json* failed = Condition(job, "Failed");
  EXPECT_EQ(failed->value("reason", ""), "DeadlineExceeded");
  EXPECT_EQ(failed->value("message", ""), "Job was active longer than specified deadline");
  EXPECT_EQ(Condition(job, "FailureTarget")->value("reason", ""), "DeadlineExceeded");
  WallTime start, at;
  ASSERT_TRUE(ParseRfc3339(job["status"].value("startTime", ""), &start));
  ASSERT_TRUE(ParseRfc3339(failed->value("lastTransitionTime", ""), &at));
  EXPECT_GE(at - start, std::chrono::seconds(2));
  EXPECT_EQ(job["status"].value("active", -1), 0);
  EXPECT_TRUE(WaitFor([&] { return !GroupAlive(pgid); }, std::chrono::seconds(2)))
      << "process group " << pgid << " survived the deadline";
}

TEST_F(JobRunnerTest, EnvFromSecretReachesTheProcessAndNeverTheLogs) {
  const std::string secret_value = "sv=2024-11-04&sig=c2VjcmV0LXNhcy10b2tlbi12YWx1ZQ";
  const std::string out = Path("env-out");
  const Json job = NewJob(
      "env", {"sh", "-c", "printf '%s|%s|%s' \"$OUTPUT_URL\" \"$MODE\" \"$POD\" > " + out},
      Json::object(),
      {{"env",
        {{{"name", "OUTPUT_URL"},
          {"valueFrom", {{"secretKeyRef", {{"name", "upload"}, {"key", "url"}}}}}},
         {{"name", "MODE"},
          {"valueFrom", {{"configMapKeyRef", {{"name", "settings"}, {"key", "mode"}}}}}},
         {{"name", "POD"}, {"valueFrom", {{"fieldRef", {{"fieldPath", "metadata.name"}}}}}}}}});
  // The Secret does not exist yet: the container waits, as the kubelet's does.
  Create(job);
  Json pod;
  ASSERT_TRUE(WaitFor(
      [&] {
        auto pods = PodsOf("env");
        if (pods.empty()) return false;
        pod = pods[0];
        const Json* w = kube::Find(pod, {"status", "containerStatuses"});
        return w != nullptr && w->is_array() && !w->empty() && (*w)[0]["state"].contains("waiting");
      },
      std::chrono::seconds(20)));
  const Json waiting = pod["status"]["containerStatuses"][0]["state"]["waiting"];
  EXPECT_EQ(waiting["reason"], "CreateContainerConfigError");
  EXPECT_EQ(waiting["message"], "secret \"upload\" not found");
  EXPECT_EQ(pod["status"]["phase"], "Pending");

  ASSERT_TRUE(client_
                  ->Create(kube::SecretResource(),
                           {{"metadata", {{"name", "upload"}, {"namespace", "default"}}},
                            {"stringData", {{"url", secret_value}}}})
                  .ok());
  ASSERT_TRUE(client_
                  ->Create(kube::ConfigMapResource(),
                           {{"metadata", {{"name", "settings"}, {"namespace", "default"}}},
                            {"data", {{"mode", "fast"}}}})
                  .ok());
  WaitForCondition("env", "Complete");
  EXPECT_EQ(ReadFile(out), secret_value + "|fast|" + pod["metadata"].value("name", ""));
  EXPECT_EQ(runner_->log().find(secret_value), std::string::npos) << "the runner logged the secret";
  EXPECT_EQ(runner_->log().find("c2VjcmV0LXNhcy10b2tlbi12YWx1ZQ"), std::string::npos);
  EXPECT_EQ(server_->log().find(secret_value), std::string::npos);
}

TEST_F(JobRunnerTest, KubectlDeleteJobRemovesItsPodsAndKillsTheProcess) {
  Create(NewJob("doomed", {"sh", "-c", "echo $$$$ > " + Path("pid") + "; exec sleep 300"}));
  const int pid = std::atoi(WaitForFile(Path("pid")).c_str());
  ASSERT_GT(pid, 0);
  ASSERT_TRUE(
      WaitFor([&] { return jobrunner::ReadProcStat(pid).has_value(); }, std::chrono::seconds(5)));
  ASSERT_EQ(PodsOf("doomed").size(), 1u);
  auto del = server_->Kubectl({"delete", "job", "doomed"});  // propagation Background
  ASSERT_EQ(del.exit_code, 0) << del.err;
  EXPECT_TRUE(WaitFor([&] { return PodsOf("doomed").empty(); }, std::chrono::seconds(20)))
      << "pods left: " << PodsOf("doomed").size() << "\n"
      << runner_->log();
  EXPECT_TRUE(WaitFor(
      [&] {
        auto ps = jobrunner::ReadProcStat(pid);
        return !ps || ps->zombie;
      },
      std::chrono::seconds(5)))
      << "the container process survived its Job";
  EXPECT_FALSE(GetJob("doomed").contains("metadata"));
}

TEST_F(JobRunnerTest, ATerminatingPodOfADeletedJobLosesItsFinalizerAndGoes) {
  // A Pod that is already terminating when its Job goes: the garbage
  // collector's delete changes nothing in it, so only the Job's deletion can
  // tell the kubelet that the job-tracking finalizer may go. The Job is managed
  // elsewhere (spec.managedBy), so the runner's Job controller never counts the
  // Pod and the finalizer stays until then.
  Json job = NewJob("foreign", {"true"});
  job["spec"]["managedBy"] = "example.com/elsewhere";
  const Json created = Create(job);
  ASSERT_TRUE(created.contains("metadata"));
  Json pod = {{"apiVersion", "v1"},
              {"kind", "Pod"},
              {"metadata",
               {{"name", "foreign-pod"},
                {"namespace", "default"},
                {"labels",
                 {{"batch.kubernetes.io/job-name", "foreign"},
                  {"batch.kubernetes.io/controller-uid", created["metadata"]["uid"]}}},
                {"annotations", {{jobrunner::kRunnerAnnotation, "true"}}},
                {"ownerReferences",
                 {{{"apiVersion", "batch/v1"},
                   {"kind", "Job"},
                   {"name", "foreign"},
                   {"uid", created["metadata"]["uid"]},
                   {"controller", true}}}},
                {"finalizers", {jobrunner::kJobTrackingFinalizer}}}},
              {"spec", created["spec"]["template"]["spec"]}};
  ASSERT_TRUE(client_->Create(kPods, pod).ok());
  auto phase = [&] {
    auto pods = PodsOf("foreign");
    return pods.size() == 1 ? pods[0]["status"].value("phase", "") : std::string("gone");
  };
  ASSERT_TRUE(WaitFor([&] { return phase() == "Succeeded"; }, std::chrono::seconds(20)))
      << phase() << "\n"
      << runner_->log();
  ASSERT_TRUE(client_->Delete(kPods, {"default", "foreign-pod"}).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  auto pods = PodsOf("foreign");
  ASSERT_EQ(pods.size(), 1u) << "the finalizer went while the Job still exists";
  ASSERT_TRUE(pods[0]["metadata"].contains("deletionTimestamp"));

  ASSERT_TRUE(
      client_->Delete(kJobs, {"default", "foreign"}, {.propagation_policy = "Background"}).ok());
  EXPECT_TRUE(WaitFor([&] { return PodsOf("foreign").empty(); }, std::chrono::seconds(10)))
      << "the Pod outlived its Job: " << PodsOf("foreign")[0].dump(2) << "\n"
      << runner_->log();
}

TEST_F(JobRunnerTest, DeletingAJobWithoutPropagationOrphansItsPodsWhichRunToTheEnd) {
  // batch/v1's REST default is Orphan (kubectl sends Background): the Pod
  // loses its owner and keeps running, as on a real cluster.
  Create(NewJob("parent", {"sh", "-c", "while [ ! -f " + Path("go") + " ]; do sleep 0.1; done"}));
  ASSERT_TRUE(WaitFor(
      [&] {
        auto pods = PodsOf("parent");
        return !pods.empty() && pods[0]["status"].value("phase", "") == "Running";
      },
      std::chrono::seconds(20)));
  ASSERT_TRUE(client_->Delete(kJobs, {"default", "parent"}).ok());
  Json pod;
  ASSERT_TRUE(WaitFor(
      [&] {
        auto pods = PodsOf("parent");
        if (pods.size() != 1) return false;
        pod = pods[0];
        return !pod["metadata"].contains("ownerReferences") &&
               !pod["metadata"].contains("finalizers");
      },
      std::chrono::seconds(20)))
      << pod.dump(2);
  testing::WriteFile(Path("go"), "go");
  EXPECT_TRUE(WaitFor(
      [&] {
        auto pods = PodsOf("parent");
        return pods.size() == 1 && pods[0]["status"].value("phase", "") == "Succeeded";
      },
      std::chrono::seconds(20)));
}

TEST_F(JobRunnerTest, KubectlCreateJobRunsAndIsReadableWithKubectl) {
  auto create = server_->Kubectl({"create", "job", "kubectl-made", "--image=busybox", "--", "sh",
                                  "-c", "echo made by kubectl"});
  ASSERT_EQ(create.exit_code, 0) << create.err;
  auto wait =
      server_->Kubectl({"wait", "--for=condition=complete", "job/kubectl-made", "--timeout=30s"});
  EXPECT_EQ(wait.exit_code, 0) << wait.out << wait.err << runner_->log();
  auto logs = server_->Kubectl({"logs", "job/kubectl-made"});
  EXPECT_EQ(logs.out, "made by kubectl\n") << logs.err;
  auto get = server_->Kubectl({"get", "jobs,pods"});
  EXPECT_NE(get.out.find("job.batch/kubectl-made"), std::string::npos) << get.out;
  EXPECT_NE(get.out.find("pod/kubectl-made-"), std::string::npos) << get.out;
  auto del = server_->Kubectl({"delete", "job", "kubectl-made"});
  EXPECT_EQ(del.exit_code, 0) << del.err;
  EXPECT_TRUE(WaitFor([&] { return PodsOf("kubectl-made").empty(); }, std::chrono::seconds(20)));
}

TEST_F(JobRunnerTest, ARestartedRunnerAdoptsTheRunningPodAndNeverStartsItTwice) {
  const std::string starts = Path("starts");
  Create(NewJob("survivor", {"sh", "-c",
                             "echo started >> " + starts + "; echo before; while [ ! -f " +
                                 Path("go") + " ]; do sleep 0.1; done; echo after"}));
  WaitForFile(starts);
  runner_->Kill();  // a crash: the container keeps running
  ASSERT_TRUE(runner_->Restart().ok());
  EXPECT_TRUE(runner_->WaitForLog("adopted a running container process")) << runner_->log();
  testing::WriteFile(Path("go"), "go");
  const Json job = WaitForCondition("survivor", "Complete");
  EXPECT_EQ(ReadFile(starts), "started\n") << "the container ran twice";
  EXPECT_EQ(PodsOf("survivor").size(), 1u);
  EXPECT_EQ(job["status"].value("succeeded", -1), 1);
  auto logs = server_->Kubectl({"logs", "job/survivor"});
  EXPECT_EQ(logs.out, "before\nafter\n") << logs.err;

  // A container that ends while no runner is there is reported when one comes back.
  const std::string starts2 = Path("starts2");
  Create(NewJob("while-away",
                {"sh", "-c",
                 "echo started >> " + starts2 + "; while [ ! -f " + Path("go2") +
                     " ]; do sleep 0.1; done; exit 4"},
                {{"backoffLimit", 0}}));
  WaitForFile(starts2);
  runner_->Kill();
  testing::WriteFile(Path("go2"), "go");
  // Give the container time to end before the runner returns.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  ASSERT_TRUE(runner_->Restart().ok());
  const Json failed = WaitForCondition("while-away", "Failed");
  EXPECT_EQ(ReadFile(starts2), "started\n");
  const auto pods = PodsOf("while-away");
  ASSERT_EQ(pods.size(), 1u);
  EXPECT_EQ(pods[0]["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"], 4);
}

TEST(JobRunnerVersionTest, KubernetesOneThirtyConditionsCompleteAtOnceWithoutAReason) {
  auto server = kube::itest::StartServer();
  ASSERT_TRUE(server);
  auto client = kube::itest::ClientFor(*server);
  auto runner = JobRunnerProcess::Start(
      {.kubeconfig = server->kubeconfig(), .extra_args = {"--kubernetes-version", "1.30"}});
  ASSERT_TRUE(runner.ok()) << runner.status().ToString();
  ASSERT_TRUE(
      client
          ->Create(kJobs, {{"metadata", {{"name", "old"}, {"namespace", "default"}}},
                           {"spec",
                            {{"template",
                              {{"spec",
                                {{"restartPolicy", "Never"},
                                 {"containers",
                                  {{{"name", "c"}, {"image", "x"}, {"command", {"true"}}}}}}}}}}}})
          .ok());
  Json job;
  ASSERT_TRUE(WaitFor(
      [&] {
        auto r = client->Get(kJobs, {"default", "old"});
        if (!r.ok()) return false;
        job = *r;
        return Condition(job, "Complete") != nullptr;
      },
      std::chrono::seconds(30)));
  EXPECT_EQ(ConditionTypes(job), std::vector<std::string>{"Complete=True"});
  EXPECT_FALSE(Condition(job, "Complete")->contains("reason"));
  EXPECT_TRUE(job["status"].contains("completionTime"));
}

}  // namespace
}  // namespace vmrelease

// The job validation backend on an in-memory API server and a ManualClock: the
// check Job's shape, passing and failing checks, timeouts by the Job's deadline
// and by the controller's clock, adoption after a crash (no second run of a
// check) and the cleanup of every Job, Pod and Secret.
#include "controller/release/job_validation.h"

#include <gtest/gtest.h>

#include "controller/common/crypto.h"
#include "controller/release/jobs.h"
#include "tests/support/azurite/fake_blob_store.h"
#include "tests/unit/kube/fake_client.h"

namespace vmrelease::release {
namespace {

using Json = nlohmann::json;
using namespace std::chrono_literals;

constexpr char kGalleryId[] =
    "/subscriptions/s/resourceGroups/g/providers/Microsoft.Compute/galleries/r/images/app/"
    "versions/1.0.0";

class JobValidationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(staging_.CreateContainer("vmrelease-staging").ok());
    env_.clock = &clock_;
    env_.kube = &kube_;
    env_.staging = &staging_;
    env_.tasks = &tasks_;
    rel_.metadata.ns = "default";
    rel_.metadata.name = "app-1-0-0";
    rel_.metadata.uid = "uid-1";
    rel_.spec.image = "app";
    rel_.spec.version = "1.0.0";
    rel_.spec.validation.job = api::JobBackend{
        .pod_template = {{"metadata", {{"labels", {{"team", "images"}}}}},
                         {"spec",
                          {{"containers",
                            {{{"name", "qemu"},
                              {"image", "registry.example/validator:1"},
                              {"env",
                               {{{"name", "KEEP"}, {"value", "1"}},
                                {{"name", "VMRELEASE_CHECK_NAME"}, {"value", "x"}}}}},
                             {{"name", "sidecar"}, {"image", "registry.example/side:1"}}}}}}}};
    rel_.spec.validation.timeout = "1h";
    api::Check boot{.name = "boots", .script = "systemctl is-system-running; echo $$ $(date)"};
    boot.timeout = "2m";
    api::Check disk{.name = "disk-size", .script = "df -h /"};
    rel_.spec.validation.checks = {boot, disk};
    names_ = ReleaseNames::For(rel_);
    status_.validation.emplace();
    status_.validation->started_at = api::FormatTime(clock_.WallNow());
    status_.artifact.emplace();
    status_.artifact->gallery_image_version_id = kGalleryId;
  }

  StepResult Validate(api::ImageReleaseStatus& status) {
    ReleaseContext ctx{rel_, status, names_, env_, clock_.WallNow()};
    StepResult r = backend_.Validate(ctx);
    for (const auto& e : ctx.events) events_.push_back(e.reason);
    return r;
  }
  StepResult Validate() { return Validate(status_); }
  StepResult Cleanup() {
    ReleaseContext ctx{rel_, status_, names_, env_, clock_.WallNow()};
    return backend_.Cleanup(ctx, false);
  }
  // Cleanup waits (one more reconcile) while a deleted Pod is still listed.
  StepResult CleanupFully() {
    StepResult r = Cleanup();
    for (int i = 0; i < 3 && r.kind() == StepResult::Kind::kWait; ++i) r = Cleanup();
    return r;
  }
  // Reconciles (up to 3 times: removing the previous Job waits for its Pods) until the Job
  // of `check` exists.
  bool ValidateUntilJobOf(const std::string& check, api::ImageReleaseStatus& status) {
    for (int i = 0; i < 3 && !JobOf(check); ++i) {
      if (Validate(status).kind() != StepResult::Kind::kWait) return false;
    }
    return JobOf(check).has_value();
  }

  std::optional<Json> JobOf(const std::string& check) {
    return kube_.Peek(jobs::JobResource(), {"default", names_.CheckJob(check)});
  }
  size_t JobCreates(const std::string& check) {
    size_t n = 0;
    for (const auto& c : kube_.calls())
      n += c.verb == "create" && c.resource == jobs::JobResource().Name() &&
           c.key == "default/" + names_.CheckJob(check);
    return n;
  }
  size_t Left(const kube::ResourceType& type) { return kube_.All(type).size(); }

  // Plays the Job controller and kubelet: the check's Pod terminated with
  // `exit_code` and `message`, the Job Complete or Failed (`reason`).
  void Finish(const std::string& check, int exit_code, const std::string& message,
              const std::string& reason = "") {
    const std::string name = names_.CheckJob(check);
    Json job = *JobOf(check);
    const bool ok = exit_code == 0 && reason.empty();
    job["status"]["conditions"] = {{{"type", ok ? "Complete" : "Failed"},
                                    {"status", "True"},
                                    {"reason", reason.empty() ? "" : reason}}};
    kube_.Put(jobs::JobResource(), job);
    if (reason == "DeadlineExceeded") return;  // the Pod was stopped; no result of its own
    Json pod = {{"metadata",
                 {{"name", name + "-abcde"},
                  {"namespace", "default"},
                  {"labels", {{jobs::kLabelJob, name}, {jobs::kLabelReleaseUid, "uid-1"}}}}},
                {"status",
                 {{"containerStatuses",
                   {{{"name", "qemu"},
                     {"state",
                      {{"terminated",
                        {{"exitCode", exit_code},
                         {"message", message},
                         {"finishedAt", "2026-01-01T00:00:05Z"}}}}}}}}}}};
    kube_.Put(jobs::PodResource(), pod);
  }

  kube::testing::MemoryClient kube_;
  testing::FakeBlobStore staging_;
  ManualClock clock_;
  TaskRunner tasks_{1};
  Environment env_;
  api::ImageRelease rel_;
  ReleaseNames names_;
  api::ImageReleaseStatus status_;
  JobValidationBackend backend_;
  std::vector<std::string> events_;
};

TEST(JobValidationNamesTest, CheckJobNamesAreDeterministicDnsLabelsPerReleaseAndCheck) {
  const ReleaseNames a = ReleaseNames::For("default", "app-1-0-0", "uid-1");
  EXPECT_EQ(a.CheckJob("boots"),
            ReleaseNames::For("default", "app-1-0-0", "uid-1").CheckJob("boots"));
  EXPECT_EQ(a.CheckJob("boots").rfind("vmr-check-app-1-0-0-boots-", 0), 0u) << a.CheckJob("boots");
  EXPECT_NE(a.CheckJob("boots"), a.CheckJob("disk-size"));
  EXPECT_NE(a.CheckJob("boots"),
            ReleaseNames::For("default", "app-1-0-0", "uid-2").CheckJob("boots"));
  EXPECT_NE(a.CheckJob("boots"),
            ReleaseNames::For("other", "app-1-0-0", "uid-1").CheckJob("boots"));
  const std::string long_check(63, 'c');
  const ReleaseNames l = ReleaseNames::For("default", std::string(253, 'r'), "uid-1");
  EXPECT_LE(l.CheckJob(long_check).size(), 63u);
  // Two long checks that agree on the first 16 characters still get two names.
  EXPECT_NE(l.CheckJob(long_check), l.CheckJob(std::string(62, 'c') + "d"));
}

TEST_F(JobValidationTest, JobShapeEnvSecretRefLabelsOwnerAndDeadline) {
  StepResult r = Validate();
  ASSERT_EQ(r.kind(), StepResult::Kind::kWait) << r.message();
  EXPECT_EQ(status_.validation->state, api::ValidationState::kRunningChecks);
  EXPECT_EQ(status_.validation->vm, names_.CheckJob("boots")) << "the running check's Job";
  auto job = JobOf("boots");
  ASSERT_TRUE(job.has_value());
  EXPECT_FALSE(JobOf("disk-size").has_value()) << "checks run one at a time";
  const std::string name = names_.CheckJob("boots");
  const Json& meta = (*job)["metadata"];
  EXPECT_EQ(meta["labels"][jobs::kLabelReleaseUid], "uid-1");
  EXPECT_EQ(meta["labels"][jobs::kLabelPurpose], "check");
  EXPECT_EQ(meta["labels"][JobValidationBackend::kCheckLabel], "boots");
  EXPECT_EQ(meta["ownerReferences"][0]["uid"], "uid-1");
  EXPECT_EQ(meta["ownerReferences"][0]["kind"], "ImageRelease");
  EXPECT_EQ(meta["ownerReferences"][0]["controller"], true);
  EXPECT_EQ(meta["annotations"][JobValidationBackend::kStartedAtAnnotation],
            api::FormatTime(clock_.WallNow()));
  EXPECT_EQ((*job)["spec"]["activeDeadlineSeconds"], 120) << "the check's timeout";
  EXPECT_EQ((*job)["spec"]["backoffLimit"], 0);
  const Json& tpl = (*job)["spec"]["template"];
  EXPECT_EQ(tpl["metadata"]["labels"]["team"], "images");
  EXPECT_EQ(tpl["metadata"]["labels"][jobs::kLabelJob], name);
  EXPECT_EQ(tpl["metadata"]["labels"][JobValidationBackend::kCheckLabel], "boots");
  EXPECT_EQ(tpl["spec"]["restartPolicy"], "Never");
  ASSERT_EQ(tpl["spec"]["containers"].size(), 2u);
  for (const Json& c : tpl["spec"]["containers"]) {
    std::map<std::string, Json> env;
    for (const Json& e : c["env"]) env[e["name"]] = e;
    EXPECT_EQ(env["VMRELEASE_CHECK_NAME"]["value"], "boots") << "the template's value replaced";
    // Kubernetes expands $(NAME) and turns $$ into $ in env values: the script's $ are doubled.
    EXPECT_EQ(env["VMRELEASE_CHECK_SCRIPT"]["value"],
              "systemctl is-system-running; echo $$$$ $$(date)");
    EXPECT_EQ(env["VMRELEASE_CHECK_TIMEOUT_SECONDS"]["value"], "120");
    EXPECT_EQ(env["VMRELEASE_GALLERY_IMAGE_VERSION_ID"]["value"], kGalleryId);
    EXPECT_EQ(env["VMRELEASE_IMAGE_URL"]["valueFrom"]["secretKeyRef"],
              Json({{"name", name}, {"key", "VMRELEASE_IMAGE_URL"}}));
    EXPECT_FALSE(env["VMRELEASE_IMAGE_URL"].contains("value"));
    EXPECT_EQ(c["terminationMessagePolicy"], "FallbackToLogsOnError");
  }
  EXPECT_EQ(tpl["spec"]["containers"][0]["env"][0], Json({{"name", "KEEP"}, {"value", "1"}}));
  EXPECT_EQ(job->dump().find("sig="), std::string::npos) << "the SAS is in the Job";

  // The SAS: read-only, of exactly the staging blob, in a Secret owned by the release.
  auto secret = kube_.Peek(kube::SecretResource(), {"default", name});
  ASSERT_TRUE(secret.has_value());
  EXPECT_EQ((*secret)["metadata"]["ownerReferences"][0]["uid"], "uid-1");
  auto url = Base64Decode((*secret)["data"]["VMRELEASE_IMAGE_URL"].get<std::string>());
  ASSERT_TRUE(url.ok());
  EXPECT_EQ(url->rfind(staging_.BlobUrl({"vmrelease-staging", names_.staging_blob}) + "?sp=r&", 0),
            0u)
      << "not a read-only SAS of the staging blob";
  EXPECT_EQ(status_.validation->results.size(), 0u);
  EXPECT_EQ(events_, std::vector<std::string>{"CheckStarted"});

  // Without a gallery version there is no gallery variable; a short validation
  // timeout cuts the check's deadline.
  ASSERT_TRUE(CleanupFully().done());
  status_.artifact->gallery_image_version_id.reset();
  rel_.spec.validation.timeout = "5m";
  clock_.Advance(4min);
  ASSERT_EQ(Validate().kind(), StepResult::Kind::kWait);
  job = JobOf("boots");
  ASSERT_TRUE(job.has_value());
  EXPECT_EQ((*job)["spec"]["activeDeadlineSeconds"], 60) << "what is left of validation.timeout";
  EXPECT_EQ(job->dump().find("VMRELEASE_GALLERY_IMAGE_VERSION_ID"), std::string::npos);
}

TEST_F(JobValidationTest, PassingThenFailingCheckRecordsResultsAndOutput) {
  ASSERT_EQ(Validate().kind(), StepResult::Kind::kWait);
  clock_.Advance(5s);
  EXPECT_EQ(Validate().kind(), StepResult::Kind::kWait) << "still running";
  Finish("boots", 0, "running\n");
  clock_.Advance(5s);
  StepResult r = Validate();
  // The result is written first; the Job goes in a later reconcile.
  ASSERT_EQ(r.kind(), StepResult::Kind::kWait) << r.message();
  EXPECT_EQ(r.requeue(), Duration::zero());
  ASSERT_EQ(status_.validation->results.size(), 1u);
  const api::CheckResult& boots = status_.validation->results[0];
  EXPECT_EQ(boots.name, "boots");
  EXPECT_TRUE(boots.passed);
  EXPECT_EQ(boots.exit_code, 0);
  EXPECT_EQ(boots.output_tail, "running\n");
  EXPECT_EQ(boots.duration_seconds, 10.0);
  EXPECT_TRUE(JobOf("boots").has_value()) << "removed before the result was written";

  // Next reconciles: the first check's Job, Pod and Secret go, then the second starts.
  ASSERT_TRUE(ValidateUntilJobOf("disk-size", status_));
  EXPECT_FALSE(JobOf("boots").has_value());
  EXPECT_FALSE(kube_.Peek(kube::SecretResource(), {"default", names_.CheckJob("boots")}));
  EXPECT_EQ(Left(jobs::PodResource()), 0u);
  EXPECT_EQ((*JobOf("disk-size"))["spec"]["activeDeadlineSeconds"], 300) << "default 5m";

  Finish("disk-size", 3, "/dev/sda1 has 2G, expected 30G\n");
  r = Validate();
  ASSERT_TRUE(r.done()) << r.message();
  ASSERT_EQ(status_.validation->results.size(), 2u);
  const api::CheckResult& disk = status_.validation->results[1];
  EXPECT_FALSE(disk.passed);
  EXPECT_EQ(disk.exit_code, 3);
  EXPECT_EQ(disk.output_tail, "/dev/sda1 has 2G, expected 30G\n");
  EXPECT_EQ(disk.message, "exit code 3, expected 0");
  EXPECT_EQ(events_, (std::vector<std::string>{"CheckStarted", "CheckPassed", "CheckStarted",
                                               "CheckFailed"}));
  // Done again without any call that starts something: the results stand.
  EXPECT_TRUE(Validate().done());
  EXPECT_EQ(JobCreates("boots") + JobCreates("disk-size"), 2u);

  ASSERT_TRUE(CleanupFully().done());
  EXPECT_EQ(Left(jobs::JobResource()), 0u);
  EXPECT_EQ(Left(jobs::PodResource()), 0u);
  EXPECT_EQ(Left(kube::SecretResource()), 0u);
}

TEST_F(JobValidationTest, OnlyTheInventoryChecksJobGetsTheInventorySasAndOnlyWhileItIsWanted) {
  rel_.spec.validation.checks[1].inventory = true;  // disk-size hands the inventory over
  auto secret_env = [&](const std::string& check) {
    std::map<std::string, std::string> env;
    auto secret = kube_.Peek(kube::SecretResource(), {"default", names_.CheckJob(check)});
    if (!secret) return env;
    for (const auto& [k, v] : (*secret)["data"].items())
      env[k] = Base64Decode(v.get<std::string>()).value_or("?");
    return env;
  };
  ASSERT_EQ(Validate().kind(), StepResult::Kind::kWait);
  EXPECT_FALSE(secret_env("boots").contains("VMRELEASE_INVENTORY_URL"));
  Finish("boots", 0, "running\n");
  ASSERT_EQ(Validate().kind(), StepResult::Kind::kWait);
  ASSERT_TRUE(ValidateUntilJobOf("disk-size", status_));
  const auto env = secret_env("disk-size");
  ASSERT_TRUE(env.contains("VMRELEASE_INVENTORY_URL"));
  const std::string& url = env.at("VMRELEASE_INVENTORY_URL");
  EXPECT_EQ(
      url.rfind(staging_.BlobUrl({"vmrelease-staging", names_.staging_inventory}) + "?sp=cw&", 0),
      0u)
      << "not a write-only SAS of exactly the inventory blob: " << url.substr(0, url.find('?'));
  const std::optional<Json> job = JobOf("disk-size");
  ASSERT_TRUE(job);
  for (const Json& c : (*job)["spec"]["template"]["spec"]["containers"]) {
    bool found = false;
    for (const Json& e : c["env"])
      if (e["name"] == "VMRELEASE_INVENTORY_URL") {
        found = true;
        EXPECT_EQ(e["valueFrom"]["secretKeyRef"]["key"], "VMRELEASE_INVENTORY_URL");
      }
    EXPECT_TRUE(found) << c.dump();
  }
  ReleaseContext ctx{rel_, status_, names_, env_, clock_.WallNow()};
  EXPECT_EQ(backend_.Inventory(ctx, rel_.spec.validation.checks[1]).blob->name,
            names_.staging_inventory);

  // The build's inventory was recorded: the check is not asked for one.
  ASSERT_TRUE(CleanupFully().done());
  api::ImageReleaseStatus again;
  again.artifact = status_.artifact;
  again.inventory = api::InventoryRef{.config_map = "x", .sha256 = std::string(64, 'a')};
  again.validation.emplace();
  again.validation->results.push_back(status_.validation->results[0]);
  ASSERT_TRUE(ValidateUntilJobOf("disk-size", again));
  EXPECT_FALSE(secret_env("disk-size").contains("VMRELEASE_INVENTORY_URL"));
}

TEST_F(JobValidationTest, ExpectedNonZeroExitCodeAndOutputMatchFromTheFailedJob) {
  rel_.spec.validation.checks.resize(1);
  rel_.spec.validation.checks[0].expect =
      api::CheckExpectation{.exit_code = 2, .output_matches = "^degraded$"};
  ASSERT_EQ(Validate().kind(), StepResult::Kind::kWait);
  Finish("boots", 2, "starting\ndegraded\n");  // the Job is Failed; the check passes
  StepResult r = Validate();
  ASSERT_TRUE(r.done());
  ASSERT_EQ(status_.validation->results.size(), 1u);
  EXPECT_TRUE(status_.validation->results[0].passed) << *status_.validation->results[0].message;
  EXPECT_EQ(events_.back(), "CheckPassed");
}

TEST_F(JobValidationTest, TimeoutByTheControllersClock) {
  ASSERT_EQ(Validate().kind(), StepResult::Kind::kWait);
  clock_.Advance(119s);
  StepResult r = Validate();
  ASSERT_EQ(r.kind(), StepResult::Kind::kWait);
  EXPECT_LE(r.requeue(), 1s) << "the next poll is at the deadline";
  clock_.Advance(1s);
  r = Validate();
  ASSERT_TRUE(r.done()) << r.message();
  ASSERT_EQ(status_.validation->results.size(), 1u);
  const api::CheckResult& res = status_.validation->results[0];
  EXPECT_FALSE(res.passed);
  EXPECT_FALSE(res.exit_code.has_value());
  EXPECT_EQ(res.message, "timed out after 2m0s (the check's timeout)");
  EXPECT_FALSE(JobOf("disk-size").has_value()) << "no check after a failed one";
  ASSERT_TRUE(CleanupFully().done());
  EXPECT_EQ(Left(jobs::JobResource()), 0u);
  EXPECT_EQ(Left(kube::SecretResource()), 0u);
}

TEST_F(JobValidationTest, TimeoutByTheJobsDeadline) {
  ASSERT_EQ(Validate().kind(), StepResult::Kind::kWait);
  clock_.Advance(30s);  // the Job controller's clock ran ahead of ours
  Finish("boots", 1, "", "DeadlineExceeded");
  ASSERT_TRUE(Validate().done());
  ASSERT_EQ(status_.validation->results.size(), 1u);
  EXPECT_FALSE(status_.validation->results[0].passed);
  EXPECT_EQ(status_.validation->results[0].message, "timed out after 2m0s (the check's timeout)");
  EXPECT_EQ(events_.back(), "CheckFailed");
}

TEST_F(JobValidationTest, CrashAfterCreatingTheJobAdoptsItAndNeverRunsTheCheckTwice) {
  api::ImageReleaseStatus before = status_;  // what the API server still holds
  ASSERT_EQ(Validate().kind(), StepResult::Kind::kWait);
  // The controller is killed; the status it computed is lost. A new process
  // starts from `before` and finds the Job of the check.
  clock_.Advance(30s);
  api::ImageReleaseStatus after_restart = before;
  ASSERT_EQ(Validate(after_restart).kind(), StepResult::Kind::kWait);
  EXPECT_EQ(JobCreates("boots"), 1u) << "a second Job for the same check";
  Finish("boots", 0, "ok\n");
  api::ImageReleaseStatus with_result = after_restart;
  ASSERT_EQ(Validate(with_result).kind(), StepResult::Kind::kWait);
  ASSERT_EQ(with_result.validation->results.size(), 1u);
  // Killed again before that status was written: the Job is still there with
  // its outcome, so the same result is read, not a new run.
  api::ImageReleaseStatus lost = after_restart;
  ASSERT_EQ(Validate(lost).kind(), StepResult::Kind::kWait);
  ASSERT_EQ(lost.validation->results.size(), 1u);
  EXPECT_TRUE(lost.validation->results[0].passed);
  EXPECT_EQ(lost.validation->results[0].duration_seconds, 30.0)
      << "measured from the Job's started-at annotation, not from the restart";
  EXPECT_EQ(JobCreates("boots"), 1u);
  // Written this time: the next reconciles remove it and go on, never run it again.
  ASSERT_TRUE(ValidateUntilJobOf("disk-size", with_result));
  ASSERT_EQ(Validate(with_result).kind(), StepResult::Kind::kWait);
  EXPECT_EQ(JobCreates("boots"), 1u);
  EXPECT_EQ(JobCreates("disk-size"), 1u);
}

TEST_F(JobValidationTest, AnOldJobOfTheCheckStillGoingIsWaitedForNotRunBeside) {
  // A Job of this check from an earlier attempt, being deleted, with its Pod.
  ASSERT_EQ(Validate().kind(), StepResult::Kind::kWait);
  Json old = *JobOf("boots");
  old["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z";
  kube_.Put(jobs::JobResource(), old);
  api::ImageReleaseStatus fresh = status_;
  StepResult r = Validate(fresh);
  EXPECT_EQ(r.kind(), StepResult::Kind::kWait);
  EXPECT_EQ(JobCreates("boots"), 1u);
}

TEST_F(JobValidationTest, AForeignJobOfThatNameStallsAndIsLeftAlone) {
  const std::string name = names_.CheckJob("boots");
  kube_.Put(
      jobs::JobResource(),
      {{"metadata", {{"name", name}, {"namespace", "default"}, {"labels", {{"app", "someone"}}}}}});
  StepResult r = Validate();
  EXPECT_EQ(r.kind(), StepResult::Kind::kStalled);
  EXPECT_NE(r.message().find("does not belong to this release"), std::string::npos);
  ASSERT_TRUE(CleanupFully().done());
  EXPECT_TRUE(JobOf("boots").has_value()) << "deleted someone else's Job";
}

TEST_F(JobValidationTest, CleanupRemovesEveryCheckJobPodAndSecretOfTheRelease) {
  ASSERT_EQ(Validate().kind(), StepResult::Kind::kWait);
  Finish("boots", 0, "");
  // A check Job of a check since removed from the spec, and another release's.
  Json stale = *JobOf("boots");
  stale["metadata"]["name"] = "vmr-check-app-1-0-0-gone-0123456789";
  kube_.Put(jobs::JobResource(), stale);
  Json foreign = stale;
  foreign["metadata"]["name"] = "vmr-check-other";
  foreign["metadata"]["labels"][jobs::kLabelReleaseUid] = "uid-2";
  kube_.Put(jobs::JobResource(), foreign);
  ASSERT_GE(Left(jobs::PodResource()), 1u);
  StepResult r = CleanupFully();
  ASSERT_TRUE(r.done()) << r.message();
  EXPECT_EQ(Left(jobs::JobResource()), 1u);
  EXPECT_TRUE(kube_.Peek(jobs::JobResource(), {"default", "vmr-check-other"}).has_value());
  EXPECT_EQ(Left(jobs::PodResource()), 0u);
  EXPECT_EQ(Left(kube::SecretResource()), 0u);
  // Idempotent.
  EXPECT_TRUE(Cleanup().done());
}

TEST_F(JobValidationTest, CleanupFindsSecretsByTheirJobsNameAndNeverListsSecrets) {
  ASSERT_EQ(Validate().kind(), StepResult::Kind::kWait);
  Finish("boots", 0, "");
  ASSERT_EQ(Validate().kind(), StepResult::Kind::kWait);
  ASSERT_EQ(status_.validation->results.size(), 1u) << "the result of boots";
  const Json job = *JobOf("boots");
  const Json secret = *kube_.Peek(kube::SecretResource(), {"default", names_.CheckJob("boots")});
  // A check since removed from the spec: its Job (found by the Jobs list) and Secret.
  const std::string gone = names_.CheckJob("gone");
  Json gone_job = job;
  gone_job["metadata"]["name"] = gone;
  gone_job["metadata"]["labels"][JobValidationBackend::kCheckLabel] = "gone";
  kube_.Put(jobs::JobResource(), gone_job);
  Json gone_secret = secret;
  gone_secret["metadata"]["name"] = gone;
  kube_.Put(kube::SecretResource(), gone_secret);
  // The Job recorded last (status vm): its Job already went, its Secret did not.
  const std::string last = names_.CheckJob("last");
  Json last_secret = secret;
  last_secret["metadata"]["name"] = last;
  kube_.Put(kube::SecretResource(), last_secret);
  status_.validation->vm = last;
  // boots left the spec too, but has a result: its Job already went, its Secret did not.
  ASSERT_TRUE(kube_.Delete(jobs::JobResource(), {"default", names_.CheckJob("boots")}, {}).ok());
  rel_.spec.validation.checks.erase(rel_.spec.validation.checks.begin());
  // Another release's Secret of a check: left alone.
  Json foreign = secret;
  foreign["metadata"]["name"] = "vmr-check-other";
  foreign["metadata"]["labels"][jobs::kLabelReleaseUid] = "uid-2";
  kube_.Put(kube::SecretResource(), foreign);
  ASSERT_EQ(Left(kube::SecretResource()), 4u);

  const size_t calls_before = kube_.calls().size();
  StepResult r = CleanupFully();
  ASSERT_TRUE(r.done()) << r.message();
  EXPECT_EQ(Left(jobs::JobResource()), 0u);
  EXPECT_EQ(Left(jobs::PodResource()), 0u);
  EXPECT_EQ(Left(kube::SecretResource()), 1u);
  EXPECT_TRUE(kube_.Peek(kube::SecretResource(), {"default", "vmr-check-other"}).has_value());
  const std::vector<kube::testing::MemoryClient::Call> calls = kube_.calls();
  size_t job_lists = 0;
  for (size_t i = calls_before; i < calls.size(); ++i) {
    EXPECT_FALSE(calls[i].verb == "list" && calls[i].resource == kube::SecretResource().Name())
        << "Cleanup listed Secrets";
    job_lists += calls[i].verb == "list" && calls[i].resource == jobs::JobResource().Name();
  }
  EXPECT_GE(job_lists, 1u) << "the check Jobs of the release are found by a list";
}

}  // namespace
}  // namespace vmrelease::release

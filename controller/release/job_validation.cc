#include "controller/release/job_validation.h"

#include <algorithm>
#include <set>

#include "controller/common/duration.h"
#include "controller/common/log.h"
#include "controller/kube/errors.h"
#include "controller/kube/resource.h"
#include "controller/release/jobs.h"

namespace vmrelease::release {

using Json = nlohmann::json;
namespace {

constexpr char kLogger[] = "release.job_validation";

// The check's deadline: its own timeout, cut to what is left of spec.validation.timeout.
Duration Deadline(const ReleaseContext& ctx, const api::Check& check) {
  Duration deadline = check.TimeoutOrDefault();
  const api::ValidationStatus& v = *ctx.status.validation;
  if (v.started_at) {
    if (auto started = api::ParseTime(*v.started_at)) {
      const Duration left = *started + ctx.release.spec.validation.TimeoutOrDefault() - ctx.now;
      deadline = std::max<Duration>(std::min(deadline, left), std::chrono::seconds(1));
    }
  }
  return deadline;
}

// When the check's Job started, by the controller's clock (the annotation it
// wrote), else by the API server's (creationTimestamp), else now.
WallTime StartedAt(const ReleaseContext& ctx, const Json& job) {
  if (auto a = kube::Annotation(job, JobValidationBackend::kStartedAtAnnotation)) {
    if (auto t = api::ParseTime(*a)) return *t;
  }
  const Json* ts = kube::Find(job, {"metadata", "creationTimestamp"});
  if (ts && ts->is_string()) {
    if (auto t = api::ParseTime(ts->get<std::string>())) return *t;
  }
  return ctx.now;
}

// The deadline the Job was created with (activeDeadlineSeconds), else the check's timeout.
Duration JobDeadline(const Json& job, const api::Check& check) {
  const Json* d = kube::Find(job, {"spec", "activeDeadlineSeconds"});
  if (d && d->is_number_integer()) return std::chrono::seconds(d->get<int64_t>());
  return check.TimeoutOrDefault();
}

api::CheckResult TimedOutResult(const api::Check& check, Duration deadline,
                                const std::string& output, double seconds) {
  api::CheckResult r = EvaluateCheck(check, -1, output, seconds);
  r.passed = false;
  r.exit_code.reset();
  r.message = "timed out after " + FormatDuration(deadline) + " (the check's timeout)";
  return r;
}

}  // namespace

StepResult JobValidationBackend::Start(ReleaseContext& ctx, const api::Check& check,
                                       const std::string& name) {
  const Duration deadline = Deadline(ctx, check);
  const std::string blob_url = ctx.env.staging->BlobUrl(ctx.StagingRef());
  azure::SasRequest sas{.permissions = "r",
                        .start = ctx.now - std::chrono::minutes(5),
                        .expiry = ctx.now + deadline + kSasMargin};
  if (blob_url.rfind("http://", 0) == 0) sas.protocol = "";  // Azurite, a local emulator
  StatusOr<std::string> url = ctx.env.staging->GenerateSasUrl(ctx.StagingRef(), sas);
  if (!url.ok()) return StepResult::FromAzure(url.status(), reason::kValidationFailed);
  log::RegisterSecret(*url);

  jobs::JobRequest req{
      .name = name,
      .purpose = "check",
      .pod_template = ctx.release.spec.validation.job->pod_template,
      .env = {{"VMRELEASE_CHECK_NAME", check.name},
              {"VMRELEASE_CHECK_SCRIPT", check.script},
              {"VMRELEASE_CHECK_TIMEOUT_SECONDS",
               std::to_string(std::chrono::duration_cast<std::chrono::seconds>(deadline).count())}},
      .secret_env = {{"VMRELEASE_IMAGE_URL", *url}},
      .deadline = deadline,
      .labels = {{kCheckLabel, check.name}},
      .annotations = {{kStartedAtAnnotation, ctx.Now()}}};
  if (ctx.status.artifact && ctx.status.artifact->gallery_image_version_id)
    req.env["VMRELEASE_GALLERY_IMAGE_VERSION_ID"] = *ctx.status.artifact->gallery_image_version_id;
  if (check.IsInventory() && WantsCheckInventory(ctx)) {
    // The container uploads the inventory JSON here (as a job build does): a
    // write-only SAS for exactly the blob beside the staging VHD.
    azure::SasRequest write = sas;
    write.permissions = "cw";
    StatusOr<std::string> inventory_url =
        ctx.env.staging->GenerateSasUrl(ctx.StagingInventoryRef(), write);
    if (!inventory_url.ok())
      return StepResult::FromAzure(inventory_url.status(), reason::kValidationFailed);
    log::RegisterSecret(*inventory_url);
    req.secret_env["VMRELEASE_INVENTORY_URL"] = *inventory_url;
  }
  if (Status s = jobs::EnsureSecret(*ctx.env.kube, ctx, req); !s.ok()) {
    if (s.code() == StatusCode::kFailedPrecondition)
      return StepResult::Stalled(reason::kValidationFailed, s.message());
    return StepResult::Error(s);
  }
  StatusOr<Json> job = jobs::CreateOrGetJob(*ctx.env.kube, ctx, req);
  if (!job.ok()) {
    if (job.status().code() == StatusCode::kFailedPrecondition)
      return StepResult::Stalled(reason::kValidationFailed, job.status().message());
    if (kube::IsInvalid(job.status()))
      return StepResult::Failed(reason::kValidationFailed,
                                "spec.validation.job.template: the API server refused the Job: " +
                                    log::Redact(job.status().message()));
    return StepResult::Error(job.status());
  }
  ctx.status.validation->vm = name;
  ctx.Event("CheckStarted", "Validate", "check " + check.name + " started in Job " + name);
  log::Info(kLogger, "created a check Job",
            {{"release", ctx.names.key}, {"check", check.name}, {"job", name}});
  return StepResult::Wait(ctx.env.local_poll_interval, "check " + check.name + " is running");
}

InventorySource JobValidationBackend::Inventory(const ReleaseContext& ctx,
                                                const api::Check& /*check*/) const {
  return {.blob = ctx.StagingInventoryRef()};
}

StepResult JobValidationBackend::RunCheck(ReleaseContext& ctx, const api::Check& check,
                                          const std::string& previous) {
  kube::KubeClient& kube = *ctx.env.kube;
  const std::string name = ctx.names.CheckJob(check.name);
  StatusOr<Json> job = kube.Get(jobs::JobResource(), {ctx.release.metadata.ns, name});
  if (!job.ok() && !kube::IsNotFound(job.status())) return StepResult::Error(job.status());
  if (!job.ok() || kube::IsDeleting(*job)) {
    // Not started (or an old attempt still going away). Before the Job is
    // created: the previous check's Job is gone (its result was written in an
    // earlier reconcile), and nothing of an earlier Job of this check still runs.
    if (!previous.empty()) {
      StepResult gone = jobs::RemoveJob(ctx, previous);
      if (!gone.done()) return gone;
    }
    StepResult gone = jobs::RemoveJob(ctx, name);
    if (!gone.done()) return gone;
    return Start(ctx, check, name);
  }
  if (!jobs::Ours(*job, ctx.release.metadata.uid))
    return StepResult::Stalled(
        reason::kValidationFailed,
        "a Job named " + name + " exists and does not belong to this release; delete it");
  ctx.status.validation->vm = name;  // adopted after a crash: say which Job runs
  const WallTime started = StartedAt(ctx, *job);
  const Duration deadline = JobDeadline(*job, check);
  const double seconds = std::max(0.0, std::chrono::duration<double>(ctx.now - started).count());
  StatusOr<jobs::JobOutcome> out = jobs::InspectJob(kube, *job);
  if (!out.ok()) return StepResult::Error(out.status());
  api::CheckResult result;
  switch (out->state) {
    case jobs::JobOutcome::State::kRunning: {
      if (ctx.now - started < deadline) {
        std::string why = "check " + check.name + " is running";
        if (!out->waiting_reason.empty())
          why += " (" + out->waiting_reason +
                 (out->waiting_message.empty() ? "" : ": " + log::Redact(out->waiting_message)) +
                 ")";
        return StepResult::Wait(
            std::min<Duration>(ctx.env.local_poll_interval, deadline - (ctx.now - started)), why);
      }
      // The controller's clock says time is up (the Job controller has not, or
      // is not running): the check failed; Cleanup stops the Job.
      result = TimedOutResult(check, deadline, out->termination_message, seconds);
      break;
    }
    case jobs::JobOutcome::State::kFailed:
      if (out->reason == "DeadlineExceeded") {
        result = TimedOutResult(check, deadline, out->termination_message, seconds);
      } else if (out->exit_code) {
        // A non-zero exit code may be what the check expects (expect.exitCode).
        result = EvaluateCheck(check, *out->exit_code, out->termination_message, seconds);
      } else {
        result = EvaluateCheck(check, -1, out->termination_message, seconds);
        result.passed = false;
        result.exit_code.reset();
        std::string why = "the check's Job " + name + " failed";
        if (!out->reason.empty()) why += " (" + out->reason + ")";
        if (!out->message.empty()) why += ": " + log::Redact(out->message);
        result.message = TailForStatus(why, 1024);
      }
      break;
    case jobs::JobOutcome::State::kSucceeded:
      result = EvaluateCheck(check, out->exit_code.value_or(0), out->termination_message, seconds);
      break;
  }
  log::Info(kLogger, "check finished",
            {{"release", ctx.names.key},
             {"check", check.name},
             {"job", name},
             {"passed", result.passed ? "true" : "false"}});
  ctx.status.validation->results.push_back(std::move(result));
  return StepResult::Done();
}

StepResult JobValidationBackend::Validate(ReleaseContext& ctx) {
  api::ValidationStatus& v = *ctx.status.validation;
  // Nothing to prepare: each check's Pod reads the staged blob through its SAS.
  if (!v.state || *v.state == api::ValidationState::kPreparing)
    v.state = api::ValidationState::kRunningChecks;
  const std::vector<api::Check>& checks = ctx.release.spec.validation.checks;
  // The result is written before its Job is removed (by the next check's start
  // or by Cleanup, both in a later reconcile): a crash in between finds the
  // result and never runs the check again.
  return RunChecksInOrder(ctx, /*pause_between=*/true, [&](size_t i, const api::Check& check) {
    const std::string previous = i == 0 ? "" : ctx.names.CheckJob(checks[i - 1].name);
    return RunCheck(ctx, check, previous);
  });
}

StepResult JobValidationBackend::Cleanup(ReleaseContext& ctx, bool /*keep*/) {
  kube::KubeClient& kube = *ctx.env.kube;
  const std::string& uid = ctx.release.metadata.uid;
  // A check's Secret has its Job's name (RemoveJob deletes both), so the names
  // come from the Jobs' side only; Secrets are never listed (a list returns
  // their data, and the controller is not granted it). The names: the current
  // checks', the checks' with a result, the Job recorded last, and any check
  // Job of this release (a check since removed from the spec) found by label.
  std::set<std::string> names;
  for (const api::Check& check : ctx.release.spec.validation.checks)
    names.insert(ctx.names.CheckJob(check.name));
  if (ctx.status.validation) {
    for (const api::CheckResult& result : ctx.status.validation->results)
      names.insert(ctx.names.CheckJob(result.name));
    if (ctx.status.validation->vm && !ctx.status.validation->vm->empty())
      names.insert(*ctx.status.validation->vm);
  }
  const std::string selector =
      std::string(jobs::kLabelReleaseUid) + "=" + uid + "," + jobs::kLabelPurpose + "=check";
  StatusOr<kube::ObjectList> list =
      kube.List(jobs::JobResource(), {.ns = ctx.release.metadata.ns, .label_selector = selector});
  if (!list.ok()) return StepResult::Error(list.status());
  for (const Json& obj : list->items) {
    if (jobs::Ours(obj, uid) && kube::Label(obj, jobs::kLabelPurpose).value_or("") == "check")
      names.insert(kube::Name(obj));
  }
  std::optional<StepResult> pending;
  for (const std::string& name : names) {
    StepResult r = jobs::RemoveJob(ctx, name);
    if (r.kind() == StepResult::Kind::kError) return r;
    if (!r.done() && !pending) pending = r;
  }
  if (pending) return *pending;
  log::Info(kLogger, "job validation cleaned up", {{"release", ctx.names.key}});
  return StepResult::Done();
}

}  // namespace vmrelease::release

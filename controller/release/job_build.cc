#include "controller/release/job_build.h"

#include "controller/common/duration.h"
#include "controller/common/log.h"
#include "controller/kube/errors.h"
#include "controller/release/jobs.h"

namespace vmrelease::release {

using Json = nlohmann::json;
namespace {

constexpr char kLogger[] = "release.job_build";

StepResult TimedOut(ReleaseContext& ctx) {
  ctx.status.build->completed_at = ctx.Now();
  return StepResult::Failed(reason::kBuildTimedOut,
                            "the build did not finish within spec.build.timeout (" +
                                FormatDuration(ctx.release.spec.build.TimeoutOrDefault()) +
                                "); its Job " + ctx.names.job + " was stopped");
}

}  // namespace

StepResult JobBuildBackend::Start(ReleaseContext& ctx) {
  const api::ImageReleaseSpec& spec = ctx.release.spec;
  StatusOr<ResolvedSource> source = ResolveSource(ctx);
  if (!source.ok()) {
    if (source.status().code() == StatusCode::kFailedPrecondition)
      return StepResult::Stalled(reason::kBuildFailed, source.status().message());
    return StepResult::Error(source.status());
  }
  // A fresh attempt: nothing of an earlier one (a partial staging blob, an
  // inventory) is reused.
  for (const azure::BlobRef& ref : {ctx.StagingRef(), ctx.StagingInventoryRef()})
    if (Status s = ctx.env.staging->Delete(ref); !s.ok() && s.code() != StatusCode::kNotFound)
      return StepResult::FromAzure(s, reason::kBuildFailed);
  const Duration timeout = spec.build.TimeoutOrDefault();
  const std::string blob_url = ctx.env.staging->BlobUrl(ctx.StagingRef());
  azure::SasRequest sas{.permissions = "cw",
                        .start = ctx.now - std::chrono::minutes(5),
                        .expiry = ctx.now + timeout + kSasMargin};
  if (blob_url.rfind("http://", 0) == 0) sas.protocol = "";  // Azurite, a local emulator
  StatusOr<std::string> url = ctx.env.staging->GenerateSasUrl(ctx.StagingRef(), sas);
  if (!url.ok()) return StepResult::FromAzure(url.status(), reason::kBuildFailed);
  log::RegisterSecret(*url);
  StatusOr<std::string> inventory_url =
      ctx.env.staging->GenerateSasUrl(ctx.StagingInventoryRef(), sas);
  if (!inventory_url.ok())
    return StepResult::FromAzure(inventory_url.status(), reason::kBuildFailed);
  log::RegisterSecret(*inventory_url);

  jobs::JobRequest req{
      .name = ctx.names.job,
      .purpose = "build",
      .pod_template = spec.build.job->pod_template,
      .env = source->env,
      .secret_env = {{"VMRELEASE_OUTPUT_URL", *url}, {"VMRELEASE_INVENTORY_URL", *inventory_url}},
      .deadline = timeout};
  req.env["VMRELEASE_IMAGE"] = spec.image;
  req.env["VMRELEASE_VERSION"] = spec.version;
  if (Status s = jobs::EnsureSecret(*ctx.env.kube, ctx, req); !s.ok()) {
    if (s.code() == StatusCode::kFailedPrecondition)
      return StepResult::Stalled(reason::kBuildFailed, s.message());
    return StepResult::Error(s);
  }
  StatusOr<Json> job = jobs::CreateOrGetJob(*ctx.env.kube, ctx, req);
  if (!job.ok()) {
    if (job.status().code() == StatusCode::kFailedPrecondition)
      return StepResult::Stalled(reason::kBuildFailed, job.status().message());
    if (kube::IsInvalid(job.status()))
      return StepResult::Failed(reason::kBuildFailed,
                                "spec.build.job.template: the API server refused the Job: " +
                                    log::Redact(job.status().message()));
    return StepResult::Error(job.status());
  }
  api::BuildStatus& b = *ctx.status.build;
  b.started_at = ctx.Now();
  b.operation = "Job " + ctx.names.job;
  b.source_version = source->version;
  ctx.Event("BuildStarted", "Build",
            "build Job " + ctx.names.job + " started; output to " + jobs::UrlForLogs(blob_url));
  log::Info(kLogger, "created the build Job", {{"release", ctx.names.key}, {"job", ctx.names.job}});
  return StepResult::Wait(ctx.env.local_poll_interval, "the build Job is running");
}

StepResult JobBuildBackend::Build(ReleaseContext& ctx) {
  if (!ctx.status.build) ctx.status.build.emplace();
  api::BuildStatus& b = *ctx.status.build;
  b.name = ctx.names.job;
  if (b.exit_code) {
    // Recorded by an earlier pass whose cleanup (the Job's Pods going) had to wait: the same
    // failure, told again from what status kept.
    if (*b.exit_code != 0)
      return StepResult::Failed(reason::kBuildFailed,
                                "the build Job " + ctx.names.job + " failed with exit code " +
                                    std::to_string(*b.exit_code) + LastLineOf(b.output_tail));
    return StepResult::Done();  // the Job succeeded; the Build step verifies the blob
  }
  kube::KubeClient& kube = *ctx.env.kube;
  StatusOr<Json> job = kube.Get(jobs::JobResource(), {ctx.release.metadata.ns, ctx.names.job});
  if (!job.ok() && !kube::IsNotFound(job.status())) return StepResult::Error(job.status());
  if (!job.ok() || kube::IsDeleting(*job)) {
    if (!b.started_at) {
      if (job.ok())  // an earlier attempt's Job still going away: wait for it
        return StepResult::Wait(ctx.env.local_poll_interval, "waiting for an old Job to go");
      return Start(ctx);
    }
    // Our own timeout deleted it (a reconcile whose status write was lost): still a timeout.
    const WallTime started = api::ParseTime(*b.started_at).value_or(ctx.now);
    if (ctx.now - started >= ctx.release.spec.build.TimeoutOrDefault()) return TimedOut(ctx);
    b.completed_at = ctx.Now();
    return StepResult::Failed(reason::kBuildFailed,
                              "the build Job " + ctx.names.job +
                                  " was deleted before it finished (by a person or another tool?)");
  }
  if (!jobs::Ours(*job, ctx.release.metadata.uid))
    return StepResult::Stalled(
        reason::kBuildFailed,
        "a Job named " + ctx.names.job + " exists and does not belong to this release; delete it");
  if (!b.started_at) {
    // Created by a controller that was killed before it recorded it: adopt it.
    const Json* ts = kube::Find(*job, {"metadata", "creationTimestamp"});
    const std::string created = ts && ts->is_string() ? ts->get<std::string>() : "";
    b.started_at = api::ParseTime(created) ? created : ctx.Now();
    b.operation = "Job " + ctx.names.job;
    log::Info(kLogger, "adopted a build Job created by an earlier controller",
              {{"release", ctx.names.key}, {"job", ctx.names.job}});
  }
  StatusOr<jobs::JobOutcome> out = jobs::InspectJob(kube, *job);
  if (!out.ok()) return StepResult::Error(out.status());
  switch (out->state) {
    case jobs::JobOutcome::State::kRunning: {
      const WallTime started = api::ParseTime(*b.started_at).value_or(ctx.now);
      const Duration timeout = ctx.release.spec.build.TimeoutOrDefault();
      if (ctx.now - started >= timeout) {
        // Stop it now; CleanupFailed waits until it and its Pods are gone.
        (void)jobs::RemoveJob(ctx, ctx.names.job);
        b.output_tail = TailForStatus(out->termination_message);
        return TimedOut(ctx);
      }
      std::string why = "the build Job is running";
      if (!out->waiting_reason.empty())
        why += " (" + out->waiting_reason +
               (out->waiting_message.empty() ? "" : ": " + log::Redact(out->waiting_message)) + ")";
      const Duration left = timeout - (ctx.now - started);
      return StepResult::Wait(std::min<Duration>(ctx.env.local_poll_interval, left), why);
    }
    case jobs::JobOutcome::State::kFailed: {
      b.output_tail = TailForStatus(out->termination_message);
      b.exit_code = out->exit_code.value_or(1) == 0 ? 1 : out->exit_code.value_or(1);
      if (out->reason == "DeadlineExceeded") return TimedOut(ctx);
      b.completed_at = ctx.Now();
      std::string why = "the build Job " + ctx.names.job + " failed";
      if (!out->reason.empty()) why += " (" + out->reason + ")";
      if (!out->pod.empty() && out->exit_code)
        why += ": Pod " + out->pod + " exited with code " + std::to_string(*out->exit_code);
      const std::string last = LastLine(out->termination_message);
      if (!last.empty()) {
        why += ": " + last;
      } else if (!out->message.empty()) {
        why += ": " + log::Redact(out->message);
      }
      return StepResult::Failed(reason::kBuildFailed, why);
    }
    case jobs::JobOutcome::State::kSucceeded:
      break;
  }
  b.output_tail = TailForStatus(out->termination_message);
  b.exit_code = 0;
  b.completed_at = ctx.Now();
  b.operation.reset();
  log::Info(kLogger, "the build Job succeeded",
            {{"release", ctx.names.key}, {"job", ctx.names.job}});
  return StepResult::Done();
}

StepResult JobBuildBackend::Cleanup(ReleaseContext& ctx) {
  StepResult removed = jobs::RemoveJob(ctx, ctx.names.job);
  if (!removed.done()) return removed;
  // Nothing runs that could still upload it: the inventory blob (recorded by
  // now, or never to be) goes too.
  if (Status s = ctx.env.staging->Delete(ctx.StagingInventoryRef());
      !s.ok() && s.code() != StatusCode::kNotFound)
    return StepResult::FromAzure(s, reason::kBuildFailed);
  return StepResult::Done();
}

}  // namespace vmrelease::release

#include "controller/release/image_builder_build.h"

#include "controller/azure/gallery.h"
#include "controller/common/duration.h"
#include "controller/common/log.h"
#include "controller/kube/errors.h"

namespace vmrelease::release {

using Json = nlohmann::json;
namespace {

constexpr char kLogger[] = "release.image_builder_build";
// status.operation actions of this backend (step Build).
constexpr char kCreate[] = "CreateTemplate";
constexpr char kRun[] = "RunTemplate";
constexpr char kCopy[] = "CopyRunOutput";
constexpr char kDelete[] = "DeleteTemplate";

bool Ours(const azure::ImageTemplate& t, const std::string& uid) {
  auto it = t.tags.find(azure::kReleaseUidTag);
  return it != t.tags.end() && it->second == uid;
}

// Image Builder refuses to delete (or run) a template while it is being created, built or
// cancelled: 409 OperationNotAllowed ("... is not allowed in provisioning state ... run
// state: running"). Waiting is the answer.
bool Busy(const Status& s) {
  const ErrorDetail& d = s.detail();
  return d.reason == "OperationNotAllowed" || (d.http_status == 409 && d.reason == "Conflict");
}

Duration Poll(const ReleaseContext& ctx) { return ctx.env.poll_interval; }

// The build failed for good. The message is kept in status.build.outputTail: the
// reconciler may need more passes to clean up before it records the failure, and
// each pass must report the same one.
StepResult Fail(ReleaseContext& ctx, const std::string& message) {
  api::BuildStatus& b = *ctx.status.build;
  b.exit_code = 1;
  b.completed_at = ctx.Now();
  b.output_tail = TailForStatus(message);
  return StepResult::Failed(reason::kBuildFailed, *b.output_tail);
}

std::string Where(const azure::ImageTemplateRef& ref) {
  return "image template " + ref.name + " (resource group " + ref.resource_group + ")";
}

}  // namespace

azure::ImageTemplateRef ImageBuilderBuildBackend::TemplateRef(const api::ImageRelease& release,
                                                              const ReleaseNames& names) {
  const api::ImageBuilderBackend& ib = *release.spec.build.image_builder;
  return {.subscription_id = ib.subscription_id,
          .resource_group = ib.resource_group,
          .name = names.image_template};
}

azure::ImageTemplateSpec ImageBuilderBuildBackend::TemplateSpec(const api::ImageRelease& release,
                                                                const Json& source) {
  const api::ImageBuilderBackend& ib = *release.spec.build.image_builder;
  azure::ImageTemplateSpec spec;
  spec.location = ib.location;
  spec.identity_id = ib.identity_id;
  spec.source = source;
  spec.customize = Json::array();
  for (const Json& c : ib.customize) spec.customize.push_back(c);
  spec.vm_size = ib.vm_size.value_or(api::kDefaultImageBuilderVmSize);
  spec.os_disk_size_gb = static_cast<int>(ib.os_disk_size_gb.value_or(0));
  spec.subnet_id = ib.subnet_id.value_or("");
  // Image Builder's own limit, so that a build the controller lost track of still ends.
  const auto minutes =
      std::chrono::ceil<std::chrono::minutes>(release.spec.build.TimeoutOrDefault());
  spec.build_timeout_minutes = static_cast<int>(minutes.count());
  spec.vhd_run_output_name = kRunOutputName;
  spec.tags = {{azure::kReleaseUidTag, release.metadata.uid},
               {"vmrelease-release", release.metadata.ns + "/" + release.metadata.name},
               {"vmrelease-image", release.spec.image},
               {"vmrelease-version", release.spec.version}};
  return spec;
}

StatusOr<Json> ImageBuilderBuildBackend::Source(ReleaseContext& ctx) {
  const api::ReleaseSource& src = ctx.release.spec.source;
  if (src.platform_image) {
    const api::PlatformImage& p = *src.platform_image;
    return azure::PlatformImageSource(p.publisher, p.offer, p.sku,
                                      p.version.value_or(api::kDefaultPlatformImageVersion));
  }
  if (src.gallery_image_version_id)
    return azure::GalleryImageVersionSource(*src.gallery_image_version_id);
  if (src.release) {
    // Lineage: Image Builder starts from the earlier release's gallery image version.
    ASSIGN_OR_RETURN(ResolvedSource resolved, ResolveSource(ctx));
    if (!resolved.gallery_image_version_id)
      return FailedPreconditionError(
          "spec.source.release: ImageRelease " + *src.release +
          " has no gallery image version (Image Builder builds from a gallery version: it "
          "must be published to a gallery)");
    return azure::GalleryImageVersionSource(*resolved.gallery_image_version_id);
  }
  return FailedPreconditionError("spec.source: no source image");
}

StepResult ImageBuilderBuildBackend::Create(ReleaseContext& ctx) {
  const azure::ImageTemplateRef ref = TemplateRef(ctx.release, ctx.names);
  std::optional<Status> exists;
  auto create = [&]() -> StatusOr<azure::Operation> {
    StatusOr<Json> source = Source(ctx);
    if (!source.ok()) return source.status();
    StatusOr<azure::Operation> op =
        builder_.CreateTemplate(ref, TemplateSpec(ctx.release, *source));
    if (!op.ok() && op.status().code() == StatusCode::kAlreadyExists) exists = op.status();
    return op;
  };
  // A source that cannot be resolved is the user's to fix.
  if (!ctx.Operation(api::OperationStep::kBuild, kCreate)) {
    StatusOr<Json> source = Source(ctx);
    if (!source.ok()) {
      if (source.status().code() == StatusCode::kFailedPrecondition)
        return StepResult::Stalled(reason::kBuildFailed, source.status().message());
      return StepResult::Error(source.status());
    }
    if (StatusOr<ResolvedSource> resolved = ResolveSource(ctx); resolved.ok() && ctx.status.build)
      ctx.status.build->source_version = resolved->version;
  }
  StepResult r = FollowOperation(ctx, builder_, api::OperationStep::kBuild, kCreate, create,
                                 reason::kBuildFailed);
  if (exists)
    return StepResult::Stalled(reason::kBuildFailed,
                               log::Redact(exists->message()) + " (" + Where(ref) + ")");
  if (r.done()) {
    ctx.status.build->operation = "image template " + ref.Id();
    log::Info(kLogger, "the image template is ready",
              {{"release", ctx.names.key}, {"template", ref.name}});
  }
  return r;
}

StepResult ImageBuilderBuildBackend::StartRun(ReleaseContext& ctx) {
  const azure::ImageTemplateRef ref = TemplateRef(ctx.release, ctx.names);
  // Never a second run: one that an earlier controller started (and was killed
  // before recording) is followed on the template instead.
  StatusOr<azure::ImageTemplate> t = builder_.GetTemplate(ref);
  if (!t.ok()) return StepResult::FromAzure(t.status(), reason::kBuildFailed);
  if (t->last_run)
    return StepResult::Wait(Poll(ctx), "following the Image Builder build already started");
  StatusOr<azure::Operation> op = builder_.Run(ref);
  if (!op.ok()) {
    // A run an earlier controller started but did not record: follow it on the template.
    if (Busy(op.status()))
      return StepResult::Wait(Poll(ctx), "a build of the image template is already running");
    return StepResult::FromAzure(op.status().WithContext("RunTemplate"), reason::kBuildFailed);
  }
  ctx.RecordOperation(api::OperationStep::kBuild, kRun, op->ref.Serialize());
  ctx.status.build->operation = "Image Builder run of " + ref.Id();
  ctx.Event("BuildStarted", "Build",
            "Image Builder build of " + Where(ref) + " started in " +
                ctx.release.spec.build.image_builder->location);
  log::Info(kLogger, "started the Image Builder run",
            {{"release", ctx.names.key}, {"template", ref.name}});
  return StepResult::Wait(Poll(ctx), "Image Builder is building");
}

StepResult ImageBuilderBuildBackend::RunFinished(ReleaseContext& ctx, const azure::RunStatus& run) {
  if (run.succeeded()) return StartCopy(ctx);
  const azure::ImageTemplateRef ref = TemplateRef(ctx.release, ctx.names);
  // Azure's error code is on the run's operation; lastRunStatus has the message.
  std::string code, op_message;
  if (const api::PendingOperation* p = ctx.Operation(api::OperationStep::kBuild, kRun);
      p && p->ref) {
    if (StatusOr<azure::OperationRef> op_ref = azure::OperationRef::Parse(*p->ref); op_ref.ok()) {
      StatusOr<azure::Operation> polled = builder_.Poll(*op_ref);
      if (!polled.ok()) return StepResult::FromAzure(polled.status(), reason::kBuildFailed);
      if (polled->state == azure::OperationState::kInProgress)
        return StepResult::Wait(Poll(ctx), "Image Builder is finishing the build");
      if (polled->state == azure::OperationState::kFailed) {
        code = polled->error.detail().reason;
        op_message = polled->error.message();
      }
    }
  }
  ctx.status.operation.reset();
  std::string why = "the Image Builder build of " + Where(ref) + " ended " + run.run_state;
  if (!code.empty()) why += ": " + code;
  if (!run.message.empty()) {
    why += ": " + log::Redact(run.message);
  } else if (!op_message.empty()) {
    why += ": " + log::Redact(op_message);
  }
  log::Warn(kLogger, "the Image Builder build failed",
            {{"release", ctx.names.key}, {"template", ref.name}, {"state", run.run_state}});
  return Fail(ctx, why);
}

StepResult ImageBuilderBuildBackend::StartCopy(ReleaseContext& ctx) {
  const azure::ImageTemplateRef ref = TemplateRef(ctx.release, ctx.names);
  StatusOr<azure::RunOutput> out = builder_.GetRunOutput(ref, kRunOutputName);
  if (!out.ok()) {
    if (out.status().code() == StatusCode::kNotFound) {
      ctx.status.operation.reset();
      return Fail(ctx, "the Image Builder build of " + Where(ref) +
                           " succeeded but has no VHD run output '" + kRunOutputName + "'");
    }
    return StepResult::FromAzure(out.status(), reason::kBuildFailed);
  }
  const std::string& uri = out->artifact_uri;
  if (uri.empty()) {
    ctx.status.operation.reset();
    return Fail(ctx, "the VHD run output of " + Where(ref) + " has no artifactUri");
  }
  // A SAS in the output's URL is a secret: never in logs, status or Events.
  if (const size_t q = uri.find('?'); q != std::string::npos)
    log::RegisterSecret(uri.substr(q + 1));
  azure::BlobStore& staging = *ctx.env.staging;
  azure::PutBlobOptions o;
  o.metadata = {{"vmrelease_release_uid", ctx.release.metadata.uid},
                {"vmrelease_build", "imageBuilder"}};
  o.overwrite = true;
  StatusOr<azure::CopyStatus> copy = staging.StartCopyFromUrl(ctx.StagingRef(), uri, o);
  if (!copy.ok()) {
    // A copy started by a controller that was killed before recording it still runs.
    StatusOr<azure::BlobProperties> props = staging.GetProperties(ctx.StagingRef());
    if (props.ok() && props->copy.state == azure::CopyState::kPending &&
        props->metadata.count("vmrelease_release_uid") &&
        props->metadata.at("vmrelease_release_uid") == ctx.release.metadata.uid) {
      ctx.RecordOperation(api::OperationStep::kBuild, kCopy, props->copy.copy_id);
      return FollowCopy(ctx);
    }
    return StepResult::FromAzure(copy.status(), reason::kBuildFailed);
  }
  ctx.RecordOperation(api::OperationStep::kBuild, kCopy, copy->copy_id);
  ctx.status.build->operation =
      "copy of the Image Builder VHD into " + staging.BlobUrl(ctx.StagingRef());
  log::Info(kLogger, "copying the Image Builder VHD into staging",
            {{"release", ctx.names.key}, {"template", ref.name}});
  if (copy->state == azure::CopyState::kSuccess) return FollowCopy(ctx);
  return StepResult::Wait(std::min<Duration>(Poll(ctx), std::chrono::seconds(2)),
                          "copying the Image Builder VHD into staging");
}

StepResult ImageBuilderBuildBackend::FollowCopy(ReleaseContext& ctx) {
  azure::BlobStore& staging = *ctx.env.staging;
  StatusOr<azure::BlobProperties> props = staging.GetProperties(ctx.StagingRef());
  if (!props.ok()) {
    if (props.status().code() != StatusCode::kNotFound)
      return StepResult::FromAzure(props.status(), reason::kBuildFailed);
    ctx.status.operation.reset();  // the run succeeded: the next reconcile copies again
    return StepResult::Error(
        UnavailableError("the staging blob went away during the copy; copying again"));
  }
  switch (props->copy.state) {
    case azure::CopyState::kPending:
      return StepResult::Wait(
          std::min<Duration>(Poll(ctx), std::chrono::seconds(2)),
          "copying the Image Builder VHD into staging (" + props->copy.progress + ")");
    case azure::CopyState::kFailed:
    case azure::CopyState::kAborted: {
      ctx.status.operation.reset();
      if (Status s = staging.Delete(ctx.StagingRef()); !s.ok() && s.code() != StatusCode::kNotFound)
        return StepResult::FromAzure(s, reason::kBuildFailed);
      return StepResult::Error(UnavailableError("the copy of the Image Builder VHD failed (" +
                                                log::Redact(props->copy.description) +
                                                "); copying again"));
    }
    default:
      break;
  }
  ctx.status.operation.reset();
  api::BuildStatus& b = *ctx.status.build;
  b.exit_code = 0;
  b.completed_at = ctx.Now();
  b.operation.reset();
  log::Info(kLogger, "the Image Builder VHD is staged",
            {{"release", ctx.names.key}, {"bytes", std::to_string(props->content_length)}});
  return StepResult::Done();  // the Build step verifies the blob
}

StepResult ImageBuilderBuildBackend::Build(ReleaseContext& ctx) {
  if (!ctx.status.build) ctx.status.build.emplace();
  api::BuildStatus& b = *ctx.status.build;
  b.name = ctx.names.image_template;
  if (b.exit_code) {
    if (*b.exit_code != 0)
      return StepResult::Failed(reason::kBuildFailed, b.output_tail.value_or("build failed"));
    return StepResult::Done();  // staged; the Build step verifies the blob
  }
  const azure::ImageTemplateRef ref = TemplateRef(ctx.release, ctx.names);
  const Duration timeout = ctx.release.spec.build.TimeoutOrDefault();
  if (b.started_at) {
    const WallTime started = api::ParseTime(*b.started_at).value_or(ctx.now);
    if (ctx.now - started >= timeout) {
      // Cleanup (CleanupFailed) cancels the run and deletes the template.
      b.completed_at = ctx.Now();
      return StepResult::Failed(reason::kBuildTimedOut,
                                "the build did not finish within spec.build.timeout (" +
                                    FormatDuration(timeout) + "); the Image Builder build of " +
                                    Where(ref) + " is cancelled and the template deleted");
    }
  }
  if (ctx.Operation(api::OperationStep::kBuild, kCopy)) return FollowCopy(ctx);
  if (ctx.Operation(api::OperationStep::kBuild, kCreate)) {
    StepResult r = Create(ctx);
    if (!r.done()) return r;
    return StartRun(ctx);
  }
  StatusOr<azure::ImageTemplate> t = builder_.GetTemplate(ref);
  if (!t.ok()) {
    if (t.status().code() != StatusCode::kNotFound)
      return StepResult::FromAzure(t.status(), reason::kBuildFailed);
    if (ctx.Operation(api::OperationStep::kBuild, kRun)) {
      ctx.status.operation.reset();
      return Fail(ctx, "the " + Where(ref) +
                           " was deleted before its build finished (by a person or "
                           "another tool?)");
    }
    if (!b.started_at) {
      // A fresh attempt: nothing of an earlier one (a partial staging blob) is reused.
      if (Status s = ctx.env.staging->Delete(ctx.StagingRef());
          !s.ok() && s.code() != StatusCode::kNotFound)
        return StepResult::FromAzure(s, reason::kBuildFailed);
      b.started_at = ctx.Now();
    }
    StepResult r = Create(ctx);
    if (!r.done()) return r;
    return StartRun(ctx);
  }
  if (!Ours(*t, ctx.release.metadata.uid))
    return StepResult::Stalled(
        reason::kBuildFailed,
        "an " + Where(ref) + " exists and does not belong to this release (its tag " +
            azure::kReleaseUidTag +
            " is not this release's uid); vmrelease never touches a template it did not "
            "create: delete that template, or move this release to another resource group");
  if (!b.started_at) {
    // Made by a controller that was killed before it recorded the start: adopt it.
    b.started_at = ctx.Now();
    log::Info(kLogger, "adopted an image template created by an earlier controller",
              {{"release", ctx.names.key}, {"template", ref.name}});
  }
  if (!b.operation) b.operation = "image template " + ref.Id();
  if (!t->last_run) {
    if (t->provisioning_state == "Failed") {
      return Fail(
          ctx, "Image Builder could not create the " + Where(ref) + ": " +
                   log::Redact(t->properties.value(Json::json_pointer("/provisioningError/message"),
                                                   std::string("provisioningState Failed"))));
    }
    if (t->provisioning_state != "Succeeded") {
      StepResult r = Create(ctx);  // adopts it and follows its creation
      if (!r.done()) return r;
    }
    return StartRun(ctx);
  }
  const azure::RunStatus& run = *t->last_run;
  if (!run.finished()) {
    const WallTime started = api::ParseTime(*b.started_at).value_or(ctx.now);
    const Duration left = timeout - (ctx.now - started);
    return StepResult::Wait(std::min<Duration>(Poll(ctx), left),
                            "Image Builder is building (" + run.run_state +
                                (run.run_sub_state.empty() ? "" : ", " + run.run_sub_state) + ")");
  }
  return RunFinished(ctx, run);
}

StepResult ImageBuilderBuildBackend::Cleanup(ReleaseContext& ctx) {
  if (!ctx.release.spec.build.image_builder) return StepResult::Done();
  const azure::ImageTemplateRef ref = TemplateRef(ctx.release, ctx.names);
  auto forget_ops = [&] {
    if (ctx.status.operation && ctx.status.operation->step == api::OperationStep::kBuild)
      ctx.status.operation.reset();
  };
  if (!ctx.Operation(api::OperationStep::kBuild, kDelete)) {
    StatusOr<azure::ImageTemplate> t = builder_.GetTemplate(ref);
    if (!t.ok()) {
      if (t.status().code() != StatusCode::kNotFound)
        return StepResult::FromAzure(t.status(), reason::kBuildFailed);
      forget_ops();
      return StepResult::Done();
    }
    if (!Ours(*t, ctx.release.metadata.uid)) {
      forget_ops();
      return StepResult::Done();  // not ours: never touched
    }
    if (t->last_run && !t->last_run->finished()) {
      if (t->last_run->run_state == "Running") {
        StatusOr<azure::Operation> cancel = builder_.Cancel(ref);
        if (!cancel.ok() && !Busy(cancel.status()))
          return StepResult::FromAzure(cancel.status(), reason::kBuildFailed);
        log::Info(kLogger, "cancelling the Image Builder build",
                  {{"release", ctx.names.key}, {"template", ref.name}});
      }
      return StepResult::Wait(Poll(ctx), "cancelling the Image Builder build of " + ref.name +
                                             " before deleting its template");
    }
  }
  std::optional<Status> busy;
  StepResult r = FollowOperation(
      ctx, builder_, api::OperationStep::kBuild, kDelete,
      [&]() -> StatusOr<azure::Operation> {
        StatusOr<azure::Operation> op = builder_.DeleteTemplate(ref);
        if (!op.ok() && Busy(op.status())) busy = op.status();
        return op;
      },
      reason::kBuildFailed);
  if (busy) {
    return StepResult::Wait(Poll(ctx), "Image Builder refuses to delete the template " + ref.name +
                                           " while it is busy (" + log::Redact(busy->message()) +
                                           "); retrying");
  }
  if (!r.done()) return r;
  log::Info(kLogger, "deleted the image template",
            {{"release", ctx.names.key}, {"template", ref.name}});
  return StepResult::Done();
}

}  // namespace vmrelease::release

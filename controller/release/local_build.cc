#include "controller/release/local_build.h"

#include <filesystem>

#include "controller/common/duration.h"
#include "controller/common/log.h"
#include "controller/image/vhd_upload.h"
#include "controller/image/vhd_verify.h"
#include "controller/release/local_process.h"

namespace vmrelease::release {
namespace fs = std::filesystem;
namespace {

constexpr char kLogger[] = "release.local_build";
constexpr char kMetaReleaseUid[] = "release_uid";  // vmrelease_* names belong to the uploader

std::string UploadKey(const ReleaseContext& ctx) { return ctx.TaskKey("upload"); }

// The SHA-256 of a staged blob that is a complete upload by this release, else "".
std::string CompleteUploadSha256(const azure::BlobProperties& props, const std::string& uid) {
  auto meta = [&](const char* k) {
    auto it = props.metadata.find(k);
    return it == props.metadata.end() ? std::string() : it->second;
  };
  if (meta(image::kMetaUploadId) != uid || meta(image::kMetaUploadState) != "complete") return "";
  return meta(image::kMetaSha256);
}

}  // namespace

StepResult LocalBuildBackend::Start(ReleaseContext& ctx, bool again) {
  const api::LocalCommand& local = *ctx.release.spec.build.local;
  StatusOr<ResolvedSource> source = ResolveSource(ctx);
  if (!source.ok()) {
    if (source.status().code() == StatusCode::kFailedPrecondition)
      return StepResult::Stalled(reason::kBuildFailed, source.status().message());
    return StepResult::Error(source.status());
  }
  // A fresh attempt: nothing of an earlier one (output file, partial staging blob) is reused.
  if (Status s = LocalProcess::Reset(StateDir(ctx)); !s.ok()) return StepResult::Error(s);
  std::error_code ec;
  fs::remove_all(Dir(ctx) + "/out", ec);
  fs::create_directories(Dir(ctx) + "/out", ec);
  if (ec) return StepResult::Error(InternalError("cannot create " + Dir(ctx) + "/out"));
  if (Status s = ctx.env.staging->Delete(ctx.StagingRef());
      !s.ok() && s.code() != StatusCode::kNotFound)
    return StepResult::FromAzure(s, reason::kBuildFailed);
  ctx.env.tasks->Forget(UploadKey(ctx));

  LocalProcessSpec spec;
  spec.argv = local.command;
  spec.env = local.env;
  for (const auto& [k, v] : source->env) spec.env[k] = v;
  spec.env["PATH"] = ctx.env.local_path;
  spec.env["HOME"] = Dir(ctx);
  spec.env["VMRELEASE_IMAGE"] = ctx.release.spec.image;
  spec.env["VMRELEASE_VERSION"] = ctx.release.spec.version;
  spec.env["VMRELEASE_OUTPUT_PATH"] = OutputPath(ctx);
  spec.env["VMRELEASE_INVENTORY"] = InventoryPath(ctx);
  spec.work_dir = local.working_dir.value_or(Dir(ctx) + "/work");
  spec.state_dir = StateDir(ctx);
  StatusOr<ProcessState> started = LocalProcess::Ensure(spec);
  if (!started.ok()) {
    if (started.status().code() == StatusCode::kNotFound)
      return StepResult::Failed(reason::kBuildFailed,
                                "spec.build.local.command: " + started.status().message());
    return StepResult::Error(started.status());
  }
  ctx.status.build->operation = "local process group " + std::to_string(started->pid);
  ctx.status.build->source_version = source->version;
  log::Info(kLogger, again ? "restarted a local build that was lost" : "started a local build",
            {{"release", ctx.names.key}, {"build", ctx.names.build}, {"pid", started->pid}});
  return StepResult::Wait(ctx.env.local_poll_interval, "the build command is running");
}

StepResult LocalBuildBackend::Build(ReleaseContext& ctx) {
  if (!ctx.status.build) ctx.status.build.emplace();
  api::BuildStatus& b = *ctx.status.build;
  b.name = ctx.names.build;
  if (!b.started_at) {
    // A run may exist although status does not say so: a controller that started
    // it was killed before recording it. Adopt it; never start a second one.
    const ProcessState existing = LocalProcess::Inspect(StateDir(ctx));
    if (existing.phase == ProcessPhase::kRunning || existing.phase == ProcessPhase::kExited) {
      b.started_at = existing.started_at ? api::FormatTime(*existing.started_at) : ctx.Now();
      b.operation = "local process group " + std::to_string(existing.pid);
      log::Info(kLogger, "adopted a local build started by an earlier controller",
                {{"release", ctx.names.key},
                 {"pid", existing.pid},
                 {"state", ProcessPhaseName(existing.phase)}});
    } else {
      b.started_at = ctx.Now();
      ctx.Event("BuildStarted", "Build",
                "local build " + ctx.names.build +
                    " started: " + ctx.release.spec.build.local->command.front());
      return Start(ctx, false);
    }
  }
  if (b.exit_code) {
    if (*b.exit_code != 0)  // recorded by an earlier pass: the same failure, told again
      return StepResult::Failed(reason::kBuildFailed, "the build command exited with code " +
                                                          std::to_string(*b.exit_code) +
                                                          LastLineOf(b.output_tail));
    return Upload(ctx);
  }
  const ProcessState ps = LocalProcess::Inspect(StateDir(ctx));
  switch (ps.phase) {
    case ProcessPhase::kNotStarted:  // e.g. a new host after a failover: start it here
    case ProcessPhase::kLost:        // the run died with its supervisor (host reboot, OOM)
      return Start(ctx, true);
    case ProcessPhase::kRunning: {
      const WallTime started = api::ParseTime(*b.started_at).value_or(ctx.now);
      const Duration timeout = ctx.release.spec.build.TimeoutOrDefault();
      if (ctx.now - started >= timeout) {
        LocalProcess::Kill(StateDir(ctx));
        b.output_tail = TailForStatus(LocalProcess::OutputTail(StateDir(ctx), 64 * 1024));
        b.completed_at = ctx.Now();
        return StepResult::Failed(reason::kBuildTimedOut,
                                  "the build did not finish within spec.build.timeout (" +
                                      FormatDuration(timeout) + "); it was stopped");
      }
      const Duration left = timeout - (ctx.now - started);
      return StepResult::Wait(std::min<Duration>(ctx.env.local_poll_interval, left),
                              "the build command is running");
    }
    case ProcessPhase::kExited:
      break;
  }
  const std::string output = LocalProcess::OutputTail(StateDir(ctx), 64 * 1024);
  b.output_tail = TailForStatus(output);
  b.exit_code = ps.exit_code;
  if (ps.exit_code != 0) {
    b.completed_at = ctx.Now();
    std::string why = ps.signal
                          ? "the build command was killed by signal " + std::to_string(*ps.signal)
                          : "the build command exited with code " + std::to_string(ps.exit_code);
    const std::string last = LastLine(output);
    if (!last.empty()) why += ": " + last;
    return StepResult::Failed(reason::kBuildFailed, why);
  }
  if (!fs::exists(OutputPath(ctx))) {
    b.completed_at = ctx.Now();
    return StepResult::Failed(reason::kBuildFailed,
                              "the build command exited 0 but left no disk at "
                              "VMRELEASE_OUTPUT_PATH (" +
                                  OutputPath(ctx) + ")");
  }
  return Upload(ctx);
}

StepResult LocalBuildBackend::Upload(ReleaseContext& ctx) {
  azure::BlobStore* store = ctx.env.staging;
  const azure::BlobRef ref = ctx.StagingRef();
  const std::string uid = ctx.release.metadata.uid;
  const std::string path = OutputPath(ctx);
  const std::string image = ctx.release.spec.image, version = ctx.release.spec.version;
  if (!ctx.env.tasks->Busy(UploadKey(ctx)) && !fs::exists(path)) {
    // The output is gone. When this release's upload had completed (the Build
    // step then removed the work directory, and a crash lost the status saying
    // so), the staged blob is the build: adopt it. Building again would replace
    // the staged VHD under the same name, after a gallery version may already
    // have been created from the first one.
    StatusOr<azure::BlobProperties> props = store->GetProperties(ref);
    if (props.ok()) {
      if (std::string sha = CompleteUploadSha256(*props, uid); !sha.empty()) {
        log::Info(kLogger, "adopted the completed upload of an earlier controller process",
                  {{"release", ctx.names.key}, {"blob", ref.ToString()}});
        if (!ctx.status.artifact) ctx.status.artifact.emplace();
        ctx.status.artifact->sha256 = sha;
        if (!ctx.status.build->completed_at) ctx.status.build->completed_at = ctx.Now();
        ctx.status.build->operation.reset();
        return StepResult::Done();
      }
    } else if (props.status().code() != StatusCode::kNotFound) {
      return StepResult::FromAzure(props.status(), reason::kBuildFailed);
    }
    // Nothing usable staged (a new host, a wiped work directory): build again.
    ctx.status.build->exit_code.reset();
    return Start(ctx, true);
  }
  Clock* clock = ctx.env.clock;
  const std::atomic<bool>* cancel = &ctx.env.tasks->cancelled();
  TaskRunner::State task = ctx.env.tasks->Ensure(UploadKey(ctx), [=]() -> TaskResult {
    image::VhdUploadOptions o;
    o.upload_id = uid;
    o.metadata = {{kMetaReleaseUid, uid}, {"image", image}, {"version", version}};
    o.parallelism = 4;
    o.cancel = cancel;
    o.clock = clock;
    StatusOr<image::VhdUploadResult> up = image::UploadVhd(*store, ref, path, o);
    if (up.ok()) return {Status::Ok(), up->sha256};
    if (up.status().code() != StatusCode::kAlreadyExists) return {up.status(), ""};
    // A complete upload of this very file by an earlier controller process: adopt it.
    StatusOr<azure::BlobProperties> props = store->GetProperties(ref);
    if (!props.ok()) return {props.status(), ""};
    if (std::string sha = CompleteUploadSha256(*props, uid); !sha.empty())
      return {Status::Ok(), sha};
    return {up.status(), ""};
  });
  if (!task.done) return StepResult::Wait(ctx.env.local_poll_interval, "uploading the disk");
  if (!task.result.status.ok()) {
    const Status& s = task.result.status;
    log::Warn(kLogger, "upload of the build output failed",
              {{"release", ctx.names.key}, {"error", s.message()}});
    if (s.code() == StatusCode::kFailedPrecondition || s.code() == StatusCode::kDataLoss ||
        s.code() == StatusCode::kInvalidArgument)
      return StepResult::Failed(
          reason::kArtifactInvalid,
          "the build output is not a usable disk: " + log::Redact(s.message()));
    return StepResult::FromAzure(s, reason::kBuildFailed);
  }
  if (!ctx.status.artifact) ctx.status.artifact.emplace();
  ctx.status.artifact->sha256 = task.result.value;
  ctx.status.build->completed_at = ctx.Now();
  ctx.status.build->operation.reset();
  return StepResult::Done();
}

StepResult LocalBuildBackend::Cleanup(ReleaseContext& ctx) {
  if (!LocalProcess::Kill(StateDir(ctx)))
    return StepResult::Error(UnavailableError("the local build could not be stopped"));
  ctx.env.tasks->Forget(UploadKey(ctx));
  if (ctx.env.tasks->Busy(UploadKey(ctx)))
    return StepResult::Wait(ctx.env.local_poll_interval, "waiting for the upload to stop");
  std::error_code ec;
  fs::remove_all(Dir(ctx), ec);
  return StepResult::Done();
}

}  // namespace vmrelease::release

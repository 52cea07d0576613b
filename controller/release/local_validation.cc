#include "controller/release/local_validation.h"

#include <filesystem>
#include <fstream>

#include "controller/common/crypto.h"
#include "controller/common/duration.h"
#include "controller/common/json_depth.h"
#include "controller/common/log.h"
#include "controller/common/strings.h"
#include "controller/release/local_process.h"

namespace vmrelease::release {
namespace fs = std::filesystem;
namespace {

constexpr char kLogger[] = "release.local_validation";
constexpr int64_t kRange = 8 << 20;

std::string DownloadKey(const ReleaseContext& ctx) { return ctx.TaskKey("download"); }

StatusOr<std::string> HashFile(const std::string& path, const std::atomic<bool>* cancel) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFoundError(path + ": cannot be read");
  Sha256 h;
  std::string buf(1 << 20, '\0');
  while (in) {
    if (cancel && *cancel) return CancelledError("cancelled");
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    h.Update(buf.data(), static_cast<size_t>(in.gcount()));
  }
  return h.FinishHex();
}

}  // namespace

Status DownloadVerified(azure::BlobStore& store, const azure::BlobRef& ref, const std::string& path,
                        const std::string& expected_sha256, const std::atomic<bool>* cancel) {
  if (fs::exists(path)) {
    ASSIGN_OR_RETURN(std::string have, HashFile(path, cancel));
    if (have == expected_sha256) return Status::Ok();
    log::Warn("release.local_validation",
              "a local copy of the staged image differs; downloading again",
              {{"path", path}, {"have", have}, {"want", expected_sha256}});
    fs::remove(path);
  }
  ASSIGN_OR_RETURN(azure::BlobProperties props, store.GetProperties(ref));
  const std::string part = path + ".part";
  std::ofstream out(part, std::ios::binary | std::ios::trunc);
  if (!out) return InternalError("cannot write " + part);
  Sha256 h;
  for (int64_t off = 0; off < props.content_length; off += kRange) {
    if (cancel && *cancel) return CancelledError("cancelled");
    const int64_t len = std::min<int64_t>(kRange, props.content_length - off);
    ASSIGN_OR_RETURN(std::string data, store.GetBlob(ref, azure::ByteRange{off, len}));
    if (static_cast<int64_t>(data.size()) != len)
      return DataLossError("short read of " + ref.ToString() + " at " + std::to_string(off));
    h.Update(data);
    out.write(data.data(), static_cast<std::streamsize>(data.size()));
  }
  out.close();
  if (!out) return InternalError("cannot write " + part);
  const std::string got = h.FinishHex();
  if (got != expected_sha256) {
    fs::remove(part);
    return DataLossError("the staged VHD's SHA-256 is " + got + ", the build recorded " +
                         expected_sha256 + "; refusing to validate a different image");
  }
  fs::rename(part, path);
  return Status::Ok();
}

StepResult LocalValidationBackend::Download(ReleaseContext& ctx) {
  azure::BlobStore* store = ctx.env.staging;
  const azure::BlobRef ref = ctx.StagingRef();
  const std::string path = ImagePath(ctx);
  const std::string sha = ctx.status.artifact ? ctx.status.artifact->sha256.value_or("") : "";
  const std::atomic<bool>* cancel = &ctx.env.tasks->cancelled();
  std::error_code ec;
  fs::create_directories(Dir(ctx), ec);
  TaskRunner::State task = ctx.env.tasks->Ensure(DownloadKey(ctx), [=]() -> TaskResult {
    return {DownloadVerified(*store, ref, path, sha, cancel), ""};
  });
  if (!task.done)
    return StepResult::Wait(ctx.env.local_poll_interval, "downloading the staged image");
  if (task.result.status.code() == StatusCode::kDataLoss)
    return StepResult::Failed(reason::kArtifactInvalid, task.result.status.message());
  if (!task.result.status.ok())
    return StepResult::FromAzure(task.result.status, reason::kValidationFailed);
  ctx.status.validation->state = api::ValidationState::kRunningChecks;
  return StepResult::Done();
}

StepResult LocalValidationBackend::RunCheck(ReleaseContext& ctx, const api::Check& check) {
  const api::LocalCommand& local = *ctx.release.spec.validation.local;
  const std::string dir = CheckDir(ctx, check.name);
  const std::string state_dir = dir + "/run", result_file = dir + "/result.json";
  const Duration timeout = check.TimeoutOrDefault();
  ProcessState ps = LocalProcess::Inspect(state_dir);
  if (ps.phase == ProcessPhase::kLost) {
    log::Info(kLogger, "restarting a check whose run was lost",
              {{"release", ctx.names.key}, {"check", check.name}});
    if (Status s = LocalProcess::Reset(state_dir); !s.ok()) return StepResult::Error(s);
    ps = {};
  }
  if (ps.phase == ProcessPhase::kNotStarted) {
    std::error_code ec;
    fs::remove(result_file, ec);
    LocalProcessSpec spec;
    spec.argv = local.command;
    spec.env = local.env;
    spec.env["PATH"] = ctx.env.local_path;
    spec.env["HOME"] = dir;
    spec.env["VMRELEASE_CHECK_NAME"] = check.name;
    spec.env["VMRELEASE_CHECK_SCRIPT"] = check.script;
    spec.env["VMRELEASE_IMAGE_PATH"] = ImagePath(ctx);
    spec.env["VMRELEASE_CHECK_TIMEOUT_SECONDS"] =
        std::to_string(std::chrono::duration_cast<std::chrono::seconds>(timeout).count());
    spec.env["VMRELEASE_RESULT_FILE"] = result_file;
    // This check's own directory, whatever the command's working directory: a validator keeps
    // its lock and VM bookkeeping there, apart from other releases sharing a workingDir.
    spec.env["VMRELEASE_CHECK_DIR"] = dir + "/work";
    if (check.IsInventory() && WantsCheckInventory(ctx)) {
      // Where the command leaves the image's inventory (vm-validate: the script's
      // standard output in the guest); an earlier attempt's file goes first.
      const std::string inventory = Inventory(ctx, check).file;
      fs::remove(inventory, ec);
      spec.env["VMRELEASE_INVENTORY"] = inventory;
    }
    spec.work_dir = local.working_dir.value_or(dir + "/work");
    spec.state_dir = state_dir;
    StatusOr<ProcessState> started = LocalProcess::Ensure(spec);
    if (!started.ok()) {
      if (started.status().code() == StatusCode::kNotFound)
        return StepResult::Failed(reason::kValidationFailed,
                                  "spec.validation.local.command: " + started.status().message());
      return StepResult::Error(started.status());
    }
    ctx.Event("CheckStarted", "Validate", "check " + check.name + " started");
    log::Info(kLogger, "check started",
              {{"release", ctx.names.key}, {"check", check.name}, {"pid", started->pid}});
    return StepResult::Wait(ctx.env.local_poll_interval, "check " + check.name + " is running");
  }
  const WallTime started = ps.started_at.value_or(ctx.now);
  const double seconds = std::chrono::duration<double>(ctx.now - started).count() > 0
                             ? std::chrono::duration<double>(ctx.now - started).count()
                             : 0;
  if (ps.phase == ProcessPhase::kRunning) {
    // The command enforces the check's timeout itself (it gets VMRELEASE_CHECK_TIMEOUT_SECONDS and
    // may first need to boot a VM, which does not count); the controller only stops a command that
    // overran it by more than kLocalCheckGrace.
    if (ctx.now - started < timeout + kLocalCheckGrace) {
      return StepResult::Wait(ctx.env.local_poll_interval, "check " + check.name + " is running");
    }
    LocalProcess::Kill(state_dir);
    api::CheckResult r =
        EvaluateCheck(check, -1, LocalProcess::OutputTail(state_dir, 64 * 1024), seconds);
    r.passed = false;
    r.exit_code.reset();
    r.message = "stopped after " + FormatDuration(timeout + kLocalCheckGrace) +
                " (the check's timeout of " + FormatDuration(timeout) + " plus " +
                FormatDuration(kLocalCheckGrace) + " for the command to set up and report)";
    ctx.status.validation->results.push_back(std::move(r));
    return StepResult::Done();
  }
  // Exited.
  log::Info(kLogger, "check finished",
            {{"release", ctx.names.key}, {"check", check.name}, {"exitCode", ps.exit_code}});
  const std::string output = LocalProcess::OutputTail(state_dir, 64 * 1024);
  api::CheckResult r = EvaluateCheck(check, ps.exit_code, output, seconds);
  if (auto text = ReadFileToString(result_file); text.ok()) {
    try {
      const auto j = ParseJsonBounded(*text, kMaxServiceJsonDepth).value_or(nlohmann::json());
      if (j.value("phase", "") == "boot" && !j.value("ok", true)) {
        r.passed = false;
        r.exit_code.reset();
        r.message =
            TailForStatus("boot failed: " + j.value("message", std::string("unknown")), 1024);
      }
      if (j.contains("checkSeconds") && j["checkSeconds"].is_number())
        r.duration_seconds = j["checkSeconds"].get<double>();
    } catch (const std::exception&) {
      // A malformed result file: the exit code stands.
    }
  }
  ctx.status.validation->results.push_back(std::move(r));
  return StepResult::Done();
}

InventorySource LocalValidationBackend::Inventory(const ReleaseContext& ctx,
                                                  const api::Check& check) const {
  return {.file = CheckDir(ctx, check.name) + "/inventory.json"};
}

StepResult LocalValidationBackend::Validate(ReleaseContext& ctx) {
  api::ValidationStatus& v = *ctx.status.validation;
  if (!v.vm) v.vm = ctx.names.build + "-validate";
  if (!v.state || *v.state == api::ValidationState::kPreparing) {
    v.state = api::ValidationState::kPreparing;
    StepResult r = Download(ctx);
    if (!r.done()) return r;
  }
  // One check at a time; a finished check starts the next in the same reconcile.
  return RunChecksInOrder(ctx, /*pause_between=*/false,
                          [&](size_t, const api::Check& check) { return RunCheck(ctx, check); });
}

StepResult LocalValidationBackend::Cleanup(ReleaseContext& ctx, bool /*keep*/) {
  std::error_code ec;
  if (fs::exists(Dir(ctx) + "/checks")) {
    for (const auto& entry : fs::directory_iterator(Dir(ctx) + "/checks", ec)) {
      if (!LocalProcess::Kill(entry.path().string() + "/run"))
        return StepResult::Error(UnavailableError("a local check could not be stopped"));
    }
  }
  ctx.env.tasks->Forget(DownloadKey(ctx));
  if (ctx.env.tasks->Busy(DownloadKey(ctx)))
    return StepResult::Wait(ctx.env.local_poll_interval, "waiting for the download to stop");
  log::Info(kLogger, "local validation cleaned up", {{"release", ctx.names.key}});
  fs::remove_all(Dir(ctx), ec);
  return StepResult::Done();
}

}  // namespace vmrelease::release

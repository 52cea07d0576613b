#include "controller/release/steps.h"

#include <filesystem>
#include <fstream>

#include "controller/api/semver.h"
#include "controller/api/validation.h"
#include "controller/common/duration.h"
#include "controller/common/log.h"
#include "controller/image/vhd_verify.h"
#include "controller/inventory/store.h"
#include "controller/kube/errors.h"
#include "controller/kube/resource.h"
#include "controller/release/steps_internal.h"
#include "controller/release/vm_validation.h"

namespace vmrelease::release {

using namespace steps_internal;  // the helpers the step files share
namespace fs = std::filesystem;

std::vector<std::string> ReleaseImageIndex(const nlohmann::json& obj) {
  const std::string image = SpecString(obj, "image");
  if (image.empty()) return {};
  return {kube::Namespace(obj) + "/" + image};
}

std::string BuildBackendName(const api::ImageRelease& r) {
  if (r.spec.build.local) return "local";
  if (r.spec.build.job) return "job";
  if (r.spec.build.image_builder) return "imageBuilder";
  return "";
}

std::string ValidationBackendName(const api::ImageRelease& r) {
  if (r.spec.validation.vm) return "vm";
  if (r.spec.validation.job) return "job";
  if (r.spec.validation.local) return "local";
  return "";
}

BuildBackend* Steps::BuildBackendFor(const api::ImageRelease& r) const {
  auto it = backends_.build.find(BuildBackendName(r));
  return it == backends_.build.end() ? nullptr : it->second;
}

ValidationBackend* Steps::ValidationBackendFor(const api::ImageRelease& r) const {
  auto it = backends_.validation.find(ValidationBackendName(r));
  return it == backends_.validation.end() ? nullptr : it->second;
}

// --- CheckSpec ---------------------------------------------------------------------------

StepResult Steps::CheckSpec(ReleaseContext& ctx) {
  const api::ImageRelease& r = ctx.release;
  // A release that cannot start stalls at Pending (where `kubectl get ir` shows
  // it), and a Warning Event says why whenever the reason or message changes.
  auto stall = [&ctx](const char* why, std::string message) {
    if (!ctx.status.phase) ctx.SetPhase(ReleasePhase::kPending);
    const api::Condition* was = api::FindCondition(ctx.status.conditions, api::kConditionStalled);
    if (!was || was->status != ConditionStatus::kTrue || was->reason != why ||
        was->message != TailForStatus(message, 32 * 1024))
      ctx.Event(why, "CheckSpec", message, kube::EventType::kWarning);
    return StepResult::Stalled(why, std::move(message));
  };
  api::FieldErrors errors = api::Validate(r);
  if (!errors.empty()) {
    std::vector<std::string> lines;
    for (const auto& e : errors) lines.push_back(e.ToString());
    return stall(reason::kInvalidSpec, Join(lines, "; "));
  }
  if ((r.spec.build.local || r.spec.validation.local) && !env_.allow_local_builds) {
    return stall(
        reason::kLocalBuildsDisabled,
        std::string(r.spec.build.local ? "spec.build.local" : "spec.validation.local") +
            ": local builds and checks run on the controller's host and are disabled; start the "
            "controller with --allow-local-builds to allow them");
  }
  if (!env_.staging) {
    // Every build stages its VHD there: without it nothing can start (nor be cleaned up).
    return stall(reason::kStagingNotConfigured,
                 "this controller has no staging storage account: start it with "
                 "--staging-account-url (and --staging-storage-account-id for a gallery), e.g. "
                 "the Helm value stagingAccountUrl; nothing was built");
  }
  if (!BuildBackendFor(r) || !ValidationBackendFor(r)) {
    return stall(
        reason::kInvalidSpec,
        "this controller does not support the " +
            std::string(!BuildBackendFor(r) ? "build backend " + BuildBackendName(r)
                                            : "validation backend " + ValidationBackendName(r)) +
            " (not configured: see the controller's flags)");
  }
  // One release per image and version: the younger one stalls.
  const kube::ObjectPtr self = releases_.Get({r.metadata.ns, r.metadata.name});
  std::optional<api::Version> previous;
  const auto own = api::ParseReleaseVersion(r.spec.version);
  for (const kube::ObjectPtr& other :
       releases_.ByIndex(kImageIndex, r.metadata.ns + "/" + r.spec.image)) {
    if (kube::Name(*other) == r.metadata.name) continue;
    const std::string version = SpecString(*other, "version");
    if (version == r.spec.version && self && Older(*other, *self)) {
      return stall(
          reason::kDuplicateVersion,
          "version " + r.spec.version + " of image " + r.spec.image +
              " is already claimed by ImageRelease " + kube::Name(*other) +
              "; a version is released once, so pick a new version (or delete the other release)");
    }
    auto v = api::ParseReleaseVersion(version);
    if (v.ok() && own.ok() && *v < *own && (!previous || *previous < *v)) previous = *v;
  }
  if (ctx.phase() == ReleasePhase::kPending) {
    if (previous) ctx.status.previous_version = previous->ToString();
    if (!ctx.status.phase) {
      // Show Pending once before the pipeline starts.
      ctx.SetPhase(ReleasePhase::kPending);
      return StepResult::Wait(Duration::zero(), "accepted");
    }
    ctx.SetPhase(ReleasePhase::kBuilding);
  }
  return StepResult::Done();
}

// --- Build ---------------------------------------------------------------------------------

StepResult Steps::Build(ReleaseContext& ctx) {
  if (ctx.phase() != ReleasePhase::kBuilding) return StepResult::Done();
  BuildBackend* backend = BuildBackendFor(ctx.release);
  if (!ctx.status.build) {
    StepResult free = CheckTargetsFree(ctx);
    if (!free.done()) return free;
  }
  if (!ctx.status.artifact || !ctx.status.artifact->size_bytes) {
    StepResult r = backend->Build(ctx);
    if (!r.done()) return r;
    StepResult v = VerifyStaged(ctx);
    if (!v.done()) return v;
  }
  StepResult inv = ctx.status.inventory ? StepResult::Done()  // recorded, or refused
                                        : RecordInventory(ctx, backend->Inventory(ctx), false);
  if (!inv.done()) return inv;
  // The build's leftovers are removed by Stage, once Built is recorded.
  const api::Artifact& a = *ctx.status.artifact;
  SetCond(ctx, api::kConditionBuilt, ConditionStatus::kTrue, "BuildSucceeded",
          "the VHD is staged: " + std::to_string(a.size_bytes.value_or(0)) + " bytes, SHA-256 " +
              a.sha256.value_or(""));
  ctx.Event(
      "BuildSucceeded", "Build",
      "built and staged " + a.vhd_uri.value_or("") + " (SHA-256 " + a.sha256.value_or("") + ")");
  ctx.SetPhase(ReleasePhase::kStaging);
  return StepResult::Done();
}

StepResult Steps::CheckTargetsFree(ReleaseContext& ctx) {
  const api::ImageRelease& r = ctx.release;
  const std::string what = r.spec.image + " " + r.spec.version;
  const std::string then =
      "; vmrelease never overwrites what it does not own: remove it, or release another "
      "version (the build starts once it is gone)";
  // Errors other than "not there" (access, throttling) are left to Stage and Publish to report.
  if (r.spec.publish.gallery && env_.gallery) {
    StatusOr<azure::ImageVersion> v = env_.gallery->GetImageVersion(
        GalleryRef(*r.spec.publish.gallery), r.spec.version, /*replication_status=*/false);
    if (v.ok() && v->spec.owner_uid != r.metadata.uid)
      return StepResult::Stalled(
          reason::kVersionConflict,
          "gallery image version " + v->id + " of " + what + " already exists and " +
              (v->spec.owner_uid.empty()
                   ? std::string("was not created by vmrelease")
                   : "belongs to another ImageRelease (uid " + v->spec.owner_uid + ")") +
              then);
  }
  if (r.spec.publish.blob) {
    StatusOr<PublishClients> clients = env_.publishers->For(r);
    if (clients.ok() && clients->blob) {
      const azure::BlobRef dest = PublishedRef(r);
      StatusOr<azure::BlobProperties> props = clients->blob->GetProperties(dest);
      if (props.ok()) {
        auto it = props->metadata.find("vmrelease_release_uid");
        const std::string owner = it == props->metadata.end() ? "" : it->second;
        if (owner != r.metadata.uid)
          return StepResult::Stalled(
              reason::kBlobConflict,
              clients->blob->BlobUrl(dest) + " (the published blob of " + what +
                  ") already exists and " +
                  (owner.empty() ? std::string("was not published by vmrelease")
                                 : "belongs to another ImageRelease (uid " + owner + ")") +
                  then);
      }
    }
  }
  return StepResult::Done();
}

StepResult Steps::VerifyStaged(ReleaseContext& ctx) {
  azure::BlobStore* store = env_.staging;
  const azure::BlobRef ref = ctx.StagingRef();
  if (!ctx.status.artifact) ctx.status.artifact.emplace();
  const std::string expected = ctx.status.artifact->sha256.value_or("");
  TaskRunner::State task = env_.tasks->Ensure(ctx.TaskKey("verify"), [=]() -> TaskResult {
    // Trust nobody's word for the content: the footer and size always, and the
    // whole content when the backend did not hash it itself (a Job's upload).
    StatusOr<image::VhdVerifyResult> v = image::VerifyVhdBlob(
        *store, ref, {.expected_sha256 = expected, .hash_content = expected.empty()});
    if (!v.ok()) return {v.status(), ""};
    const std::string sha = expected.empty() ? v->content_sha256 : expected;
    return {Status::Ok(), sha + " " + std::to_string(v->blob_size)};
  });
  if (!task.done) return StepResult::Wait(env_.local_poll_interval, "verifying the staged VHD");
  const Status& s = task.result.status;
  if (!s.ok()) {
    if (s.code() == StatusCode::kDataLoss || s.code() == StatusCode::kFailedPrecondition ||
        s.code() == StatusCode::kNotFound)
      return StepResult::Failed(reason::kArtifactInvalid,
                                "the staged VHD " + ref.ToString() +
                                    " is not a valid fixed VHD: " + log::Redact(s.message()));
    return StepResult::FromAzure(s, reason::kBuildFailed);
  }
  const size_t sp = task.result.value.find(' ');
  api::Artifact& a = *ctx.status.artifact;
  a.sha256 = task.result.value.substr(0, sp);
  a.size_bytes = std::stoll(task.result.value.substr(sp + 1));
  a.vhd_uri = store->BlobUrl(ref);
  return StepResult::Done();
}

StepResult Steps::RecordInventory(ReleaseContext& ctx, const InventorySource& source,
                                  bool from_check) {
  if (!env_.kube) return StepResult::Done();
  auto refuse = [&ctx, from_check](const std::string& why) {
    const std::string message =
        std::string(from_check ? "the inventory check's output" : "the build's inventory") +
        " was not recorded: " + log::Redact(why);
    ctx.status.inventory.emplace();
    ctx.status.inventory->message = TailForStatus(message, 4096);
    ctx.Event("InventoryRefused", from_check ? "Validate" : "Build", message,
              kube::EventType::kWarning);
    log::Warn(kLogger, "inventory not recorded", {{"release", ctx.names.key}, {"why", message}});
    return StepResult::Done();
  };
  // A build need not leave one; a check marked as the inventory check should have.
  auto none = [&]() {
    if (!from_check) return StepResult::Done();
    return refuse(source.blob ? "it handed none over (no blob " + source.blob->ToString() + ")"
                              : "it handed none over (the command wrote no " + source.file + ")");
  };
  auto too_large = [&refuse](uintmax_t size) {
    return refuse("it is " + std::to_string(size) + " bytes; at most " +
                  std::to_string(inventory::kMaxInventoryBytes) + " are read");
  };
  std::string text;
  if (source.blob) {
    // A blob the build uploaded beside the VHD, read with the controller's
    // credentials in the background (it may be tens of MB).
    azure::BlobStore* store = env_.staging;
    const azure::BlobRef ref = *source.blob;
    const std::string key = ctx.TaskKey(from_check ? "check-inventory" : "inventory");
    TaskRunner::State task = env_.tasks->Ensure(key, [=]() -> TaskResult {
      StatusOr<azure::BlobProperties> props = store->GetProperties(ref);
      if (!props.ok()) return {props.status(), ""};
      if (props->content_length > static_cast<int64_t>(inventory::kMaxInventoryBytes))
        return {OutOfRangeError(std::to_string(props->content_length)), ""};
      StatusOr<std::string> body = store->GetBlob(ref);
      if (!body.ok()) return {body.status(), ""};
      return {Status::Ok(), std::move(*body)};
    });
    if (!task.done) return StepResult::Wait(env_.local_poll_interval, "reading the inventory");
    const Status& s = task.result.status;
    if (s.code() == StatusCode::kNotFound) return none();
    if (s.code() == StatusCode::kOutOfRange) return too_large(std::stoull(s.message()));
    if (!s.ok()) {
      // Throttled or unavailable: try again; anything else (e.g. no read access)
      // would fail the same way next time, and an inventory never fails a release.
      StepResult r =
          StepResult::FromAzure(s, from_check ? reason::kValidationFailed : reason::kBuildFailed);
      if (r.kind() != StepResult::Kind::kFailed) return r;
      return refuse("reading " + ref.ToString() + ": " + s.message());
    }
    text = std::move(task.result.value);
    if (text.size() > inventory::kMaxInventoryBytes) return too_large(text.size());
  } else {
    const std::string& path = source.file;
    std::error_code ec;
    if (path.empty() || !fs::exists(path, ec)) return none();
    const uintmax_t size = fs::file_size(path, ec);
    if (ec) return StepResult::Error(InternalError("cannot read " + path + ": " + ec.message()));
    if (size > inventory::kMaxInventoryBytes) return too_large(size);
    std::ifstream in(path, std::ios::binary);
    text.assign((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!in.good() && !in.eof()) return StepResult::Error(InternalError("cannot read " + path));
  }
  StatusOr<inventory::Inventory> inv = inventory::ParseInventory(text);
  if (!inv.ok()) return refuse(inv.status().message());
  const api::ImageReleaseSpec& spec = ctx.release.spec;
  if (inv->image != spec.image || inv->version != spec.version)
    return refuse("it describes " + inv->image + " " + inv->version + ", not " + spec.image + " " +
                  spec.version);
  StatusOr<inventory::Stored> stored =
      inventory::StoreInventory(*env_.kube,
                                {.ns = ctx.release.metadata.ns,
                                 .name = ctx.release.metadata.name,
                                 .uid = ctx.release.metadata.uid},
                                ctx.names.inventory_config_map, *inv);
  if (!stored.ok()) {
    // Worth another try: what a later request may not meet again (a throttled or
    // unavailable server, a concurrent write, expired credentials). Anything else
    // (too large, invalid, someone else's ConfigMap, RBAC without ConfigMaps) would
    // fail the same way every time, and must not fail the release: refuse it.
    const Status& s = stored.status();
    if (kube::IsRetryable(s) || kube::IsConflict(s) || kube::IsNotFound(s) ||
        kube::IsUnauthorized(s))
      return StepResult::Error(s.WithContext("recording the inventory"));
    return refuse(s.message());
  }
  ctx.status.inventory = api::InventoryRef{.config_map = stored->config_map,
                                           .sha256 = stored->sha256,
                                           .packages = stored->packages,
                                           .files = stored->files};
  log::Info(kLogger, stored->created ? "recorded the inventory" : "adopted the inventory",
            {{"release", ctx.names.key},
             {"from", from_check ? "check" : "build"},
             {"configMap", stored->config_map},
             {"packages", stored->packages},
             {"files", stored->files},
             {"compressedBytes", static_cast<int64_t>(stored->compressed_bytes)}});
  return StepResult::Done();
}

StepResult Steps::DeleteStagingInventory(ReleaseContext& ctx, ReleaseStep step) {
  if (!InventoryCheck(ctx.release)) return StepResult::Done();  // only an inventory check left one
  if (Status s = env_.staging->Delete(ctx.StagingInventoryRef());
      !s.ok() && s.code() != StatusCode::kNotFound)
    return StepResult::FromAzure(
        s, step == ReleaseStep::kValidate ? reason::kValidationFailed : reason::kAzureError);
  return StepResult::Done();
}

// --- Stage ---------------------------------------------------------------------------------

StepResult Steps::Stage(ReleaseContext& ctx) {
  if (ctx.phase() != ReleasePhase::kStaging) return StepResult::Done();
  const api::ImageReleaseSpec& spec = ctx.release.spec;
  // Built is recorded (phase boundaries are persisted): the build's work
  // directory (a local build's disk) can go.
  StepResult cleaned = BuildBackendFor(ctx.release)->Cleanup(ctx);
  if (!cleaned.done()) return cleaned;
  if (spec.publish.gallery && env_.gallery) {
    const azure::GalleryImageRef ref = GalleryRef(*spec.publish.gallery);
    StatusOr<azure::ImageDefinition> def = env_.gallery->GetImageDefinition(ref);
    if (!def.ok()) {
      if (def.status().code() == StatusCode::kNotFound)
        return StepResult::Failed(reason::kStagingFailed,
                                  "spec.publish.gallery: image definition " + ref.image +
                                      " does not exist in gallery " + ref.gallery +
                                      " (create it first; vmrelease never creates galleries)");
      return StepResult::FromAzure(def.status(), reason::kStagingFailed);
    }
    azure::ImageVersionSpec vs;
    vs.location = def->location;
    vs.source_storage_account_id = env_.staging_account_id;
    vs.source_vhd_uri = env_.staging->BlobUrl(ctx.StagingRef());
    std::vector<std::string> regions{def->location};
    if (spec.validation.vm && spec.validation.vm->location != def->location)
      regions.push_back(spec.validation.vm->location);
    for (const auto& name : regions)
      vs.target_regions.push_back(
          {.name = name, .regional_replica_count = 1, .exclude_from_latest = true});
    vs.exclude_from_latest = true;
    vs.safety.allow_deletion_of_replicated_locations = true;
    vs.tags = OwnerTags(ctx);
    vs.owner_uid = ctx.release.metadata.uid;
    std::optional<Status> conflict;
    StepResult r = FollowOperation(
        ctx, *env_.gallery, OperationStep::kStage, "CreateImageVersion",
        [&]() -> StatusOr<azure::Operation> {
          StatusOr<azure::Operation> op = env_.gallery->CreateImageVersion(ref, spec.version, vs);
          if (!op.ok() && azure::IsVersionConflict(op.status())) conflict = op.status();
          return op;
        },
        reason::kStagingFailed);
    if (conflict) {
      return StepResult::Failed(reason::kVersionConflict,
                                log::Redact(conflict->message()) +
                                    " (another release or a person created this gallery version; "
                                    "vmrelease never updates a version it does not own)");
    }
    if (!r.done()) return r;
    if (!ctx.status.artifact) ctx.status.artifact.emplace();
    ctx.status.artifact->gallery_image_version_id = ref.VersionId(spec.version);
    ctx.Event("Staged", "Stage",
              "staged gallery image version " + spec.version + " of " + ref.image +
                  " (excluded from latest) in " + Join(regions, ", "));
  } else if (spec.validation.vm && env_.vms) {
    const azure::ResourceGroupRef rg = ValidationResourceGroup(*spec.validation.vm);
    azure::DiskImportSpec ds;
    ds.location = spec.validation.vm->location;
    ds.source_uri = env_.staging->BlobUrl(ctx.StagingRef());
    ds.storage_account_id = env_.staging_account_id;
    if (spec.validation.vm->os_type)
      ds.os_type = std::string(api::EnumName(*spec.validation.vm->os_type));
    ds.tags = OwnerTags(ctx);
    StepResult r = FollowOperation(
        ctx, *env_.vms, OperationStep::kStage, "ImportDisk",
        [&] { return env_.vms->ImportDisk(rg, ctx.names.staged_disk, ds); },
        reason::kStagingFailed);
    if (!r.done()) return r;
    ctx.Event("Staged", "Stage",
              "staged managed disk " + ctx.names.staged_disk + " in " + rg.resource_group);
  }
  ctx.SetPhase(ReleasePhase::kValidating);
  return StepResult::Done();
}

// --- Validate ------------------------------------------------------------------------------

StepResult Steps::Validate(ReleaseContext& ctx) {
  if (ctx.phase() != ReleasePhase::kValidating) return StepResult::Done();
  ValidationBackend* backend = ValidationBackendFor(ctx.release);
  if (!ctx.status.validation) ctx.status.validation.emplace();
  api::ValidationStatus& v = *ctx.status.validation;
  if (!v.started_at) {
    v.started_at = ctx.Now();
    v.state = api::ValidationState::kPreparing;
    ctx.Event("ValidationStarted", "Validate",
              std::to_string(ctx.release.spec.validation.checks.size()) + " checks with the " +
                  std::string(backend->Name()) + " backend");
  }
  auto to_cleanup = [&](ConditionStatus status, std::string why, std::string message) {
    SetCond(ctx, api::kConditionValidated, status, std::move(why), std::move(message));
    v.state = api::ValidationState::kCleaningUp;
  };
  const bool was_cleaning = v.state == api::ValidationState::kCleaningUp;
  if (v.state != api::ValidationState::kCleaningUp) {
    const WallTime started = api::ParseTime(*v.started_at).value_or(ctx.now);
    const Duration timeout = ctx.release.spec.validation.TimeoutOrDefault();
    StepResult r = ctx.now - started >= timeout
                       ? StepResult::Failed(reason::kValidationTimedOut,
                                            "validation did not finish within "
                                            "spec.validation.timeout (" +
                                                FormatDuration(timeout) + ")")
                       : backend->Validate(ctx);
    switch (r.kind()) {
      case StepResult::Kind::kWait:
      case StepResult::Kind::kError:
        return r;
      case StepResult::Kind::kFailed:
      case StepResult::Kind::kStalled:
        to_cleanup(ConditionStatus::kFalse, r.reason(), r.message());
        break;
      case StepResult::Kind::kDone: {
        auto failed = std::find_if(v.results.begin(), v.results.end(),
                                   [](const api::CheckResult& c) { return !c.passed; });
        if (failed != v.results.end()) {
          const std::string msg = failed->message.value_or("failed");
          const bool boot = msg.rfind("boot failed", 0) == 0;
          to_cleanup(ConditionStatus::kFalse, boot ? reason::kBootFailed : reason::kCheckFailed,
                     "check " + failed->name + ": " + msg);
        } else {
          // The inventory check's output, read before the cleanup removes it.
          if (const api::Check* inv = InventoryCheck(ctx.release);
              inv && WantsCheckInventory(ctx)) {
            StepResult recorded = RecordInventory(ctx, backend->Inventory(ctx, *inv), true);
            if (!recorded.done()) return recorded;
          }
          to_cleanup(ConditionStatus::kTrue, "ChecksPassed",
                     "all " + std::to_string(v.results.size()) + " checks passed");
        }
        break;
      }
    }
  }
  // Record the outcome before anything is removed: a kill during the cleanup
  // must find the results, not run the checks again on a half-removed setup.
  if (!was_cleaning) return StepResult::Wait(Duration::zero(), "cleaning up the validation");
  // Cleaning up, whatever happened.
  const api::Condition* validated =
      api::FindCondition(ctx.status.conditions, api::kConditionValidated);
  const bool passed = validated && validated->status == ConditionStatus::kTrue;
  const bool keep = !passed && ctx.release.spec.validation.keep_vm_on_failure.value_or(false) &&
                    backend->Name() == "vm";
  StepResult cleaned = backend->Cleanup(ctx, keep);
  if (!cleaned.done()) return cleaned;
  cleaned = DeleteStagingInventory(ctx, ReleaseStep::kValidate);
  if (!cleaned.done()) return cleaned;
  v.completed_at = ctx.Now();
  v.state = keep ? api::ValidationState::kKept : api::ValidationState::kDone;
  if (passed) {
    ctx.Event("ValidationSucceeded", "Validate", validated->message);
    ctx.SetPhase(ReleasePhase::kPublishing);
    return StepResult::Done();
  }
  return StepResult::Failed(validated ? validated->reason : reason::kValidationFailed,
                            validated ? validated->message : "validation failed");
}

}  // namespace vmrelease::release

#include "controller/release/steps.h"

#include "controller/api/semver.h"
#include "controller/api/validation.h"
#include "controller/common/duration.h"
#include "controller/common/log.h"
#include "controller/image/vhd_verify.h"
#include "controller/kube/resource.h"
#include "controller/release/vm_validation.h"

namespace vmrelease::release {
namespace {

using api::ConditionStatus;
using api::OperationStep;
using api::ReleasePhase;
using api::ReleaseStep;

constexpr char kLogger[] = "release";
constexpr const char* kOwnerTag = azure::kReleaseUidTag;

ReleasePhase PhaseOf(ReleaseStep step) {
  switch (step) {
    case ReleaseStep::kBuild:
      return ReleasePhase::kBuilding;
    case ReleaseStep::kStage:
      return ReleasePhase::kStaging;
    case ReleaseStep::kValidate:
      return ReleasePhase::kValidating;
    case ReleaseStep::kPublish:
      return ReleasePhase::kPublishing;
  }
  return ReleasePhase::kPending;
}

void SetCond(ReleaseContext& ctx, const char* type, ConditionStatus status, std::string reason,
             std::string message) {
  api::SetCondition(ctx.status.conditions,
                    {.type = type,
                     .status = status,
                     .observed_generation = ctx.release.metadata.generation,
                     .reason = std::move(reason),
                     .message = TailForStatus(message, 32 * 1024)},
                    ctx.now);
}

azure::GalleryImageRef GalleryRef(const api::GalleryTarget& g) {
  return {g.subscription_id, g.resource_group, g.gallery, g.image_definition};
}

std::string Join(const std::vector<std::string>& parts, const std::string& sep) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : sep) + p;
  return out;
}

bool Older(const nlohmann::json& a, const nlohmann::json& b) {
  const auto* ta = kube::Find(a, {"metadata", "creationTimestamp"});
  const auto* tb = kube::Find(b, {"metadata", "creationTimestamp"});
  const std::string sa = ta && ta->is_string() ? ta->get<std::string>() : "";
  const std::string sb = tb && tb->is_string() ? tb->get<std::string>() : "";
  if (sa != sb) return sa < sb;  // RFC 3339 UTC sorts as text
  return kube::Name(a) < kube::Name(b);
}

std::string SpecString(const nlohmann::json& obj, const char* field) {
  const auto* v = kube::Find(obj, {"spec", field});
  return v && v->is_string() ? v->get<std::string>() : "";
}

azure::BlobRef PublishedRef(const api::ImageRelease& r) {
  return {r.spec.publish.blob->container, api::BlobTarget::BlobName(r.spec.image, r.spec.version)};
}

std::map<std::string, std::string> OwnerTags(const ReleaseContext& ctx) {
  return {{kOwnerTag, ctx.release.metadata.uid},
          {"vmrelease-release", ctx.names.key},
          {"vmrelease-image", ctx.release.spec.image},
          {"vmrelease-version", ctx.release.spec.version}};
}

}  // namespace

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
  if (!ctx.status.artifact || !ctx.status.artifact->size_bytes) {
    StepResult r = backend->Build(ctx);
    if (!r.done()) return r;
    StepResult v = VerifyStaged(ctx);
    if (!v.done()) return v;
  }
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

// --- Publish -------------------------------------------------------------------------------

StepResult Steps::Publish(ReleaseContext& ctx) {
  if (ctx.phase() != ReleasePhase::kPublishing) return StepResult::Done();
  const api::ImageReleaseSpec& spec = ctx.release.spec;
  if (!ctx.status.publish) ctx.status.publish.emplace();
  api::PublishStatus& p = *ctx.status.publish;
  const int64_t days = spec.MinimumRetentionDays();
  if (days > 0 && !ctx.status.end_of_life)
    ctx.status.end_of_life = api::FormatTime(ctx.now + std::chrono::hours(24 * days));
  StatusOr<PublishClients> clients = env_.publishers->For(ctx.release);
  if (!clients.ok()) {
    if (clients.status().code() == StatusCode::kFailedPrecondition ||
        clients.status().code() == StatusCode::kNotFound ||
        clients.status().code() == StatusCode::kInvalidArgument)
      return StepResult::Failed(reason::kPublishFailed, clients.status().message());
    return StepResult::Error(clients.status());
  }
  if (!p.state) {
    p.state = spec.publish.gallery ? api::PublishState::kUpdatingGallery
              : spec.publish.blob  ? api::PublishState::kCopyingBlob
                                   : api::PublishState::kCleaningUp;
    ctx.Event("PublishStarted", "Publish",
              spec.publish.gallery
                  ? "publishing gallery version to " +
                        std::to_string(spec.publish.gallery->target_regions.size()) + " region(s)"
                  : "publishing the VHD blob");
  }
  const std::optional<WallTime> eol =
      ctx.status.end_of_life ? api::ParseTime(*ctx.status.end_of_life) : std::nullopt;
  if (*p.state == api::PublishState::kUpdatingGallery) {
    const api::GalleryTarget& g = *spec.publish.gallery;
    azure::PublishingUpdate u;
    std::vector<azure::TargetRegion> regions;
    const bool exclude = g.exclude_from_latest.value_or(false) || spec.revocation.has_value();
    for (const auto& t : g.target_regions) {
      regions.push_back(
          {.name = t.name,
           .regional_replica_count = static_cast<int>(t.ReplicasOrDefault()),
           .storage_account_type =
               t.storage_account_type ? std::string(api::EnumName(*t.storage_account_type)) : "",
           .exclude_from_latest = exclude});
    }
    u.target_regions = regions;
    u.exclude_from_latest = exclude;
    if (eol) u.end_of_life = *eol;
    u.safety = azure::SafetyProfile{.allow_deletion_of_replicated_locations = true,
                                    .block_deletion_before_end_of_life = days > 0};
    u.owner_uid = ctx.release.metadata.uid;
    StepResult r = FollowOperation(
        ctx, *clients->gallery, OperationStep::kPublish, "UpdateImageVersion",
        [&] { return clients->gallery->UpdateImageVersion(GalleryRef(g), spec.version, u); },
        reason::kPublishFailed);
    if (!r.done()) return r;
    p.state = api::PublishState::kReplicating;
  }
  if (*p.state == api::PublishState::kReplicating) {
    const api::GalleryTarget& g = *spec.publish.gallery;
    StatusOr<azure::ImageVersion> iv =
        clients->gallery->GetImageVersion(GalleryRef(g), spec.version, /*replication_status=*/true);
    if (!iv.ok()) return StepResult::FromAzure(iv.status(), reason::kPublishFailed);
    p.regions.clear();
    std::string aggregated = "InProgress";
    std::vector<std::string> pending, failed;
    if (iv->replication) {
      aggregated = iv->replication->aggregated_state;
      for (const auto& reg : iv->replication->regions) {
        api::RegionReplication rr{.name = reg.region, .progress = reg.progress};
        rr.state =
            api::EnumFromName<api::RegionState>(reg.state).value_or(api::RegionState::kUnknown);
        p.regions.push_back(rr);
        if (reg.state == "Failed") failed.push_back(reg.region + ": " + reg.details);
        if (reg.state != "Completed")
          pending.push_back(reg.region + " " + std::to_string(reg.progress) + "%");
      }
    }
    p.replication = api::EnumFromName<api::ReplicationState>(aggregated)
                        .value_or(api::ReplicationState::kInProgress);
    if (aggregated == "Failed" || !failed.empty())
      return StepResult::Failed(reason::kReplicationFailed,
                                "gallery replication failed: " + Join(failed, "; "));
    if (aggregated != "Completed" || iv->provisioning_state != "Succeeded")
      return StepResult::Wait(env_.poll_interval, "replicating: " + Join(pending, ", "));
    p.state = spec.publish.blob ? api::PublishState::kCopyingBlob : api::PublishState::kCleaningUp;
    if (*p.state == api::PublishState::kCleaningUp)
      return StepResult::Wait(Duration::zero(), "removing staging resources");
  }
  if (*p.state == api::PublishState::kCopyingBlob) {
    StepResult r = PublishBlob(ctx, *clients->blob);
    if (!r.done()) return r;
    p.state = api::PublishState::kCleaningUp;
    // Record that the artifacts are published before the staging copy goes.
    return StepResult::Wait(Duration::zero(), "removing staging resources");
  }
  if (*p.state == api::PublishState::kCleaningUp) {
    if (Status s = env_.staging->Delete(ctx.StagingRef());
        !s.ok() && s.code() != StatusCode::kNotFound)
      return StepResult::FromAzure(s, reason::kPublishFailed);
    if (!spec.publish.gallery && spec.validation.vm && env_.vms) {
      const azure::ResourceGroupRef rg = ValidationResourceGroup(*spec.validation.vm);
      StepResult r = FollowOperation(
          ctx, *env_.vms, OperationStep::kPublish, "DeleteStagedDisk",
          [&] { return env_.vms->DeleteDisk(rg, ctx.names.staged_disk); }, reason::kPublishFailed);
      if (!r.done()) return r;
    }
    p.state = api::PublishState::kDone;
  }
  // Released.
  api::Artifact& a = *ctx.status.artifact;
  if (p.blob_uri) {
    a.vhd_uri = *p.blob_uri;
  } else {
    a.vhd_uri.reset();  // the staging blob is gone; the gallery holds the image
  }
  ctx.status.released_at = ctx.Now();
  if (days <= 0) ctx.status.end_of_life.reset();
  SetCond(ctx, api::kConditionPublished, ConditionStatus::kTrue, "Published",
          std::string(spec.publish.gallery ? "gallery version replicated" : "") +
              (spec.publish.gallery && p.blob_uri ? "; " : "") +
              (p.blob_uri ? "VHD published to " + *p.blob_uri : ""));
  ctx.SetPhase(ReleasePhase::kReleased);
  return StepResult::Done();
}

StepResult Steps::PublishBlob(ReleaseContext& ctx, azure::BlobStore& blob) {
  const api::ImageRelease& r = ctx.release;
  const azure::BlobRef dest = PublishedRef(r);
  const std::string sha = ctx.status.artifact->sha256.value_or("");
  StatusOr<azure::BlobProperties> props = blob.GetProperties(dest);
  if (!props.ok() && props.status().code() != StatusCode::kNotFound)
    return StepResult::FromAzure(props.status(), reason::kPublishFailed);
  if (!props.ok()) {
    if (Status s = blob.CreateContainer(dest.container); !s.ok())
      return StepResult::FromAzure(s, reason::kPublishFailed);
    const std::string staging_url = env_.staging->BlobUrl(ctx.StagingRef());
    StatusOr<std::string> source = env_.staging->GenerateSasUrl(
        ctx.StagingRef(), {.permissions = "r",
                           .expiry = ctx.now + std::chrono::hours(4),
                           .protocol = staging_url.rfind("https://", 0) == 0 ? "https" : ""});
    if (!source.ok()) return StepResult::FromAzure(source.status(), reason::kPublishFailed);
    azure::PutBlobOptions o;
    o.metadata = {{"sha256", sha},
                  {"vmrelease_image", r.spec.image},
                  {"vmrelease_version", r.spec.version},
                  {"vmrelease_release_uid", r.metadata.uid}};
    o.overwrite = false;
    StatusOr<azure::CopyStatus> copy = blob.StartCopyFromUrl(dest, *source, o);
    if (!copy.ok() && copy.status().code() != StatusCode::kAlreadyExists)
      return StepResult::FromAzure(copy.status(), reason::kPublishFailed);
    ctx.Event("BlobCopyStarted", "Publish", "copying the VHD to " + blob.BlobUrl(dest));
    return StepResult::Wait(std::chrono::seconds(1), "copying the VHD blob");
  }
  auto meta = [&](const char* k) {
    auto it = props->metadata.find(k);
    return it == props->metadata.end() ? std::string() : it->second;
  };
  const bool ours = meta("vmrelease_release_uid") == r.metadata.uid;
  if (meta("sha256") != sha) {
    if (ours && props->copy.state != azure::CopyState::kSuccess &&
        props->copy.state != azure::CopyState::kPending) {
      // Our own failed copy: remove it and copy again.
      if (Status s = blob.Delete(dest); !s.ok())
        return StepResult::FromAzure(s, reason::kPublishFailed);
      return StepResult::Error(UnavailableError("the blob copy failed (" + props->copy.description +
                                                "); copying again"));
    }
    return StepResult::Failed(
        reason::kBlobConflict,
        blob.BlobUrl(dest) + " already exists with different content (SHA-256 " +
            (meta("sha256").empty() ? "unknown" : meta("sha256")) + ", this release's is " + sha +
            "); published blobs are never overwritten");
  }
  switch (props->copy.state) {
    case azure::CopyState::kPending:
      return StepResult::Wait(std::chrono::seconds(5),
                              "copying the VHD blob (" + props->copy.progress + ")");
    case azure::CopyState::kFailed:
    case azure::CopyState::kAborted:
      if (ours) {
        if (Status s = blob.Delete(dest); !s.ok())
          return StepResult::FromAzure(s, reason::kPublishFailed);
      }
      return StepResult::Error(
          UnavailableError("the blob copy failed: " + props->copy.description));
    default:
      break;
  }
  if (ctx.status.artifact->size_bytes && props->content_length != *ctx.status.artifact->size_bytes)
    return StepResult::Failed(reason::kPublishFailed,
                              blob.BlobUrl(dest) + " has " + std::to_string(props->content_length) +
                                  " bytes, the staged VHD " +
                                  std::to_string(*ctx.status.artifact->size_bytes));
  azure::BlobTags tags = {{"vmrelease-image", r.spec.image},
                          {"vmrelease-version", r.spec.version},
                          {"sha256", sha},
                          {"vmrelease-release-uid", r.metadata.uid}};
  if (r.spec.revocation) tags["revoked"] = "true";
  if (Status s = blob.SetTags(dest, tags); !s.ok())
    return StepResult::FromAzure(s, reason::kPublishFailed);
  const int64_t days = r.spec.MinimumRetentionDays();
  if (days > 0 && ctx.status.end_of_life) {
    const WallTime until = api::ParseTime(*ctx.status.end_of_life).value_or(ctx.now);
    Status s = blob.SetImmutabilityPolicy(dest, {.until = until, .locked = false});
    if (!s.ok()) {
      if (s.code() != StatusCode::kUnimplemented)
        return StepResult::FromAzure(s, reason::kPublishFailed);
      ctx.status.publish->message =
          "the blob endpoint does not support immutability policies, so the published VHD is "
          "not protected by one (retention is still enforced by this controller): " +
          TailForStatus(s.message(), 600);
      log::Warn(kLogger, "immutability policy not supported by the blob endpoint",
                {{"release", ctx.names.key}, {"error", s.message()}});
    }
  }
  ctx.status.publish->blob_uri = blob.BlobUrl(dest);
  ctx.Event("BlobPublished", "Publish", "published " + blob.BlobUrl(dest));
  return StepResult::Done();
}

// --- Revoke --------------------------------------------------------------------------------

StepResult Steps::Revoke(ReleaseContext& ctx) {
  const ReleasePhase phase = ctx.phase();
  const bool want = ctx.release.spec.revocation.has_value();
  if (!((phase == ReleasePhase::kReleased && want) || (phase == ReleasePhase::kRevoked && !want)))
    return StepResult::Done();
  const api::ImageReleaseSpec& spec = ctx.release.spec;
  StatusOr<PublishClients> clients = env_.publishers->For(ctx.release);
  if (!clients.ok()) return StepResult::Error(clients.status());
  if (spec.publish.gallery && clients->gallery) {
    azure::PublishingUpdate u;
    u.exclude_from_latest = want || spec.publish.gallery->exclude_from_latest.value_or(false);
    u.owner_uid = ctx.release.metadata.uid;
    StepResult r = FollowOperation(
        ctx, *clients->gallery, OperationStep::kRevoke,
        want ? "ExcludeFromLatest" : "RestoreLatest",
        [&] {
          return clients->gallery->UpdateImageVersion(GalleryRef(*spec.publish.gallery),
                                                      spec.version, u);
        },
        reason::kPublishFailed);
    if (r.kind() == StepResult::Kind::kFailed)
      return StepResult::Error(UnavailableError(r.message()));
    if (!r.done()) return r;
  }
  if (spec.publish.blob && clients->blob && ctx.status.publish && ctx.status.publish->blob_uri) {
    const azure::BlobRef dest = PublishedRef(ctx.release);
    StatusOr<azure::BlobTags> tags = clients->blob->GetTags(dest);
    if (!tags.ok()) return StepResult::FromAzure(tags.status(), reason::kPublishFailed);
    if (want) {
      (*tags)["revoked"] = "true";
    } else {
      tags->erase("revoked");
    }
    if (Status s = clients->blob->SetTags(dest, *tags); !s.ok())
      return StepResult::FromAzure(s, reason::kPublishFailed);
  }
  if (want) {
    ctx.SetPhase(ReleasePhase::kRevoked);
    ctx.status.revoked_at = ctx.Now();
    ctx.Event("ReleaseRevoked", "Revoke",
              "revoked: " + spec.revocation->reason +
                  (spec.revocation->reference ? " (" + *spec.revocation->reference + ")" : "") +
                  "; new pins are refused and pinned environments are told",
              kube::EventType::kWarning);
  } else {
    ctx.SetPhase(ReleasePhase::kReleased);
    ctx.status.revoked_at.reset();
    ctx.Event("ReleaseRestored", "Revoke",
              "the revocation was withdrawn; the release is usable again");
  }
  return StepResult::Done();
}

// --- Retry ---------------------------------------------------------------------------------

bool Steps::HandleRetry(ReleaseContext& ctx) {
  auto it = ctx.release.metadata.annotations.find(api::kRetryAnnotation);
  if (it == ctx.release.metadata.annotations.end() || it->second.empty() ||
      it->second == ctx.status.last_handled_retry.value_or(""))
    return false;
  ctx.status.last_handled_retry = it->second;
  if (ctx.phase() != ReleasePhase::kFailed || !ctx.status.failed_step) return true;
  const ReleaseStep step = *ctx.status.failed_step;
  ctx.SetPhase(PhaseOf(step));
  ctx.status.failed_step.reset();
  ctx.status.operation.reset();
  switch (step) {
    case ReleaseStep::kBuild:
      ctx.status.build.reset();
      ctx.status.artifact.reset();
      api::RemoveCondition(ctx.status.conditions, api::kConditionBuilt);
      break;
    case ReleaseStep::kStage:
      break;
    case ReleaseStep::kValidate:
      ctx.status.validation.reset();
      api::RemoveCondition(ctx.status.conditions, api::kConditionValidated);
      break;
    case ReleaseStep::kPublish:
      ctx.status.publish.reset();
      api::RemoveCondition(ctx.status.conditions, api::kConditionPublished);
      break;
  }
  api::RemoveCondition(ctx.status.conditions, api::kConditionStalled);
  ctx.Event("Retrying", "Retry",
            "re-running from step " + std::string(api::EnumName(step)) + " (" +
                std::string(api::kRetryAnnotation) + "=" + it->second + ")");
  return true;
}

StepResult Steps::CleanupFailed(ReleaseContext& ctx, ReleaseStep step) {
  if (step == ReleaseStep::kBuild) {
    StepResult r = BuildBackendFor(ctx.release)->Cleanup(ctx);
    if (!r.done()) return r;
    if (Status s = env_.staging->Delete(ctx.StagingRef());
        !s.ok() && s.code() != StatusCode::kNotFound)
      return StepResult::FromAzure(s, reason::kBuildFailed);
  }
  // Validate cleans up before it reports a failure; Stage and Publish leave
  // nothing running (the staged gallery version is kept for a retry and
  // removed when the release is deleted).
  return StepResult::Done();
}

// --- Delete --------------------------------------------------------------------------------

std::vector<api::PinnedBy> Steps::PinnedByRefs(const api::ImageRelease& r) const {
  // The pin reconciler's own view: status.resolved of the pins in the pin cache.
  std::vector<api::PinnedBy> out;
  if (!pins_) return out;
  for (const kube::ObjectPtr& pin : pins_->List(r.metadata.ns)) {
    if (SpecString(*pin, "image") != r.spec.image) continue;
    const auto* rel = kube::Find(*pin, {"status", "resolved", "release"});
    const auto* ver = kube::Find(*pin, {"status", "resolved", "version"});
    const bool by_name = rel && rel->is_string() && rel->get<std::string>() == r.metadata.name;
    const bool by_version =
        !rel && ver && ver->is_string() && ver->get<std::string>() == r.spec.version;
    if (by_name || by_version)
      out.push_back({.environment = SpecString(*pin, "environment"), .pin = kube::Name(*pin)});
  }
  return out;
}

std::vector<std::string> Steps::PinnedBy(const api::ImageRelease& r) const {
  std::vector<std::string> out;
  for (const api::PinnedBy& p : PinnedByRefs(r)) out.push_back(p.environment + " (" + p.pin + ")");
  return out;
}

StepResult Steps::Delete(ReleaseContext& ctx) {
  const api::ImageRelease& r = ctx.release;
  // 1. What still holds it.
  if (ctx.status.released_at && ctx.status.end_of_life) {
    const WallTime eol = api::ParseTime(*ctx.status.end_of_life).value_or(ctx.now);
    if (ctx.now < eol) {
      SetCond(ctx, api::kConditionDeletionBlocked, ConditionStatus::kTrue,
              reason::kRetentionNotExpired,
              "retention.minimumDays protects this release until " + *ctx.status.end_of_life +
                  "; it will be deleted then");
      return StepResult::Wait(std::min<Duration>(eol - ctx.now, std::chrono::hours(1)),
                              "deletion waits for the retention period");
    }
  }
  if (std::vector<std::string> pins = PinnedBy(r); !pins.empty()) {
    SetCond(ctx, api::kConditionDeletionBlocked, ConditionStatus::kTrue,
            reason::kPinnedByEnvironments,
            "resolved by EnvironmentPins: " + Join(pins, ", ") +
                "; move those pins to another version and the deletion continues");
    return StepResult::Wait(std::chrono::minutes(5), "deletion waits for pins");
  }
  if (api::RemoveCondition(ctx.status.conditions, api::kConditionDeletionBlocked))
    ctx.Event("DeletionUnblocked", "Delete", "nothing holds the release any more; cleaning up");
  // 2. Transient resources.
  if (BuildBackend* b = BuildBackendFor(r)) {
    StepResult s = b->Cleanup(ctx);
    if (!s.done()) return s;
  }
  if (ValidationBackend* v = ValidationBackendFor(r);
      v && ctx.status.validation && ctx.status.validation->started_at &&
      ctx.status.validation->state != api::ValidationState::kDone) {
    StepResult s = v->Cleanup(ctx, /*keep=*/false);
    if (!s.done()) return s;
    ctx.status.validation->state = api::ValidationState::kDone;
  }
  if (Status s = env_.staging->Delete(ctx.StagingRef());
      !s.ok() && s.code() != StatusCode::kNotFound)
    return StepResult::FromAzure(s, reason::kAzureError);
  if (!r.spec.publish.gallery && r.spec.validation.vm && env_.vms &&
      ctx.phase() != ReleasePhase::kReleased && ctx.phase() != ReleasePhase::kRevoked) {
    const azure::ResourceGroupRef rg = ValidationResourceGroup(*r.spec.validation.vm);
    StepResult s = FollowOperation(
        ctx, *env_.vms, OperationStep::kDelete, "DeleteStagedDisk",
        [&] { return env_.vms->DeleteDisk(rg, ctx.names.staged_disk); }, reason::kAzureError);
    if (!s.done()) return s;
  }
  // 3. The gallery version: a staged one that never got published always goes;
  // a published one only with deletionPolicy Delete. Only ever our own.
  const api::Condition* published =
      api::FindCondition(ctx.status.conditions, api::kConditionPublished);
  const bool is_published = published && published->status == ConditionStatus::kTrue;
  const bool delete_artifacts = r.spec.DeletionPolicyOrDefault() == api::DeletionPolicy::kDelete;
  StatusOr<PublishClients> clients = env_.publishers->For(r);
  if (ctx.status.artifact && ctx.status.artifact->gallery_image_version_id &&
      r.spec.publish.gallery && (!is_published || delete_artifacts)) {
    azure::Gallery* gallery =
        is_published && clients.ok() && clients->gallery ? clients->gallery : env_.gallery;
    if (gallery) {
      const azure::GalleryImageRef ref = GalleryRef(*r.spec.publish.gallery);
      std::optional<Status> not_ours;
      StepResult s = FollowOperation(
          ctx, *gallery, OperationStep::kDelete, "DeleteImageVersion",
          [&]() -> StatusOr<azure::Operation> {
            auto op = gallery->DeleteOwnedImageVersion(ref, r.spec.version, r.metadata.uid);
            if (!op.ok() && azure::IsVersionConflict(op.status())) not_ours = op.status();
            return op;
          },
          reason::kAzureError);
      if (not_ours) {
        log::Warn(kLogger, "not deleting a gallery version this release does not own",
                  {{"release", ctx.names.key}, {"error", not_ours->message()}});
      } else if (!s.done()) {
        return s;
      } else {
        ctx.Event("GalleryVersionDeleted", "Delete",
                  "deleted gallery image version " + r.spec.version);
      }
      ctx.status.artifact->gallery_image_version_id.reset();
    }
  }
  // 4. The published blob, with deletionPolicy Delete, if it is ours.
  if (delete_artifacts && ctx.status.publish && ctx.status.publish->blob_uri &&
      r.spec.publish.blob) {
    if (!clients.ok()) return StepResult::Error(clients.status());
    azure::BlobStore* blob = clients->blob;
    const azure::BlobRef dest = PublishedRef(r);
    StatusOr<azure::BlobProperties> props = blob->GetProperties(dest);
    if (props.ok()) {
      auto it = props->metadata.find("vmrelease_release_uid");
      if (it != props->metadata.end() && it->second == r.metadata.uid) {
        if (Status s = blob->Delete(dest); !s.ok() && s.code() != StatusCode::kNotFound)
          return StepResult::FromAzure(s, reason::kAzureError);
        ctx.Event("BlobDeleted", "Delete", "deleted " + blob->BlobUrl(dest));
      }
    } else if (props.status().code() != StatusCode::kNotFound) {
      return StepResult::FromAzure(props.status(), reason::kAzureError);
    }
    ctx.status.publish->blob_uri.reset();
  }
  return StepResult::Done();
}

}  // namespace vmrelease::release

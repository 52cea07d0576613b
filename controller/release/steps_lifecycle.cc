#include "controller/api/semver.h"
#include "controller/api/validation.h"
#include "controller/common/duration.h"
#include "controller/common/log.h"
#include "controller/image/vhd_verify.h"
#include "controller/kube/resource.h"
#include "controller/release/steps.h"
#include "controller/release/steps_internal.h"
#include "controller/release/vm_validation.h"

namespace vmrelease::release {

using namespace steps_internal;  // the helpers the step files share

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
      ctx.status.inventory.reset();  // a rebuild records its own (the ConfigMap is replaced)
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

StepResult Steps::DeleteTransient(ReleaseContext& ctx) {
  const api::ImageRelease& r = ctx.release;
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
  return DeleteStagingInventory(ctx, ReleaseStep::kPublish);
}

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
  // 1. What still holds it: retention of a released version, or of one Azure already
  // refused to delete before its end of life (step 3).
  const api::Condition* blocked =
      api::FindCondition(ctx.status.conditions, api::kConditionDeletionBlocked);
  const bool held_by_azure = blocked && blocked->status == ConditionStatus::kTrue &&
                             blocked->reason == reason::kRetentionNotExpired;
  if ((ctx.status.released_at || held_by_azure) && ctx.status.end_of_life) {
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
  if (!env_.staging && ctx.phase() != ReleasePhase::kPending) {
    // It may have staged something and left a build behind: only a controller that can reach
    // the staging account can clean up. (A Pending release never started anything.)
    SetCond(ctx, api::kConditionDeletionBlocked, ConditionStatus::kTrue,
            reason::kStagingNotConfigured,
            "this controller has no staging storage account (--staging-account-url) to clean "
            "up this release's staging blob and build; start it with the one the release used");
    return StepResult::Wait(std::chrono::minutes(5), "deletion waits for a staging account");
  }
  if (api::RemoveCondition(ctx.status.conditions, api::kConditionDeletionBlocked))
    ctx.Event("DeletionUnblocked", "Delete", "nothing holds the release any more; cleaning up");
  // 2. Transient resources (with no staging account, the release never left Pending: none).
  if (env_.staging) {
    StepResult s = DeleteTransient(ctx);
    if (!s.done()) return s;
  }
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
  // Stage records the version's id once its create has finished: a release deleted while it
  // ran (or after it failed) has none recorded and may still have one. Any built release is
  // asked for by name; a version that is not there, or not ours, is left alone.
  const bool recorded = ctx.status.artifact && ctx.status.artifact->gallery_image_version_id;
  if (ctx.status.artifact && r.spec.publish.gallery && (!is_published || delete_artifacts)) {
    azure::Gallery* gallery =
        is_published && clients.ok() && clients->gallery ? clients->gallery : env_.gallery;
    if (gallery) {
      const azure::GalleryImageRef ref = GalleryRef(*r.spec.publish.gallery);
      std::optional<Status> not_ours, refused;
      StepResult s = FollowOperation(
          ctx, *gallery, OperationStep::kDelete, "DeleteImageVersion",
          [&]() -> StatusOr<azure::Operation> {
            auto op = gallery->DeleteOwnedImageVersion(ref, r.spec.version, r.metadata.uid);
            if (!op.ok() && azure::IsVersionConflict(op.status())) not_ours = op.status();
            if (!op.ok() && op.status().detail().http_status == 409 &&
                op.status().detail().reason != "AnotherOperationInProgress")
              refused = op.status();
            return op;
          },
          reason::kAzureError);
      const WallTime eol = api::ParseTime(ctx.status.end_of_life.value_or("")).value_or(ctx.now);
      if (refused && !not_ours && ctx.now < eol) {
        // Publishing had begun: the version carries blockDeletionBeforeEndOfLife (a release
        // that failed while publishing is protected in Azure like a released one).
        SetCond(ctx, api::kConditionDeletionBlocked, ConditionStatus::kTrue,
                reason::kRetentionNotExpired,
                "Azure refuses to delete gallery image version " + r.spec.version +
                    " before its end of life " + *ctx.status.end_of_life + " (" +
                    refused->message() + "); it will be deleted then");
        return StepResult::Wait(std::min<Duration>(eol - ctx.now, std::chrono::hours(1)),
                                "deletion waits for the gallery version's end of life");
      }
      if (not_ours) {
        log::Warn(kLogger, "not deleting a gallery version this release does not own",
                  {{"release", ctx.names.key}, {"error", not_ours->message()}});
      } else if (!s.done()) {
        return s;
      } else if (recorded || ctx.phase() == ReleasePhase::kStaging) {
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

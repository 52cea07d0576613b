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
    // Out of `latest` everywhere until it is Released (the last publishing step puts it in, as
    // asked): a release that fails while publishing never becomes what new VMs get.
    const bool exclude = true;
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
    if (const auto& g = spec.publish.gallery;
        g && !g->exclude_from_latest.value_or(false) && !spec.revocation) {
      azure::PublishingUpdate u;
      u.exclude_from_latest = false;
      u.owner_uid = ctx.release.metadata.uid;
      StepResult r = FollowOperation(
          ctx, *clients->gallery, OperationStep::kPublish, "IncludeInLatest",
          [&] { return clients->gallery->UpdateImageVersion(GalleryRef(*g), spec.version, u); },
          reason::kPublishFailed);
      if (!r.done()) return r;
    }
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

}  // namespace vmrelease::release

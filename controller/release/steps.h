// The ordered steps of the release pipeline. Each is a small function with a
// one-line contract — what it reads, which conditions it owns, what it returns —
// and each returns at once, without a remote call, when its work is done, which
// is what makes a Released release cost nothing at steady state.
//
//   Steps steps(env, backends);
//   for (auto step : {&Steps::CheckSpec, &Steps::Build, ...}) {
//     StepResult r = (steps.*step)(ctx);
//     if (!r.done()) return r;
//   }
//
// Phase is the pipeline's position and the steps' shared state machine:
// Pending → Building → Staging → Validating → Publishing → Released (→ Revoked),
// or Failed at failedStep. A step acts only in its own phase and moves the phase
// on when it is finished.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "controller/kube/store.h"
#include "controller/release/pipeline.h"

namespace vmrelease::release {

struct Backends {
  std::map<std::string, BuildBackend*, std::less<>> build;            // by backend name
  std::map<std::string, ValidationBackend*, std::less<>> validation;  // by backend name
};

// The backend names of a release ("local", "job", "imageBuilder"; "vm", "job", "local").
std::string BuildBackendName(const api::ImageRelease& release);
std::string ValidationBackendName(const api::ImageRelease& release);

class Steps {
 public:
  // `releases` is the informer cache of ImageReleases (duplicate versions,
  // previous version); `pins` the cache of EnvironmentPins (may be null).
  Steps(Environment& env, Backends backends, const kube::Store& releases,
        const kube::Store* pins = nullptr)
      : env_(env), backends_(std::move(backends)), releases_(releases), pins_(pins) {}

  // Semantic validation, local builds allowed, one release per image and version.
  // Owns: Stalled (InvalidSpec, LocalBuildsDisabled, StagingNotConfigured, DuplicateVersion),
  // previousVersion.
  // Pending → Building.
  StepResult CheckSpec(ReleaseContext& ctx);
  // Runs the build backend, then verifies the staged VHD (footer, size, SHA-256),
  // then records the inventory the build left, if any (RecordInventory).
  // Owns: Built, status.build, status.artifact, status.inventory. Building → Staging.
  StepResult Build(ReleaseContext& ctx);
  // The gallery version with excludeFromLatest in the validation region only (or a
  // managed disk for a vm validation without gallery). Owns:
  // artifact.galleryImageVersionId. Staging → Validating.
  StepResult Stage(ReleaseContext& ctx);
  // Runs the checks with the validation backend, records the inventory check's
  // output when the build left no inventory, then cleans up whatever happened.
  // Owns: Validated, status.validation (and status.inventory from the inventory
  // check). Validating → Publishing (or Failed).
  StepResult Validate(ReleaseContext& ctx);
  // Target regions, end of life, replication; the blob copy with metadata, tags and
  // immutability; staging cleanup. Owns: Published, status.publish, releasedAt,
  // endOfLife. Publishing → Released.
  StepResult Publish(ReleaseContext& ctx);
  // spec.revocation on a Released release: excludeFromLatest everywhere and a
  // `revoked` blob tag (and back when it is removed). Owns: revokedAt.
  // Released ↔ Revoked.
  StepResult Revoke(ReleaseContext& ctx);

  // Deletion: what still holds the release (retention, pins), then removal of
  // transient resources and, with deletionPolicy Delete, of the published
  // artifacts. Owns: DeletionBlocked. Done when the finalizer may go.
  StepResult Delete(ReleaseContext& ctx);
  // After a step failed for good: stops and removes transient resources of that
  // step (build process, test VM) so nothing is left running. Done when clean.
  StepResult CleanupFailed(ReleaseContext& ctx, api::ReleaseStep step);
  // The `vmrelease.io/retry` annotation: a Failed release re-runs from failedStep.
  // Returns true when it changed the status.
  bool HandleRetry(ReleaseContext& ctx);

  // The pins that resolve to this release, as the pin reconciler recorded it
  // (status.resolved of the pins in the pin cache); status.pinnedBy.
  std::vector<api::PinnedBy> PinnedByRefs(const api::ImageRelease& release) const;
  // The same as "environment (pin)" for messages.
  std::vector<std::string> PinnedBy(const api::ImageRelease& release) const;

 private:
  StepResult VerifyStaged(ReleaseContext& ctx);
  // Before a build starts: a gallery version or published blob of this version that someone
  // else owns (another namespace's release, a person) stalls the release (VersionConflict,
  // BlobConflict) instead of failing Stage or Publish after a whole build.
  StepResult CheckTargetsFree(ReleaseContext& ctx);
  // The inventory is informational: one that is invalid, too large or blocked by
  // a ConfigMap of someone else is not recorded (status.inventory.message and a
  // Warning Event say why) and the release goes on; only API errors retry.
  // `from_check`: the inventory check's (Validate) rather than the build's.
  StepResult RecordInventory(ReleaseContext& ctx, const InventorySource& source, bool from_check);
  // Removes the inventory blob beside the staging VHD (the vm and job inventory check's).
  // Delete's build, validation and staging cleanup.
  StepResult DeleteTransient(ReleaseContext& ctx);
  StepResult DeleteStagingInventory(ReleaseContext& ctx, api::ReleaseStep step);
  StepResult PublishBlob(ReleaseContext& ctx, azure::BlobStore& blob);
  BuildBackend* BuildBackendFor(const api::ImageRelease& release) const;
  ValidationBackend* ValidationBackendFor(const api::ImageRelease& release) const;

  Environment& env_;
  Backends backends_;
  const kube::Store& releases_;
  const kube::Store* pins_;
};

// Index name of the release store: "<namespace>/<image>" → releases of that image.
inline constexpr char kImageIndex[] = "image";
std::vector<std::string> ReleaseImageIndex(const nlohmann::json& obj);

}  // namespace vmrelease::release

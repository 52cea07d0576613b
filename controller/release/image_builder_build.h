// The `imageBuilder` build backend: Azure VM Image Builder builds the image and
// the controller copies the VHD it produced into the staging blob.
//
//   ImageBuilderBuildBackend backend(image_builder);   // azure::ArmImageBuilder
//   StepResult r = backend.Build(ctx);                 // start or follow; never blocks
//
// One image template per release, named ReleaseNames::image_template in
// spec.build.imageBuilder's subscription and resource group, tagged with the
// release uid (azure::kReleaseUidTag), with the release's source image, the
// customizers, the identity, VM size, OS disk size and subnet, one VHD
// distribution (run output "vhd") and buildTimeoutInMinutes from
// spec.build.timeout. Across reconciles (status.operation, step Build):
//   CreateTemplate → RunTemplate (lastRunStatus read on the template; the run's
//   operation polled for Azure's error) → CopyRunOutput (Copy Blob of the run
//   output's artifactUri into the staging blob, copy status polled).
// The Build step then verifies the staged blob (footer, size, SHA-256).
//
// Guarantees:
// - A template of that name carrying this release's uid is adopted (created,
//   running or finished before a restart): a template is created and run once.
//   One without the tag or with another uid stalls the release and is never touched.
// - A run that ends Failed, Canceled or PartiallySucceeded fails the release at
//   Building with Azure's error code and message (status.build.outputTail holds
//   lastRunStatus.message). The controller's clock stops a build at
//   spec.build.timeout (BuildTimedOut).
// - Cleanup (once Built is recorded, after a failure, on deletion) cancels a
//   running build, waits for it to stop, and deletes the template, retrying while
//   Image Builder refuses to delete a busy template (OperationNotAllowed).
//
// Caveats: the run output's artifactUri must be readable by the staging account's
// Copy Blob (Image Builder's staging storage account; the copy is finished before
// the template — and with it that storage — is deleted).
#pragma once

#include "controller/azure/image_builder.h"
#include "controller/release/pipeline.h"

namespace vmrelease::release {

class ImageBuilderBuildBackend final : public BuildBackend {
 public:
  explicit ImageBuilderBuildBackend(azure::ImageBuilder& builder) : builder_(builder) {}

  std::string_view Name() const override { return "imageBuilder"; }
  StepResult Build(ReleaseContext& ctx) override;
  StepResult Cleanup(ReleaseContext& ctx) override;

  static constexpr char kRunOutputName[] = "vhd";

  // Where the release's template lives and what it holds (pure; for tests).
  static azure::ImageTemplateRef TemplateRef(const api::ImageRelease& release,
                                             const ReleaseNames& names);
  // `source` is the Image Builder source object (PlatformImage / SharedImageVersion).
  static azure::ImageTemplateSpec TemplateSpec(const api::ImageRelease& release,
                                               const nlohmann::json& source);

 private:
  // The source object for the release's spec.source; a lineage source (another
  // release) must have a gallery image version. Stalled/Error when it cannot be resolved.
  StatusOr<nlohmann::json> Source(ReleaseContext& ctx);
  StepResult Create(ReleaseContext& ctx);
  StepResult StartRun(ReleaseContext& ctx);
  StepResult RunFinished(ReleaseContext& ctx, const azure::RunStatus& run);
  StepResult StartCopy(ReleaseContext& ctx);
  StepResult FollowCopy(ReleaseContext& ctx);

  azure::ImageBuilder& builder_;
};

}  // namespace vmrelease::release

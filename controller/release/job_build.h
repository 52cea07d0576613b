// The `job` build backend: a batch/v1 Job from spec.build.job.template, named
// ReleaseNames::job, owned by the release. Its containers get VMRELEASE_IMAGE,
// VMRELEASE_VERSION and VMRELEASE_OUTPUT_URL: a write-only SAS ("cw") for
// exactly the staging blob, valid until the build's timeout (plus a margin),
// held in a Secret of the same name and passed by secretKeyRef. The build
// uploads a fixed VHD there as a page blob and exits 0; the Build step then
// verifies the blob (footer, size, SHA-256) like any other. It may also upload
// the image's inventory JSON (docs/api.md) to VMRELEASE_INVENTORY_URL, a
// second write-only SAS for exactly the blob beside the VHD
// (ReleaseNames::staging_inventory); the controller reads it with its own
// credentials, records it, and deletes the blob with the Job.
//
// Outcome from the Job's conditions (Complete / Failed) and its Pod's first
// container (exit code, termination message: with FallbackToLogsOnError, the
// default the controller sets, the kubelet's bounded log tail). The timeout is
// enforced twice: activeDeadlineSeconds on the Job and the controller's clock.
// The Job and its Secret are deleted (Pods with them, propagation Background)
// once the release has moved on, failed or is deleted; a Job that exists
// before its creation was recorded (a crash) is adopted, never created twice.
#pragma once

#include "controller/release/pipeline.h"

namespace vmrelease::release {

class JobBuildBackend final : public BuildBackend {
 public:
  std::string_view Name() const override { return "job"; }
  StepResult Build(ReleaseContext& ctx) override;
  StepResult Cleanup(ReleaseContext& ctx) override;
  InventorySource Inventory(const ReleaseContext& ctx) const override {
    return {.blob = ctx.StagingInventoryRef()};
  }

  // How much longer than the build's timeout the output SAS stays valid.
  static constexpr Duration kSasMargin = std::chrono::minutes(10);

 private:
  StepResult Start(ReleaseContext& ctx);
};

}  // namespace vmrelease::release

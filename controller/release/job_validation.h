// The `job` validation backend: one batch/v1 Job per check, from
// spec.validation.job.template, named ReleaseNames::CheckJob(check), owned by
// and labelled with the release (jobs.h does the Job, its Secret and their
// removal for this backend and the job build alike).
//
//   JobValidationBackend backend;
//   StepResult r = backend.Validate(ctx);   // starts or follows the current check's Job
//   ...
//   StepResult gone = backend.Cleanup(ctx, /*keep=*/false);  // Done once no Job/Pod/Secret is left
//
// Every container gets VMRELEASE_CHECK_NAME, VMRELEASE_CHECK_SCRIPT,
// VMRELEASE_CHECK_TIMEOUT_SECONDS, VMRELEASE_IMAGE_URL (a read-only SAS, "r",
// of exactly the staging blob, valid for the check's deadline plus a margin,
// held in a Secret of the Job's name and passed by secretKeyRef) and, when the
// image is staged in a gallery, VMRELEASE_GALLERY_IMAGE_VERSION_ID.
//
// Guarantees:
// - Checks run one at a time, in spec order (the API promises that, a failing
//   check stops the rest, and one Pod at a time is what a QEMU/KVM node pool is
//   sized for).
// - A check's result is the first container's exit code (terminated state)
//   and its termination message (with FallbackToLogsOnError, which the
//   controller sets by default, the kubelet's log tail of a failed container),
//   evaluated with EvaluateCheck like every backend's.
// - Timeout: activeDeadlineSeconds = the check's timeout (cut to what is left
//   of spec.validation.timeout) and the controller's own clock, from the
//   vmrelease.io/started-at annotation it writes on the Job.
// - Crash safety: a Job that exists for the current check is adopted (the name
//   is deterministic), so a check never runs twice at once; a finished check
//   stays in status.validation.results and is never run again, because its Job
//   is removed only in a later reconcile, after the result was written.
// - The Jobs, their Pods and their Secrets are removed when the next check
//   starts, when validation ends however it ended, and when the release is
//   deleted (Cleanup), besides the garbage collector (owner references).
#pragma once

#include "controller/release/pipeline.h"

namespace vmrelease::release {

class JobValidationBackend final : public ValidationBackend {
 public:
  std::string_view Name() const override { return "job"; }
  StepResult Validate(ReleaseContext& ctx) override;
  // `keep` does not apply (keepVmOnFailure is for the vm backend).
  StepResult Cleanup(ReleaseContext& ctx, bool keep) override;
  InventorySource Inventory(const ReleaseContext& ctx, const api::Check& check) const override;

  // How much longer than a check's deadline its image SAS stays valid.
  static constexpr Duration kSasMargin = std::chrono::minutes(10);
  // The annotation on a check's Job: when the controller created it (its own clock).
  static constexpr char kStartedAtAnnotation[] = "vmrelease.io/started-at";
  // The label on a check's Job and Pods: the check's name.
  static constexpr char kCheckLabel[] = "vmrelease.io/check";

 private:
  StepResult RunCheck(ReleaseContext& ctx, const api::Check& check, const std::string& previous);
  StepResult Start(ReleaseContext& ctx, const api::Check& check, const std::string& name);
};

}  // namespace vmrelease::release

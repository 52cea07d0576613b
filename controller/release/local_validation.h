// The `local` validation backend: spec.validation.local.command runs once per
// check on the controller's host (a LocalProcess each, adopted after restarts),
// against a local copy of the staged VHD downloaded from the staging blob and
// checked against status.artifact.sha256 — what is validated is what will be
// published.
//
// Per check the command gets VMRELEASE_CHECK_NAME, VMRELEASE_CHECK_SCRIPT,
// VMRELEASE_IMAGE_PATH, VMRELEASE_CHECK_TIMEOUT_SECONDS, VMRELEASE_RESULT_FILE
// (an optional JSON result, see docs/local-images.md: {"phase": "boot", "ok":
// false} marks a boot failure rather than a failing check), PATH and
// spec.validation.local.env. Its exit code and output are the check's result.
#pragma once

#include "controller/release/pipeline.h"

namespace vmrelease::release {

// How long past a check's timeout the controller lets a local check command run before it stops
// the process group. The command enforces the timeout itself (VMRELEASE_CHECK_TIMEOUT_SECONDS);
// this covers what it does before the clock starts, such as booting a test VM (the QEMU validator
// allows 180 s for that under TCG).
inline constexpr Duration kLocalCheckGrace = std::chrono::minutes(4);

class LocalValidationBackend final : public ValidationBackend {
 public:
  std::string_view Name() const override { return "local"; }
  StepResult Validate(ReleaseContext& ctx) override;
  StepResult Cleanup(ReleaseContext& ctx, bool keep) override;
  InventorySource Inventory(const ReleaseContext& ctx, const api::Check& check) const override;

  static std::string Dir(const ReleaseContext& ctx) { return ctx.WorkDir() + "/validate"; }
  static std::string ImagePath(const ReleaseContext& ctx) { return Dir(ctx) + "/image.vhd"; }
  static std::string CheckDir(const ReleaseContext& ctx, const std::string& check) {
    return Dir(ctx) + "/checks/" + check;
  }

 private:
  StepResult Download(ReleaseContext& ctx);
  StepResult RunCheck(ReleaseContext& ctx, const api::Check& check);
};

// Downloads `ref` to `path` in ranges (never the whole blob in memory), hashing
// on the way; fails with kDataLoss when the SHA-256 is not `expected_sha256`.
// An existing file at `path` with the right hash is kept (no download).
Status DownloadVerified(azure::BlobStore& store, const azure::BlobRef& ref, const std::string& path,
                        const std::string& expected_sha256, const std::atomic<bool>* cancel);

}  // namespace vmrelease::release

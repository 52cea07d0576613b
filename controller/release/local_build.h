// The `local` build backend: spec.build.local.command runs on the controller's
// host as a LocalProcess (survives controller restarts, never runs twice), and
// its output disk is uploaded to the staging blob with the VHD engine.
//
// The command gets VMRELEASE_IMAGE, VMRELEASE_VERSION, VMRELEASE_OUTPUT_PATH
// (where it must leave a raw disk or a fixed VHD), VMRELEASE_INVENTORY (where it
// may leave an inventory JSON), PATH and spec.build.local.env. Refused unless
// the controller runs with --allow-local-builds (checked by CheckSpec).
#pragma once

#include "controller/release/pipeline.h"

namespace vmrelease::release {

class LocalBuildBackend final : public BuildBackend {
 public:
  std::string_view Name() const override { return "local"; }
  StepResult Build(ReleaseContext& ctx) override;
  StepResult Cleanup(ReleaseContext& ctx) override;
  InventorySource Inventory(const ReleaseContext& ctx) const override {
    return {.file = InventoryPath(ctx)};
  }

  // Paths inside the release's work directory.
  static std::string Dir(const ReleaseContext& ctx) { return ctx.WorkDir() + "/build"; }
  static std::string StateDir(const ReleaseContext& ctx) { return Dir(ctx) + "/run"; }
  static std::string OutputPath(const ReleaseContext& ctx) { return Dir(ctx) + "/out/disk.img"; }
  static std::string InventoryPath(const ReleaseContext& ctx) {
    return Dir(ctx) + "/out/inventory.json";
  }

 private:
  StepResult Start(ReleaseContext& ctx, bool again);
  StepResult Upload(ReleaseContext& ctx);
};

}  // namespace vmrelease::release

// The `vm` validation backend: a NIC and a test VM in Azure from the staged
// image (the staged gallery version, or the managed disk imported from the VHD
// when no gallery is set), each check through Run Command, then VM, NIC and OS
// disk deleted whatever happened (unless keepVmOnFailure keeps a failed VM).
//
// Every Azure call is started, recorded in status.operation and polled on a
// later reconcile; names are deterministic (ReleaseNames), so a restarted
// controller adopts the NIC, VM and run commands an earlier process created.
#pragma once

#include "controller/release/pipeline.h"

namespace vmrelease::release {

class VmValidationBackend final : public ValidationBackend {
 public:
  std::string_view Name() const override { return "vm"; }
  StepResult Validate(ReleaseContext& ctx) override;
  StepResult Cleanup(ReleaseContext& ctx, bool keep) override;
  InventorySource Inventory(const ReleaseContext& ctx, const api::Check& check) const override;

 private:
  StepResult Prepare(ReleaseContext& ctx);
  StepResult RunCheck(ReleaseContext& ctx, const api::Check& check);
};

// The subscription and resource group of the test VM (from validation.vm.subnetId
// and validation.vm.resourceGroup).
azure::ResourceGroupRef ValidationResourceGroup(const api::ValidationVm& vm);

}  // namespace vmrelease::release

// ArmVirtualMachines: the VirtualMachines interface over ARM.
//
//   ArmVirtualMachines vms(arm);
//   ASSIGN_OR_RETURN(Operation op, vms.CreateVm(rg, "validate-1", spec));
//
// Requests (api-versions from arm_client.h):
//   PUT/DELETE .../Microsoft.Network/networkInterfaces/{n}        kNetworkApiVersion
//              (NetworkInterfaceCreate.json, NetworkInterfaceDelete.json)
//   PUT/DELETE .../Microsoft.Compute/disks/{d}                    kDiskApiVersion (DiskRP)
//              body {location, sku.name, properties: {osType, hyperVGeneration,
//                    creationData: {createOption: Import, sourceUri, storageAccountId}}}
//   PUT        .../Microsoft.Compute/virtualMachines/{vm}         kComputeApiVersion
//              (VirtualMachine_Create_FromAGeneralizedSharedImage.json with imageReference.id =
//               the gallery image *version* id; or osDisk {createOption: Attach, managedDisk.id})
//   GET        .../virtualMachines/{vm}?$expand=instanceView
//   DELETE     .../virtualMachines/{vm}?forceDeletion=true (VirtualMachine_Delete_Force.json)
//   PUT/GET/DELETE .../virtualMachines/{vm}/runCommands/{name}[?$expand=instanceView]
//              (VirtualMachineRunCommand_CreateOrUpdate.json with source.script, asyncExecution:
//              true)
#pragma once

#include "controller/azure/arm_client.h"
#include "controller/azure/virtual_machines.h"

namespace vmrelease::azure {

class ArmVirtualMachines final : public VirtualMachines {
 public:
  explicit ArmVirtualMachines(ArmClient& arm) : arm_(arm) {}

  StatusOr<Operation> CreateNic(const ResourceGroupRef& rg, const std::string& name,
                                const NicSpec& spec) override;
  StatusOr<Operation> DeleteNic(const ResourceGroupRef& rg, const std::string& name) override;
  StatusOr<Operation> ImportDisk(const ResourceGroupRef& rg, const std::string& name,
                                 const DiskImportSpec& spec) override;
  StatusOr<Operation> DeleteDisk(const ResourceGroupRef& rg, const std::string& name) override;
  StatusOr<Operation> CreateVm(const ResourceGroupRef& rg, const std::string& name,
                               const VmSpec& spec) override;
  StatusOr<VirtualMachine> GetVm(const ResourceGroupRef& rg, const std::string& name,
                                 bool instance_view) override;
  StatusOr<Operation> DeleteVm(const ResourceGroupRef& rg, const std::string& name,
                               bool force) override;
  StatusOr<Operation> StartRunCommand(const ResourceGroupRef& rg, const std::string& vm,
                                      const std::string& name, const RunCommandSpec& spec) override;
  StatusOr<RunCommandResult> GetRunCommand(const ResourceGroupRef& rg, const std::string& vm,
                                           const std::string& name) override;
  StatusOr<Operation> DeleteRunCommand(const ResourceGroupRef& rg, const std::string& vm,
                                       const std::string& name) override;
  StatusOr<Operation> Poll(const OperationRef& ref) override { return arm_.Poll(ref); }

 private:
  ArmClient& arm_;
};

inline constexpr const char* kNicType = "Microsoft.Network/networkInterfaces";
inline constexpr const char* kDiskType = "Microsoft.Compute/disks";
inline constexpr const char* kVmType = "Microsoft.Compute/virtualMachines";

}  // namespace vmrelease::azure

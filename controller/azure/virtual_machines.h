// VirtualMachines: what validation needs from Azure compute and network — a NIC,
// a VM from a gallery image version or from a managed disk imported from a
// VHD, Run Command to execute checks inside it, and deletion of all of it.
// Reconcilers see this interface; ArmVirtualMachines implements it over ARM.
//
//   ResourceGroupRef rg{.subscription_id = sub, .resource_group = "validation"};
//   ASSIGN_OR_RETURN(Operation nic, vms.CreateNic(rg, "rel-1-3-0-nic", {.location = "westeurope",
//                                                  .subnet_id = subnet}));
//   ASSIGN_OR_RETURN(ImageDefinition def, gallery.GetImageDefinition(image));
//   ASSIGN_OR_RETURN(Operation vm, vms.CreateVm(rg, "rel-1-3-0", {.location = "westeurope",
//       .size = "Standard_D4s_v5", .nic_id = rg.Id("Microsoft.Network/networkInterfaces",
//       "rel-1-3-0-nic"), .gallery_image_version_id = version_id,
//       .os_type = def.os_type, .computer_name = ComputerNameFor(release_uid, def.os_type),
//       .security_type = VmSecurityTypeFor(def), .admin_password = generated}));
//   ASSIGN_OR_RETURN(Operation rc, vms.StartRunCommand(rg, "rel-1-3-0", "check-backup",
//                                                      {.location = "westeurope", .script =
//                                                      "..."}));
//   ASSIGN_OR_RETURN(RunCommandResult r, vms.GetRunCommand(rg, "rel-1-3-0", "check-backup"));
//   if (r.finished()) { record r.exit_code, r.output, r.error; vms.DeleteRunCommand(...); }
//
// Guarantees: every mutating call returns an Operation (see lro.h) and never
// blocks on Azure; deletes of missing resources are already-Succeeded
// operations, so cleanup can be repeated safely. The admin password is
// registered as a secret and never logged. VM bodies are ones Azure accepts:
// the OS type is always explicit (no Linux default), the computer name fits
// the OS's rules (15 characters on Windows), linuxConfiguration is sent only
// for Linux and windowsConfiguration only for Windows, and
// securityProfile.securityType is always sent, so a changed platform default
// (Standard → TrustedLaunch) cannot make VM creation fail.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "controller/azure/arm_ids.h"
#include "controller/azure/lro.h"

namespace vmrelease::azure {

struct NicSpec {
  std::string location;
  std::string subnet_id;
  bool accelerated_networking = false;
  std::map<std::string, std::string> tags;
};

// A managed disk imported from a VHD blob (Microsoft.Compute/disks, createOption Import).
struct DiskImportSpec {
  std::string location;
  std::string source_uri;          // blob URL of a fixed VHD, without SAS
  std::string storage_account_id;  // the account holding it
  std::string os_type;  // required: "Linux" | "Windows" (the release's validation.vm.osType)
  std::string hyper_v_generation = "V2";
  std::string sku = "Standard_LRS";
  std::map<std::string, std::string> tags;
};

struct VmSpec {
  std::string location;
  std::string size;    // e.g. Standard_D4s_v5
  std::string nic_id;  // an existing NIC
  // Exactly one image source:
  std::string gallery_image_version_id;  // createOption FromImage
  std::string os_disk_id;                // createOption Attach (managed disk imported from a VHD)
  // Required, "Linux" | "Windows": the gallery image definition's osType, or
  // the release's validation.vm.osType for an imported disk. No default: a
  // Windows image with Linux settings is refused by Azure.
  std::string os_type;
  // securityProfile.securityType, "Standard" | "TrustedLaunch" |
  // "ConfidentialVM". Required with a gallery image: VmSecurityTypeFor(the
  // image definition). With an attached disk "" means Standard.
  std::string security_type;
  // TrustedLaunch / ConfidentialVM: uefiSettings.secureBootEnabled (vTPM is
  // always on). Turn off for images whose boot chain is not signed.
  bool secure_boot = true;
  // FromImage only: the OS disk created from the image, and the OS profile of a
  // generalized image (a specialized one takes none).
  std::string os_disk_name;  // default "<vm>-osdisk"
  std::string os_disk_storage_account_type = "Standard_LRS";
  bool specialized_image = false;
  // osProfile.computerName; "" = ComputerNameFor(<vm name>, os_type). A given
  // name must meet Azure's rules (Windows: 15 characters, not all digits).
  std::string computer_name;
  std::string admin_username = "vmrelease";
  std::string admin_password;  // secret; required on Windows
  std::string ssh_public_key;  // Linux alternative to a password
  // deleteOption "Delete" on the OS disk and NIC, so a VM deletion takes them
  // along even if our own cleanup is interrupted; "Detach" when false.
  bool delete_disk_and_nic_with_vm = true;
  std::map<std::string, std::string> tags;
};

struct InstanceStatus {
  std::string code;  // "ProvisioningState/succeeded", "PowerState/running"
  std::string display_status;
  std::string message;
};

struct VirtualMachine {
  std::string id;
  std::string name;
  std::string location;
  std::string vm_id;
  std::string provisioning_state;
  std::string power_state;  // from the instance view: running | stopped | deallocated | ...
  std::string os_disk_id;
  std::string os_disk_name;
  std::vector<std::string> nic_ids;
  std::vector<InstanceStatus> statuses;  // instance view
};

struct RunCommandSpec {
  std::string location;
  std::string script;  // inline script (source.script)
  int timeout_seconds = 600;
  std::vector<std::pair<std::string, std::string>> parameters;
  // Where Azure appends the script's whole standard output (outputBlobUri: an
  // append blob, a SAS with racw for exactly it); Azure keeps only a tail in
  // instanceView.output. A secret: the SAS is part of the run command resource.
  std::string output_blob_uri;
};

struct RunCommandResult {
  std::string provisioning_state;
  std::string
      execution_state;  // Unknown | Pending | Running | Failed | Succeeded | TimedOut | Canceled
  std::string execution_message;
  std::optional<int> exit_code;
  std::string output;  // stdout (Azure keeps the last few KB)
  std::string error;   // stderr
  std::optional<WallTime> start_time;
  std::optional<WallTime> end_time;
  // The script has stopped (whatever the outcome).
  bool finished() const;
};

class VirtualMachines : public OperationPoller {
 public:
  virtual StatusOr<Operation> CreateNic(const ResourceGroupRef& rg, const std::string& name,
                                        const NicSpec& spec) = 0;
  virtual StatusOr<Operation> DeleteNic(const ResourceGroupRef& rg, const std::string& name) = 0;
  virtual StatusOr<Operation> ImportDisk(const ResourceGroupRef& rg, const std::string& name,
                                         const DiskImportSpec& spec) = 0;
  virtual StatusOr<Operation> DeleteDisk(const ResourceGroupRef& rg, const std::string& name) = 0;
  virtual StatusOr<Operation> CreateVm(const ResourceGroupRef& rg, const std::string& name,
                                       const VmSpec& spec) = 0;
  // kNotFound when absent. `instance_view` adds $expand=instanceView (power state).
  virtual StatusOr<VirtualMachine> GetVm(const ResourceGroupRef& rg, const std::string& name,
                                         bool instance_view) = 0;
  // `force` adds forceDeletion=true (skips graceful shutdown).
  virtual StatusOr<Operation> DeleteVm(const ResourceGroupRef& rg, const std::string& name,
                                       bool force) = 0;
  // A managed run command (virtualMachines/runCommands) with asyncExecution, so
  // the operation completes when the script has been handed to the VM; its
  // progress and results come from GetRunCommand.
  virtual StatusOr<Operation> StartRunCommand(const ResourceGroupRef& rg, const std::string& vm,
                                              const std::string& name,
                                              const RunCommandSpec& spec) = 0;
  // GET with $expand=instanceView. kNotFound when absent.
  virtual StatusOr<RunCommandResult> GetRunCommand(const ResourceGroupRef& rg,
                                                   const std::string& vm,
                                                   const std::string& name) = 0;
  virtual StatusOr<Operation> DeleteRunCommand(const ResourceGroupRef& rg, const std::string& vm,
                                               const std::string& name) = 0;
};

// A computer name (osProfile.computerName) Azure accepts for `os_type`,
// derived deterministically from `seed` (a release uid, a VM name): lower-case
// letters, digits and hyphens, no leading or trailing hyphen, not all digits;
// at most 15 characters on Windows (NetBIOS), 64 on Linux. A seed that already
// fits is used as it is; a longer one becomes a prefix of it, "-" and 6 hex
// digits of its SHA-256, so distinct seeds keep distinct names.
//   ComputerNameFor("vmr-sql-server-baseline-1-3-0", "Windows") == "vmr-sql-" + 6 hex
std::string ComputerNameFor(std::string_view seed, std::string_view os_type);
// OK when Azure would accept `name` as the computer name of an `os_type` VM;
// else kInvalidArgument with Azure's rule.
Status ValidateComputerName(const std::string& name, const std::string& os_type);

// Wire format, shared with tests and fakes.
nlohmann::json NicBody(const NicSpec& spec);
nlohmann::json DiskImportBody(const DiskImportSpec& spec);
// kInvalidArgument unless exactly one image source is set, os_type is Linux or
// Windows, a gallery image has a security_type, and a generalized image has an
// OS profile credential (a password on Windows) and a valid computer name.
StatusOr<nlohmann::json> VmBody(const std::string& name, const VmSpec& spec);
VirtualMachine ParseVirtualMachine(const nlohmann::json& resource);
nlohmann::json RunCommandBody(const RunCommandSpec& spec);
RunCommandResult ParseRunCommand(const nlohmann::json& resource);

}  // namespace vmrelease::azure

// NICs, managed disks and VMs. Run Command lives in arm_run_command.cc.
#include "controller/azure/arm_virtual_machines.h"

#include <cctype>

#include "controller/common/log.h"

namespace vmrelease::azure {
namespace {

Status Validate(const ResourceGroupRef& rg, const std::string& name, const std::string& what) {
  RETURN_IF_ERROR(ValidateResourceGroup(rg));
  return ValidateResourceName(name, what);
}

std::string ComputerName(const std::string& vm, const std::string& os_type) {
  // Windows limits computer names to 15 characters, Linux to 64.
  const size_t limit = SameResourceId(os_type, "Windows") ? 15 : 64;
  std::string out;
  for (char c : vm)
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '-') out.push_back(c);
  if (out.size() > limit) out.resize(limit);
  while (!out.empty() && out.back() == '-') out.pop_back();
  return out.empty() ? "vmrelease" : out;
}

}  // namespace

nlohmann::json NicBody(const NicSpec& s) {
  nlohmann::json j = {
      {"location", s.location},
      {"properties",
       {{"enableAcceleratedNetworking", s.accelerated_networking},
        {"ipConfigurations",
         {{{"name", "ipconfig1"},
           {"properties",
            {{"subnet", {{"id", s.subnet_id}}}, {"privateIPAllocationMethod", "Dynamic"}}}}}}}}};
  if (!s.tags.empty()) j["tags"] = TagsJson(s.tags);
  return j;
}

nlohmann::json DiskImportBody(const DiskImportSpec& s) {
  nlohmann::json j = {{"location", s.location},
                      {"sku", {{"name", s.sku}}},
                      {"properties",
                       {{"osType", s.os_type},
                        {"hyperVGeneration", s.hyper_v_generation},
                        {"creationData",
                         {{"createOption", "Import"},
                          {"sourceUri", s.source_uri},
                          {"storageAccountId", s.storage_account_id}}}}}};
  if (!s.tags.empty()) j["tags"] = TagsJson(s.tags);
  return j;
}

StatusOr<nlohmann::json> VmBody(const std::string& name, const VmSpec& s) {
  const bool from_image = !s.gallery_image_version_id.empty();
  const bool attach = !s.os_disk_id.empty();
  if (from_image == attach)
    return InvalidArgumentError("VM " + name +
                                ": set exactly one of gallery_image_version_id and os_disk_id");
  if (s.location.empty() || s.size.empty() || s.nic_id.empty())
    return InvalidArgumentError("VM " + name + ": location, size and nic_id are required");
  const std::string delete_option = s.delete_disk_and_nic_with_vm ? "Delete" : "Detach";
  nlohmann::json os_disk;
  nlohmann::json storage;
  if (from_image) {
    os_disk = {{"name", s.os_disk_name.empty() ? name + "-osdisk" : s.os_disk_name},
               {"caching", "ReadWrite"},
               {"createOption", "FromImage"},
               {"managedDisk", {{"storageAccountType", s.os_disk_storage_account_type}}},
               {"deleteOption", delete_option}};
    storage = {{"imageReference", {{"id", s.gallery_image_version_id}}}, {"osDisk", os_disk}};
  } else {
    os_disk = {{"name", ResourceName(s.os_disk_id)},
               {"osType", s.os_type},
               {"caching", "ReadWrite"},
               {"createOption", "Attach"},
               {"managedDisk", {{"id", s.os_disk_id}}},
               {"deleteOption", delete_option}};
    storage = {{"osDisk", os_disk}};
  }
  nlohmann::json props = {
      {"hardwareProfile", {{"vmSize", s.size}}},
      {"storageProfile", storage},
      {"networkProfile",
       {{"networkInterfaces",
         {{{"id", s.nic_id},
           {"properties", {{"primary", true}, {"deleteOption", delete_option}}}}}}}}};
  if (from_image && !s.specialized_image) {
    if (s.admin_password.empty() && s.ssh_public_key.empty())
      return InvalidArgumentError("VM " + name +
                                  ": a generalized image needs admin_password or ssh_public_key");
    nlohmann::json os_profile = {{"computerName", ComputerName(name, s.os_type)},
                                 {"adminUsername", s.admin_username}};
    if (!s.admin_password.empty()) {
      log::RegisterSecret(s.admin_password);
      os_profile["adminPassword"] = s.admin_password;
    }
    if (!s.ssh_public_key.empty()) {
      os_profile["linuxConfiguration"] = {
          {"disablePasswordAuthentication", s.admin_password.empty()},
          {"ssh",
           {{"publicKeys",
             {{{"path", "/home/" + s.admin_username + "/.ssh/authorized_keys"},
               {"keyData", s.ssh_public_key}}}}}}};
    }
    props["osProfile"] = os_profile;
  }
  nlohmann::json j = {{"location", s.location}, {"properties", props}};
  if (!s.tags.empty()) j["tags"] = TagsJson(s.tags);
  return j;
}

VirtualMachine ParseVirtualMachine(const nlohmann::json& r) {
  VirtualMachine vm{.id = JsonStr(r, "/id"),
                    .name = JsonStr(r, "/name"),
                    .location = JsonStr(r, "/location"),
                    .vm_id = JsonStr(r, "/properties/vmId"),
                    .provisioning_state = JsonStr(r, "/properties/provisioningState"),
                    .os_disk_id = JsonStr(r, "/properties/storageProfile/osDisk/managedDisk/id"),
                    .os_disk_name = JsonStr(r, "/properties/storageProfile/osDisk/name")};
  const nlohmann::json nics =
      r.contains("properties") && r["properties"].is_object()
          ? r["properties"].value("networkProfile", nlohmann::json::object())
          : nlohmann::json::object();
  for (const auto& n : nics.value("networkInterfaces", nlohmann::json::array()))
    vm.nic_ids.push_back(JsonStr(n, "/id"));
  nlohmann::json statuses = nlohmann::json::array();
  if (r.contains("properties") && r["properties"].is_object() &&
      r["properties"].contains("instanceView"))
    statuses = r["properties"]["instanceView"].value("statuses", nlohmann::json::array());
  for (const auto& s : statuses) {
    InstanceStatus st{.code = JsonStr(s, "/code"),
                      .display_status = JsonStr(s, "/displayStatus"),
                      .message = JsonStr(s, "/message")};
    if (st.code.rfind("PowerState/", 0) == 0) vm.power_state = st.code.substr(11);
    vm.statuses.push_back(std::move(st));
  }
  return vm;
}

StatusOr<Operation> ArmVirtualMachines::CreateNic(const ResourceGroupRef& rg,
                                                  const std::string& name, const NicSpec& spec) {
  RETURN_IF_ERROR(Validate(rg, name, "network interface"));
  if (spec.subnet_id.empty())
    return InvalidArgumentError("NIC " + name + ": subnet_id is required");
  return arm_.Begin({.method = "PUT",
                     .path = rg.Id(kNicType, name),
                     .api_version = kNetworkApiVersion,
                     .body = NicBody(spec)});
}

StatusOr<Operation> ArmVirtualMachines::DeleteNic(const ResourceGroupRef& rg,
                                                  const std::string& name) {
  RETURN_IF_ERROR(Validate(rg, name, "network interface"));
  return arm_.Begin(
      {.method = "DELETE", .path = rg.Id(kNicType, name), .api_version = kNetworkApiVersion});
}

StatusOr<Operation> ArmVirtualMachines::ImportDisk(const ResourceGroupRef& rg,
                                                   const std::string& name,
                                                   const DiskImportSpec& spec) {
  RETURN_IF_ERROR(Validate(rg, name, "disk"));
  if (spec.source_uri.empty() || spec.storage_account_id.empty())
    return InvalidArgumentError("disk " + name +
                                ": source_uri and storage_account_id are required");
  if (spec.source_uri.find('?') != std::string::npos)
    return InvalidArgumentError("disk " + name + ": the source URI must not carry a query (SAS)");
  return arm_.Begin({.method = "PUT",
                     .path = rg.Id(kDiskType, name),
                     .api_version = kDiskApiVersion,
                     .body = DiskImportBody(spec)});
}

StatusOr<Operation> ArmVirtualMachines::DeleteDisk(const ResourceGroupRef& rg,
                                                   const std::string& name) {
  RETURN_IF_ERROR(Validate(rg, name, "disk"));
  return arm_.Begin(
      {.method = "DELETE", .path = rg.Id(kDiskType, name), .api_version = kDiskApiVersion});
}

StatusOr<Operation> ArmVirtualMachines::CreateVm(const ResourceGroupRef& rg,
                                                 const std::string& name, const VmSpec& spec) {
  RETURN_IF_ERROR(Validate(rg, name, "virtual machine"));
  ASSIGN_OR_RETURN(nlohmann::json body, VmBody(name, spec));
  return arm_.Begin({.method = "PUT",
                     .path = rg.Id(kVmType, name),
                     .api_version = kComputeApiVersion,
                     .body = std::move(body)});
}

StatusOr<VirtualMachine> ArmVirtualMachines::GetVm(const ResourceGroupRef& rg,
                                                   const std::string& name, bool instance_view) {
  RETURN_IF_ERROR(Validate(rg, name, "virtual machine"));
  QueryParams q;
  if (instance_view) q.emplace_back("$expand", "instanceView");
  ASSIGN_OR_RETURN(nlohmann::json body, arm_.Get(rg.Id(kVmType, name), kComputeApiVersion, q));
  return ParseVirtualMachine(body);
}

StatusOr<Operation> ArmVirtualMachines::DeleteVm(const ResourceGroupRef& rg,
                                                 const std::string& name, bool force) {
  RETURN_IF_ERROR(Validate(rg, name, "virtual machine"));
  QueryParams q;
  if (force) q.emplace_back("forceDeletion", "true");
  return arm_.Begin({.method = "DELETE",
                     .path = rg.Id(kVmType, name),
                     .api_version = kComputeApiVersion,
                     .query = q});
}

}  // namespace vmrelease::azure

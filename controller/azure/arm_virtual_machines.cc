// NICs, managed disks and VMs. Run Command lives in arm_run_command.cc.
#include "controller/azure/arm_virtual_machines.h"

#include <algorithm>
#include <cctype>

#include "controller/common/crypto.h"
#include "controller/common/log.h"

namespace vmrelease::azure {
namespace {

Status Validate(const ResourceGroupRef& rg, const std::string& name, const std::string& what) {
  RETURN_IF_ERROR(ValidateResourceGroup(rg));
  return ValidateResourceName(name, what);
}

bool IsWindows(std::string_view os_type) { return SameResourceId(std::string(os_type), "Windows"); }

// "Linux" | "Windows" in Azure's spelling, or an error.
StatusOr<std::string> CanonicalOsType(const std::string& os_type, const std::string& what) {
  if (SameResourceId(os_type, "Linux")) return std::string("Linux");
  if (SameResourceId(os_type, "Windows")) return std::string("Windows");
  return InvalidArgumentError(what +
                              ": os_type must be Linux or Windows (from the image "
                              "definition or validation.vm.osType), not '" +
                              os_type + "'");
}

StatusOr<std::string> CanonicalSecurityType(const std::string& t, const std::string& what) {
  for (const char* known : {"Standard", "TrustedLaunch", "ConfidentialVM"})
    if (SameResourceId(t, known)) return std::string(known);
  return InvalidArgumentError(what +
                              ": security_type must be Standard, TrustedLaunch or "
                              "ConfidentialVM (VmSecurityTypeFor(image definition)), not '" +
                              t + "'");
}

// Characters Azure refuses in computer names (its own error messages list them).
constexpr std::string_view kWindowsForbidden = "`~!@#$%^&*()=+_[]{}\\|;:.'\",<>/? \t";
constexpr std::string_view kLinuxForbidden = "`~!@#$%^&*()=+_[]{}\\|;:'\",<>/? \t";

}  // namespace

std::string ComputerNameFor(std::string_view seed, std::string_view os_type) {
  const size_t limit = IsWindows(os_type) ? 15 : 64;
  std::string name;
  for (char c : seed) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u)) {
      name.push_back(static_cast<char>(std::tolower(u)));
    } else if (c == '-' || c == '_' || c == '.' || c == ' ' || c == '/') {
      if (!name.empty() && name.back() != '-') name.push_back('-');
    }
  }
  while (!name.empty() && name.back() == '-') name.pop_back();
  const bool all_digits =
      std::all_of(name.begin(), name.end(), [](unsigned char c) { return std::isdigit(c); });
  if (!name.empty() && !all_digits && name.size() <= limit) return name;
  // Too long (or unusable): a prefix plus a hash of the whole seed.
  const std::string hash = Sha256Hex(seed).substr(0, 6);
  std::string prefix = name.substr(0, std::min(name.size(), limit - hash.size() - 1));
  while (!prefix.empty() && prefix.back() == '-') prefix.pop_back();
  if (prefix.empty() ||
      std::all_of(prefix.begin(), prefix.end(), [](unsigned char c) { return std::isdigit(c); }))
    prefix = "vm";
  return prefix + "-" + hash;
}

Status ValidateComputerName(const std::string& name, const std::string& os_type) {
  if (IsWindows(os_type)) {
    const bool all_digits =
        std::all_of(name.begin(), name.end(), [](unsigned char c) { return std::isdigit(c); });
    if (name.empty() || name.size() > 15 || all_digits ||
        name.find_first_of(kWindowsForbidden) != std::string::npos)
      return InvalidArgumentError(
          "computer name '" + name +
          "': a Windows computer name cannot be more than 15 characters long, be entirely "
          "numeric, or contain ` ~ ! @ # $ % ^ & * ( ) = + _ [ ] { } \\ | ; : . ' \" , < > / ?");
    return Status::Ok();
  }
  if (name.empty() || name.size() > 64 || name.find_first_of(kLinuxForbidden) != std::string::npos)
    return InvalidArgumentError(
        "computer name '" + name +
        "': a Linux host name cannot exceed 64 characters or contain ` ~ ! @ # $ % ^ & * ( ) = + "
        "_ [ ] { } \\ | ; : ' \" , < > / ?");
  return Status::Ok();
}

namespace {}  // namespace

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
  ASSIGN_OR_RETURN(const std::string os_type, CanonicalOsType(s.os_type, "VM " + name));
  const bool windows = os_type == "Windows";
  if (from_image && s.security_type.empty())
    return InvalidArgumentError("VM " + name +
                                ": security_type is required with a gallery image "
                                "(VmSecurityTypeFor(image definition))");
  ASSIGN_OR_RETURN(
      const std::string security_type,
      CanonicalSecurityType(s.security_type.empty() ? "Standard" : s.security_type, "VM " + name));
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
               {"osType", os_type},
               {"caching", "ReadWrite"},
               {"createOption", "Attach"},
               {"managedDisk", {{"id", s.os_disk_id}}},
               {"deleteOption", delete_option}};
    storage = {{"osDisk", os_disk}};
  }
  if (security_type == "ConfidentialVM")  // the OS disk's VM guest state is encrypted
    storage["osDisk"]["managedDisk"]["securityProfile"] = {
        {"securityEncryptionType", "VMGuestStateOnly"}};
  nlohmann::json security = {{"securityType", security_type}};
  if (security_type != "Standard")
    security["uefiSettings"] = {{"secureBootEnabled", s.secure_boot}, {"vTpmEnabled", true}};
  nlohmann::json props = {
      {"hardwareProfile", {{"vmSize", s.size}}},
      {"storageProfile", storage},
      {"securityProfile", security},
      {"networkProfile",
       {{"networkInterfaces",
         {{{"id", s.nic_id},
           {"properties", {{"primary", true}, {"deleteOption", delete_option}}}}}}}}};
  if (from_image && !s.specialized_image) {
    if (windows && s.admin_password.empty())
      return InvalidArgumentError("VM " + name + ": a Windows image needs admin_password");
    if (windows && !s.ssh_public_key.empty())
      return InvalidArgumentError("VM " + name + ": ssh_public_key is for Linux images only");
    if (s.admin_password.empty() && s.ssh_public_key.empty())
      return InvalidArgumentError("VM " + name +
                                  ": a generalized image needs admin_password or ssh_public_key");
    const std::string computer_name =
        s.computer_name.empty() ? ComputerNameFor(name, os_type) : s.computer_name;
    if (Status v = ValidateComputerName(computer_name, os_type); !v.ok())
      return InvalidArgumentError("VM " + name + ": " + v.message());
    nlohmann::json os_profile = {{"computerName", computer_name},
                                 {"adminUsername", s.admin_username}};
    if (!s.admin_password.empty()) {
      log::RegisterSecret(s.admin_password);
      os_profile["adminPassword"] = s.admin_password;
    }
    if (windows) {
      // The VM agent runs Run Command; updates must not change the image under test.
      os_profile["windowsConfiguration"] = {{"provisionVMAgent", true},
                                            {"enableAutomaticUpdates", false}};
    } else {
      nlohmann::json linux = {{"disablePasswordAuthentication", s.admin_password.empty()},
                              {"provisionVMAgent", true}};
      if (!s.ssh_public_key.empty())
        linux["ssh"] = {{"publicKeys",
                         {{{"path", "/home/" + s.admin_username + "/.ssh/authorized_keys"},
                           {"keyData", s.ssh_public_key}}}}};
      os_profile["linuxConfiguration"] = linux;
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
  RETURN_IF_ERROR(CanonicalOsType(spec.os_type, "disk " + name).status());
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

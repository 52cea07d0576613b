// Fake Microsoft.Compute: managed disks, virtual machines (with instance view)
// and managed run commands; galleries are delegated to fake_arm_gallery.cc.
// Shapes: VirtualMachine_Create_FromAGeneralizedSharedImage.json,
// VirtualMachine_Get_InstanceView.json, VirtualMachineRunCommand_CreateOrUpdate.json,
// and the run command instanceView documented in virtual-machines/NOTES.md.
#include <algorithm>
#include <cctype>
#include <optional>

#include "controller/common/crypto.h"
#include "controller/http/client.h"
#include "tests/support/fake_arm/fake_arm_state.h"

namespace vmrelease::fake_arm {
namespace {

constexpr const char* kGalleryApi = "2025-03-03";
constexpr const char* kComputeApi = "2025-11-01";
constexpr const char* kDiskApi = "2024-03-02";

const char* kVmType = "Microsoft.Compute/virtualMachines";
const char* kDiskType = "Microsoft.Compute/disks";
const char* kRunCommandType = "Microsoft.Compute/virtualMachines/runCommands";

std::string Str(const nlohmann::json& j, const char* pointer) {
  return j.value(nlohmann::json::json_pointer(pointer), std::string());
}

Reply Accepted(FakeArm::State& s, const std::string& op, bool async, bool location, int status,
               nlohmann::json body = nullptr) {
  Reply r{.status = status, .body = std::move(body)};
  s.AddPollingHeaders(s.ops[op], async, location, r);
  return r;
}

StoredResource* Find(FakeArm::State& s, const std::string& id) {
  auto it = s.resources.find(Lower(id));
  return it == s.resources.end() ? nullptr : &it->second;
}

// --- disks ------------------------------------------------------------------------

Reply PutDisk(FakeArm::State& s, const ArmPath& p, const nlohmann::json& request) {
  const std::string key = Lower(p.Id());
  const std::string option = Str(request, "/properties/creationData/createOption");
  if (option.empty())
    return ErrorReply(400, "InvalidParameter",
                      "Required parameter 'disk.properties.creationData.createOption' is missing.");
  if (option == "Import" && (Str(request, "/properties/creationData/sourceUri").empty() ||
                             Str(request, "/properties/creationData/storageAccountId").empty()))
    return ErrorReply(400, "InvalidParameter",
                      "createOption Import requires creationData.sourceUri and "
                      "creationData.storageAccountId.");
  // Azure finishes an operation whether or not anyone polls it: a caller that lost the
  // operation (a crash) and asks again counts as time passing, so it is not busy forever.
  if (auto* existing = s.FindObserved(Lower(p.Id())); existing && !existing->pending_op.empty())
    return ErrorReply(409, "AnotherOperationInProgress", "Another operation is in progress.");
  nlohmann::json body = request;
  body["id"] = p.Id();
  body["name"] = p.Name();
  body["type"] = kDiskType;
  if (!body.contains("sku")) body["sku"] = {{"name", "Standard_LRS"}, {"tier", "Standard"}};
  body["properties"]["diskSizeGB"] = 30;
  body["properties"]["diskState"] = "Unattached";
  body["properties"]["timeCreated"] = s.NowText();
  body["properties"]["uniqueId"] = NewUuid();
  body["properties"]["provisioningState"] = "Updating";
  s.resources[key] = StoredResource{.id = p.Id(), .type = kDiskType, .body = body};
  const std::string op = s.StartOp("PUT", key, p, body.value("location", ""));
  return Accepted(s, op, false, true, 202);
}

Reply DeleteDisk(FakeArm::State& s, const ArmPath& p) {
  StoredResource* d = Find(s, p.Id());
  if (!d) return Reply{.status = 204};
  const std::string managed_by = d->body.value("managedBy", "");
  if (!managed_by.empty())
    return ErrorReply(409, "OperationNotAllowed",
                      "Disk " + p.Name() + " is attached to VM " + managed_by + ".");
  const std::string op = s.StartOp("DELETE", Lower(p.Id()), p, d->body.value("location", ""));
  return Accepted(s, op, false, true, 202);
}

// --- virtual machines ---------------------------------------------------------------

// Azure's answers (as the Compute RP words them) to VM bodies it refuses.
Reply InvalidConfiguration(const std::string& parameter) {
  return ErrorReply(400, "InvalidParameter", "The value of parameter " + parameter + " is invalid.",
                    parameter);
}

// osProfile checks Azure makes against the image's OS type.
std::optional<Reply> CheckOsProfile(const nlohmann::json& os_profile, const std::string& os_type) {
  const bool windows = os_type == "Windows";
  if (windows && os_profile.contains("linuxConfiguration"))
    return InvalidConfiguration("linuxConfiguration");
  if (!windows && os_profile.contains("windowsConfiguration"))
    return InvalidConfiguration("windowsConfiguration");
  const std::string name = os_profile.value("computerName", "");
  if (windows) {
    const bool all_digits =
        !name.empty() &&
        std::all_of(name.begin(), name.end(), [](unsigned char c) { return std::isdigit(c); });
    if (name.size() > 15 || all_digits ||
        name.find_first_of("`~!@#$%^&*()=+_[]{}\\|;:.'\",<>/?") != std::string::npos)
      return ErrorReply(400, "InvalidParameter",
                        "Windows computer name cannot be more than 15 characters long, be entirely "
                        "numeric, or contain the following characters: ` ~ ! @ # $ % ^ & * ( ) = "
                        "+ _ [ ] { } \\ | ; : . ' \" , < > / ?.",
                        "computerName");
    if (!os_profile.contains(nlohmann::json::json_pointer("/adminPassword")))
      return ErrorReply(400, "InvalidParameter",
                        "Required parameter 'adminPassword' is missing (null).", "adminPassword");
  } else if (name.size() > 64 ||
             name.find_first_of("`~!@#$%^&*()=+_[]{}\\|;:'\",<>/?") != std::string::npos) {
    return ErrorReply(400, "InvalidParameter",
                      "Linux host name cannot exceed 64 characters in length or contain the "
                      "following characters: ` ~ ! @ # $ % ^ & * ( ) = + _ [ ] { } \\ | ; : ' \" "
                      ", < > / ?.",
                      "computerName");
  }
  return std::nullopt;
}

// securityProfile.securityType against the image definition's SecurityType
// feature. `requested` is what the VM gets (the PUT's value or the platform
// default); `image` is the feature value ("" = none).
std::optional<Reply> CheckSecurityType(const std::string& requested, const std::string& image) {
  if (requested != "Standard" && requested != "TrustedLaunch" && requested != "ConfidentialVM")
    return InvalidConfiguration("securityProfile.securityType");
  const std::string img = Lower(image);
  for (const char* only : {"TrustedLaunch", "ConfidentialVM"}) {
    if (img == Lower(only) && requested != only)
      return ErrorReply(400, "BadRequest",
                        std::string("The provided gallery image only supports creation of VMs and "
                                    "VM Scale Sets with '") +
                            only + "' security type.");
  }
  if (requested == "TrustedLaunch" && img != "trustedlaunch" && img != "trustedlaunchsupported" &&
      img != "trustedlaunchandconfidentialvmsupported")
    return ErrorReply(400, "BadRequest",
                      "Use of TrustedLaunch setting is not supported for the provided image. "
                      "Please select Trusted Launch Supported Gen2 OS Image. For more information, "
                      "see https://aka.ms/TrustedLaunch-FAQ.");
  if (requested == "ConfidentialVM" && img != "confidentialvm" &&
      img != "confidentialvmsupported" && img != "trustedlaunchandconfidentialvmsupported")
    // The fake's wording, modelled on the TrustedLaunch message.
    return ErrorReply(400, "BadRequest",
                      "Use of ConfidentialVM setting is not supported for the provided image.");
  return std::nullopt;
}

Reply PutVm(FakeArm::State& s, const ArmPath& p, const nlohmann::json& request) {
  const std::string key = Lower(p.Id());
  const nlohmann::json props = request.value("properties", nlohmann::json::object());
  if (Str(props, "/hardwareProfile/vmSize").empty())
    return ErrorReply(400, "InvalidParameter",
                      "Required parameter 'hardwareProfile.vmSize' is missing.");
  if (auto* existing = Find(s, p.Id()))
    return ErrorReply(409, "OperationNotAllowed",
                      "The fake does not update existing VMs (" + existing->id + ").");
  const nlohmann::json nics = props.value(
      nlohmann::json::json_pointer("/networkProfile/networkInterfaces"), nlohmann::json::array());
  if (nics.empty())
    return ErrorReply(400, "InvalidParameter",
                      "Required parameter 'networkProfile.networkInterfaces' is missing.");
  for (const auto& n : nics) {
    StoredResource* nic = Find(s, n.value("id", ""));
    if (!nic)
      return ErrorReply(400, "InvalidResourceReference",
                        "Resource " + n.value("id", "") + " referenced by resource " + p.Id() +
                            " was not found.");
    const std::string attached = Str(nic->body, "/properties/virtualMachine/id");
    if (!attached.empty())
      return ErrorReply(
          400, "NicInUse",
          "Network interface " + nic->id + " is used by existing resource " + attached + ".");
  }
  const std::string create = Str(props, "/storageProfile/osDisk/createOption");
  const bool has_os_profile = props.contains("osProfile");
  std::string security_type = Str(props, "/securityProfile/securityType");
  if (security_type.empty()) security_type = s.opts.vm_default_security_type;
  std::string os_type = Str(props, "/storageProfile/osDisk/osType");
  std::string disk_id;
  nlohmann::json body = ExampleBody("VirtualMachine_Create_FromAGeneralizedSharedImage.json");
  if (create == "FromImage") {
    const std::string image = Str(props, "/storageProfile/imageReference/id");
    StoredResource* version = Find(s, image);
    if (!version || version->body["properties"].value("provisioningState", "") != "Succeeded")
      return ErrorReply(404, "GalleryImageNotFound",
                        "The gallery image " + image + " is not available.");
    std::string definition_id = image;
    if (version->type == "Microsoft.Compute/galleries/images/versions")
      definition_id = image.substr(0, image.rfind("/versions/"));
    StoredResource* definition = Find(s, definition_id);
    const std::string os_state =
        definition ? Str(definition->body, "/properties/osState") : "Generalized";
    if (definition) os_type = Str(definition->body, "/properties/osType");
    std::string image_security;
    if (definition)
      for (const auto& f :
           definition->body["properties"].value("features", nlohmann::json::array()))
        if (Lower(f.value("name", "")) == "securitytype") image_security = f.value("value", "");
    if (auto refused = CheckSecurityType(security_type, image_security)) return *refused;
    if (has_os_profile) {
      if (auto refused = CheckOsProfile(props["osProfile"], os_type)) return *refused;
    }
    if (os_state == "Generalized" && !has_os_profile)
      return ErrorReply(400, "InvalidParameter",
                        "Required parameter 'osProfile' is missing (null).");
    if (os_state == "Specialized" && has_os_profile)
      return ErrorReply(400, "InvalidParameter",
                        "Parameter 'osProfile' is not allowed with a specialized image.");
    if (has_os_profile && Str(props, "/osProfile/adminPassword").empty() &&
        !props.contains(nlohmann::json::json_pointer("/osProfile/linuxConfiguration/ssh")))
      return ErrorReply(400, "InvalidParameter",
                        "Required parameter 'adminPassword' or an SSH public key is missing.");
    std::string disk_name = Str(props, "/storageProfile/osDisk/name");
    if (disk_name.empty()) disk_name = p.Name() + "_OsDisk_1_" + RandomHex(32);
    ArmPath dp = p;
    dp.segments = {{"disks", disk_name}};
    disk_id = dp.Id();
    nlohmann::json disk = {
        {"id", disk_id},
        {"name", disk_name},
        {"type", kDiskType},
        {"location", request.value("location", "")},
        {"managedBy", p.Id()},
        {"sku", {{"name", Str(props, "/storageProfile/osDisk/managedDisk/storageAccountType")}}},
        {"properties",
         {{"osType", os_type},
          {"diskSizeGB", 30},
          {"diskState", "Attached"},
          {"creationData",
           {{"createOption", "FromImage"}, {"galleryImageReference", {{"id", image}}}}},
          {"timeCreated", s.NowText()},
          {"provisioningState", "Updating"}}}};
    s.resources[Lower(disk_id)] = StoredResource{.id = disk_id, .type = kDiskType, .body = disk};
  } else if (create == "Attach") {
    // An imported disk has no security features of its own: Standard only.
    if (security_type != "Standard") {
      if (auto refused = CheckSecurityType(security_type, "")) return *refused;
    }
    disk_id = Str(props, "/storageProfile/osDisk/managedDisk/id");
    StoredResource* disk = Find(s, disk_id);
    if (!disk || disk->body["properties"].value("provisioningState", "") != "Succeeded")
      return ErrorReply(404, "NotFound", "Disk " + disk_id + " was not found.");
    if (!disk->body.value("managedBy", "").empty())
      return ErrorReply(409, "OperationNotAllowed", "Disk " + disk_id + " is already attached.");
    if (has_os_profile)
      return ErrorReply(400, "InvalidParameter",
                        "Parameter 'osProfile' is not allowed when attaching an OS disk.");
    if (os_type.empty())
      return ErrorReply(400, "InvalidParameter",
                        "Required parameter 'storageProfile.osDisk.osType' is missing.");
    disk->body["managedBy"] = p.Id();
    disk->body["properties"]["diskState"] = "Attached";
  } else {
    return ErrorReply(
        400, "InvalidParameter",
        "The fake supports osDisk.createOption FromImage and Attach, not '" + create + "'.");
  }
  for (const auto& n : nics)
    Find(s, n.value("id", ""))->body["properties"]["virtualMachine"] = {{"id", p.Id()}};

  body["id"] = p.Id();
  body["name"] = p.Name();
  body["type"] = kVmType;
  body["location"] = request.value("location", "");
  if (request.contains("tags")) body["tags"] = request["tags"];
  const nlohmann::json example_props = body["properties"];
  body["properties"] = props;
  if (body["properties"].contains("osProfile")) {
    body["properties"]["osProfile"].erase("adminPassword");  // ARM never returns it
    CopyMissing(body, nlohmann::json{{"properties", example_props}},
                {"/properties/osProfile/secrets"});
  }
  nlohmann::json& os_disk = body["properties"]["storageProfile"]["osDisk"];
  os_disk["name"] = ResourceNameOf(disk_id);
  os_disk["osType"] = os_type;
  os_disk["managedDisk"]["id"] = disk_id;
  CopyMissing(
      body, nlohmann::json{{"properties", example_props}},
      {"/properties/storageProfile/osDisk/diskSizeGB", "/properties/storageProfile/dataDisks"});
  body["properties"]["securityProfile"]["securityType"] = security_type;
  body["properties"]["vmId"] = NewUuid();
  body["properties"]["timeCreated"] = s.NowText();
  body["properties"]["provisioningState"] = "Creating";
  s.resources[key] = StoredResource{.id = p.Id(), .type = kVmType, .body = body};
  const std::string op = s.StartOp("PUT", key, p, body["location"]);
  return Accepted(s, op, true, false, 201, body);
}

nlohmann::json InstanceView(FakeArm::State& s, const StoredResource& vm) {
  nlohmann::json view = ExampleBody("VirtualMachine_Get_InstanceView.json", "200");
  for (const char* drop : {"bootDiagnostics", "extensions", "patchStatus"}) view.erase(drop);
  const nlohmann::json& props = vm.body["properties"];
  view["computerName"] = props.value(nlohmann::json::json_pointer("/osProfile/computerName"),
                                     vm.body.value("name", ""));
  const bool windows = Str(props, "/storageProfile/osDisk/osType") == "Windows";
  view["osName"] = windows ? "Windows Server 2022 Datacenter" : "Linux";
  if (!windows) view["osVersion"] = "";
  const std::string state = props.value("provisioningState", "");
  const std::string lower = Lower(state);
  view["statuses"] = nlohmann::json::array(
      {{{"code", "ProvisioningState/" + lower},
        {"level", state == "Failed" ? "Error" : "Info"},
        {"displayStatus", "Provisioning " + lower},
        {"time", s.NowText()}},
       {{"code", state == "Succeeded" ? "PowerState/running" : "PowerState/starting"},
        {"level", "Info"},
        {"displayStatus", state == "Succeeded" ? "VM running" : "VM starting"}}});
  view["disks"] = nlohmann::json::array(
      {{{"name", Str(props, "/storageProfile/osDisk/name")},
        {"statuses", {{{"code", "ProvisioningState/" + lower}, {"level", "Info"}}}}}});
  return view;
}

Reply DeleteVm(FakeArm::State& s, const http::ServerRequest& req, const ArmPath& p) {
  StoredResource* vm = Find(s, p.Id());
  if (!vm) return Reply{.status = 204};
  if (auto f = req.params.find("forceDeletion");
      f != req.params.end() && f->second != "true" && f->second != "false")
    return ErrorReply(400, "InvalidParameter", "forceDeletion must be true or false.");
  if (!vm->pending_op.empty() && s.ops[vm->pending_op].method == "DELETE")
    return Accepted(s, vm->pending_op, false, true, 202);
  vm->body["properties"]["provisioningState"] = "Deleting";
  const std::string op = s.StartOp("DELETE", Lower(p.Id()), p, vm->body.value("location", ""));
  return Accepted(s, op, false, true, 202);
}

// --- run commands ----------------------------------------------------------------

Reply PutRunCommand(FakeArm::State& s, const ArmPath& p, const nlohmann::json& request) {
  StoredResource* vm = Find(s, p.ParentId());
  if (!vm)
    return ErrorReply(404, "ParentResourceNotFound",
                      "Can not perform requested operation on nested resource. Parent resource '" +
                          p.segments[0].second + "' not found.");
  if (vm->body["properties"].value("provisioningState", "") != "Succeeded")
    return ErrorReply(409, "OperationNotAllowed",
                      "Operation 'runCommands' is not allowed on VM '" + p.segments[0].second +
                          "' since the VM is not running.");
  const nlohmann::json props = request.value("properties", nlohmann::json::object());
  if (Str(props, "/source/script").empty() && Str(props, "/source/scriptUri").empty() &&
      Str(props, "/source/commandId").empty())
    return ErrorReply(400, "InvalidParameter",
                      "Run command source must set script, scriptUri or commandId.");
  const std::string key = Lower(p.Id());
  // Azure finishes an operation whether or not anyone polls it: a caller that lost the
  // operation (a crash) and asks again counts as time passing, so it is not busy forever.
  if (auto* existing = s.FindObserved(Lower(p.Id())); existing && !existing->pending_op.empty())
    return ErrorReply(409, "AnotherOperationInProgress", "Another operation is in progress.");
  nlohmann::json body = ExampleBody("VirtualMachineRunCommand_CreateOrUpdate.json");
  body["id"] = p.Id();
  body["name"] = p.Name();
  body["location"] = request.value("location", "");
  body.erase("tags");
  if (request.contains("tags")) body["tags"] = request["tags"];
  body["properties"] = props;
  body["properties"].erase("runAsPassword");
  body["properties"]["provisioningState"] = "Creating";
  s.resources[key] = StoredResource{.id = p.Id(), .type = kRunCommandType, .body = body};
  const std::string op = s.StartOp("PUT", key, p, body["location"]);
  return Accepted(s, op, true, false, 201, body);
}

// outputBlobUri: as the VM agent does, the script's whole stdout goes to an
// append blob through the SAS it was given (created, then appended in blocks of
// at most 4 MiB). Returns what went wrong, "" when it was written.
std::string UploadOutput(const std::string& sas_url, const std::string& text) {
  static http::Client* client = new http::Client();
  auto put = [&](const std::string& url, http::Headers headers, std::string body) -> std::string {
    headers.Set("x-ms-version", "2021-12-02");
    StatusOr<http::Response> r =
        client->Send({.method = "PUT", .url = url, .headers = headers, .body = std::move(body)});
    if (!r.ok()) return r.status().ToString();
    if (r->status != 201) return "HTTP " + std::to_string(r->status);
    return "";
  };
  if (std::string e = put(sas_url, {{"x-ms-blob-type", "AppendBlob"}}, ""); !e.empty()) return e;
  constexpr size_t kBlock = 4 << 20;
  for (size_t at = 0; at < text.size(); at += kBlock) {
    if (std::string e = put(sas_url + "&comp=appendblock", {}, text.substr(at, kBlock)); !e.empty())
      return e;
  }
  return "";
}

nlohmann::json RunCommandInstanceView(FakeArm::State& s, StoredResource& rc) {
  nlohmann::json& props = rc.body["properties"];
  if (props.contains("instanceView") &&
      props["instanceView"].value("executionState", "") != "Running")
    return props["instanceView"];  // final: stable from now on
  if (!rc.script_started)
    return {{"executionState", "Pending"},
            {"executionMessage", ""},
            {"statuses", nlohmann::json::array()}};
  ++rc.instance_view_gets;
  if (rc.instance_view_gets <= s.opts.run_command_polls) {
    nlohmann::json running = {{"executionState", "Running"},
                              {"executionMessage", ""},
                              {"startTime", (rc.started_at.empty() ? s.NowText() : rc.started_at)},
                              {"statuses", nlohmann::json::array()}};
    props["instanceView"] = running;
    return running;
  }
  const std::string script = Str(props, "/source/script");
  RunCommandRule rule;
  for (const auto& r : s.run_rules) {
    if (script.find(r.contains) != std::string::npos) {
      rule = r;
      break;
    }
  }
  std::string state = rule.execution_state;
  if (state.empty()) state = rule.exit_code == 0 ? "Succeeded" : "Failed";
  // With outputBlobUri the stdout goes to that blob, not to the instance view.
  std::string output = rule.stdout_text;
  nlohmann::json statuses = nlohmann::json::array();
  if (const std::string blob = Str(props, "/outputBlobUri"); !blob.empty()) {
    s.output_blob_uris.push_back(blob);
    if (std::string e = UploadOutput(blob, output); !e.empty())
      statuses.push_back({{"code", "OutputBlobUploadFailed"},
                          {"level", "Error"},
                          {"message", "Failed to upload the output to outputBlobUri: " + e}});
    output.clear();
  }
  props["instanceView"] = {
      {"executionState", state},
      {"executionMessage", state == "Succeeded" ? ""
                                                : "Execution completed with exit code " +
                                                      std::to_string(rule.exit_code)},
      {"exitCode", rule.exit_code},
      {"output", output},
      {"error", rule.stderr_text},
      {"startTime", (rc.started_at.empty() ? s.NowText() : rc.started_at)},
      {"endTime", s.NowText()},
      {"statuses", statuses}};
  return props["instanceView"];
}

std::string ExpectedApi(const ArmPath& p) {
  const std::string first = Lower(p.segments[0].first);
  if (first == "galleries") return kGalleryApi;
  if (first == "disks") return kDiskApi;
  return kComputeApi;
}

}  // namespace

std::string ResourceNameOf(const std::string& id) { return id.substr(id.find_last_of('/') + 1); }

Reply HandleCompute(FakeArm::State& s, const http::ServerRequest& req, const ArmPath& p) {
  auto api = req.params.find("api-version");
  if (api == req.params.end())
    return ErrorReply(
        400, "MissingApiVersionParameter",
        "The api-version query parameter (?api-version=) is required for all requests.");
  if (api->second != ExpectedApi(p))
    return ErrorReply(400, "InvalidApiVersionParameter",
                      "The api-version '" + api->second +
                          "' is invalid. The supported versions are '" + ExpectedApi(p) + "'.");
  nlohmann::json request = nlohmann::json::object();
  if (!req.body.empty()) {
    try {
      request = nlohmann::json::parse(req.body);
    } catch (const nlohmann::json::exception&) {
      return ErrorReply(400, "InvalidRequestContent",
                        "The request content was invalid and could not be deserialized.");
    }
  }
  const std::string first = Lower(p.segments[0].first);
  if (first == "galleries") return HandleGallery(s, req, p, request);
  const std::string key = Lower(p.Id());
  const bool is_vm = first == "virtualmachines" && p.segments.size() == 1;
  const bool is_rc = first == "virtualmachines" && p.segments.size() == 2 &&
                     Lower(p.segments[1].first) == "runcommands";
  const bool is_disk = first == "disks" && p.segments.size() == 1;
  if (!is_vm && !is_rc && !is_disk)
    return ErrorReply(400, "InvalidResourceType", "The fake does not serve " + p.Type() + ".");

  if (req.method == "GET") {
    StoredResource* found = s.FindObserved(key);
    if (found == nullptr) return NotFound(p);
    nlohmann::json body = found->body;
    auto expand = req.params.find("$expand");
    const bool iv = expand != req.params.end() && Lower(expand->second) == "instanceview";
    if (is_vm && iv) body["properties"]["instanceView"] = InstanceView(s, *found);
    if (is_rc) {
      if (iv) {
        body["properties"]["instanceView"] = RunCommandInstanceView(s, *found);
      } else {
        body["properties"].erase("instanceView");
      }
    }
    return Reply{.status = 200, .body = body};
  }
  if (req.method == "PUT") {
    if (is_disk) return PutDisk(s, p, request);
    if (is_vm) return PutVm(s, p, request);
    return PutRunCommand(s, p, request);
  }
  if (req.method == "DELETE") {
    if (is_disk) return DeleteDisk(s, p);
    if (is_vm) return DeleteVm(s, req, p);
    StoredResource* rc = Find(s, p.Id());
    if (!rc) return Reply{.status = 204};
    const std::string op = s.StartOp("DELETE", key, p, rc->body.value("location", ""));
    return Accepted(s, op, false, true, 202);
  }
  return ErrorReply(405, "MethodNotAllowed", req.method + " is not supported here by the fake.");
}

void FinishComputeOp(FakeArm::State& s, PendingOp& op) {
  auto it = s.resources.find(op.resource_key);
  if (it == s.resources.end()) return;
  StoredResource& r = it->second;
  if (r.type.rfind("Microsoft.Compute/galleries", 0) == 0) return FinishGalleryOp(s, op);
  const bool ok = op.status == "Succeeded";
  if (op.method != "DELETE") {
    r.body["properties"]["provisioningState"] = ok ? "Succeeded" : "Failed";
    if (r.type == kVmType) {
      const std::string disk = Str(r.body, "/properties/storageProfile/osDisk/managedDisk/id");
      if (StoredResource* d = Find(s, disk))
        d->body["properties"]["provisioningState"] = ok ? "Succeeded" : "Failed";
    }
    if (r.type == kRunCommandType && ok) {
      r.script_started = true;
      r.started_at = s.NowText();
    }
    return;
  }
  if (!ok) {
    r.body["properties"]["provisioningState"] = "Failed";
    return;
  }
  if (r.type == kVmType) {
    const nlohmann::json props = r.body["properties"];
    for (const auto& n :
         props.value(nlohmann::json::json_pointer("/networkProfile/networkInterfaces"),
                     nlohmann::json::array())) {
      const std::string nic = n.value("id", "");
      if (Str(n, "/properties/deleteOption") == "Delete") {
        s.resources.erase(Lower(nic));
      } else if (StoredResource* nr = Find(s, nic)) {
        nr->body["properties"].erase("virtualMachine");
      }
    }
    const std::string disk = Str(props, "/storageProfile/osDisk/managedDisk/id");
    if (Str(props, "/storageProfile/osDisk/deleteOption") == "Delete") {
      s.resources.erase(Lower(disk));
    } else if (StoredResource* d = Find(s, disk)) {
      d->body.erase("managedBy");
      d->body["properties"]["diskState"] = "Unattached";
    }
    // Child run commands go with the VM.
    for (auto c = s.resources.begin(); c != s.resources.end();) {
      if (c->first.rfind(op.resource_key + "/runcommands/", 0) == 0) {
        c = s.resources.erase(c);
      } else {
        ++c;
      }
    }
  }
  s.resources.erase(op.resource_key);
}

}  // namespace vmrelease::fake_arm

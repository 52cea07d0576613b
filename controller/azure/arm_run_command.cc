// Managed Run Command (virtualMachines/runCommands) for ArmVirtualMachines.
// The instanceView shape is documented in reference/azure/virtual-machines/NOTES.md.
#include "controller/azure/arm_client.h"
#include "controller/azure/arm_virtual_machines.h"

namespace vmrelease::azure {
namespace {

std::string RunCommandId(const ResourceGroupRef& rg, const std::string& vm,
                         const std::string& name) {
  return rg.Id(kVmType, vm) + "/runCommands/" + name;
}

Status Validate(const ResourceGroupRef& rg, const std::string& vm, const std::string& name) {
  RETURN_IF_ERROR(ValidateResourceGroup(rg));
  RETURN_IF_ERROR(ValidateResourceName(vm, "virtual machine"));
  return ValidateResourceName(name, "run command");
}

}  // namespace

bool RunCommandResult::finished() const {
  return execution_state == "Succeeded" || execution_state == "Failed" ||
         execution_state == "TimedOut" || execution_state == "Canceled" ||
         provisioning_state == "Failed";
}

nlohmann::json RunCommandBody(const RunCommandSpec& s) {
  nlohmann::json params = nlohmann::json::array();
  for (const auto& [k, v] : s.parameters) params.push_back({{"name", k}, {"value", v}});
  nlohmann::json props = {{"source", {{"script", s.script}}},
                          {"asyncExecution", true},
                          {"treatFailureAsDeploymentFailure", false},
                          {"timeoutInSeconds", s.timeout_seconds}};
  if (!params.empty()) props["parameters"] = params;
  if (!s.output_blob_uri.empty()) props["outputBlobUri"] = s.output_blob_uri;
  return {{"location", s.location}, {"properties", props}};
}

RunCommandResult ParseRunCommand(const nlohmann::json& r) {
  RunCommandResult out;
  out.provisioning_state = JsonStr(r, "/properties/provisioningState");
  out.execution_state = JsonStr(r, "/properties/instanceView/executionState");
  out.execution_message = JsonStr(r, "/properties/instanceView/executionMessage");
  if (auto code = JsonInt(r, "/properties/instanceView/exitCode"))
    out.exit_code = static_cast<int>(*code);
  out.output = JsonStr(r, "/properties/instanceView/output");
  out.error = JsonStr(r, "/properties/instanceView/error");
  out.start_time = JsonTime(r, "/properties/instanceView/startTime");
  out.end_time = JsonTime(r, "/properties/instanceView/endTime");
  return out;
}

StatusOr<Operation> ArmVirtualMachines::StartRunCommand(const ResourceGroupRef& rg,
                                                        const std::string& vm,
                                                        const std::string& name,
                                                        const RunCommandSpec& spec) {
  RETURN_IF_ERROR(Validate(rg, vm, name));
  if (spec.script.empty()) return InvalidArgumentError("run command " + name + ": empty script");
  if (spec.location.empty())
    return InvalidArgumentError("run command " + name + ": location is required");
  return arm_.Begin({.method = "PUT",
                     .path = RunCommandId(rg, vm, name),
                     .api_version = kComputeApiVersion,
                     .body = RunCommandBody(spec)});
}

StatusOr<RunCommandResult> ArmVirtualMachines::GetRunCommand(const ResourceGroupRef& rg,
                                                             const std::string& vm,
                                                             const std::string& name) {
  RETURN_IF_ERROR(Validate(rg, vm, name));
  ASSIGN_OR_RETURN(nlohmann::json body, arm_.Get(RunCommandId(rg, vm, name), kComputeApiVersion,
                                                 {{"$expand", "instanceView"}}));
  return ParseRunCommand(body);
}

StatusOr<Operation> ArmVirtualMachines::DeleteRunCommand(const ResourceGroupRef& rg,
                                                         const std::string& vm,
                                                         const std::string& name) {
  RETURN_IF_ERROR(Validate(rg, vm, name));
  return arm_.Begin(
      {.method = "DELETE", .path = RunCommandId(rg, vm, name), .api_version = kComputeApiVersion});
}

}  // namespace vmrelease::azure

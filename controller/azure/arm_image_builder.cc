#include "controller/azure/arm_image_builder.h"

#include "controller/common/log.h"

namespace vmrelease::azure {
namespace {

constexpr const char* kTemplateType = "Microsoft.VirtualMachineImages/imageTemplates";

Status Validate(const ImageTemplateRef& ref) {
  RETURN_IF_ERROR(ValidateResourceGroup({ref.subscription_id, ref.resource_group}));
  return ValidateResourceName(ref.name, "image template");
}

std::string VhdRunOutputName(const nlohmann::json& distribute) {
  if (!distribute.is_array()) return "";
  for (const auto& d : distribute)
    if (JsonStr(d, "/type") == "VHD") return JsonStr(d, "/runOutputName");
  return "";
}

}  // namespace

std::string ImageTemplateRef::Id() const {
  return ResourceGroupRef{subscription_id, resource_group}.Id(kTemplateType, name);
}

nlohmann::json PlatformImageSource(const std::string& publisher, const std::string& offer,
                                   const std::string& sku, const std::string& version) {
  return {{"type", "PlatformImage"},
          {"publisher", publisher},
          {"offer", offer},
          {"sku", sku},
          {"version", version}};
}

nlohmann::json GalleryImageVersionSource(const std::string& image_version_id) {
  return {{"type", "SharedImageVersion"}, {"imageVersionId", image_version_id}};
}

bool RunStatus::finished() const {
  return run_state == "Succeeded" || run_state == "PartiallySucceeded" || run_state == "Failed" ||
         run_state == "Canceled";
}

bool RunStatus::succeeded() const { return run_state == "Succeeded"; }

nlohmann::json ImageTemplateBody(const ImageTemplateSpec& s) {
  nlohmann::json vm_profile = {{"vmSize", s.vm_size}};
  if (s.os_disk_size_gb > 0) vm_profile["osDiskSizeGB"] = s.os_disk_size_gb;
  if (!s.subnet_id.empty()) vm_profile["vnetConfig"] = {{"subnetId", s.subnet_id}};
  nlohmann::json props = {
      {"source", s.source},
      {"customize", s.customize.is_null() ? nlohmann::json::array() : s.customize},
      {"distribute", {{{"type", "VHD"}, {"runOutputName", s.vhd_run_output_name}}}},
      {"vmProfile", vm_profile}};
  if (s.build_timeout_minutes > 0) props["buildTimeoutInMinutes"] = s.build_timeout_minutes;
  nlohmann::json j = {{"location", s.location},
                      {"identity",
                       {{"type", "UserAssigned"},
                        {"userAssignedIdentities", {{s.identity_id, nlohmann::json::object()}}}}},
                      {"properties", props}};
  if (!s.tags.empty()) j["tags"] = TagsJson(s.tags);
  return j;
}

ImageTemplate ParseImageTemplate(const nlohmann::json& r) {
  ImageTemplate t{.id = JsonStr(r, "/id"),
                  .provisioning_state = JsonStr(r, "/properties/provisioningState")};
  t.tags = JsonTags(r);
  if (r.contains("properties") && r["properties"].is_object()) {
    t.properties = r["properties"];
    if (r["properties"].contains("lastRunStatus")) {
      const auto& s = r["properties"]["lastRunStatus"];
      t.last_run = RunStatus{.run_state = JsonStr(s, "/runState"),
                             .run_sub_state = JsonStr(s, "/runSubState"),
                             .message = JsonStr(s, "/message"),
                             .start_time = JsonTime(s, "/startTime"),
                             .end_time = JsonTime(s, "/endTime")};
    }
  }
  return t;
}

RunOutput ParseRunOutput(const nlohmann::json& r) {
  return RunOutput{.name = JsonStr(r, "/name"),
                   .artifact_id = JsonStr(r, "/properties/artifactId"),
                   .artifact_uri = JsonStr(r, "/properties/artifactUri"),
                   .provisioning_state = JsonStr(r, "/properties/provisioningState")};
}

StatusOr<Operation> ArmImageBuilder::CreateTemplate(const ImageTemplateRef& ref,
                                                    const ImageTemplateSpec& spec) {
  RETURN_IF_ERROR(Validate(ref));
  if (spec.identity_id.empty())
    return InvalidArgumentError("image template " + ref.name +
                                ": a user-assigned identity is required");
  if (!spec.source.is_object() || !spec.source.contains("type"))
    return InvalidArgumentError("image template " + ref.name + ": source needs a type");
  const nlohmann::json body = ImageTemplateBody(spec);
  StatusOr<nlohmann::json> existing = arm_.Get(ref.Id(), kImageBuilderApiVersion);
  if (existing.ok()) {
    const nlohmann::json& have = existing->value("properties", nlohmann::json::object());
    const nlohmann::json& want = body["properties"];
    // Azure adds read-only fields to what it stores (source.exactVersion for a
    // "latest" platform image, customizer defaults), so "same" means every
    // field we send is there with our value.
    const bool same =
        JsonContains(have.value("source", nlohmann::json()), want["source"]) &&
        JsonContains(have.value("customize", nlohmann::json::array()), want["customize"]) &&
        VhdRunOutputName(have.value("distribute", nlohmann::json())) == spec.vhd_run_output_name;
    if (!same) {
      ErrorDetail d;
      d.reason = "ImageTemplateExists";
      return Status(StatusCode::kAlreadyExists,
                    "image template " + ref.name +
                        " already exists with a different source, customize steps or output; "
                        "templates are immutable: delete it first",
                    std::move(d));
    }
    return arm_.Adopt(ref.Id(), kImageBuilderApiVersion, *existing);
  }
  if (existing.status().code() != StatusCode::kNotFound) return existing.status();
  return arm_.Begin(
      {.method = "PUT", .path = ref.Id(), .api_version = kImageBuilderApiVersion, .body = body});
}

StatusOr<ImageTemplate> ArmImageBuilder::GetTemplate(const ImageTemplateRef& ref) {
  RETURN_IF_ERROR(Validate(ref));
  ASSIGN_OR_RETURN(nlohmann::json body, arm_.Get(ref.Id(), kImageBuilderApiVersion));
  return ParseImageTemplate(body);
}

StatusOr<Operation> ArmImageBuilder::Run(const ImageTemplateRef& ref) {
  RETURN_IF_ERROR(Validate(ref));
  return arm_.Begin(
      {.method = "POST", .path = ref.Id() + "/run", .api_version = kImageBuilderApiVersion});
}

StatusOr<Operation> ArmImageBuilder::Cancel(const ImageTemplateRef& ref) {
  RETURN_IF_ERROR(Validate(ref));
  return arm_.Begin(
      {.method = "POST", .path = ref.Id() + "/cancel", .api_version = kImageBuilderApiVersion});
}

StatusOr<RunOutput> ArmImageBuilder::GetRunOutput(const ImageTemplateRef& ref,
                                                  const std::string& run_output_name) {
  RETURN_IF_ERROR(Validate(ref));
  RETURN_IF_ERROR(ValidateResourceName(run_output_name, "run output"));
  ASSIGN_OR_RETURN(nlohmann::json body,
                   arm_.Get(ref.Id() + "/runOutputs/" + run_output_name, kImageBuilderApiVersion));
  return ParseRunOutput(body);
}

StatusOr<Operation> ArmImageBuilder::DeleteTemplate(const ImageTemplateRef& ref) {
  RETURN_IF_ERROR(Validate(ref));
  return arm_.Begin({.method = "DELETE", .path = ref.Id(), .api_version = kImageBuilderApiVersion});
}

}  // namespace vmrelease::azure

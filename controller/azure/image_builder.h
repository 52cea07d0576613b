// ImageBuilder: Azure VM Image Builder (Microsoft.VirtualMachineImages
// imageTemplates) as a build backend — define a template, run it, follow
// lastRunStatus, read the VHD it produced, delete it.
//
//   ImageTemplateRef t{.subscription_id = sub, .resource_group = "builds", .name = "sql-1-3-0"};
//   ASSIGN_OR_RETURN(Operation op, builder.CreateTemplate(t, {
//       .location = "westeurope", .identity_id = uami_id,
//       .source = PlatformImageSource("MicrosoftSQLServer", "sql2022-ws2022", "standard-gen2",
//       "latest"), .customize = customize_json, .vm_size = "Standard_D4s_v5", .vhd_run_output_name
//       = "vhd"}));
//   ... op done → builder.Run(t) → poll → GetTemplate(t).last_run →
//   ASSIGN_OR_RETURN(RunOutput out, builder.GetRunOutput(t, "vhd"));   // out.artifact_uri = the
//   VHD
//
// Guarantees: CreateTemplate adopts an existing template with the same source,
// customize steps and VHD output (templates are immutable after creation), and
// refuses a different one with kAlreadyExists rather than replacing it.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "controller/azure/arm_ids.h"
#include "controller/azure/lro.h"

namespace vmrelease::azure {

struct ImageTemplateRef {
  std::string subscription_id;
  std::string resource_group;
  std::string name;
  std::string Id() const;
};

struct ImageTemplateSpec {
  std::string location;
  std::string identity_id;  // user-assigned managed identity resource id (required by the service)
  nlohmann::json source;    // PlatformImageSource(...) / GalleryImageVersionSource(...)
  nlohmann::json customize = nlohmann::json::array();  // customizer objects, passed through
  std::string vm_size;
  int os_disk_size_gb = 0;  // 0 = service default
  int build_timeout_minutes = 0;
  std::string subnet_id;                    // vmProfile.vnetConfig.subnetId (optional)
  std::string vhd_run_output_name = "vhd";  // distribute: one VHD with this runOutputName
  std::map<std::string, std::string> tags;
};

nlohmann::json PlatformImageSource(const std::string& publisher, const std::string& offer,
                                   const std::string& sku, const std::string& version);
nlohmann::json GalleryImageVersionSource(const std::string& image_version_id);

// properties.lastRunStatus (reference/azure/image-builder/NOTES.md).
struct RunStatus {
  std::string
      run_state;  // Running | Canceling | Succeeded | PartiallySucceeded | Failed | Canceled
  std::string
      run_sub_state;  // Queued | Building | Customizing | Optimizing | Validating | Distributing
  std::string message;
  std::optional<WallTime> start_time;
  std::optional<WallTime> end_time;
  bool finished() const;
  bool succeeded() const;
};

struct ImageTemplate {
  std::string id;
  std::string provisioning_state;
  std::optional<RunStatus> last_run;
  std::map<std::string, std::string> tags;  // e.g. the owner's release uid
  nlohmann::json properties;                // as returned, for diagnostics
};

struct RunOutput {
  std::string name;
  std::string artifact_id;   // managed image / gallery version id
  std::string artifact_uri;  // the VHD URL for a VHD distribute
  std::string provisioning_state;
};

class ImageBuilder : public OperationPoller {
 public:
  virtual StatusOr<Operation> CreateTemplate(const ImageTemplateRef& ref,
                                             const ImageTemplateSpec& spec) = 0;
  // kNotFound when absent.
  virtual StatusOr<ImageTemplate> GetTemplate(const ImageTemplateRef& ref) = 0;
  // POST .../run: the operation ends when the build does.
  virtual StatusOr<Operation> Run(const ImageTemplateRef& ref) = 0;
  virtual StatusOr<Operation> Cancel(const ImageTemplateRef& ref) = 0;
  // kNotFound when the run produced no output of that name (yet).
  virtual StatusOr<RunOutput> GetRunOutput(const ImageTemplateRef& ref,
                                           const std::string& run_output_name) = 0;
  virtual StatusOr<Operation> DeleteTemplate(const ImageTemplateRef& ref) = 0;
};

nlohmann::json ImageTemplateBody(const ImageTemplateSpec& spec);
ImageTemplate ParseImageTemplate(const nlohmann::json& resource);
RunOutput ParseRunOutput(const nlohmann::json& resource);

}  // namespace vmrelease::azure

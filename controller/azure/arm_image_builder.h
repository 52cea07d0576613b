// ArmImageBuilder: the ImageBuilder interface over ARM (api-version
// kImageBuilderApiVersion).
//
//   ArmImageBuilder builder(arm);
//   ASSIGN_OR_RETURN(Operation run, builder.Run(t));   // 202 + Azure-AsyncOperation
//
// Requests (reference/azure/image-builder):
//   PUT    .../imageTemplates/{t}                   CreateImageTemplateLinux.json (distribute type
//   VHD) GET    .../imageTemplates/{t}                   GetImageTemplate.json (+
//   properties.lastRunStatus) POST   .../imageTemplates/{t}/run               RunImageTemplate.json
//   POST   .../imageTemplates/{t}/cancel
//   GET    .../imageTemplates/{t}/runOutputs/{o}    GetRunOutput.json (artifactUri for VHD)
//   DELETE .../imageTemplates/{t}                   DeleteImageTemplate.json
#pragma once

#include "controller/azure/arm_client.h"
#include "controller/azure/image_builder.h"

namespace vmrelease::azure {

class ArmImageBuilder final : public ImageBuilder {
 public:
  explicit ArmImageBuilder(ArmClient& arm) : arm_(arm) {}

  StatusOr<Operation> CreateTemplate(const ImageTemplateRef& ref,
                                     const ImageTemplateSpec& spec) override;
  StatusOr<ImageTemplate> GetTemplate(const ImageTemplateRef& ref) override;
  StatusOr<Operation> Run(const ImageTemplateRef& ref) override;
  StatusOr<Operation> Cancel(const ImageTemplateRef& ref) override;
  StatusOr<RunOutput> GetRunOutput(const ImageTemplateRef& ref,
                                   const std::string& run_output_name) override;
  StatusOr<Operation> DeleteTemplate(const ImageTemplateRef& ref) override;
  StatusOr<Operation> Poll(const OperationRef& ref) override { return arm_.Poll(ref); }

 private:
  ArmClient& arm_;
};

}  // namespace vmrelease::azure

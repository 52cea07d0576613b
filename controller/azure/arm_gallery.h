// ArmGallery: the Gallery interface over ARM (Microsoft.Compute galleries,
// api-version kGalleryApiVersion).
//
//   ArmClient arm(credential, {.base_url = endpoint});
//   ArmGallery gallery(arm);
//   ASSIGN_OR_RETURN(Operation op, gallery.CreateImageVersion(img, "1.3.0", spec));
//   ASSIGN_OR_RETURN(op, arm.Wait(op, std::chrono::hours(2)));
//
// Requests (bodies follow the reference examples):
//   GET/PUT .../galleries/{g}/images/{i}                  (GalleryImage_Create.json)
//   GET     .../images/{i}/versions/{v}[?$expand=ReplicationStatus]
//   PUT     .../images/{i}/versions/{v}  If-None-Match: *, tag vmrelease-release-uid
//           (GalleryImageVersion_Create_WithVHD.json); read back after any failure
//   PATCH   .../images/{i}/versions/{v}  publishingProfile + safetyProfile +
//           storageProfile as read, excludeFromLatest at both levels
//   DELETE  .../images/{i}/versions/{v}  (GalleryImageVersion_Delete.json)
#pragma once

#include "controller/azure/arm_client.h"
#include "controller/azure/gallery.h"

namespace vmrelease::azure {

class ArmGallery final : public Gallery {
 public:
  explicit ArmGallery(ArmClient& arm) : arm_(arm) {}

  StatusOr<ImageDefinition> GetImageDefinition(const GalleryImageRef& ref) override;
  StatusOr<Operation> CreateImageDefinition(const GalleryImageRef& ref,
                                            const ImageDefinition& definition) override;
  StatusOr<ImageVersion> GetImageVersion(const GalleryImageRef& ref, const std::string& version,
                                         bool replication_status) override;
  StatusOr<Operation> CreateImageVersion(const GalleryImageRef& ref, const std::string& version,
                                         const ImageVersionSpec& spec) override;
  StatusOr<Operation> UpdateImageVersion(const GalleryImageRef& ref, const std::string& version,
                                         const PublishingUpdate& update) override;
  StatusOr<Operation> DeleteImageVersion(const GalleryImageRef& ref,
                                         const std::string& version) override;
  StatusOr<Operation> Poll(const OperationRef& ref) override { return arm_.Poll(ref); }

 private:
  // `existing` (a GET body) is ours → the operation that made it; else an error.
  StatusOr<Operation> AdoptOrRefuse(const GalleryImageRef& ref, const std::string& version,
                                    const ImageVersionSpec& spec, const nlohmann::json& existing);
  ArmClient& arm_;
};

}  // namespace vmrelease::azure

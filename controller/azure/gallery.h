// Gallery: the Azure Compute Gallery operations a release needs — image
// definitions, and image versions created from a VHD blob, published to
// regions, and deleted. Reconcilers see this interface; ArmGallery implements
// it over ARM, tests fake it.
//
//   GalleryImageRef img{.subscription_id = sub, .resource_group = "images",
//                       .gallery = "releases", .image = "sql-server-baseline"};
//   ASSIGN_OR_RETURN(Operation op, gallery.CreateImageVersion(img, "1.3.0", {
//       .location = "westeurope", .source_storage_account_id = acct_id,
//       .source_vhd_uri = "https://acct.blob.core.windows.net/staging/sql/1.3.0.vhd",
//       .target_regions = {{.name = "westeurope", .regional_replica_count = 1}},
//       .exclude_from_latest = true}));
//   status.publish.operation = op.ref.Serialize();   // poll later with gallery.Poll(ref)
//
// Guarantees: CreateImageVersion never overwrites a version. It reads first; a
// version with the same source (storage account + VHD URI) is adopted (its
// state is returned as the operation), one with a different source is refused
// with kAlreadyExists (ArmErrorKind::kConflict), and the PUT itself carries
// If-None-Match: * so a version created concurrently is not replaced either.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "controller/azure/arm_ids.h"
#include "controller/azure/lro.h"

namespace vmrelease::azure {

struct GalleryImageRef {
  std::string subscription_id;
  std::string resource_group;
  std::string gallery;
  std::string image;  // the image definition

  std::string GalleryId() const;
  std::string Id() const;
  std::string VersionId(const std::string& version) const;
};

// An image definition (Microsoft.Compute/galleries/images).
struct ImageDefinition {
  std::string location;
  std::string os_type = "Linux";         // Linux | Windows
  std::string os_state = "Generalized";  // Generalized | Specialized
  std::string hyper_v_generation = "V2";
  std::string publisher;  // identifier.publisher / offer / sku
  std::string offer;
  std::string sku;
  std::map<std::string, std::string> tags;
  // Read back only.
  std::string id;
  std::string provisioning_state;
};

struct TargetRegion {
  std::string name;
  int regional_replica_count = 1;
  std::string storage_account_type;  // Standard_LRS | Standard_ZRS | Premium_LRS; "" = default
  std::optional<bool> exclude_from_latest;
  bool operator==(const TargetRegion&) const = default;
};

struct SafetyProfile {
  std::optional<bool> allow_deletion_of_replicated_locations;
  std::optional<bool> block_deletion_before_end_of_life;
  bool operator==(const SafetyProfile&) const = default;
};

// A version created from a VHD (GalleryImageVersion_Create_WithVHD.json).
struct ImageVersionSpec {
  std::string location;                   // the gallery's region
  std::string source_storage_account_id;  // .../Microsoft.Storage/storageAccounts/<acct>
  std::string source_vhd_uri;             // blob URL without SAS
  std::string host_caching = "ReadOnly";
  std::vector<TargetRegion> target_regions;
  std::optional<int> replica_count;
  std::string storage_account_type;  // publishingProfile default; "" = Azure's
  bool exclude_from_latest = false;
  std::optional<WallTime> end_of_life;
  SafetyProfile safety;
  std::map<std::string, std::string> tags;
  // The uid of the release that owns the version (tag vmrelease-release-uid).
  std::string owner_uid;
};

struct RegionReplication {
  std::string region;
  std::string state;  // Unknown | Replicating | Completed | Failed
  std::string details;
  int progress = 0;
};

struct ReplicationStatus {
  std::string aggregated_state;  // Unknown | InProgress | Completed | Failed
  std::vector<RegionReplication> regions;
};

struct ImageVersion {
  std::string id;
  std::string name;
  std::string location;
  std::string provisioning_state;
  ImageVersionSpec spec;  // as read back
  std::optional<WallTime> published_date;
  std::optional<ReplicationStatus> replication;  // with replication status requested
};

// Fields of a published version that may change (unset = keep).
struct PublishingUpdate {
  std::optional<std::vector<TargetRegion>> target_regions;
  std::optional<int> replica_count;
  std::optional<bool> exclude_from_latest;
  std::optional<WallTime> end_of_life;
  std::optional<SafetyProfile> safety;
  // When set, only a version tagged with this owner uid is updated.
  std::string owner_uid;
};

class Gallery : public OperationPoller {
 public:
  // kNotFound when absent.
  virtual StatusOr<ImageDefinition> GetImageDefinition(const GalleryImageRef& ref) = 0;
  // Creates the definition, or adopts an existing one with the same identity
  // (osType, osState, hyperVGeneration, publisher/offer/sku); a different
  // identity is kAlreadyExists, since Azure cannot change it.
  virtual StatusOr<Operation> CreateImageDefinition(const GalleryImageRef& ref,
                                                    const ImageDefinition& definition) = 0;
  // kNotFound when absent. `replication_status` adds $expand=ReplicationStatus.
  virtual StatusOr<ImageVersion> GetImageVersion(const GalleryImageRef& ref,
                                                 const std::string& version,
                                                 bool replication_status) = 0;
  // `version` must be MAJOR.MINOR.PATCH integers. See the header comment for
  // the never-overwrite rule.
  virtual StatusOr<Operation> CreateImageVersion(const GalleryImageRef& ref,
                                                 const std::string& version,
                                                 const ImageVersionSpec& spec) = 0;
  // Changes target regions, excludeFromLatest, endOfLifeDate, replica count or
  // the safety profile; the image content (storageProfile) is sent back as read.
  virtual StatusOr<Operation> UpdateImageVersion(const GalleryImageRef& ref,
                                                 const std::string& version,
                                                 const PublishingUpdate& update) = 0;
  // Deleting a missing version is an already Succeeded operation.
  virtual StatusOr<Operation> DeleteImageVersion(const GalleryImageRef& ref,
                                                 const std::string& version) = 0;
};

// Wire format, shared with tests and fakes.
nlohmann::json ImageDefinitionBody(const ImageDefinition& definition);
ImageDefinition ParseImageDefinition(const nlohmann::json& resource);
nlohmann::json ImageVersionBody(const ImageVersionSpec& spec);
ImageVersion ParseImageVersion(const nlohmann::json& resource);
// Azure gallery rule: three dot-separated non-negative 32-bit integers.
bool IsValidGalleryVersion(const std::string& version);

}  // namespace vmrelease::azure

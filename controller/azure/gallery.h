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
//       .exclude_from_latest = true, .owner_uid = release.metadata.uid}));
//   status.publish.operation = op.ref.Serialize();   // poll later with gallery.Poll(ref)
//   ...
//   if (IsVersionConflict(status)) → Stalled, reason VersionConflict (someone else's version)
//
// Guarantees — never overwrite, without trusting If-None-Match (which is not
// documented for Compute Gallery and may be ignored):
// - Every version we create carries the tag kReleaseUidTag = the owning
//   release's uid (ImageVersionSpec::owner_uid).
// - CreateImageVersion reads first. A version owned by the same uid with the
//   same source (storage account + VHD URI) is adopted (returned as the
//   operation that created it, which may still be running); one owned by
//   another uid, or untagged, is refused with VersionConflict without any
//   write; one owned by us with a different source is refused with
//   kAlreadyExists reason "GalleryImageVersionExists".
// - The create PUT carries If-None-Match: *. If it fails in any way (409, 412,
//   5xx or no answer after the PUT may have landed), the version is read back
//   and the same rules decide: ours → adopted, someone else's → VersionConflict.
// - UpdateImageVersion and DeleteOwnedImageVersion touch a version only when its
//   tag is the given owner uid (VersionConflict otherwise).
// Caveat: if the service ignores If-None-Match and another writer creates the
// same version in the one round trip between our read and our PUT, Azure still
// refuses to change the version's storageProfile (source), so our PUT fails and
// the read-back reports VersionConflict; only a version with the very same
// source VHD URI could be taken over in that window.
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

// The tag on a gallery image version naming the release (metadata.uid) that
// created it. Azure tag names may not contain '/', hence not a vmrelease.io/ key.
inline constexpr const char* kReleaseUidTag = "vmrelease-release-uid";
// ErrorDetail::reason of the error for a version that belongs to someone else.
inline constexpr const char* kVersionConflict = "VersionConflict";
// kAlreadyExists with reason kVersionConflict (the reconciler stalls with it).
bool IsVersionConflict(const Status& status);

// An image definition (Microsoft.Compute/galleries/images).
struct ImageDefinition {
  std::string location;
  std::string os_type = "Linux";         // Linux | Windows
  std::string os_state = "Generalized";  // Generalized | Specialized
  std::string hyper_v_generation = "V2";
  std::string publisher;  // identifier.publisher / offer / sku
  std::string offer;
  std::string sku;
  // The definition's SecurityType feature (features[{name: SecurityType,
  // value}]): "" = none (Standard VMs only), TrustedLaunch (TrustedLaunch VMs
  // only), TrustedLaunchSupported, ConfidentialVM, ConfidentialVMSupported,
  // TrustedLaunchAndConfidentialVmSupported. Written when set; parsed back.
  // VmSecurityTypeFor() turns it into the VM's securityProfile.securityType.
  std::string security_type;
  std::map<std::string, std::string> tags;
  // Read back only.
  std::string id;
  std::string provisioning_state;
};

// The securityProfile.securityType a VM from an image of `definition` must
// (or, where the image allows both, should) use: "Standard" for a definition
// without a SecurityType feature or with ConfidentialVMSupported;
// "TrustedLaunch" for TrustedLaunch, TrustedLaunchSupported and
// TrustedLaunchAndConfidentialVmSupported (Azure's default posture where the
// image allows it); "ConfidentialVM" for ConfidentialVM. Sent explicitly so a
// changed platform default cannot make VM creation fail.
std::string VmSecurityTypeFor(const ImageDefinition& definition);

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
  // The owning release's uid: required by CreateImageVersion, written as the
  // tag kReleaseUidTag (over any such key in `tags`); read back from it.
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
  // Required: the release uid the version must belong to (tag kReleaseUidTag);
  // a version owned by anyone else is refused with VersionConflict.
  std::string owner_uid;
  // Replaces the target regions; a region without its own exclude_from_latest
  // takes the version's current (or the new) profile-level value.
  std::optional<std::vector<TargetRegion>> target_regions;
  std::optional<int> replica_count;
  // Set at the publishing-profile level *and* on every target region (the
  // regions' own flag is returned as false by default, and which of the two
  // wins is not documented), overriding a region's own exclude_from_latest.
  std::optional<bool> exclude_from_latest;
  std::optional<WallTime> end_of_life;
  std::optional<SafetyProfile> safety;
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
  // the safety profile of a version owned by update.owner_uid (VersionConflict
  // otherwise, without any write); the image content (storageProfile) is sent
  // back as read.
  virtual StatusOr<Operation> UpdateImageVersion(const GalleryImageRef& ref,
                                                 const std::string& version,
                                                 const PublishingUpdate& update) = 0;
  // Deleting a missing version is an already Succeeded operation. No ownership
  // check: see DeleteOwnedImageVersion.
  virtual StatusOr<Operation> DeleteImageVersion(const GalleryImageRef& ref,
                                                 const std::string& version) = 0;
  // DeleteImageVersion, but only of a version tagged with `owner_uid`
  // (VersionConflict otherwise): cleaning up after one release never deletes
  // another's version. Built on GetImageVersion + DeleteImageVersion.
  virtual StatusOr<Operation> DeleteOwnedImageVersion(const GalleryImageRef& ref,
                                                      const std::string& version,
                                                      const std::string& owner_uid);
};

// Wire format, shared with tests and fakes.
nlohmann::json ImageDefinitionBody(const ImageDefinition& definition);
ImageDefinition ParseImageDefinition(const nlohmann::json& resource);
// Regions without their own exclude_from_latest get spec.exclude_from_latest.
nlohmann::json ImageVersionBody(const ImageVersionSpec& spec);
ImageVersion ParseImageVersion(const nlohmann::json& resource);
// Azure gallery rule: three dot-separated non-negative 32-bit integers.
bool IsValidGalleryVersion(const std::string& version);

}  // namespace vmrelease::azure

#include "controller/azure/arm_gallery.h"

#include <algorithm>
#include <cctype>

#include "controller/azure/azure_error.h"
#include "controller/common/log.h"

namespace vmrelease::azure {
namespace {

constexpr const char* kImagesType = "Microsoft.Compute/galleries";

bool EqualsNoCase(const std::string& a, const std::string& b) { return SameResourceId(a, b); }

std::string WithoutQuery(const std::string& uri) { return uri.substr(0, uri.find('?')); }

Status Conflict(const std::string& message, const std::string& reason) {
  ErrorDetail d;
  d.reason = reason;
  return Status(StatusCode::kAlreadyExists, message, std::move(d));
}

// The owner tag of a version as read ("" when untagged).
std::string OwnerOf(const nlohmann::json& version) {
  const auto tags = JsonTags(version);
  auto it = tags.find(kReleaseUidTag);
  return it == tags.end() ? "" : it->second;
}

Status VersionConflictError(const GalleryImageRef& ref, const std::string& version,
                            const std::string& theirs, const std::string& ours) {
  const std::string owner = theirs.empty() ? "carries no " + std::string(kReleaseUidTag) +
                                                 " tag (it was not created by vmrelease)"
                                           : "belongs to release uid " + theirs;
  ErrorDetail d;
  d.reason = kVersionConflict;
  return Status(StatusCode::kAlreadyExists,
                "gallery image version " + version + " of " + ref.image + " " + owner +
                    ", not to this release (uid " + ours + "); refusing to modify it",
                std::move(d));
}

Status RequireOwner(const std::string& owner_uid, const std::string& what) {
  if (owner_uid.empty())
    return InvalidArgumentError(what + ": owner_uid (the release uid) is required");
  return Status::Ok();
}

constexpr const char* kSecurityTypeFeature = "SecurityType";

std::string SecurityTypeOrStandard(const ImageDefinition& d) {
  return d.security_type.empty() ? "Standard" : d.security_type;
}

nlohmann::json TargetRegionJson(const TargetRegion& r) {
  nlohmann::json j = {{"name", r.name}, {"regionalReplicaCount", r.regional_replica_count}};
  if (!r.storage_account_type.empty()) j["storageAccountType"] = r.storage_account_type;
  if (r.exclude_from_latest) j["excludeFromLatest"] = *r.exclude_from_latest;
  return j;
}

nlohmann::json SafetyJson(const SafetyProfile& s) {
  nlohmann::json j = nlohmann::json::object();
  if (s.allow_deletion_of_replicated_locations)
    j["allowDeletionOfReplicatedLocations"] = *s.allow_deletion_of_replicated_locations;
  if (s.block_deletion_before_end_of_life)
    j["blockDeletionBeforeEndOfLife"] = *s.block_deletion_before_end_of_life;
  return j;
}

Status ValidateImageRef(const GalleryImageRef& ref) {
  RETURN_IF_ERROR(ValidateResourceGroup({ref.subscription_id, ref.resource_group}));
  RETURN_IF_ERROR(ValidateResourceName(ref.gallery, "gallery"));
  return ValidateResourceName(ref.image, "image definition");
}

Status ValidateVersion(const std::string& version) {
  if (!IsValidGalleryVersion(version))
    return InvalidArgumentError("gallery image version '" + version +
                                "' is not MAJOR.MINOR.PATCH integers");
  return Status::Ok();
}

}  // namespace

std::string GalleryImageRef::GalleryId() const {
  return ResourceGroupRef{subscription_id, resource_group}.Id(kImagesType, gallery);
}
std::string GalleryImageRef::Id() const { return GalleryId() + "/images/" + image; }
std::string GalleryImageRef::VersionId(const std::string& version) const {
  return Id() + "/versions/" + version;
}

bool IsValidGalleryVersion(const std::string& version) {
  int parts = 0;
  size_t start = 0;
  while (true) {
    const size_t dot = version.find('.', start);
    const std::string part = version.substr(start, dot == std::string::npos ? dot : dot - start);
    if (part.empty() || part.size() > 10 ||
        !std::all_of(part.begin(), part.end(), [](unsigned char c) { return std::isdigit(c); }))
      return false;
    if (std::stoll(part) > 2147483647LL) return false;
    ++parts;
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return parts == 3;
}

bool IsVersionConflict(const Status& status) {
  return status.code() == StatusCode::kAlreadyExists && status.detail().reason == kVersionConflict;
}

std::string VmSecurityTypeFor(const ImageDefinition& d) {
  const std::string t = d.security_type;
  if (EqualsNoCase(t, "ConfidentialVM")) return "ConfidentialVM";
  if (EqualsNoCase(t, "TrustedLaunch") || EqualsNoCase(t, "TrustedLaunchSupported") ||
      EqualsNoCase(t, "TrustedLaunchAndConfidentialVmSupported"))
    return "TrustedLaunch";
  return "Standard";  // no feature, "Standard", ConfidentialVMSupported
}

nlohmann::json ImageDefinitionBody(const ImageDefinition& d) {
  nlohmann::json j = {
      {"location", d.location},
      {"properties",
       {{"osType", d.os_type},
        {"osState", d.os_state},
        {"hyperVGeneration", d.hyper_v_generation},
        {"identifier", {{"publisher", d.publisher}, {"offer", d.offer}, {"sku", d.sku}}}}}};
  if (!d.security_type.empty() && !EqualsNoCase(d.security_type, "Standard"))
    j["properties"]["features"] = {{{"name", kSecurityTypeFeature}, {"value", d.security_type}}};
  if (!d.tags.empty()) j["tags"] = TagsJson(d.tags);
  return j;
}

ImageDefinition ParseImageDefinition(const nlohmann::json& r) {
  ImageDefinition d{.location = JsonStr(r, "/location"),
                    .os_type = JsonStr(r, "/properties/osType"),
                    .os_state = JsonStr(r, "/properties/osState"),
                    .hyper_v_generation = JsonStr(r, "/properties/hyperVGeneration"),
                    .publisher = JsonStr(r, "/properties/identifier/publisher"),
                    .offer = JsonStr(r, "/properties/identifier/offer"),
                    .sku = JsonStr(r, "/properties/identifier/sku"),
                    .tags = JsonTags(r),
                    .id = JsonStr(r, "/id"),
                    .provisioning_state = JsonStr(r, "/properties/provisioningState")};
  const nlohmann::json::json_pointer features("/properties/features");
  if (r.contains(features) && r.at(features).is_array()) {
    for (const auto& f : r.at(features)) {
      if (EqualsNoCase(JsonStr(f, "/name"), kSecurityTypeFeature))
        d.security_type = JsonStr(f, "/value");
    }
  }
  return d;
}

nlohmann::json ImageVersionBody(const ImageVersionSpec& s) {
  nlohmann::json publishing = {{"targetRegions", nlohmann::json::array()},
                               {"excludeFromLatest", s.exclude_from_latest}};
  for (TargetRegion r : s.target_regions) {
    // Azure keeps a region-level flag too (read back as false when not sent).
    if (!r.exclude_from_latest) r.exclude_from_latest = s.exclude_from_latest;
    publishing["targetRegions"].push_back(TargetRegionJson(r));
  }
  if (s.replica_count) publishing["replicaCount"] = *s.replica_count;
  if (!s.storage_account_type.empty()) publishing["storageAccountType"] = s.storage_account_type;
  if (s.end_of_life) publishing["endOfLifeDate"] = FormatRfc3339(*s.end_of_life);
  nlohmann::json props = {
      {"publishingProfile", publishing},
      {"storageProfile",
       {{"osDiskImage",
         {{"source",
           {{"storageAccountId", s.source_storage_account_id}, {"uri", s.source_vhd_uri}}},
          {"hostCaching", s.host_caching}}}}}};
  if (nlohmann::json safety = SafetyJson(s.safety); !safety.empty())
    props["safetyProfile"] = safety;
  nlohmann::json j = {{"location", s.location}, {"properties", props}};
  std::map<std::string, std::string> tags = s.tags;
  if (!s.owner_uid.empty()) tags[kReleaseUidTag] = s.owner_uid;
  if (!tags.empty()) j["tags"] = TagsJson(tags);
  return j;
}

ImageVersion ParseImageVersion(const nlohmann::json& r) {
  ImageVersion v;
  v.id = JsonStr(r, "/id");
  v.name = JsonStr(r, "/name");
  v.location = JsonStr(r, "/location");
  v.provisioning_state = JsonStr(r, "/properties/provisioningState");
  v.published_date = JsonTime(r, "/properties/publishingProfile/publishedDate");
  ImageVersionSpec& s = v.spec;
  s.location = v.location;
  s.source_storage_account_id =
      JsonStr(r, "/properties/storageProfile/osDiskImage/source/storageAccountId");
  s.source_vhd_uri = JsonStr(r, "/properties/storageProfile/osDiskImage/source/uri");
  s.host_caching = JsonStr(r, "/properties/storageProfile/osDiskImage/hostCaching");
  s.exclude_from_latest =
      JsonBool(r, "/properties/publishingProfile/excludeFromLatest").value_or(false);
  if (auto rc = JsonInt(r, "/properties/publishingProfile/replicaCount"))
    s.replica_count = static_cast<int>(*rc);
  s.storage_account_type = JsonStr(r, "/properties/publishingProfile/storageAccountType");
  s.end_of_life = JsonTime(r, "/properties/publishingProfile/endOfLifeDate");
  s.safety.allow_deletion_of_replicated_locations =
      JsonBool(r, "/properties/safetyProfile/allowDeletionOfReplicatedLocations");
  s.safety.block_deletion_before_end_of_life =
      JsonBool(r, "/properties/safetyProfile/blockDeletionBeforeEndOfLife");
  s.tags = JsonTags(r);
  if (auto it = s.tags.find(kReleaseUidTag); it != s.tags.end()) s.owner_uid = it->second;
  if (r.contains("properties") && r["properties"].contains("publishingProfile")) {
    const auto& regions =
        r["properties"]["publishingProfile"].value("targetRegions", nlohmann::json::array());
    for (const auto& t : regions) {
      TargetRegion tr{.name = JsonStr(t, "/name"),
                      .regional_replica_count =
                          static_cast<int>(JsonInt(t, "/regionalReplicaCount").value_or(1)),
                      .storage_account_type = JsonStr(t, "/storageAccountType"),
                      .exclude_from_latest = JsonBool(t, "/excludeFromLatest")};
      s.target_regions.push_back(std::move(tr));
    }
  }
  if (r.contains("properties") && r["properties"].contains("replicationStatus")) {
    const auto& rs = r["properties"]["replicationStatus"];
    ReplicationStatus status{.aggregated_state = JsonStr(rs, "/aggregatedState")};
    for (const auto& e : rs.value("summary", nlohmann::json::array())) {
      status.regions.push_back({.region = JsonStr(e, "/region"),
                                .state = JsonStr(e, "/state"),
                                .details = JsonStr(e, "/details"),
                                .progress = static_cast<int>(JsonInt(e, "/progress").value_or(0))});
    }
    v.replication = std::move(status);
  }
  return v;
}

StatusOr<ImageDefinition> ArmGallery::GetImageDefinition(const GalleryImageRef& ref) {
  RETURN_IF_ERROR(ValidateImageRef(ref));
  ASSIGN_OR_RETURN(nlohmann::json body, arm_.Get(ref.Id(), kGalleryApiVersion));
  return ParseImageDefinition(body);
}

StatusOr<Operation> ArmGallery::CreateImageDefinition(const GalleryImageRef& ref,
                                                      const ImageDefinition& d) {
  RETURN_IF_ERROR(ValidateImageRef(ref));
  for (int round = 0; round < 2; ++round) {
    StatusOr<nlohmann::json> existing = arm_.Get(ref.Id(), kGalleryApiVersion);
    if (existing.ok()) {
      const ImageDefinition have = ParseImageDefinition(*existing);
      const bool same = EqualsNoCase(have.os_type, d.os_type) &&
                        EqualsNoCase(have.os_state, d.os_state) &&
                        EqualsNoCase(have.hyper_v_generation, d.hyper_v_generation) &&
                        EqualsNoCase(have.publisher, d.publisher) &&
                        EqualsNoCase(have.offer, d.offer) && EqualsNoCase(have.sku, d.sku) &&
                        // An unset security type adopts whatever the definition has.
                        (d.security_type.empty() ||
                         EqualsNoCase(SecurityTypeOrStandard(have), SecurityTypeOrStandard(d)));
      if (!same)
        return Conflict("image definition " + ref.image + " already exists as " + have.os_type +
                            "/" + have.os_state + "/" + have.hyper_v_generation + " " +
                            have.publisher + ":" + have.offer + ":" + have.sku +
                            (have.security_type.empty() ? "" : " " + have.security_type) +
                            ", which differs from the requested one",
                        "GalleryImageExists");
      return arm_.Adopt(ref.Id(), kGalleryApiVersion, *existing);
    }
    if (existing.status().code() != StatusCode::kNotFound) return existing.status();
    http::Headers h{{"If-None-Match", "*"}};
    StatusOr<Operation> op = arm_.Begin({.method = "PUT",
                                         .path = ref.Id(),
                                         .api_version = kGalleryApiVersion,
                                         .body = ImageDefinitionBody(d),
                                         .headers = h});
    // 412 (or 409, when If-None-Match was ignored and the identities differ):
    // created by someone else since our GET; compare with what is there now.
    if (!op.ok() &&
        (op.status().detail().http_status == 412 || op.status().detail().http_status == 409))
      continue;
    return op;
  }
  return AbortedError("image definition " + ref.image + " keeps changing concurrently");
}

StatusOr<ImageVersion> ArmGallery::GetImageVersion(const GalleryImageRef& ref,
                                                   const std::string& version,
                                                   bool replication_status) {
  RETURN_IF_ERROR(ValidateImageRef(ref));
  RETURN_IF_ERROR(ValidateVersion(version));
  QueryParams q;
  if (replication_status) q.emplace_back("$expand", "ReplicationStatus");
  ASSIGN_OR_RETURN(nlohmann::json body, arm_.Get(ref.VersionId(version), kGalleryApiVersion, q));
  return ParseImageVersion(body);
}

StatusOr<Operation> ArmGallery::CreateImageVersion(const GalleryImageRef& ref,
                                                   const std::string& version,
                                                   const ImageVersionSpec& spec) {
  RETURN_IF_ERROR(ValidateImageRef(ref));
  RETURN_IF_ERROR(ValidateVersion(version));
  RETURN_IF_ERROR(RequireOwner(spec.owner_uid, "image version " + version));
  if (spec.source_vhd_uri.empty() || spec.source_storage_account_id.empty())
    return InvalidArgumentError("image version " + version +
                                ": source storage account id and VHD URI are required");
  if (spec.source_vhd_uri.find('?') != std::string::npos)
    return InvalidArgumentError("image version " + version +
                                ": the source VHD URI must not carry a query (SAS)");
  const std::string id = ref.VersionId(version);
  StatusOr<nlohmann::json> existing = arm_.Get(id, kGalleryApiVersion);
  if (existing.ok()) return AdoptOrRefuse(ref, version, spec, *existing);
  if (existing.status().code() != StatusCode::kNotFound) return existing.status();

  http::Headers h{{"If-None-Match", "*"}};
  StatusOr<Operation> op = arm_.Begin({.method = "PUT",
                                       .path = id,
                                       .api_version = kGalleryApiVersion,
                                       .body = ImageVersionBody(spec),
                                       .headers = h});
  if (op.ok()) return op;
  // 412 (If-None-Match honoured), 409 (created or being created meanwhile),
  // or an answer that may have come after the PUT landed (5xx, no answer, and
  // retries of it): what exists now decides, not the error.
  StatusOr<nlohmann::json> now = arm_.Get(id, kGalleryApiVersion);
  if (now.ok()) {
    log::Info("azure.gallery", "create of a gallery image version failed; read it back",
              {{"version", id},
               {"error", op.status().message()},
               {"owner", OwnerOf(*now)},
               {"ours", OwnerOf(*now) == spec.owner_uid}});
    return AdoptOrRefuse(ref, version, spec, *now);
  }
  return op.status();  // nothing there (or unreadable): the create's own error
}

StatusOr<Operation> ArmGallery::AdoptOrRefuse(const GalleryImageRef& ref,
                                              const std::string& version,
                                              const ImageVersionSpec& spec,
                                              const nlohmann::json& existing) {
  const std::string id = ref.VersionId(version);
  const std::string owner = OwnerOf(existing);
  if (owner != spec.owner_uid) {
    log::Warn("azure.gallery", "refusing to touch a gallery image version owned by someone else",
              {{"version", id}, {"owner", owner}, {"ours", spec.owner_uid}});
    return VersionConflictError(ref, version, owner, spec.owner_uid);
  }
  const ImageVersion have = ParseImageVersion(existing);
  const bool same_source =
      SameResourceId(have.spec.source_storage_account_id, spec.source_storage_account_id) &&
      WithoutQuery(have.spec.source_vhd_uri) == spec.source_vhd_uri;
  if (!same_source) {
    log::Warn("azure.gallery", "refusing to overwrite an existing gallery image version",
              {{"version", id}, {"existing_source", WithoutQuery(have.spec.source_vhd_uri)}});
    return Conflict("gallery image version " + version + " of " + ref.image +
                        " already exists with different content (source " +
                        WithoutQuery(have.spec.source_vhd_uri) + ", requested " +
                        spec.source_vhd_uri + "); versions are immutable, refusing to overwrite",
                    "GalleryImageVersionExists");
  }
  // Ours: an earlier attempt (maybe by a previous controller process) created it.
  return arm_.Adopt(id, kGalleryApiVersion, existing);
}

StatusOr<Operation> ArmGallery::UpdateImageVersion(const GalleryImageRef& ref,
                                                   const std::string& version,
                                                   const PublishingUpdate& u) {
  RETURN_IF_ERROR(ValidateImageRef(ref));
  RETURN_IF_ERROR(ValidateVersion(version));
  RETURN_IF_ERROR(RequireOwner(u.owner_uid, "update of image version " + version));
  const std::string id = ref.VersionId(version);
  ASSIGN_OR_RETURN(nlohmann::json current, arm_.Get(id, kGalleryApiVersion));
  if (const std::string owner = OwnerOf(current); owner != u.owner_uid) {
    log::Warn("azure.gallery", "refusing to update a gallery image version owned by someone else",
              {{"version", id}, {"owner", owner}, {"ours", u.owner_uid}});
    return VersionConflictError(ref, version, owner, u.owner_uid);
  }
  nlohmann::json props = current.value("properties", nlohmann::json::object());
  nlohmann::json publishing = props.value("publishingProfile", nlohmann::json::object());
  // Read-only fields must not be sent back.
  publishing.erase("publishedDate");
  if (u.target_regions) {
    // New regions without a flag of their own take the version's current one
    // (Azure would default them to false, splitting the two levels).
    const bool current = publishing.value("excludeFromLatest", false);
    publishing["targetRegions"] = nlohmann::json::array();
    for (TargetRegion r : *u.target_regions) {
      if (!r.exclude_from_latest) r.exclude_from_latest = current;
      publishing["targetRegions"].push_back(TargetRegionJson(r));
    }
  }
  if (u.replica_count) publishing["replicaCount"] = *u.replica_count;
  if (u.exclude_from_latest) {
    // Both levels: the regions carry their own flag (false unless sent), and
    // which one Azure honours for "latest" is not documented.
    publishing["excludeFromLatest"] = *u.exclude_from_latest;
    if (publishing.contains("targetRegions") && publishing["targetRegions"].is_array())
      for (auto& r : publishing["targetRegions"]) r["excludeFromLatest"] = *u.exclude_from_latest;
  }
  if (u.end_of_life) publishing["endOfLifeDate"] = FormatRfc3339(*u.end_of_life);
  nlohmann::json storage = props.value("storageProfile", nlohmann::json::object());
  if (storage.contains("osDiskImage")) storage["osDiskImage"].erase("sizeInGB");
  nlohmann::json patch_props = {{"publishingProfile", publishing}, {"storageProfile", storage}};
  nlohmann::json safety = props.value("safetyProfile", nlohmann::json::object());
  for (const char* ro : {"reportedForPolicyViolation", "policyViolations"}) safety.erase(ro);
  if (u.safety) {
    const nlohmann::json requested = SafetyJson(*u.safety);  // range-for does not extend it
    for (const auto& [k, v] : requested.items()) safety[k] = v;
  }
  if (!safety.empty()) patch_props["safetyProfile"] = safety;
  return arm_.Begin({.method = "PATCH",
                     .path = id,
                     .api_version = kGalleryApiVersion,
                     .body = nlohmann::json{{"properties", patch_props}}});
}

StatusOr<Operation> ArmGallery::DeleteImageVersion(const GalleryImageRef& ref,
                                                   const std::string& version) {
  RETURN_IF_ERROR(ValidateImageRef(ref));
  RETURN_IF_ERROR(ValidateVersion(version));
  return arm_.Begin(
      {.method = "DELETE", .path = ref.VersionId(version), .api_version = kGalleryApiVersion});
}

StatusOr<Operation> Gallery::DeleteOwnedImageVersion(const GalleryImageRef& ref,
                                                     const std::string& version,
                                                     const std::string& owner_uid) {
  RETURN_IF_ERROR(RequireOwner(owner_uid, "deletion of image version " + version));
  StatusOr<ImageVersion> v = GetImageVersion(ref, version, /*replication_status=*/false);
  if (!v.ok() && v.status().code() != StatusCode::kNotFound) return v.status();
  if (v.ok() && v->spec.owner_uid != owner_uid) {
    log::Warn("azure.gallery", "refusing to delete a gallery image version owned by someone else",
              {{"version", v->id}, {"owner", v->spec.owner_uid}, {"ours", owner_uid}});
    return VersionConflictError(ref, version, v->spec.owner_uid, owner_uid);
  }
  return DeleteImageVersion(ref, version);  // a missing version: already Succeeded
}

}  // namespace vmrelease::azure

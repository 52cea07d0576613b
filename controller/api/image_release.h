// ImageRelease (vmrelease.io/v1alpha1): one immutable, versioned, tested VM image.
//
// The C++ shape of crds/imagereleases.vmrelease.io.yaml (field names are the
// JSON names in snake_case; docs/api.md documents each field). Parsing keeps
// unknown members, so ToJson(ParseImageRelease(j)) is equivalent to j.
//
//   ASSIGN_OR_RETURN(ImageRelease r, ParseImageRelease(json));
//   SetDefaults(r);                            // the CRD's defaults, as the API server applies
//   them FieldErrors errors = Validate(r);          // validation.h Duration limit =
//   r.spec.build.TimeoutOrDefault(); Json back = ToJson(r);
//
// Guarantees: parsing fails only on JSON type errors and unknown enum values
// (which the CRD schema rejects too); a missing required field parses to an
// empty value so Validate can report it together with every other problem.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "controller/api/json_fields.h"
#include "controller/api/meta.h"
#include "controller/common/clock.h"
#include "controller/common/status.h"

namespace vmrelease::api {

inline constexpr char kImageReleaseKind[] = "ImageRelease";
inline constexpr char kImageReleasePlural[] = "imagereleases";

// CRD defaults (SetDefaults applies them; tests/unit/api/schema_test checks it against the CRD).
inline constexpr char kDefaultBuildTimeout[] = "2h";
inline constexpr char kDefaultValidationTimeout[] = "1h";
inline constexpr char kDefaultImageBuilderVmSize[] = "Standard_D2s_v5";
inline constexpr char kDefaultPlatformImageVersion[] = "latest";
// Fields inside list items have no CRD default: kubectl replaces lists whole, so a
// server-side default there would make every `kubectl apply` report "configured".
// These are the values an unset field means; the accessors below apply them.
inline constexpr char kDefaultCheckTimeout[] = "5m";
inline constexpr int64_t kDefaultReplicas = 1;

// Condition types of an ImageRelease (besides Ready, Reconciling, Stalled).
inline constexpr char kConditionBuilt[] = "Built";
inline constexpr char kConditionValidated[] = "Validated";
inline constexpr char kConditionPublished[] = "Published";
inline constexpr char kConditionDeletionBlocked[] = "DeletionBlocked";

// Annotations a person sets on an ImageRelease.
inline constexpr char kRetryAnnotation[] = "vmrelease.io/retry";

enum class ChangeKind { kSecurity, kFix, kFeature, kConfiguration, kRemoval, kOther };
template <>
struct EnumTraits<ChangeKind> {
  static constexpr std::pair<ChangeKind, std::string_view> kValues[] = {
      {ChangeKind::kSecurity, "Security"}, {ChangeKind::kFix, "Fix"},
      {ChangeKind::kFeature, "Feature"},   {ChangeKind::kConfiguration, "Configuration"},
      {ChangeKind::kRemoval, "Removal"},   {ChangeKind::kOther, "Other"},
  };
};

struct ChangelogEntry {
  std::optional<ChangeKind> kind;
  std::string summary;
  std::optional<std::string> reference;
  Json extra;

  template <typename Io, typename Self>
  static void Fields(Io& io, Self& s) {
    io.Field("kind", s.kind);
    io.Field("summary", s.summary);
    io.Field("reference", s.reference);
  }
};

struct PlatformImage {
  std::string publisher;
  std::string offer;
  std::string sku;
  std::optional<std::string> version;  // default "latest"
  Json extra;

  template <typename Io, typename Self>
  static void Fields(Io& io, Self& s) {
    io.Field("publisher", s.publisher);
    io.Field("offer", s.offer);
    io.Field("sku", s.sku);
    io.Field("version", s.version);
  }
};

// Exactly one member is set in a valid release.
struct ReleaseSource {
  std::optional<PlatformImage> platform_image;
  std::optional<std::string> gallery_image_version_id;
  std::optional<std::string> release;  // name of an earlier ImageRelease (lineage)
  Json extra;

  template <typename Io, typename Self>
  static void Fields(Io& io, Self& s) {
    io.Field("platformImage", s.platform_image);
    io.Field("galleryImageVersionId", s.gallery_image_version_id);
    io.Field("release", s.release);
  }
};

// A Kubernetes Job backend (build or validation): `pod_template` is the JSON
// of a core/v1 PodTemplateSpec, handed to the Job as written.
struct JobBackend {
  Json pod_template;
  Json extra;

  template <typename Io, typename Self>
  static void Fields(Io& io, Self& s) {
    io.Field("template", s.pod_template);
  }
};

struct ImageBuilderBackend {
  std::string location;
  std::string subscription_id;
  std::string resource_group;
  std::string identity_id;
  std::optional<std::string> vm_size;  // default Standard_D2s_v5
  std::optional<int64_t> os_disk_size_gb;
  std::optional<std::string> subnet_id;
  std::vector<Json> customize;  // Image Builder customizers, passed through
  Json extra;

  template <typename Io, typename Self>
  static void Fields(Io& io, Self& s) {
    io.Field("location", s.location);
    io.Field("subscriptionId", s.subscription_id);
    io.Field("resourceGroup", s.resource_group);
    io.Field("identityId", s.identity_id);
    io.Field("vmSize", s.vm_size);
    io.Field("osDiskSizeGB", s.os_disk_size_gb);
    io.Field("subnetId", s.subnet_id);
    io.Field("customize", s.customize);
  }
};

// A command on the controller host (local build or validation backend).
struct LocalCommand {
  std::vector<std::string> command;
  std::map<std::string, std::string> env;
  std::optional<std::string> working_dir;
  Json extra;

  template <typename Io, typename Self>
  static void Fields(Io& io, Self& s) {
    io.Field("command", s.command);
    io.Field("env", s.env);
    io.Field("workingDir", s.working_dir);
  }
};

struct BuildSpec {
  std::optional<JobBackend> job;
  std::optional<ImageBuilderBackend> image_builder;
  std::optional<LocalCommand> local;
  std::optional<std::string> timeout;  // Go duration, default 2h
  Json extra;

  // The timeout, or the default when unset or unparsable (Validate reports the latter).
  Duration TimeoutOrDefault() const;

  template <typename Io, typename Self>
  static void Fields(Io& io, Self& s) {
    io.Field("job", s.job);
    io.Field("imageBuilder", s.image_builder);
    io.Field("local", s.local);
    io.Field("timeout", s.timeout);
  }
};

enum class OsType { kWindows, kLinux };
template <>
struct EnumTraits<OsType> {
  static constexpr std::pair<OsType, std::string_view> kValues[] = {
      {OsType::kWindows, "Windows"},
      {OsType::kLinux, "Linux"},
  };
};

struct ValidationVm {
  std::string location;
  std::string size;
  std::optional<OsType> os_type;
  std::string subnet_id;
  std::string resource_group;
  std::map<std::string, std::string> tags;
  Json extra;

  template <typename Io, typename Self>
  static void Fields(Io& io, Self& s) {
    io.Field("location", s.location);
    io.Field("size", s.size);
    io.Field("osType", s.os_type);
    io.Field("subnetId", s.subnet_id);
    io.Field("resourceGroup", s.resource_group);
    io.Field("tags", s.tags);
  }
};

struct CheckExpectation {
  std::optional<int64_t> exit_code;  // unset means 0
  std::optional<std::string> output_matches;
  Json extra;

  template <typename Io, typename Self>
  static void Fields(Io& io, Self& s) {
    io.Field("exitCode", s.exit_code);
    io.Field("outputMatches", s.output_matches);
  }
};

struct Check {
  std::string name;
  std::optional<std::string> description;
  std::string script;
  std::optional<CheckExpectation> expect;
  std::optional<std::string> timeout;  // Go duration, unset means 5m
  std::optional<bool> inventory;       // this check hands over the image's inventory
  Json extra;

  Duration TimeoutOrDefault() const;
  int64_t ExpectedExitCode() const { return expect && expect->exit_code ? *expect->exit_code : 0; }
  bool IsInventory() const { return inventory.value_or(false); }

  template <typename Io, typename Self>
  static void Fields(Io& io, Self& s) {
    io.Field("name", s.name);
    io.Field("description", s.description);
    io.Field("script", s.script);
    io.Field("expect", s.expect);
    io.Field("timeout", s.timeout);
    io.Field("inventory", s.inventory);
  }
};

struct ValidationSpec {
  std::optional<ValidationVm> vm;
  std::optional<JobBackend> job;
  std::optional<LocalCommand> local;
  std::vector<Check> checks;
  std::optional<bool> keep_vm_on_failure;  // default false
  std::optional<std::string> timeout;      // Go duration, default 1h
  Json extra;

  Duration TimeoutOrDefault() const;

  template <typename Io, typename Self>
  static void Fields(Io& io, Self& s) {
    io.Field("vm", s.vm);
    io.Field("job", s.job);
    io.Field("local", s.local);
    io.Field("checks", s.checks);
    io.Field("keepVmOnFailure", s.keep_vm_on_failure);
    io.Field("timeout", s.timeout);
  }
};

struct SecretReference {
  std::string name;
  Json extra;

  template <typename Io, typename Self>
  static void Fields(Io& io, Self& s) {
    io.Field("name", s.name);
  }
};

struct PublishCredentials {
  std::optional<SecretReference> secret_ref;
  Json extra;

  template <typename Io, typename Self>
  static void Fields(Io& io, Self& s) {
    io.Field("secretRef", s.secret_ref);
  }
};

enum class StorageAccountType { kStandardLrs, kStandardZrs, kPremiumLrs };
template <>
struct EnumTraits<StorageAccountType> {
  static constexpr std::pair<StorageAccountType, std::string_view> kValues[] = {
      {StorageAccountType::kStandardLrs, "Standard_LRS"},
      {StorageAccountType::kStandardZrs, "Standard_ZRS"},
      {StorageAccountType::kPremiumLrs, "Premium_LRS"},
  };
};

struct TargetRegion {
  std::string name;
  std::optional<int64_t> replicas;  // unset means 1
  std::optional<StorageAccountType> storage_account_type;
  Json extra;

  int64_t ReplicasOrDefault() const { return replicas.value_or(kDefaultReplicas); }

  template <typename Io, typename Self>
  static void Fields(Io& io, Self& s) {
    io.Field("name", s.name);
    io.Field("replicas", s.replicas);
    io.Field("storageAccountType", s.storage_account_type);
  }
};

struct GalleryTarget {
  std::string subscription_id;
  std::string resource_group;
  std::string gallery;
  std::string image_definition;
  std::vector<TargetRegion> target_regions;
  std::optional<bool> exclude_from_latest;  // default false
  Json extra;

  // The ARM id of this release's version: .../galleries/G/images/D/versions/<version>.
  std::string ImageVersionId(const std::string& version) const;

  template <typename Io, typename Self>
  static void Fields(Io& io, Self& s) {
    io.Field("subscriptionId", s.subscription_id);
    io.Field("resourceGroup", s.resource_group);
    io.Field("gallery", s.gallery);
    io.Field("imageDefinition", s.image_definition);
    io.Field("targetRegions", s.target_regions);
    io.Field("excludeFromLatest", s.exclude_from_latest);
  }
};

struct BlobTarget {
  std::string account_url;
  std::string container;
  Json extra;

  // "<image>/<version>.vhd": where the published VHD goes inside the container.
  static std::string BlobName(const std::string& image, const std::string& version) {
    return image + "/" + version + ".vhd";
  }

  template <typename Io, typename Self>
  static void Fields(Io& io, Self& s) {
    io.Field("accountUrl", s.account_url);
    io.Field("container", s.container);
  }
};

struct PublishSpec {
  std::optional<PublishCredentials> credentials;
  std::optional<GalleryTarget> gallery;
  std::optional<BlobTarget> blob;
  Json extra;

  template <typename Io, typename Self>
  static void Fields(Io& io, Self& s) {
    io.Field("credentials", s.credentials);
    io.Field("gallery", s.gallery);
    io.Field("blob", s.blob);
  }
};

enum class DeletionPolicy { kRetain, kDelete };
template <>
struct EnumTraits<DeletionPolicy> {
  static constexpr std::pair<DeletionPolicy, std::string_view> kValues[] = {
      {DeletionPolicy::kRetain, "Retain"},
      {DeletionPolicy::kDelete, "Delete"},
  };
};

struct RetentionSpec {
  std::optional<int64_t> minimum_days;
  std::optional<DeletionPolicy> deletion_policy;  // default Retain
  Json extra;

  template <typename Io, typename Self>
  static void Fields(Io& io, Self& s) {
    io.Field("minimumDays", s.minimum_days);
    io.Field("deletionPolicy", s.deletion_policy);
  }
};

struct Revocation {
  std::string reason;
  std::optional<std::string> reference;
  Json extra;

  template <typename Io, typename Self>
  static void Fields(Io& io, Self& s) {
    io.Field("reason", s.reason);
    io.Field("reference", s.reference);
  }
};

struct ImageReleaseSpec {
  std::string image;
  std::string version;
  std::vector<ChangelogEntry> changelog;
  ReleaseSource source;
  BuildSpec build;
  ValidationSpec validation;
  PublishSpec publish;
  std::optional<RetentionSpec> retention;
  std::optional<Revocation> revocation;
  Json extra;

  DeletionPolicy DeletionPolicyOrDefault() const {
    return retention && retention->deletion_policy ? *retention->deletion_policy
                                                   : DeletionPolicy::kRetain;
  }
  int64_t MinimumRetentionDays() const {
    return retention && retention->minimum_days ? *retention->minimum_days : 0;
  }

  template <typename Io, typename Self>
  static void Fields(Io& io, Self& s) {
    io.Field("image", s.image);
    io.Field("version", s.version);
    io.Field("changelog", s.changelog);
    io.Field("source", s.source);
    io.Field("build", s.build);
    io.Field("validation", s.validation);
    io.Field("publish", s.publish);
    io.Field("retention", s.retention);
    io.Field("revocation", s.revocation);
  }
};

// --- status -------------------------------------------------------------------------------

enum class ReleasePhase {
  kPending,
  kBuilding,
  kStaging,
  kValidating,
  kPublishing,
  kReleased,
  kFailed,
  kRevoked
};
template <>
struct EnumTraits<ReleasePhase> {
  static constexpr std::pair<ReleasePhase, std::string_view> kValues[] = {
      {ReleasePhase::kPending, "Pending"},       {ReleasePhase::kBuilding, "Building"},
      {ReleasePhase::kStaging, "Staging"},       {ReleasePhase::kValidating, "Validating"},
      {ReleasePhase::kPublishing, "Publishing"}, {ReleasePhase::kReleased, "Released"},
      {ReleasePhase::kFailed, "Failed"},         {ReleasePhase::kRevoked, "Revoked"},
  };
};

enum class ReleaseStep { kBuild, kStage, kValidate, kPublish };
template <>
struct EnumTraits<ReleaseStep> {
  static constexpr std::pair<ReleaseStep, std::string_view> kValues[] = {
      {ReleaseStep::kBuild, "Build"},
      {ReleaseStep::kStage, "Stage"},
      {ReleaseStep::kValidate, "Validate"},
      {ReleaseStep::kPublish, "Publish"},
  };
};

// Which part of the controller started a long-running operation (status.operation.step).
enum class OperationStep { kBuild, kStage, kValidate, kPublish, kRevoke, kDelete };
template <>
struct EnumTraits<OperationStep> {
  static constexpr std::pair<OperationStep, std::string_view> kValues[] = {
      {OperationStep::kBuild, "Build"},       {OperationStep::kStage, "Stage"},
      {OperationStep::kValidate, "Validate"}, {OperationStep::kPublish, "Publish"},
      {OperationStep::kRevoke, "Revoke"},     {OperationStep::kDelete, "Delete"},
  };
};

// status.operation: the remote operation in flight, recorded so a restart resumes it.
struct PendingOperation {
  OperationStep step = OperationStep::kBuild;
  std::string action;
  std::optional<std::string> ref;
  std::optional<std::string> started_at;
  Json extra;

  template <typename Io, typename Self>
  static void Fields(Io& io, Self& s) {
    io.Always("step", s.step);
    io.Always("action", s.action);
    io.Field("ref", s.ref);
    io.Field("startedAt", s.started_at);
  }
};

struct BuildStatus {
  std::optional<std::string> name;
  std::optional<std::string> started_at;
  std::optional<std::string> completed_at;
  std::optional<std::string> operation;
  std::optional<std::string> source_version;
  std::optional<int64_t> exit_code;
  std::optional<std::string> output_tail;
  Json extra;

  template <typename Io, typename Self>
  static void Fields(Io& io, Self& s) {
    io.Field("name", s.name);
    io.Field("startedAt", s.started_at);
    io.Field("completedAt", s.completed_at);
    io.Field("operation", s.operation);
    io.Field("sourceVersion", s.source_version);
    io.Field("exitCode", s.exit_code);
    io.Field("outputTail", s.output_tail);
  }
};

struct Artifact {
  std::optional<std::string> vhd_uri;
  std::optional<int64_t> size_bytes;
  std::optional<std::string> sha256;
  std::optional<std::string> gallery_image_version_id;
  Json extra;

  template <typename Io, typename Self>
  static void Fields(Io& io, Self& s) {
    io.Field("vhdUri", s.vhd_uri);
    io.Field("sizeBytes", s.size_bytes);
    io.Field("sha256", s.sha256);
    io.Field("galleryImageVersionId", s.gallery_image_version_id);
  }
};

// status.inventory: where the image's package/file inventory is kept, or why it
// is not (message). controller/inventory/store.h.
struct InventoryRef {
  std::optional<std::string> config_map;  // in the release's namespace
  std::optional<std::string> sha256;      // of the canonical JSON
  std::optional<int64_t> packages;
  std::optional<int64_t> files;
  std::optional<std::string> message;  // set when the build's inventory was not recorded
  Json extra;

  template <typename Io, typename Self>
  static void Fields(Io& io, Self& s) {
    io.Field("configMap", s.config_map);
    io.Field("sha256", s.sha256);
    io.Field("packages", s.packages);
    io.Field("files", s.files);
    io.Field("message", s.message);
  }
};

struct CheckResult {
  std::string name;
  bool passed = false;
  std::optional<int64_t> exit_code;
  std::optional<std::string> output_tail;
  std::optional<double> duration_seconds;
  std::optional<std::string> message;
  Json extra;

  template <typename Io, typename Self>
  static void Fields(Io& io, Self& s) {
    io.Always("name", s.name);
    io.Always("passed", s.passed);
    io.Field("exitCode", s.exit_code);
    io.Field("outputTail", s.output_tail);
    io.Field("durationSeconds", s.duration_seconds);
    io.Field("message", s.message);
  }
};

enum class ValidationState { kPreparing, kRunningChecks, kCleaningUp, kDone, kKept };
template <>
struct EnumTraits<ValidationState> {
  static constexpr std::pair<ValidationState, std::string_view> kValues[] = {
      {ValidationState::kPreparing, "Preparing"},
      {ValidationState::kRunningChecks, "RunningChecks"},
      {ValidationState::kCleaningUp, "CleaningUp"},
      {ValidationState::kDone, "Done"},
      {ValidationState::kKept, "Kept"},
  };
};

struct ValidationStatus {
  std::optional<std::string> vm;
  std::optional<ValidationState> state;
  std::optional<std::string> started_at;
  std::optional<std::string> completed_at;
  std::vector<CheckResult> results;
  Json extra;

  template <typename Io, typename Self>
  static void Fields(Io& io, Self& s) {
    io.Field("vm", s.vm);
    io.Field("state", s.state);
    io.Field("startedAt", s.started_at);
    io.Field("completedAt", s.completed_at);
    io.Field("results", s.results);
  }
};

enum class ReplicationState { kNotStarted, kInProgress, kCompleted, kFailed };
template <>
struct EnumTraits<ReplicationState> {
  static constexpr std::pair<ReplicationState, std::string_view> kValues[] = {
      {ReplicationState::kNotStarted, "NotStarted"},
      {ReplicationState::kInProgress, "InProgress"},
      {ReplicationState::kCompleted, "Completed"},
      {ReplicationState::kFailed, "Failed"},
  };
};

// Azure's per-region replication states (replicationStatus.summary[].state).
enum class RegionState { kUnknown, kReplicating, kCompleted, kFailed };
template <>
struct EnumTraits<RegionState> {
  static constexpr std::pair<RegionState, std::string_view> kValues[] = {
      {RegionState::kUnknown, "Unknown"},
      {RegionState::kReplicating, "Replicating"},
      {RegionState::kCompleted, "Completed"},
      {RegionState::kFailed, "Failed"},
  };
};

struct RegionReplication {
  std::string name;
  RegionState state = RegionState::kUnknown;
  std::optional<int64_t> progress;
  Json extra;

  template <typename Io, typename Self>
  static void Fields(Io& io, Self& s) {
    io.Always("name", s.name);
    io.Always("state", s.state);
    io.Field("progress", s.progress);
  }
};

enum class PublishState { kUpdatingGallery, kReplicating, kCopyingBlob, kCleaningUp, kDone };
template <>
struct EnumTraits<PublishState> {
  static constexpr std::pair<PublishState, std::string_view> kValues[] = {
      {PublishState::kUpdatingGallery, "UpdatingGallery"},
      {PublishState::kReplicating, "Replicating"},
      {PublishState::kCopyingBlob, "CopyingBlob"},
      {PublishState::kCleaningUp, "CleaningUp"},
      {PublishState::kDone, "Done"},
  };
};

struct PublishStatus {
  std::optional<ReplicationState> replication;
  std::vector<RegionReplication> regions;
  std::optional<std::string> blob_uri;
  std::optional<PublishState> state;
  std::optional<std::string> message;
  Json extra;

  template <typename Io, typename Self>
  static void Fields(Io& io, Self& s) {
    io.Field("replication", s.replication);
    io.Field("regions", s.regions);
    io.Field("blobUri", s.blob_uri);
    io.Field("state", s.state);
    io.Field("message", s.message);
  }
};

// An EnvironmentPin that resolves to a release (status.pinnedBy[]).
struct PinnedBy {
  std::string environment;
  std::string pin;  // the EnvironmentPin's name
  Json extra;

  template <typename Io, typename Self>
  static void Fields(Io& io, Self& s) {
    io.Always("environment", s.environment);
    io.Always("pin", s.pin);
  }
};

struct ImageReleaseStatus {
  std::optional<int64_t> observed_generation;
  std::optional<ReleasePhase> phase;
  std::vector<Condition> conditions;
  std::optional<std::string> previous_version;
  std::optional<BuildStatus> build;
  std::optional<Artifact> artifact;
  std::optional<InventoryRef> inventory;
  std::optional<ValidationStatus> validation;
  std::optional<PublishStatus> publish;
  std::optional<std::string> released_at;
  std::optional<std::string> end_of_life;
  std::optional<std::string> revoked_at;
  std::optional<ReleaseStep> failed_step;
  std::optional<std::string> last_handled_retry;
  std::optional<PendingOperation> operation;
  std::vector<PinnedBy> pinned_by;  // the environments that run this release
  Json extra;

  template <typename Io, typename Self>
  static void Fields(Io& io, Self& s) {
    io.Field("observedGeneration", s.observed_generation);
    io.Field("phase", s.phase);
    io.Field("conditions", s.conditions);
    io.Field("previousVersion", s.previous_version);
    io.Field("build", s.build);
    io.Field("artifact", s.artifact);
    io.Field("inventory", s.inventory);
    io.Field("validation", s.validation);
    io.Field("publish", s.publish);
    io.Field("releasedAt", s.released_at);
    io.Field("endOfLife", s.end_of_life);
    io.Field("revokedAt", s.revoked_at);
    io.Field("failedStep", s.failed_step);
    io.Field("lastHandledRetry", s.last_handled_retry);
    io.Field("operation", s.operation);
    io.Field("pinnedBy", s.pinned_by);
  }
};

struct ImageRelease {
  std::string api_version;  // vmrelease.io/v1alpha1
  std::string kind;         // ImageRelease
  ObjectMeta metadata;
  ImageReleaseSpec spec;
  std::optional<ImageReleaseStatus> status;
  Json extra;

  // Released and not revoked: the only state a pin may resolve to.
  bool IsReleased() const {
    return status && status->phase == ReleasePhase::kReleased && !spec.revocation;
  }

  template <typename Io, typename Self>
  static void Fields(Io& io, Self& s) {
    io.Field("apiVersion", s.api_version);
    io.Field("kind", s.kind);
    io.Field("metadata", s.metadata);
    io.Field("spec", s.spec);
    io.Field("status", s.status);
  }
};

// Parses an ImageRelease from its JSON. Errors name the field, e.g.
// "spec.validation.checks[1].timeout: must be a string, got integer"; a `kind`
// other than ImageRelease or an apiVersion other than vmrelease.io/v1alpha1 is
// rejected.
StatusOr<ImageRelease> ParseImageRelease(const Json& json);
Json ToJson(const ImageRelease& release);

// Applies the CRD's `default:` values that are missing, as the API server does
// on create and update (so objects built in code or read from files compare
// equal to what the server stores).
void SetDefaults(ImageRelease& release);

}  // namespace vmrelease::api

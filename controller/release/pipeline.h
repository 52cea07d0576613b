// The shared vocabulary of the release pipeline: what every step and backend
// sees (ReleaseContext), what it returns (StepResult), the backends' interfaces
// and the environment they run in (Azure clients, staging store, task runner).
//
//   StepResult BuildStep(ReleaseContext& ctx) {
//     if (ctx.PhaseAfter(api::ReleasePhase::kBuilding)) return StepResult::Done();
//     StepResult r = backend.Build(ctx);          // start or follow; never blocks
//     if (!r.done()) return r;                     // Wait / Failed / Error
//     ...
//   }
//
// Reconcilers and steps see only interfaces here (KubeClient, BlobStore,
// Gallery, VirtualMachines, Clock); controller/app wires the real ones.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "controller/api/image_release.h"
#include "controller/azure/blob_store.h"
#include "controller/azure/gallery.h"
#include "controller/azure/virtual_machines.h"
#include "controller/common/clock.h"
#include "controller/common/status.h"
#include "controller/kube/client.h"
#include "controller/kube/events.h"
#include "controller/release/names.h"
#include "controller/release/tasks.h"

namespace vmrelease::release {

// Condition reasons (status.conditions[].reason) and Event reasons.
namespace reason {
inline constexpr char kInvalidSpec[] = "InvalidSpec";
inline constexpr char kDuplicateVersion[] = "DuplicateVersion";
inline constexpr char kLocalBuildsDisabled[] = "LocalBuildsDisabled";
inline constexpr char kStagingNotConfigured[] = "StagingNotConfigured";
inline constexpr char kVersionConflict[] = "VersionConflict";
inline constexpr char kBlobConflict[] = "BlobConflict";
inline constexpr char kBuildFailed[] = "BuildFailed";
inline constexpr char kBuildTimedOut[] = "BuildTimedOut";
inline constexpr char kArtifactInvalid[] = "ArtifactInvalid";
inline constexpr char kStagingFailed[] = "StagingFailed";
inline constexpr char kCheckFailed[] = "CheckFailed";
inline constexpr char kBootFailed[] = "BootFailed";
inline constexpr char kValidationTimedOut[] = "ValidationTimedOut";
inline constexpr char kValidationFailed[] = "ValidationFailed";
inline constexpr char kPublishFailed[] = "PublishFailed";
inline constexpr char kReplicationFailed[] = "ReplicationFailed";
inline constexpr char kAzureError[] = "AzureError";
inline constexpr char kRevoked[] = "Revoked";
inline constexpr char kReleased[] = "Released";
inline constexpr char kRetentionNotExpired[] = "RetentionNotExpired";
inline constexpr char kPinnedByEnvironments[] = "PinnedByEnvironments";
}  // namespace reason

// What a step tells the reconciler.
class StepResult {
 public:
  enum class Kind {
    kDone,     // this step's work is complete: go on with the next one
    kWait,     // in progress (a build, an Azure operation): requeue after `requeue`
    kFailed,   // failed for good: the release becomes Failed at this step
    kStalled,  // the user must change something (spec, conflicting object): no retry
    kError,    // transient failure: retried with backoff, bounded, then Failed
  };
  static StepResult Done() { return StepResult(Kind::kDone); }
  // `message` (optional) explains the wait in the Ready condition, e.g. "build running (2m)".
  static StepResult Wait(Duration requeue, std::string message = "") {
    StepResult r(Kind::kWait);
    r.requeue_ = requeue;
    r.message_ = std::move(message);
    return r;
  }
  static StepResult Failed(std::string reason, std::string message) {
    StepResult r(Kind::kFailed);
    r.reason_ = std::move(reason);
    r.message_ = std::move(message);
    return r;
  }
  static StepResult Stalled(std::string reason, std::string message) {
    StepResult r(Kind::kStalled);
    r.reason_ = std::move(reason);
    r.message_ = std::move(message);
    return r;
  }
  static StepResult Error(Status status) {
    StepResult r(Kind::kError);
    r.status_ = std::move(status);
    r.message_ = r.status_.message();
    return r;
  }
  // Maps an Azure/Kubernetes error: throttling waits (Retry-After), 5xx and
  // transport errors are transient, the rest (invalid request, auth, quota,
  // conflict, a failed operation) fail the step with `failed_reason`.
  static StepResult FromAzure(const Status& status, const std::string& failed_reason);

  Kind kind() const { return kind_; }
  bool done() const { return kind_ == Kind::kDone; }
  Duration requeue() const { return requeue_; }
  const std::string& reason() const { return reason_; }
  const std::string& message() const { return message_; }
  const Status& status() const { return status_; }

 private:
  explicit StepResult(Kind kind) : kind_(kind) {}
  Kind kind_;
  Duration requeue_{0};
  std::string reason_;
  std::string message_;
  Status status_;
};

// An Event to publish once the status write succeeded.
struct PendingEvent {
  kube::EventType type = kube::EventType::kNormal;
  std::string reason;
  std::string action;
  std::string note;
};

// Publishing clients for one release: its own credentials when
// spec.publish.credentials names a Secret, else the controller's.
struct PublishClients {
  azure::Gallery* gallery = nullptr;  // null when the release publishes no gallery version
  azure::BlobStore* blob = nullptr;   // null when it publishes no blob
};
class PublisherFactory {
 public:
  virtual ~PublisherFactory() = default;
  // Errors: the Secret is missing or incomplete (kFailedPrecondition: the user
  // must fix it), or the account URL is unusable.
  virtual StatusOr<PublishClients> For(const api::ImageRelease& release) = 0;
};

// Metrics the pipeline reports (controller/metrics implements them).
class PipelineMetrics {
 public:
  virtual ~PipelineMetrics() = default;
  // vmrelease_release_phase{namespace,name,image,version,phase}: 1 for the current phase.
  virtual void SetPhase(const std::string& ns, const std::string& name, const std::string& image,
                        const std::string& version, std::string_view phase) = 0;
  virtual void ForgetRelease(const std::string& ns, const std::string& name) = 0;
  // vmrelease_pipeline_step_duration_seconds{step,backend,result}.
  virtual void ObserveStep(std::string_view step, std::string_view backend, std::string_view result,
                           double seconds) = 0;
};
PipelineMetrics& NullPipelineMetrics();

// Where and with what the pipeline runs: everything outside the release object.
struct Environment {
  Clock* clock = nullptr;
  kube::KubeClient* kube = nullptr;
  // The staging container (controller identity): build outputs land here.
  azure::BlobStore* staging = nullptr;
  std::string staging_container = "vmrelease-staging";
  // ARM id of the staging storage account (gallery versions and disks are created from it).
  std::string staging_account_id;
  azure::Gallery* gallery = nullptr;      // staging and validation (controller identity)
  azure::VirtualMachines* vms = nullptr;  // the vm validation backend
  PublisherFactory* publishers = nullptr;
  TaskRunner* tasks = nullptr;
  PipelineMetrics* metrics = nullptr;
  std::string work_root;  // local builds and checks: <work_root>/<ns>/<name>-<uid>
  bool allow_local_builds = false;
  std::string local_path;                                  // PATH for local commands
  Duration poll_interval = std::chrono::seconds(10);       // Azure operations without Retry-After
  Duration local_poll_interval = std::chrono::seconds(2);  // local processes
};

// One reconcile of one release: the object, its working status and the world.
struct ReleaseContext {
  const api::ImageRelease& release;  // as read from the store, CRD defaults applied
  api::ImageReleaseStatus& status;   // working copy; the reconciler writes it once at the end
  const ReleaseNames& names;
  Environment& env;
  WallTime now;
  std::vector<PendingEvent> events;
  // Every phase this reconcile moved the release to, in order (Events, metrics).
  std::vector<api::ReleasePhase> transitions;

  void SetPhase(api::ReleasePhase p) {
    if (status.phase == p) return;
    status.phase = p;
    transitions.push_back(p);
  }
  api::ReleasePhase phase() const { return status.phase.value_or(api::ReleasePhase::kPending); }
  std::string WorkDir() const { return env.work_root + "/" + names.work_dir; }
  azure::BlobRef StagingRef() const { return {env.staging_container, names.staging_blob}; }
  azure::BlobRef StagingInventoryRef() const {
    return {env.staging_container, names.staging_inventory};
  }
  std::string Now() const { return api::FormatTime(now); }
  void Event(std::string reason, std::string action, std::string note,
             kube::EventType type = kube::EventType::kNormal) {
    events.push_back({type, std::move(reason), std::move(action), std::move(note)});
  }
  // Records an Azure operation in flight (status.operation).
  void RecordOperation(api::OperationStep step, std::string action, std::string ref) {
    status.operation = api::PendingOperation{
        .step = step, .action = std::move(action), .ref = std::move(ref), .started_at = Now()};
  }
  // The key of a background task of this release: "<what>|<namespace>/<name>|<uid>".
  std::string TaskKey(std::string_view what) const {
    return std::string(what) + "|" + names.key + "|" + release.metadata.uid;
  }
  // The operation in flight if it is `action` of `step`, else nullptr.
  const api::PendingOperation* Operation(api::OperationStep step, std::string_view action) const {
    if (status.operation && status.operation->step == step && status.operation->action == action)
      return &*status.operation;
    return nullptr;
  }
};

// Where a finished build may have left its inventory JSON: a file on this host
// (a local build) or a blob beside the staging VHD (a job build uploads it).
struct InventorySource {
  std::string file;
  std::optional<azure::BlobRef> blob;
};

// A build backend: turns the release's build spec into a VHD in the staging blob.
class BuildBackend {
 public:
  virtual ~BuildBackend() = default;
  virtual std::string_view Name() const = 0;  // "local" | "job" | "imageBuilder"
  // Starts or follows the build. Done once the VHD is in ctx.StagingRef(); when
  // the backend computed the VHD's SHA-256 itself it stores it in
  // status.artifact.sha256 (else the Build step hashes the blob). Owns status.build.
  virtual StepResult Build(ReleaseContext& ctx) = 0;
  // Stops and removes what the build left running or lying around; idempotent.
  virtual StepResult Cleanup(ReleaseContext& ctx) = 0;
  // Where the finished build may have left its inventory JSON (read after Build
  // is done, before Cleanup); empty when the backend has none (imageBuilder).
  virtual InventorySource Inventory(const ReleaseContext& /*ctx*/) const { return {}; }
};

// A validation backend: runs spec.validation.checks against the staged image.
class ValidationBackend {
 public:
  virtual ~ValidationBackend() = default;
  virtual std::string_view Name() const = 0;  // "vm" | "job" | "local"
  // Starts or follows the checks, one at a time, appending each finished check
  // to status.validation.results (see EvaluateCheck). Done when every check has
  // a result or one failed (the Validate step decides).
  virtual StepResult Validate(ReleaseContext& ctx) = 0;
  // Removes the test VM / Pods / local runs. `keep` (keepVmOnFailure after a
  // failed check) leaves the test VM for debugging. Done when nothing is left.
  virtual StepResult Cleanup(ReleaseContext& ctx, bool keep) = 0;
  // Where the inventory check (`inventory: true`) left the image's inventory
  // JSON once it finished (read before Cleanup). The backend hands the check a
  // place for it only while WantsCheckInventory(ctx).
  virtual InventorySource Inventory(const ReleaseContext& ctx, const api::Check& check) const = 0;
};

// The check marked `inventory: true`, if any.
const api::Check* InventoryCheck(const api::ImageRelease& release);
// True when the inventory check's output is to be recorded: the release has one
// and the build's inventory was not recorded.
bool WantsCheckInventory(const ReleaseContext& ctx);

// The "namespace/name" of the release a TaskKey belongs to ("" if it is not one).
std::string ReleaseKeyOfTask(std::string_view task_key);

// The result of one check from its exit code and output, against its expectations.
api::CheckResult EvaluateCheck(const api::Check& check, int64_t exit_code,
                               const std::string& output, double duration_seconds);
// "check NAME passed (exit 0): <last line of output>" / "... failed: <why>" for Events.
std::string CheckEventNote(const api::CheckResult& result);
// Runs spec.validation.checks in order, each once: a check whose result is recorded is not
// run again, and a failed one ends the validation. `run(i, check)` starts or polls check i
// and, once it is done, has appended its result to status.validation.results; each result
// gets a CheckPassed/CheckFailed Event. With `pause_between`, a passed check that is not the
// last ends the reconcile (Wait(0)), so that its result is written before the next starts.
StepResult RunChecksInOrder(ReleaseContext& ctx, bool pause_between,
                            const std::function<StepResult(size_t, const api::Check&)>& run);
// The last `max_bytes` of `text` (from a line boundary), secrets redacted.
std::string TailForStatus(std::string_view text, size_t max_bytes = 4096);
// spec.source resolved for a build. `env` is what a job or local build gets:
//   VMRELEASE_SOURCE_KIND              platformImage | galleryImageVersion | release
//   VMRELEASE_SOURCE_PUBLISHER, _OFFER, _SKU, _VERSION (a platform image; VERSION may be latest)
//   VMRELEASE_SOURCE_GALLERY_IMAGE_VERSION_ID (a gallery version; a source release's, if any)
//   VMRELEASE_SOURCE_RELEASE, VMRELEASE_SOURCE_RELEASE_VERSION, VMRELEASE_SOURCE_VHD_URL
//                                      (a source release: its name, version, published blob)
// `version` is status.build.sourceVersion when it is known without asking Azure (not for a
// platform image's "latest").
struct ResolvedSource {
  std::map<std::string, std::string> env;
  std::optional<std::string> version;
  std::optional<std::string> gallery_image_version_id;
};
// FailedPrecondition (the user's to fix, or to wait for) when spec.source.release names a
// release that does not exist or is not Released.
StatusOr<ResolvedSource> ResolveSource(const ReleaseContext& ctx);

// The last non-empty line of `text` (at most its last 300 bytes), redacted: the line a
// failure message quotes.
std::string LastLine(std::string_view text);
// ": <last line of the recorded output tail>", or "" without one.
std::string LastLineOf(const std::optional<std::string>& output_tail);

}  // namespace vmrelease::release

namespace vmrelease::release {

// Starts `start` once and follows it across reconciles through status.operation
// (step + action): Wait while it runs, Done (operation cleared, `result` set to
// its result) when it succeeded, an Azure-mapped failure (reason
// `failed_reason`) when it failed. A recorded reference that cannot be parsed is
// started again (the calls are idempotent PUT/DELETEs with deterministic names).
StepResult FollowOperation(ReleaseContext& ctx, azure::OperationPoller& poller,
                           api::OperationStep step, const std::string& action,
                           const std::function<StatusOr<azure::Operation>()>& start,
                           const std::string& failed_reason, nlohmann::json* result = nullptr);

}  // namespace vmrelease::release

// KubeClient: the interface reconcilers and the runtime use to talk to the
// Kubernetes API, for any resource, with objects as JSON. RestClient
// (rest_client.h) implements it over HTTPS; tests may implement it in memory.
//
//   ASSIGN_OR_RETURN(Json obj, client.Get(kReleases, {"default", "sql-1.3.0"}));
//   ASSIGN_OR_RETURN(ObjectList all, ListAll(client, kReleases, {.label_selector = "app=x"}));
//   auto patched = client.Patch(kReleases, ref, PatchType::kMerge, {{"spec", {{"x", 1}}}});
//   if (IsConflict(patched.status())) ...
//
// Errors: every method returns the API server's answer mapped by errors.h
// (IsNotFound, IsConflict, IsGone, ...). Guarantees: implementations are
// thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "controller/common/status.h"
#include "controller/kube/resource.h"

namespace vmrelease::kube {

struct ListOptions {
  std::string ns;  // empty: all namespaces (or a cluster-scoped type)
  std::string label_selector;
  std::string field_selector;
  int64_t limit = 0;           // page size; 0 = everything in one response
  std::string continue_token;  // from the previous page
  std::string resource_version;
  std::string resource_version_match;  // "Exact" | "NotOlderThan" with resource_version
};

struct ObjectList {
  std::vector<Json> items;       // each with apiVersion and kind set
  std::string resource_version;  // the list's snapshot version: where a watch starts
  std::string continue_token;    // non-empty when more pages remain
  std::optional<int64_t> remaining_item_count;
};

struct WriteOptions {
  std::string field_manager;
  bool dry_run = false;
};

enum class PatchType {
  kMerge,           // application/merge-patch+json (RFC 7386)
  kJson,            // application/json-patch+json (RFC 6902); patch is an array of ops
  kStrategicMerge,  // built-in types only
  kApply,           // server-side apply; needs WriteOptions.field_manager
};

struct PatchOptions {
  std::string subresource;  // "" or "status"
  std::string field_manager;
  bool force = false;  // server-side apply only
  bool dry_run = false;
};

struct DeleteOptions {
  // Preconditions: the delete fails with a 409 Conflict when they do not match.
  std::optional<std::string> uid;
  std::optional<std::string> resource_version;
  std::string propagation_policy;  // "", "Background", "Foreground", "Orphan"
  std::optional<int64_t> grace_period_seconds;
};

struct WatchOptions {
  std::string ns;
  std::string label_selector;
  std::string field_selector;
  // Changes strictly after this version are streamed. Empty: the current state as
  // synthetic ADDED events first (the runtime always lists first instead).
  std::string resource_version;
  bool allow_bookmarks = true;
  // Server-side timeout; the server ends the stream cleanly after it. 0 = server default.
  int64_t timeout_seconds = 0;
};

enum class WatchEventType { kAdded, kModified, kDeleted, kBookmark };
const char* WatchEventTypeName(WatchEventType t);

struct WatchEvent {
  WatchEventType type;
  Json object;  // BOOKMARK: only apiVersion, kind and metadata.resourceVersion
};

// One open watch. Single reader; Cancel() may be called from any thread.
class WatchStream {
 public:
  virtual ~WatchStream() = default;
  // The next event; nullopt when the server ended the stream cleanly. An ERROR
  // event in the stream comes back as a non-ok Status (a 410 one satisfies IsGone).
  virtual StatusOr<std::optional<WatchEvent>> Next() = 0;
  // Unblocks Next() (it returns kCancelled). Idempotent.
  virtual void Cancel() = 0;
};

class KubeClient {
 public:
  virtual ~KubeClient() = default;

  virtual StatusOr<Json> Get(const ResourceType& type, const ObjectRef& ref) = 0;
  // One page (see ListOptions::limit / continue_token); ListAll() follows pages.
  virtual StatusOr<ObjectList> List(const ResourceType& type, const ListOptions& options) = 0;
  // The namespace comes from object.metadata.namespace (required for namespaced types).
  virtual StatusOr<Json> Create(const ResourceType& type, const Json& object,
                                const WriteOptions& options = {}) = 0;
  // PUT of the whole object; a stale metadata.resourceVersion fails with IsConflict().
  virtual StatusOr<Json> Update(const ResourceType& type, const Json& object,
                                const WriteOptions& options = {}) = 0;
  // PUT to the status subresource: only .status is kept by the server.
  virtual StatusOr<Json> UpdateStatus(const ResourceType& type, const Json& object,
                                      const WriteOptions& options = {}) = 0;
  virtual StatusOr<Json> Patch(const ResourceType& type, const ObjectRef& ref, PatchType patch_type,
                               const Json& patch, const PatchOptions& options = {}) = 0;
  // Returns what the server answered: the object (still present with a
  // deletionTimestamp when finalizers hold it) or a Status with status Success.
  virtual StatusOr<Json> Delete(const ResourceType& type, const ObjectRef& ref,
                                const DeleteOptions& options = {}) = 0;
  virtual StatusOr<std::unique_ptr<WatchStream>> Watch(const ResourceType& type,
                                                       const WatchOptions& options) = 0;

  StatusOr<Json> PatchStatus(const ResourceType& type, const ObjectRef& ref, PatchType patch_type,
                             const Json& patch) {
    return Patch(type, ref, patch_type, patch, PatchOptions{.subresource = "status"});
  }
};

// Lists every page (following continue tokens) into one ObjectList whose
// resource_version is the first page's snapshot version. `options.limit` is the
// page size (0 = one request).
StatusOr<ObjectList> ListAll(KubeClient& client, const ResourceType& type, ListOptions options);

}  // namespace vmrelease::kube

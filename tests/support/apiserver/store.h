// The in-memory object store behind the local API server: every resource type
// it serves, one monotonic resourceVersion, a bounded watch history, and the
// Kubernetes write semantics (generation, status subresource, finalizers,
// deletion with preconditions and propagation, namespaces, CRD registration).
//
//   Store store(RealClock::Get(), {.history_size = 10000});
//   auto rt = store.Lookup("", "v1", "configmaps");
//   ApiOr<Store::WriteResult> r = store.Create(*rt, "default", cm_json, {});
//   auto w = store.Watch(*rt, "default", {.resource_version = "0"});
//   while (auto ev = (*w)->Next(deadline)) { ... }
//
// Guarantees: all operations are atomic under one mutex; objects are immutable
// snapshots (shared_ptr<const StoredObject>) so readers serialise outside the
// lock; nothing in here touches the network. Watchers get their events pushed
// into a per-watcher bounded queue while the lock is held (never blocking), and
// a watcher whose queue overflows is closed.
// Caveats: no conversion between versions of a CRD (the `None` strategy: only
// apiVersion is rewritten); CEL rules are not evaluated.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "controller/common/clock.h"
#include "tests/support/apiserver/errors.h"
#include "tests/support/apiserver/patch.h"
#include "tests/support/apiserver/resource_types.h"
#include "tests/support/apiserver/selectors.h"

namespace vmrelease::apiserver {

// One stored version of an object, with its JSON text cached for lists/watches.
struct StoredObject {
  nlohmann::json obj;
  std::string text;  // obj.dump()
  int64_t rv = 0;
};
using ObjectPtr = std::shared_ptr<const StoredObject>;

struct WatchEvent {
  std::string type;                 // ADDED | MODIFIED | DELETED | BOOKMARK | ERROR
  ObjectPtr object;                 // null for BOOKMARK/ERROR
  int64_t rv = 0;                   // BOOKMARK: the resourceVersion to report
  bool initial_events_end = false;  // BOOKMARK with k8s.io/initial-events-end
  nlohmann::json error;             // ERROR: the Status object
};

struct WatchOptions {
  std::string resource_version;  // "" / "0": initial state first; else events after it
  LabelSelector labels;
  FieldSelector fields;
  bool send_initial_events = false;  // streaming list (with bookmarks: end marker)
  bool allow_bookmarks = false;
  size_t max_queue = 10000;  // live events buffered before the watcher is closed
};

// A registered watch. The HTTP layer pops events on its own thread.
class Watcher {
 public:
  // Waits until an event is ready, the watcher is closed, or `deadline`.
  // Returns nullopt when closed (after draining) or on timeout (check closed()).
  std::optional<WatchEvent> Next(std::chrono::steady_clock::time_point deadline);
  bool closed() const;
  bool overflowed() const;
  void Close();

 private:
  friend class Store;
  bool Push(WatchEvent ev);  // false (and closes) when the queue is full

  std::string storage_key_;
  std::string ns_;
  WatchOptions options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<WatchEvent> queue_;
  bool closed_ = false;
  bool overflowed_ = false;
  size_t initial_ = 0;  // initial events not counted against max_queue
};

struct WriteOptions {
  bool dry_run = false;
  std::string field_validation = "Strict";  // Strict | Warn | Ignore
  bool status_subresource = false;          // the request targets .../status
};

struct WriteResult {
  ObjectPtr object;
  std::vector<std::string> warnings;  // Warning headers (fieldValidation=Warn)
  int http_status = 200;              // 201 created, 202 deletion pending
  bool removed = false;               // delete removed the object at once
};

struct ListOptions {
  LabelSelector labels;
  FieldSelector fields;
  int64_t limit = 0;
  std::string continue_token;
  std::string resource_version;
  std::string resource_version_match;
};

struct ListResult {
  std::vector<ObjectPtr> items;
  int64_t rv = 0;
  std::string continue_token;
  std::optional<int64_t> remaining;
};

struct DeleteOptions {
  std::optional<std::string> precondition_uid;
  std::optional<std::string> precondition_rv;
  std::string propagation;  // "" | Background | Foreground | Orphan
  bool dry_run = false;
  // Pods: deletionGracePeriodSeconds (default: spec.terminationGracePeriodSeconds).
  std::optional<int64_t> grace_period_seconds;
};

class Store {
 public:
  struct Options {
    size_t history_size = 10000;
  };
  Store(Clock& clock, Options options);
  ~Store();

  // Registered types (built-ins and served CRD versions).
  std::shared_ptr<const ResourceType> Lookup(const std::string& group, const std::string& version,
                                             const std::string& plural) const;
  std::vector<std::shared_ptr<const ResourceType>> Types() const;
  int64_t CurrentRv() const;
  // Changes whenever the set of served types changes (for discovery/OpenAPI hashes).
  int64_t TypesGeneration() const;

  ApiOr<ObjectPtr> Get(const ResourceType& rt, const std::string& ns,
                       const std::string& name) const;
  ApiOr<ListResult> List(const ResourceType& rt, const std::string& ns,
                         const ListOptions& opts) const;
  ApiOr<WriteResult> Create(const ResourceType& rt, const std::string& ns, nlohmann::json obj,
                            const WriteOptions& opts);
  ApiOr<WriteResult> Update(const ResourceType& rt, const std::string& ns, const std::string& name,
                            nlohmann::json obj, const WriteOptions& opts);
  ApiOr<WriteResult> Patch(const ResourceType& rt, const std::string& ns, const std::string& name,
                           PatchType type, const std::string& body, const WriteOptions& opts);
  ApiOr<WriteResult> Delete(const ResourceType& rt, const std::string& ns, const std::string& name,
                            const DeleteOptions& opts);
  // Deletes every object the selectors match; returns what was deleted or marked.
  ApiOr<ListResult> DeleteCollection(const ResourceType& rt, const std::string& ns,
                                     const ListOptions& list, const DeleteOptions& opts);

  // Registers a watcher. Errors: 410 Expired when the version left the history
  // window (the HTTP layer turns that into an ERROR event).
  ApiOr<std::shared_ptr<Watcher>> Watch(const ResourceType& rt, const std::string& ns,
                                        WatchOptions opts);
  // Queues a BOOKMARK with the current resourceVersion (consistent with the events already queued).
  void Bookmark(Watcher& w);
  void Unregister(const std::shared_ptr<Watcher>& w);
  // Closes every watcher (clients see their streams end).
  void DropWatches();
  // Forgets the history: older resourceVersions get 410 on watch and continue.
  void Compact();
  size_t WatcherCount() const;

  // The version a resource version older than this gets 410 for.
  int64_t OldestRv() const;

 private:
  struct Bucket;  // objects of one storage key
  struct HistoryEvent {
    int64_t rv;
    std::string type;
    std::string storage_key;
    std::string key;  // ns/name
    ObjectPtr obj;    // new state (DELETED: last state)
    ObjectPtr prev;   // state before (null for ADDED)
  };

  ApiOr<WriteResult> CreateLocked(const ResourceType& rt, const std::string& ns, nlohmann::json obj,
                                  const WriteOptions& opts);
  ApiOr<WriteResult> UpdateLocked(const ResourceType& rt, const std::string& ns,
                                  const std::string& name, nlohmann::json obj,
                                  const WriteOptions& opts, bool from_patch);
  ApiOr<WriteResult> DeleteLocked(const ResourceType& rt, const std::string& ns,
                                  const std::string& name, const DeleteOptions& opts);
  // Writes a new state and notifies watchers. `type` DELETED removes the object;
  // then `obj` (if given) is its last state, else the stored one is used.
  ObjectPtr Commit(const ResourceType& rt, const std::string& key, nlohmann::json* obj,
                   const std::string& type);
  void Notify(const HistoryEvent& ev);
  void IndexOwners(const std::string& storage_key, const std::string& key, const ObjectPtr& before,
                   const ObjectPtr& after);
  void CollectGarbage(const std::string& removed_uid);
  void MaybeFinishNamespace(const std::string& ns);
  // Removes `cur` (with `last` as its final state when given), then deletes
  // orphaned dependents, finishes foreground owners and terminating namespaces.
  ObjectPtr RemoveAndCollect(const ResourceType& rt, const std::string& key, const ObjectPtr& cur,
                             nlohmann::json* last);
  // An events.k8s.io/v1 body validated and converted to the stored core/v1 shape.
  ApiOr<nlohmann::json> ToStored(const ResourceType& rt, nlohmann::json obj) const;
  ApiOr<nlohmann::json> Admit(const ResourceType& rt, nlohmann::json& obj, const WriteOptions& opts,
                              std::vector<std::string>* warnings);
  void RegisterCrd(const nlohmann::json& crd, const std::vector<ResourceType>& types);
  void UnregisterCrd(const std::string& crd_name);
  std::shared_ptr<const ResourceType> StorageType(const std::string& storage_key) const;
  std::shared_ptr<const ResourceType> LookupLocked(const std::string& group,
                                                   const std::string& version,
                                                   const std::string& plural) const;
  ApiOr<std::map<std::string, ObjectPtr>> SnapshotOverrides(const std::string& storage_key,
                                                            int64_t rv) const;
  Bucket& BucketFor(const std::string& storage_key);
  const Bucket* FindBucket(const std::string& storage_key) const;

  Clock& clock_;
  Options options_;
  mutable std::mutex mu_;
  int64_t rv_ = 0;
  int64_t oldest_rv_ = 0;  // history holds every event with rv > oldest_rv_
  int64_t types_generation_ = 0;
  std::deque<HistoryEvent> history_;
  std::map<std::string, std::shared_ptr<const ResourceType>> types_;  // group/version/plural
  std::map<std::string, std::unique_ptr<Bucket>> buckets_;
  std::unordered_map<std::string, std::pair<std::string, std::string>>
      by_uid_;  // uid → (skey, key)
  std::unordered_map<std::string, std::set<std::pair<std::string, std::string>>> dependents_;
  std::map<std::string, int64_t> ns_counts_;  // namespaced objects per namespace
  std::multimap<std::string, std::shared_ptr<Watcher>> watchers_;  // by storage key
};

// "a lowercase RFC 1123 subdomain ..." errors for metadata.name ("" = valid).
std::string ValidateDns1123Subdomain(const std::string& name);
std::string ValidateDns1123Label(const std::string& name);
std::string NewUid();

}  // namespace vmrelease::apiserver

// Store: the informer cache (kube-rs reflector / client-go indexer). A Watcher
// feeds it; reconcilers read immutable snapshots from it instead of asking the
// API server.
//
//   Store store;
//   store.AddIndex("image", [](const Json& o) { return std::vector<std::string>{...}; });
//   store.AddHandler({.on_add = [&](const ObjectPtr& o) { queue.Add(KeyOf(*o)); }, ...});
//   Watcher watcher(client, store, {...});      // Store is the watcher's sink
//   ...
//   if (ObjectPtr obj = store.Get({"default", "x"})) { ... (*obj)["spec"] ... }
//
// Guarantees:
//   - Keys are namespace/name; Get/List hand out shared_ptr<const Json> snapshots
//     that stay valid and unchanged however the store moves on.
//   - Replace() (an initial list or a relist after 410 Gone) makes the contents
//     exactly the given set: vanished objects are removed and reported to
//     on_delete with their last known state.
//   - HasSynced() is true after the first Replace().
//   - Handlers run on the feeding thread, outside the store's lock and in event
//     order, so they may read the store (and must not block for long).
// Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "controller/common/clock.h"
#include "controller/kube/resource.h"

namespace vmrelease::kube {

// Where a Watcher delivers what it sees (a Store, or anything else).
class WatchSink {
 public:
  virtual ~WatchSink() = default;
  // The complete current set (after a list); replaces everything seen before.
  virtual void Replace(std::vector<ObjectPtr> objects) = 0;
  // An object was added or modified.
  virtual void Apply(ObjectPtr object) = 0;
  // An object was deleted (its last state).
  virtual void Delete(ObjectPtr object) = 0;
};

struct EventHandler {
  std::function<void(const ObjectPtr&)> on_add;
  std::function<void(const ObjectPtr& old_obj, const ObjectPtr& new_obj)> on_update;
  std::function<void(const ObjectPtr&)> on_delete;
};

// Values an object is indexed under (e.g. its spec.image).
using IndexFunc = std::function<std::vector<std::string>(const Json&)>;

class Store final : public WatchSink {
 public:
  Store() = default;
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  ObjectPtr Get(const ObjectRef& ref) const;
  ObjectPtr GetByKey(const std::string& key) const;  // "ns/name"
  // Every object, or those of one namespace; in key order.
  std::vector<ObjectPtr> List() const;
  std::vector<ObjectPtr> List(const std::string& ns) const;
  size_t Size() const;

  bool HasSynced() const;
  // Blocks until synced or `timeout` of real time passes; returns HasSynced().
  bool WaitForSync(std::chrono::milliseconds timeout) const;

  // Handlers and indexes should be added before the watcher starts; objects
  // already present are indexed at once, and handlers only see later events.
  void AddHandler(EventHandler handler);
  void AddIndex(const std::string& name, IndexFunc fn);
  std::vector<ObjectPtr> ByIndex(const std::string& index, const std::string& value) const;

  // WatchSink
  void Replace(std::vector<ObjectPtr> objects) override;
  void Apply(ObjectPtr object) override;
  void Delete(ObjectPtr object) override;

 private:
  struct Change {
    ObjectPtr old_obj, new_obj;  // add: old null; delete: new null
  };
  void IndexLocked(const std::string& key, const ObjectPtr& old_obj, const ObjectPtr& new_obj);
  void Dispatch(const std::vector<Change>& changes);

  mutable std::mutex mu_;
  mutable std::condition_variable synced_cv_;
  std::map<std::string, ObjectPtr> objects_;  // ordered: List() is deterministic
  bool synced_ = false;
  std::vector<EventHandler> handlers_;
  struct Index {
    IndexFunc fn;
    std::unordered_map<std::string, std::set<std::string>> keys;  // value → keys
  };
  std::map<std::string, Index> indexes_;
  std::mutex dispatch_mu_;  // keeps handler calls in event order across feeders
};

// The store key of an object: "ns/name" (or "name").
inline std::string KeyOf(const Json& obj) { return ObjectRef::FromObject(obj).Key(); }

}  // namespace vmrelease::kube

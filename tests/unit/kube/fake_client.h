// In-memory KubeClient doubles for the runtime's unit tests.
//
// ScriptedClient: list pages and watch streams are queued by the test, so a
// test decides exactly what the watcher sees (events, ERROR 410, drops).
// MemoryClient: a tiny object store with resourceVersions, merge/JSON patch and
// conflict checks (and generateName), for events, finalizers, leases and Jobs.
#pragma once

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <vector>

#include "controller/kube/client.h"
#include "controller/kube/errors.h"

namespace vmrelease::kube::testing {

inline Json Obj(const std::string& ns, const std::string& name, const std::string& rv,
                Json spec = Json::object()) {
  return {{"apiVersion", "vmrelease.io/v1alpha1"},
          {"kind", "ImageRelease"},
          {"metadata", {{"namespace", ns}, {"name", name}, {"resourceVersion", rv}}},
          {"spec", std::move(spec)}};
}

inline Status KubeError(int code, const std::string& reason, const std::string& msg) {
  return FromKubeStatus({{"kind", "Status"}, {"reason", reason}, {"message", msg}, {"code", code}},
                        code, "fake");
}

// One step of a scripted watch stream.
struct WatchStep {
  enum class Kind { kEvent, kError, kEnd, kBlock } kind = Kind::kEvent;
  WatchEvent event{WatchEventType::kAdded, Json()};
  Status error;
  static WatchStep Event(WatchEventType t, Json obj) {
    return {Kind::kEvent, WatchEvent{t, std::move(obj)}, Status()};
  }
  static WatchStep Error(Status s) { return {Kind::kError, {}, std::move(s)}; }
  static WatchStep End() { return {Kind::kEnd, {}, Status()}; }
  // Blocks until the stream is cancelled (a healthy, quiet watch).
  static WatchStep Block() { return {Kind::kBlock, {}, Status()}; }
};

struct WatchScript {
  Status open_error;  // non-ok: Watch() itself fails
  std::vector<WatchStep> steps;
};

class ScriptedClient final : public KubeClient {
 public:
  void PushList(StatusOr<ObjectList> page) {
    std::lock_guard g(mu_);
    lists_.push_back(std::move(page));
  }
  void PushWatch(WatchScript script) {
    std::lock_guard g(mu_);
    watches_.push_back(std::move(script));
    cv_.notify_all();
  }
  std::vector<ListOptions> list_calls() {
    std::lock_guard g(mu_);
    return list_calls_;
  }
  std::vector<WatchOptions> watch_calls() {
    std::lock_guard g(mu_);
    return watch_calls_;
  }

  StatusOr<ObjectList> List(const ResourceType&, const ListOptions& o) override {
    std::lock_guard g(mu_);
    list_calls_.push_back(o);
    if (lists_.empty()) return UnavailableError("no scripted list");
    auto r = std::move(lists_.front());
    lists_.pop_front();
    return r;
  }

  StatusOr<std::unique_ptr<WatchStream>> Watch(const ResourceType&,
                                               const WatchOptions& o) override {
    WatchScript script;
    {
      std::lock_guard g(mu_);
      watch_calls_.push_back(o);
      if (watches_.empty()) {
        script.steps.push_back(WatchStep::Block());
      } else {
        script = std::move(watches_.front());
        watches_.pop_front();
      }
    }
    if (!script.open_error.ok()) return script.open_error;
    return std::unique_ptr<WatchStream>(std::make_unique<Stream>(std::move(script.steps)));
  }

  StatusOr<Json> Get(const ResourceType&, const ObjectRef&) override {
    return UnimplementedError("scripted client: get");
  }
  StatusOr<Json> Create(const ResourceType&, const Json&, const WriteOptions&) override {
    return UnimplementedError("scripted client: create");
  }
  StatusOr<Json> Update(const ResourceType&, const Json&, const WriteOptions&) override {
    return UnimplementedError("scripted client: update");
  }
  StatusOr<Json> UpdateStatus(const ResourceType&, const Json&, const WriteOptions&) override {
    return UnimplementedError("scripted client: update status");
  }
  StatusOr<Json> Patch(const ResourceType&, const ObjectRef&, PatchType, const Json&,
                       const PatchOptions&) override {
    return UnimplementedError("scripted client: patch");
  }
  StatusOr<Json> Delete(const ResourceType&, const ObjectRef&, const DeleteOptions&) override {
    return UnimplementedError("scripted client: delete");
  }

 private:
  class Stream final : public WatchStream {
   public:
    explicit Stream(std::vector<WatchStep> steps) : steps_(std::move(steps)) {}
    StatusOr<std::optional<WatchEvent>> Next() override {
      std::unique_lock lock(mu_);
      if (cancelled_) return CancelledError("cancelled");
      if (next_ >= steps_.size()) return std::optional<WatchEvent>();
      WatchStep& s = steps_[next_];
      switch (s.kind) {
        case WatchStep::Kind::kEvent:
          ++next_;
          return std::optional<WatchEvent>(s.event);
        case WatchStep::Kind::kError:
          ++next_;
          return s.error;
        case WatchStep::Kind::kEnd:
          ++next_;
          return std::optional<WatchEvent>();
        case WatchStep::Kind::kBlock:
          cv_.wait(lock, [&] { return cancelled_; });
          return CancelledError("cancelled");
      }
      return std::optional<WatchEvent>();
    }
    void Cancel() override {
      std::lock_guard g(mu_);
      cancelled_ = true;
      cv_.notify_all();
    }

   private:
    std::mutex mu_;
    std::condition_variable cv_;
    std::vector<WatchStep> steps_;
    size_t next_ = 0;
    bool cancelled_ = false;
  };

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<StatusOr<ObjectList>> lists_;
  std::deque<WatchScript> watches_;
  std::vector<ListOptions> list_calls_;
  std::vector<WatchOptions> watch_calls_;
};

// Objects by (resource, key) with a global resourceVersion counter.
class MemoryClient final : public KubeClient {
 public:
  struct Call {
    std::string verb;  // get, list, create, update, patch, delete
    std::string resource;
    std::string key;
    Json body;
  };

  std::vector<Call> calls() {
    std::lock_guard g(mu_);
    return calls_;
  }
  size_t CountCalls(const std::string& verb) {
    std::lock_guard g(mu_);
    size_t n = 0;
    for (const auto& c : calls_) n += c.verb == verb;
    return n;
  }
  // Makes the next `n` calls of `verb` fail with `error`.
  void FailNext(const std::string& verb, int n, Status error) {
    std::lock_guard g(mu_);
    failures_[verb] = {n, std::move(error)};
  }
  void Put(const ResourceType& type, Json obj) {
    std::lock_guard g(mu_);
    obj["metadata"]["resourceVersion"] = std::to_string(++rv_);
    const Id id = KeyFor(type, ObjectRef::FromObject(obj));  // before obj is moved from
    objects_[id] = std::move(obj);
  }
  std::optional<Json> Peek(const ResourceType& type, const ObjectRef& ref) {
    std::lock_guard g(mu_);
    auto it = objects_.find(KeyFor(type, ref));
    if (it == objects_.end()) return std::nullopt;
    return it->second;
  }
  std::vector<Json> All(const ResourceType& type) {
    std::lock_guard g(mu_);
    std::vector<Json> out;
    for (const auto& [id, obj] : objects_) {
      if (id.first == type.Name()) out.push_back(obj);
    }
    return out;
  }

  StatusOr<Json> Get(const ResourceType& type, const ObjectRef& ref) override {
    std::lock_guard g(mu_);
    RETURN_IF_ERROR(Record("get", type, ref, Json()));
    auto it = objects_.find(KeyFor(type, ref));
    if (it == objects_.end()) return KubeError(404, "NotFound", ref.Key() + " not found");
    return it->second;
  }
  StatusOr<ObjectList> List(const ResourceType& type, const ListOptions&) override {
    std::lock_guard g(mu_);
    RETURN_IF_ERROR(Record("list", type, {}, Json()));
    ObjectList out;
    for (const auto& [id, obj] : objects_) {
      if (id.first == type.Name()) out.items.push_back(obj);
    }
    out.resource_version = std::to_string(rv_);
    return out;
  }
  StatusOr<Json> Create(const ResourceType& type, const Json& object,
                        const WriteOptions&) override {
    std::lock_guard g(mu_);
    Json stored = object;
    const Json* gen = Find(object, {"metadata", "generateName"});
    if (Name(object).empty() && gen != nullptr && gen->is_string())
      stored["metadata"]["name"] = gen->get<std::string>() + "x" + std::to_string(rv_ + 1);
    const ObjectRef ref = ObjectRef::FromObject(stored);
    RETURN_IF_ERROR(Record("create", type, ref, object));
    if (objects_.count(KeyFor(type, ref)) != 0)
      return KubeError(409, "AlreadyExists", ref.Key() + " already exists");
    stored["metadata"]["resourceVersion"] = std::to_string(++rv_);
    stored["metadata"]["uid"] = "uid-" + std::to_string(rv_);
    objects_[KeyFor(type, ref)] = stored;
    return stored;
  }
  StatusOr<Json> Update(const ResourceType& type, const Json& object,
                        const WriteOptions&) override {
    std::lock_guard g(mu_);
    const ObjectRef ref = ObjectRef::FromObject(object);
    RETURN_IF_ERROR(Record("update", type, ref, object));
    auto it = objects_.find(KeyFor(type, ref));
    if (it == objects_.end()) return KubeError(404, "NotFound", ref.Key() + " not found");
    if (!ResourceVersion(object).empty() && ResourceVersion(object) != ResourceVersion(it->second))
      return KubeError(409, "Conflict", "the object has been modified");
    Json stored = object;
    stored["metadata"]["resourceVersion"] = std::to_string(++rv_);
    it->second = stored;
    return stored;
  }
  StatusOr<Json> UpdateStatus(const ResourceType& type, const Json& object,
                              const WriteOptions& o) override {
    return Update(type, object, o);
  }
  StatusOr<Json> Patch(const ResourceType& type, const ObjectRef& ref, PatchType t,
                       const Json& patch, const PatchOptions&) override {
    std::lock_guard g(mu_);
    RETURN_IF_ERROR(Record("patch", type, ref, patch));
    auto it = objects_.find(KeyFor(type, ref));
    if (it == objects_.end()) return KubeError(404, "NotFound", ref.Key() + " not found");
    Json next = it->second;
    try {
      if (t == PatchType::kJson) {
        next = next.patch(patch);
      } else {
        next.merge_patch(patch);
      }
    } catch (const Json::exception& e) {
      return KubeError(422, "Invalid", std::string("patch failed: ") + e.what());
    }
    next["metadata"]["resourceVersion"] = std::to_string(++rv_);
    it->second = next;
    return next;
  }
  StatusOr<Json> Delete(const ResourceType& type, const ObjectRef& ref,
                        const DeleteOptions&) override {
    std::lock_guard g(mu_);
    RETURN_IF_ERROR(Record("delete", type, ref, Json()));
    auto it = objects_.find(KeyFor(type, ref));
    if (it == objects_.end()) return KubeError(404, "NotFound", ref.Key() + " not found");
    Json last = it->second;
    objects_.erase(it);
    return last;
  }
  StatusOr<std::unique_ptr<WatchStream>> Watch(const ResourceType&, const WatchOptions&) override {
    return UnimplementedError("memory client: watch");
  }

 private:
  using Id = std::pair<std::string, std::string>;
  static Id KeyFor(const ResourceType& t, const ObjectRef& r) { return {t.Name(), r.Key()}; }
  Status Record(const std::string& verb, const ResourceType& type, const ObjectRef& ref,
                const Json& body) {
    calls_.push_back({verb, type.Name(), ref.Key(), body});
    auto f = failures_.find(verb);
    if (f != failures_.end() && f->second.first > 0) {
      --f->second.first;
      return f->second.second;
    }
    return Status::Ok();
  }

  std::mutex mu_;
  int64_t rv_ = 100;
  std::map<Id, Json> objects_;
  std::vector<Call> calls_;
  std::map<std::string, std::pair<int, Status>> failures_;
};

}  // namespace vmrelease::kube::testing

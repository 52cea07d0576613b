#include "controller/kube/store.h"

#include "controller/common/log.h"

namespace vmrelease::kube {

ObjectPtr Store::Get(const ObjectRef& ref) const { return GetByKey(ref.Key()); }

ObjectPtr Store::GetByKey(const std::string& key) const {
  std::lock_guard g(mu_);
  auto it = objects_.find(key);
  return it == objects_.end() ? nullptr : it->second;
}

std::vector<ObjectPtr> Store::List() const {
  std::lock_guard g(mu_);
  std::vector<ObjectPtr> out;
  out.reserve(objects_.size());
  for (const auto& [k, v] : objects_) out.push_back(v);
  return out;
}

std::vector<ObjectPtr> Store::List(const std::string& ns) const {
  std::lock_guard g(mu_);
  std::vector<ObjectPtr> out;
  const std::string prefix = ns + "/";
  for (auto it = objects_.lower_bound(prefix);
       it != objects_.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
    out.push_back(it->second);
  }
  return out;
}

size_t Store::Size() const {
  std::lock_guard g(mu_);
  return objects_.size();
}

bool Store::HasSynced() const {
  std::lock_guard g(mu_);
  return synced_;
}

bool Store::WaitForSync(std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  return synced_cv_.wait_for(lock, timeout, [&] { return synced_; });
}

void Store::AddHandler(EventHandler handler) {
  std::lock_guard d(dispatch_mu_);
  std::lock_guard g(mu_);
  handlers_.push_back(std::move(handler));
}

void Store::AddIndex(const std::string& name, IndexFunc fn) {
  std::lock_guard g(mu_);
  Index& idx = indexes_[name];
  idx.fn = std::move(fn);
  idx.keys.clear();
  for (const auto& [key, obj] : objects_) {
    for (const std::string& v : idx.fn(*obj)) idx.keys[v].insert(key);
  }
}

std::vector<ObjectPtr> Store::ByIndex(const std::string& index, const std::string& value) const {
  std::lock_guard g(mu_);
  std::vector<ObjectPtr> out;
  auto idx = indexes_.find(index);
  if (idx == indexes_.end()) return out;
  auto keys = idx->second.keys.find(value);
  if (keys == idx->second.keys.end()) return out;
  for (const std::string& key : keys->second) {
    auto it = objects_.find(key);
    if (it != objects_.end()) out.push_back(it->second);
  }
  return out;
}

void Store::IndexLocked(const std::string& key, const ObjectPtr& old_obj,
                        const ObjectPtr& new_obj) {
  for (auto& [name, idx] : indexes_) {
    if (old_obj) {
      for (const std::string& v : idx.fn(*old_obj)) {
        auto it = idx.keys.find(v);
        if (it == idx.keys.end()) continue;
        it->second.erase(key);
        if (it->second.empty()) idx.keys.erase(it);
      }
    }
    if (new_obj) {
      for (const std::string& v : idx.fn(*new_obj)) idx.keys[v].insert(key);
    }
  }
}

void Store::Dispatch(const std::vector<Change>& changes) {
  // Callers hold dispatch_mu_, which AddHandler() also takes: handlers_ is stable here.
  for (const Change& c : changes) {
    for (const EventHandler& h : handlers_) {
      if (!c.old_obj) {
        if (h.on_add) h.on_add(c.new_obj);
      } else if (!c.new_obj) {
        if (h.on_delete) h.on_delete(c.old_obj);
      } else if (h.on_update) {
        h.on_update(c.old_obj, c.new_obj);
      }
    }
  }
}

void Store::Replace(std::vector<ObjectPtr> objects) {
  std::lock_guard d(dispatch_mu_);
  std::vector<Change> changes;
  {
    std::lock_guard g(mu_);
    std::map<std::string, ObjectPtr> next;
    for (ObjectPtr& obj : objects) {
      if (!obj) continue;
      std::string key = KeyOf(*obj);
      next[std::move(key)] = std::move(obj);
    }
    for (const auto& [key, old_obj] : objects_) {
      if (next.count(key) == 0) {
        changes.push_back({old_obj, nullptr});
        IndexLocked(key, old_obj, nullptr);
      }
    }
    for (const auto& [key, obj] : next) {
      auto it = objects_.find(key);
      if (it == objects_.end()) {
        changes.push_back({nullptr, obj});
        IndexLocked(key, nullptr, obj);
      } else {
        IndexLocked(key, it->second, obj);
        // An unchanged resourceVersion means an unchanged object: no reconcile storm on relist.
        if (ResourceVersion(*it->second) != ResourceVersion(*obj) || ResourceVersion(*obj).empty())
          changes.push_back({it->second, obj});
      }
    }
    objects_ = std::move(next);
    synced_ = true;
  }
  synced_cv_.notify_all();
  Dispatch(changes);
}

void Store::Apply(ObjectPtr object) {
  if (!object) return;
  std::lock_guard d(dispatch_mu_);
  Change change;
  {
    std::lock_guard g(mu_);
    const std::string key = KeyOf(*object);
    ObjectPtr& slot = objects_[key];
    change.old_obj = slot;
    change.new_obj = object;
    IndexLocked(key, slot, object);
    slot = std::move(object);
  }
  Dispatch({change});
}

void Store::Delete(ObjectPtr object) {
  if (!object) return;
  std::lock_guard d(dispatch_mu_);
  Change change;
  {
    std::lock_guard g(mu_);
    const std::string key = KeyOf(*object);
    auto it = objects_.find(key);
    if (it == objects_.end()) return;  // never seen (or already gone): nothing to report
    IndexLocked(key, it->second, nullptr);
    objects_.erase(it);
    // Report the final state the server sent: it is the most recent one.
    change.old_obj = std::move(object);
  }
  Dispatch({change});
}

}  // namespace vmrelease::kube

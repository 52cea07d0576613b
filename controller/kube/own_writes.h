// Our own status writes, so a reconciler never acts on a cached object older
// than what it last wrote: after a write the informer cache may still hold the
// object the write replaced, and replaying a step on that old status has side
// effects. A write the server answered as a no-op keeps the resourceVersion, so
// the wait ends after `patience` rather than never.
//
//   if (own_writes_.CacheBehind(key, *obj, clock.Now())) return RequeueAfter(100ms);
//   ... patch status ...;  own_writes_.Remember(key, *obj, clock.Now());
#pragma once

#include <map>
#include <mutex>
#include <string>

#include "controller/common/clock.h"
#include "controller/kube/resource.h"

namespace vmrelease::kube {

class OwnWrites {
 public:
  explicit OwnWrites(Duration patience = std::chrono::seconds(5)) : patience_(patience) {}

  // True while `obj` is still the version our last write for `key` replaced.
  bool CacheBehind(const std::string& key, const Json& obj, TimePoint now) {
    std::lock_guard g(mu_);
    auto it = writes_.find(key);
    if (it == writes_.end()) return false;
    if (ResourceVersion(obj) == it->second.based_on && now - it->second.at < patience_) return true;
    writes_.erase(it);
    return false;
  }
  // Records a write for `key` that replaced `base`.
  void Remember(const std::string& key, const Json& base, TimePoint now) {
    std::lock_guard g(mu_);
    writes_[key] = {ResourceVersion(base), now};
  }
  // The object is gone: nothing to wait for.
  void Forget(const std::string& key) {
    std::lock_guard g(mu_);
    writes_.erase(key);
  }

 private:
  struct Write {
    std::string based_on;  // the resourceVersion the write replaced
    TimePoint at;
  };
  const Duration patience_;
  std::mutex mu_;
  std::map<std::string, Write> writes_;
};

}  // namespace vmrelease::kube

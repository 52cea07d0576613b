// Our own status writes, so a reconciler never acts on a cached object older
// than what it last wrote: after a write the informer cache may still hold the
// object the write replaced, and replaying a step on that old status has side
// effects. A write the server answered as a no-op keeps the resourceVersion, so
// the wait ends after `patience` rather than never. Writes made one after the
// other (a finalizer, then the status) each supersede a version: the cache is
// behind while it holds any of them.
//
//   if (own_writes_.CacheBehind(key, *obj, clock.Now())) return RequeueAfter(100ms);
//   ... patch status ...;  own_writes_.Remember(key, *obj, clock.Now());
#pragma once

#include <algorithm>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "controller/common/clock.h"
#include "controller/kube/resource.h"

namespace vmrelease::kube {

class OwnWrites {
 public:
  explicit OwnWrites(Duration patience = std::chrono::seconds(5)) : patience_(patience) {}

  // True while `obj` is still a version our recent writes for `key` replaced.
  bool CacheBehind(const std::string& key, const Json& obj, TimePoint now) {
    std::lock_guard g(mu_);
    auto it = writes_.find(key);
    if (it == writes_.end()) return false;
    const std::vector<std::string>& old = it->second.based_on;
    if (now - it->second.at < patience_ &&
        std::find(old.begin(), old.end(), ResourceVersion(obj)) != old.end())
      return true;
    writes_.erase(it);
    return false;
  }
  // Records a write for `key` that replaced `base`. A write soon after another
  // adds to what counts as behind; the patience runs from the latest.
  void Remember(const std::string& key, const Json& base, TimePoint now) {
    std::lock_guard g(mu_);
    Write& w = writes_[key];
    if (w.based_on.size() >= kMaxChained || now - w.at >= patience_) w.based_on.clear();
    w.based_on.push_back(ResourceVersion(base));
    w.at = now;
  }
  // The object is gone: nothing to wait for.
  void Forget(const std::string& key) {
    std::lock_guard g(mu_);
    writes_.erase(key);
  }

 private:
  static constexpr size_t kMaxChained = 4;
  struct Write {
    std::vector<std::string> based_on;  // the resourceVersions the writes replaced
    TimePoint at{};
  };
  const Duration patience_;
  std::mutex mu_;
  std::map<std::string, Write> writes_;
};

}  // namespace vmrelease::kube

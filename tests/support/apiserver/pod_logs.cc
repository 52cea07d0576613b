#include "tests/support/apiserver/pod_logs.h"

#include <utility>

namespace vmrelease::apiserver {

PodLogs::PodLogs(ExistsFn exists, size_t max_bytes)
    : exists_(std::move(exists)), max_bytes_(max_bytes) {}

void PodLogs::PruneLocked() {
  for (auto it = pods_.begin(); it != pods_.end();) {
    const std::string& key = it->first;
    const size_t slash = key.find('/');
    if (!exists_(key.substr(0, slash), key.substr(slash + 1), it->second.uid))
      it = pods_.erase(it);
    else
      ++it;
  }
}

PodLogs::AppendResult PodLogs::Append(const LogKey& key, int64_t restart, int64_t offset,
                                      const std::string& data, bool final) {
  std::lock_guard lock(mu_);
  PruneLocked();
  PodEntry& pod = pods_[key.ns + "/" + key.pod];
  if (pod.uid != key.uid) pod = PodEntry{key.uid, {}};  // a new Pod under the same name
  Container& c = pod.containers[key.container];
  Instance& inst = c.instances[restart];
  // A newer instance means the older ones have exited; keep the current one
  // and the one before it.
  for (auto& [r, older] : c.instances)
    if (r < restart) older.final = true;
  while (c.instances.size() > 2) c.instances.erase(c.instances.begin());
  if (offset > inst.size) return {false, inst.size};
  const int64_t skip = inst.size - offset;  // already have these bytes
  if (skip < static_cast<int64_t>(data.size())) {
    inst.text.append(data, static_cast<size_t>(skip), std::string::npos);
    inst.size = offset + static_cast<int64_t>(data.size());
    if (inst.text.size() > max_bytes_) inst.text.erase(0, inst.text.size() - max_bytes_);
  }
  inst.final = inst.final || final;
  cv_.notify_all();
  return {true, inst.size};
}

const PodLogs::Instance* PodLogs::FindLocked(const LogKey& key, bool previous) const {
  auto p = pods_.find(key.ns + "/" + key.pod);
  if (p == pods_.end() || p->second.uid != key.uid) return nullptr;
  auto c = p->second.containers.find(key.container);
  if (c == p->second.containers.end() || c->second.instances.empty()) return nullptr;
  auto last = c->second.instances.rbegin();
  if (!previous) return &last->second;
  ++last;
  return last == c->second.instances.rend() ? nullptr : &last->second;
}

std::optional<PodLogs::Snapshot> PodLogs::Read(const LogKey& key, bool previous) const {
  std::lock_guard lock(mu_);
  const Instance* inst = FindLocked(key, previous);
  if (inst == nullptr) return std::nullopt;
  return Snapshot{inst->text, inst->size, inst->final};
}

void PodLogs::WaitForMore(const LogKey& key, int64_t size,
                          std::chrono::steady_clock::time_point deadline) const {
  std::unique_lock lock(mu_);
  cv_.wait_until(lock, deadline, [&] {
    const Instance* inst = FindLocked(key, false);
    return inst != nullptr && (inst->size > size || inst->final);
  });
}

void PodLogs::NotifyAll() {
  std::lock_guard lock(mu_);
  cv_.notify_all();
}

}  // namespace vmrelease::apiserver

// Container logs for the pods/log subresource. The local API server has no
// kubelet to ask, so whoever runs a Pod's containers (the job runner,
// tests/support/jobrunner) uploads their output here through the admin API,
// and `kubectl logs` reads it back:
//
//   PodLogs logs(exists);   // exists(ns, name, uid): is that Pod still there?
//   logs.Append({.ns = "default", .pod = "p", .uid = uid, .container = "c"}, 0, "hello\n", false);
//   auto text = logs.Read({"default", "p", uid, "c"}, /*previous=*/false);
//
// Guarantees: appends are idempotent by byte offset (a retried upload never
// duplicates output; a gap is refused with the size the server holds); each
// container instance keeps its last `max_bytes` (the kubelet's default log
// rotation size, 10 MiB); the current and the previous instance (restartCount
// one lower: `kubectl logs --previous`) are kept; logs of Pods that are gone,
// or were replaced by a Pod of the same name, are dropped. Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>

namespace vmrelease::apiserver {

struct LogKey {
  std::string ns;
  std::string pod;
  std::string uid;  // of the Pod the output belongs to
  std::string container;
};

class PodLogs {
 public:
  using ExistsFn =
      std::function<bool(const std::string& ns, const std::string& name, const std::string& uid)>;
  explicit PodLogs(ExistsFn exists, size_t max_bytes = 10 << 20);

  struct AppendResult {
    bool ok = false;   // false: `offset` is past the end (a gap); resend from `size`
    int64_t size = 0;  // bytes received for this instance so far
  };
  // Adds `data`, which starts at byte `offset` of the output of instance
  // `restart` (the container's restartCount when it ran). `final`: the
  // instance has exited and no more output follows.
  AppendResult Append(const LogKey& key, int64_t restart, int64_t offset, const std::string& data,
                      bool final);

  struct Snapshot {
    std::string text;    // what is kept (the tail when more than max_bytes arrived)
    int64_t size = 0;    // bytes received in total
    bool final = false;  // no more output will come
  };
  // The current (or previous) instance's output; nullopt when nothing was uploaded.
  std::optional<Snapshot> Read(const LogKey& key, bool previous) const;
  // Waits until the current instance has more than `size` bytes, is final, or `deadline`.
  void WaitForMore(const LogKey& key, int64_t size,
                   std::chrono::steady_clock::time_point deadline) const;
  // Wakes every waiter (shutdown).
  void NotifyAll();

 private:
  struct Instance {
    std::string text;
    int64_t size = 0;
    bool final = false;
  };
  struct Container {
    std::map<int64_t, Instance> instances;  // restart -> output; at most two kept
  };
  struct PodEntry {
    std::string uid;
    std::map<std::string, Container> containers;
  };
  void PruneLocked();
  const Instance* FindLocked(const LogKey& key, bool previous) const;

  ExistsFn exists_;
  size_t max_bytes_;
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::map<std::string, PodEntry> pods_;  // ns/name
};

}  // namespace vmrelease::apiserver

// EventRecorder: publishes events.k8s.io/v1 Events about objects, best effort.
//
//   EventRecorder recorder(client, {.reporting_controller = "vmrelease.io/controller",
//                                   .reporting_instance = hostname});
//   recorder.Start();
//   recorder.Publish({.regarding = ObjectReference::To(*obj), .type = EventType::kWarning,
//                     .reason = "ReleaseRevoked", .action = "Resolve",
//                     .note = "pinned release 1.2.0 was revoked"});
//
// Guarantees:
//   - Publish() never blocks on the API server: it queues (bounded, `max_queue`)
//     and a background thread posts. A full queue drops the event with a log line.
//     Failed posts are logged and dropped; reconciles never depend on events.
//   - Repeats of the same (regarding, reason, action, type, note) within
//     `series_window` of the previous one update that Event's
//     series {count, lastObservedTime} (a merge patch) instead of creating a new
//     object. If the Event has meanwhile been garbage-collected a new one is created.
//   - Notes pass through log::Redact and are cut to 1 kB: no secrets leave the process.
// Thread-safe.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "controller/common/clock.h"
#include "controller/kube/client.h"

namespace vmrelease::kube {

struct ObjectReference {
  std::string api_version, kind, ns, name, uid, resource_version, field_path;
  // A reference to `obj` (apiVersion, kind and metadata).
  static ObjectReference To(const Json& obj);
  Json ToJson() const;
};

enum class EventType { kNormal, kWarning };

struct Event {
  ObjectReference regarding;
  std::optional<ObjectReference> related;
  EventType type = EventType::kNormal;
  std::string reason;  // CamelCase, e.g. "BuildStarted"
  std::string action;  // what was done or failed, e.g. "Build"
  std::string note;    // human text
};

struct EventRecorderOptions {
  std::string reporting_controller = "vmrelease.io/controller";
  std::string reporting_instance;  // e.g. the host or pod name
  Clock* clock = nullptr;          // RealClock when null
  size_t max_queue = 1024;
  Duration series_window = std::chrono::minutes(6);
  size_t max_cache = 4096;  // remembered events for series aggregation
};

class EventRecorder {
 public:
  EventRecorder(KubeClient& client, EventRecorderOptions options);
  ~EventRecorder();
  EventRecorder(const EventRecorder&) = delete;
  EventRecorder& operator=(const EventRecorder&) = delete;

  void Start();
  // Stops the poster thread; events still queued are dropped (and counted).
  void Stop();
  void Publish(Event event);
  // Blocks until everything published so far was handled, or `timeout` passes.
  bool WaitIdle(std::chrono::milliseconds timeout);

  struct Stats {
    int64_t created = 0;
    int64_t series_updates = 0;
    int64_t dropped = 0;  // queue full, failed posts, or left at Stop()
  };
  Stats stats() const;

 private:
  struct Pending {
    Event event;
    WallTime observed;
  };
  struct CacheEntry {
    std::string name, ns;
    int64_t count = 1;
    WallTime last_observed;
  };
  void Loop();
  void Post(Pending p);
  void Evict(WallTime now);

  KubeClient& client_;
  EventRecorderOptions options_;
  Clock& clock_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Pending> queue_;
  bool stopping_ = false;
  bool busy_ = false;
  Stats stats_;
  std::map<std::string, CacheEntry> cache_;  // only the poster thread touches it
  uint64_t name_counter_ = 0;
  std::thread thread_;
};

}  // namespace vmrelease::kube

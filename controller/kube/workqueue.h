// WorkQueue: client-go's rate-limiting work queue for object keys.
//
//   WorkQueue q({.name = "imagerelease", .clock = &clock});
//   q.Add("default/a");
//   while (auto key = q.Get()) {          // blocks; nullopt once shut down and drained
//     if (Process(*key).ok()) q.Forget(*key); else q.AddRateLimited(*key);
//     q.Done(*key);                         // always, exactly once per Get
//   }
//
// Guarantees (client-go util/workqueue semantics):
//   - Dedup: an item added several times before a worker takes it is handed out once.
//   - Never concurrently: an item is handed to at most one worker at a time. If it
//     is added while being processed it is handed out again after Done().
//   - FIFO among ready items of the same priority; every normal item before any
//     low-priority one. AddLowPriority is for work nobody is waiting on (the
//     periodic resync of every object): a resync of thousands of objects never
//     delays the reconcile a watch event asked for, as with controller-runtime's
//     priority queue. Adding a low-priority item normally moves it up.
//   - AddAfter(item, d): ready after `d` of Clock time; when the item is already
//     waiting, the earlier ready time wins.
//   - AddRateLimited: AddAfter(item, rate_limiter.When(item)), counted as a retry.
//   - ShutDown(): later adds are ignored, delayed items are dropped, Get() still
//     hands out what is queued and returns nullopt once the queue is empty.
//     ShutDownWithDrain() also waits until every handed-out item is Done.
//   - All timing uses the injected Clock (tests use ManualClock).
// Thread-safe. One background thread moves delayed items into the queue.
#pragma once

#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "controller/common/clock.h"
#include "controller/kube/metrics.h"
#include "controller/kube/rate_limiter.h"

namespace vmrelease::kube {

class WorkQueue {
 public:
  struct Options {
    std::string name = "queue";                 // metrics label
    Clock* clock = nullptr;                     // RealClock when null
    std::unique_ptr<RateLimiter> rate_limiter;  // DefaultControllerRateLimiter when null
    MetricsProvider* metrics = nullptr;         // none when null
    // How often the unfinished-work gauges are refreshed (only with metrics).
    Duration metrics_update_period = std::chrono::milliseconds(500);
  };

  explicit WorkQueue(Options options);
  ~WorkQueue();
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  void Add(const std::string& item);
  // Ready now, handed out after every normal-priority item (see above).
  void AddLowPriority(const std::string& item);
  void AddAfter(const std::string& item, Duration delay);
  // Waits at least `at_least` (e.g. a server's Retry-After) and at least what
  // the rate limiter says.
  void AddRateLimited(const std::string& item, Duration at_least = Duration::zero());
  void Forget(const std::string& item);
  int NumRequeues(const std::string& item);

  // Blocks until an item is ready; nullopt when shut down and empty.
  std::optional<std::string> Get();
  void Done(const std::string& item);

  void ShutDown();
  void ShutDownWithDrain();
  bool ShuttingDown() const;

  size_t Len() const;            // ready, not handed out
  size_t NumWaiting() const;     // delayed, not ready yet
  size_t NumProcessing() const;  // handed out, not Done

 private:
  void AddLocked(const std::string& item, TimePoint now, bool low = false);
  void DelayLoop();
  void UpdateUnfinishedLocked(TimePoint now);

  Clock& clock_;
  std::unique_ptr<RateLimiter> limiter_;
  std::unique_ptr<WorkQueueMetrics> metrics_;

  mutable std::mutex mu_;
  std::condition_variable cv_;         // Get() and drain waiters
  std::condition_variable delay_cv_;   // the delay thread
  std::deque<std::string> queue_;      // ready, normal priority
  std::deque<std::string> low_queue_;  // ready, low priority
  std::unordered_set<std::string> dirty_;
  std::unordered_set<std::string> low_;                    // the dirty items of low priority
  std::unordered_map<std::string, TimePoint> processing_;  // item → when handed out
  std::unordered_map<std::string, TimePoint> added_at_;    // for queue latency
  std::multimap<TimePoint, std::string> waiting_;
  std::unordered_map<std::string, std::multimap<TimePoint, std::string>::iterator> waiting_index_;
  bool shutting_down_ = false;
  Duration metrics_period_;
  std::thread delay_thread_;
};

}  // namespace vmrelease::kube

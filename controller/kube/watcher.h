// Watcher: keeps a WatchSink (usually a Store) in step with one resource on the
// API server, the way client-go's reflector and kube-rs's watcher do.
//
//   Store store;
//   Watcher watcher(client, store, {.type = kReleases, .ns = ""});
//   watcher.Start();                       // its own thread
//   store.WaitForSync(std::chrono::seconds(30));
//   ...
//   watcher.Stop();                        // cancels the open watch, joins
//
// Behaviour:
//   - Lists (paginated, `page_size` per page) and hands the sink the complete set
//     (Replace), then watches from the list's resourceVersion with
//     allowWatchBookmarks=true and a server-side timeoutSeconds drawn from
//     [min_watch_timeout, 2·min_watch_timeout).
//   - A watch that ends (server timeout, dropped connection, transport error)
//     resumes from the last resourceVersion seen, bookmarks included: no relist.
//   - 410 Gone / Expired (on the watch, or on a list continue token) → relist and
//     Replace, so objects deleted meanwhile disappear from the sink.
//   - Failures wait with exponential backoff and jitter (honouring Retry-After),
//     reset once a watch delivers events. A watch that ends with no events in
//     under `short_watch` counts as a failure, and so does a 410 when no watch
//     since the last list was healthy (delivered events or lasted `short_watch`),
//     so a misbehaving server never causes a busy loop.
//   - All waits use the Clock; Stop() interrupts them and the open stream.
// Caveat: a list or watch request already in flight when Stop() is called is
// not interrupted before its HTTP timeout (the stream is; the list is not).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include "controller/common/backoff.h"
#include "controller/common/clock.h"
#include "controller/kube/client.h"
#include "controller/kube/store.h"

namespace vmrelease::kube {

struct WatcherOptions {
  ResourceType type;
  std::string ns;  // empty: all namespaces
  std::string label_selector;
  std::string field_selector;
  int64_t page_size = 500;
  Duration min_watch_timeout = std::chrono::minutes(5);
  BackoffPolicy backoff{.initial = std::chrono::milliseconds(800),
                        .max = std::chrono::seconds(30),
                        .factor = 2.0,
                        .jitter = 0.2};
  Duration short_watch = std::chrono::seconds(1);
  Clock* clock = nullptr;  // RealClock when null
};

class Watcher {
 public:
  struct Stats {
    int64_t lists = 0;             // completed lists (initial + relists)
    int64_t relists = 0;           // lists caused by 410 Gone
    int64_t watches = 0;           // watch streams opened
    int64_t events = 0;            // events received (bookmarks included)
    int64_t errors = 0;            // failed lists/watches that led to a backoff wait
    std::string resource_version;  // last seen
  };

  Watcher(KubeClient& client, WatchSink& sink, WatcherOptions options);
  ~Watcher();
  Watcher(const Watcher&) = delete;
  Watcher& operator=(const Watcher&) = delete;

  void Start();
  // Idempotent; returns once the watcher thread has finished.
  void Stop();
  Stats stats() const;

 private:
  struct WatchOutcome {
    Status status;        // ok: the stream ended cleanly
    bool opened = false;  // the server accepted the watch
    int64_t events = 0;   // received on this stream
    Duration lasted{};
  };
  void Run();
  Status List();
  WatchOutcome WatchOnce();
  // Waits `d` on the clock; false when stopped meanwhile.
  bool Sleep(Duration d);
  bool stopping() const;

  KubeClient& client_;
  WatchSink& sink_;
  const WatcherOptions options_;
  Clock& clock_;
  Backoff backoff_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  WatchStream* stream_ = nullptr;  // the open stream, for Stop()
  Stats stats_;
  std::string rv_;  // only touched by the watcher thread (copied into stats_)
  bool progress_since_list_ = false;
  std::thread thread_;
};

// A Store kept current by a Watcher: what a controller watches.
class Informer {
 public:
  Informer(KubeClient& client, WatcherOptions options)
      : watcher_(client, store_, std::move(options)) {}
  Store& store() { return store_; }
  const Store& store() const { return store_; }
  void Start() { watcher_.Start(); }
  void Stop() { watcher_.Stop(); }
  bool HasSynced() const { return store_.HasSynced(); }
  Watcher::Stats stats() const { return watcher_.stats(); }

 private:
  Store store_;  // declared first: the watcher feeds it
  Watcher watcher_;
};

}  // namespace vmrelease::kube

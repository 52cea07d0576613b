// Controller: N workers that take object keys from a WorkQueue and reconcile
// them (controller-runtime's controller / kube-rs's Controller::run).
//
//   class ReleaseReconciler final : public Reconciler {
//     ReconcileResult Reconcile(const ObjectRef& ref) override { ... }
//   };
//   ReleaseReconciler reconciler(...);
//   Controller ctl({.name = "imagerelease", .workers = 2, .store = &informer.store(),
//                   .metrics = &prom}, reconciler);
//   informer.store().AddHandler(ctl.EnqueueHandler());
//   ctl.Start();
//   ...
//   ctl.Stop();   // stop taking work, let in-flight reconciles finish (bounded)
//
// Guarantees:
//   - A key is never reconciled by two workers at once (WorkQueue semantics); a
//     key that changes during its reconcile is reconciled again afterwards.
//   - The reconciler is told only the key, never why: it must be idempotent.
//   - Results: Action::RequeueAfter(d) → forget backoff, requeue after d;
//     AwaitChange → forget; errors by kind (see action.h) through the error
//     policy. An exception thrown by Reconcile() is caught and treated as a
//     transient error: it never ends the process.
//   - Objects annotated `vmrelease.io/reconcile: disabled` (looked up in
//     `store`) are skipped with a log line.
//   - Every result is counted (controller_runtime_reconcile_total{result}, ...).
//   - Every log line the worker writes while it handles a key — the reconciler's
//     included — carries `controller`, `namespace`, `name` and `reconcileID`, a
//     random UUID per attempt (log::ScopedFields), as controller-runtime's do.
//     Lines written on other threads (uploads, background tasks) do not.
//   - Stop(): workers take no new keys; in-flight reconciles get up to
//     `shutdown_timeout` to finish. Returns false if some did not (they keep
//     running; the destructor waits for them).
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "controller/common/clock.h"
#include "controller/kube/action.h"
#include "controller/kube/metrics.h"
#include "controller/kube/store.h"
#include "controller/kube/workqueue.h"

namespace vmrelease::kube {

class Reconciler {
 public:
  virtual ~Reconciler() = default;
  virtual ReconcileResult Reconcile(const ObjectRef& ref) = 0;
};

// How the runner requeues after a failed reconcile.
struct RetryDecision {
  enum class Kind { kRateLimited, kAfter, kNever };
  Kind kind = Kind::kRateLimited;
  Duration after{};  // kAfter: the delay; kRateLimited: a minimum (e.g. Retry-After)
};
using ErrorPolicy = std::function<RetryDecision(const ObjectRef&, const ReconcileError&)>;
// transient → rate limited (at least the error's Retry-After), waiting → after
// its delay, stalled → never.
RetryDecision DefaultErrorPolicy(const ObjectRef& ref, const ReconcileError& error);

struct ControllerOptions {
  std::string name;  // metrics label and logger field
  int workers = 1;
  Clock* clock = nullptr;                     // RealClock when null
  const Store* store = nullptr;               // for the pause annotation; optional
  MetricsProvider* metrics = nullptr;         // none when null
  std::unique_ptr<RateLimiter> rate_limiter;  // default controller limiter when null
  ErrorPolicy error_policy;                   // DefaultErrorPolicy when empty
  Duration shutdown_timeout = std::chrono::seconds(30);
  // Every resync_period (0 = never) every object of `store` is enqueued again, like
  // controller-runtime's SyncPeriod: a reconcile that found nothing to do costs a
  // cache read, and drift that no watch event announces (an Azure resource
  // changed behind the controller's back) is found within one period.
  Duration resync_period = Duration::zero();
};

class Controller {
 public:
  Controller(ControllerOptions options, Reconciler& reconciler);
  ~Controller();
  Controller(const Controller&) = delete;
  Controller& operator=(const Controller&) = delete;

  void Enqueue(const ObjectRef& ref) { queue_.Add(ref.Key()); }
  // A store handler that enqueues the key of every added, updated or deleted object.
  EventHandler EnqueueHandler();
  WorkQueue& queue() { return queue_; }
  const std::string& name() const { return options_.name; }

  void Start();
  // Bounded graceful stop; true when every in-flight reconcile finished in time.
  bool Stop();

 private:
  void Worker();
  void ProcessItem(const std::string& key);
  void Resync();

  ControllerOptions options_;
  Reconciler& reconciler_;
  Clock& clock_;
  WorkQueue queue_;
  std::unique_ptr<ReconcileMetrics> metrics_;

  std::mutex mu_;
  std::condition_variable idle_cv_;
  std::condition_variable resync_cv_;
  bool started_ = false;
  std::atomic<bool> stopping_{false};
  std::atomic<int64_t> active_{0};
  int running_workers_ = 0;
  std::vector<std::thread> threads_;
  std::thread resync_thread_;
};

}  // namespace vmrelease::kube

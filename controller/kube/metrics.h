// The runtime's metrics interface. The runtime reports through these small
// sinks; controller/metrics implements them with prometheus-cpp under the
// controller-runtime metric names, so no Prometheus type leaks into kube headers.
//
//   PrometheusMetrics prom;                          // controller/metrics
//   WorkQueue queue({.name = "imagerelease", .metrics = &prom});
//   WorkQueue test_queue({.name = "t"});             // NullMetrics() by default
//
// Names the Prometheus implementation uses (label in braces):
//   workqueue_depth, workqueue_adds_total, workqueue_queue_duration_seconds,
//   workqueue_work_duration_seconds, workqueue_retries_total,
//   workqueue_unfinished_work_seconds, workqueue_longest_running_processor_seconds {name};
//   controller_runtime_reconcile_total {controller,result},
//   controller_runtime_reconcile_errors_total, controller_runtime_terminal_reconcile_errors_total,
//   controller_runtime_reconcile_time_seconds, controller_runtime_active_workers,
//   controller_runtime_max_concurrent_reconciles {controller};
//   leader_election_master_status {name}.
// Guarantees required of implementations: thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace vmrelease::kube {

class WorkQueueMetrics {
 public:
  virtual ~WorkQueueMetrics() = default;
  virtual void SetDepth(int64_t depth) = 0;
  virtual void IncAdds() = 0;
  virtual void ObserveQueueLatency(double seconds) = 0;  // added → handed to a worker
  virtual void ObserveWorkDuration(double seconds) = 0;  // handed out → Done
  virtual void IncRetries() = 0;
  virtual void SetUnfinishedWork(double seconds) = 0;           // sum over items in progress
  virtual void SetLongestRunningProcessor(double seconds) = 0;  // oldest item in progress
};

class ReconcileMetrics {
 public:
  virtual ~ReconcileMetrics() = default;
  // result: "success" | "error" | "requeue" | "requeue_after"
  virtual void IncResult(std::string_view result) = 0;
  virtual void IncErrors() = 0;
  virtual void IncTerminalErrors() = 0;  // stalled: the user must act
  virtual void ObserveReconcileTime(double seconds) = 0;
  virtual void SetActiveWorkers(int64_t n) = 0;
  virtual void SetMaxConcurrentReconciles(int64_t n) = 0;
};

class LeaderElectionMetrics {
 public:
  virtual ~LeaderElectionMetrics() = default;
  virtual void SetLeader(bool leading) = 0;
};

// Creates the sinks; one provider per process.
class MetricsProvider {
 public:
  virtual ~MetricsProvider() = default;
  virtual std::unique_ptr<WorkQueueMetrics> NewWorkQueueMetrics(const std::string& name) = 0;
  virtual std::unique_ptr<ReconcileMetrics> NewReconcileMetrics(const std::string& controller) = 0;
  virtual std::unique_ptr<LeaderElectionMetrics> NewLeaderElectionMetrics(
      const std::string& name) = 0;
};

// A provider whose sinks discard everything.
MetricsProvider& NullMetrics();

}  // namespace vmrelease::kube

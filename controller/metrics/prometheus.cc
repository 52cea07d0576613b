#include "controller/metrics/prometheus.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

namespace vmrelease::metrics {
namespace {

using prometheus::Counter;
using prometheus::Family;
using prometheus::Gauge;
using prometheus::Histogram;

// workqueue.ExponentialBuckets(10e-9, 10, 12): 10ns … 1000s, as client-go's metrics.
Histogram::BucketBoundaries QueueBuckets() {
  Histogram::BucketBoundaries b;
  double v = 10e-9;
  for (int i = 0; i < 12; ++i, v *= 10) b.push_back(v);
  return b;
}

// controller-runtime's reconcile_time_seconds buckets.
Histogram::BucketBoundaries ReconcileBuckets() {
  return {0.005, 0.01, 0.025, 0.05, 0.1,  0.15, 0.2,  0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6,
          0.7,   0.8,  0.9,   1.0,  1.25, 1.5,  1.75, 2.0,  2.5, 3.0,  3.5, 4.0,  4.5, 5,
          6,     7,    8,     9,    10,   15,   20,   25,   30,  40,   50,  60};
}

}  // namespace

struct PrometheusMetrics::Impl {
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();

  Family<Gauge>& depth = prometheus::BuildGauge()
                             .Name("workqueue_depth")
                             .Help("Current depth of workqueue")
                             .Register(*registry);
  Family<Counter>& adds = prometheus::BuildCounter()
                              .Name("workqueue_adds_total")
                              .Help("Total number of adds handled by workqueue")
                              .Register(*registry);
  Family<Histogram>& latency =
      prometheus::BuildHistogram()
          .Name("workqueue_queue_duration_seconds")
          .Help("How long in seconds an item stays in workqueue before being requested")
          .Register(*registry);
  Family<Histogram>& work = prometheus::BuildHistogram()
                                .Name("workqueue_work_duration_seconds")
                                .Help("How long in seconds processing an item from workqueue takes")
                                .Register(*registry);
  Family<Counter>& retries = prometheus::BuildCounter()
                                 .Name("workqueue_retries_total")
                                 .Help("Total number of retries handled by workqueue")
                                 .Register(*registry);
  Family<Gauge>& unfinished =
      prometheus::BuildGauge()
          .Name("workqueue_unfinished_work_seconds")
          .Help(
              "How many seconds of work has been done that is in progress and hasn't been "
              "observed by work_duration. Large values indicate stuck threads.")
          .Register(*registry);
  Family<Gauge>& longest =
      prometheus::BuildGauge()
          .Name("workqueue_longest_running_processor_seconds")
          .Help("How many seconds has the longest running processor for workqueue been running")
          .Register(*registry);

  Family<Counter>& reconcile_total = prometheus::BuildCounter()
                                         .Name("controller_runtime_reconcile_total")
                                         .Help("Total number of reconciliations per controller")
                                         .Register(*registry);
  Family<Counter>& reconcile_errors =
      prometheus::BuildCounter()
          .Name("controller_runtime_reconcile_errors_total")
          .Help("Total number of reconciliation errors per controller")
          .Register(*registry);
  Family<Counter>& terminal_errors =
      prometheus::BuildCounter()
          .Name("controller_runtime_terminal_reconcile_errors_total")
          .Help("Total number of terminal reconciliation errors per controller")
          .Register(*registry);
  Family<Histogram>& reconcile_time = prometheus::BuildHistogram()
                                          .Name("controller_runtime_reconcile_time_seconds")
                                          .Help("Length of time per reconciliation per controller")
                                          .Register(*registry);
  Family<Gauge>& active_workers = prometheus::BuildGauge()
                                      .Name("controller_runtime_active_workers")
                                      .Help("Number of currently used workers per controller")
                                      .Register(*registry);
  Family<Gauge>& max_concurrent =
      prometheus::BuildGauge()
          .Name("controller_runtime_max_concurrent_reconciles")
          .Help("Maximum number of concurrent reconciles per controller")
          .Register(*registry);

  Family<Gauge>& leader = prometheus::BuildGauge()
                              .Name("leader_election_master_status")
                              .Help(
                                  "Gauge of if the reporting system is master of the relevant "
                                  "lease, 0 indicates backup, 1 indicates master. 'name' is the "
                                  "string used to identify the lease.")
                              .Register(*registry);
};

namespace {

class QueueMetrics final : public kube::WorkQueueMetrics {
 public:
  QueueMetrics(PrometheusMetrics::Impl& m, const std::string& name)
      : depth_(m.depth.Add({{"name", name}})),
        adds_(m.adds.Add({{"name", name}})),
        latency_(m.latency.Add({{"name", name}}, QueueBuckets())),
        work_(m.work.Add({{"name", name}}, QueueBuckets())),
        retries_(m.retries.Add({{"name", name}})),
        unfinished_(m.unfinished.Add({{"name", name}})),
        longest_(m.longest.Add({{"name", name}})) {}
  void SetDepth(int64_t d) override { depth_.Set(static_cast<double>(d)); }
  void IncAdds() override { adds_.Increment(); }
  void ObserveQueueLatency(double s) override { latency_.Observe(s); }
  void ObserveWorkDuration(double s) override { work_.Observe(s); }
  void IncRetries() override { retries_.Increment(); }
  void SetUnfinishedWork(double s) override { unfinished_.Set(s); }
  void SetLongestRunningProcessor(double s) override { longest_.Set(s); }

 private:
  Gauge& depth_;
  Counter& adds_;
  Histogram& latency_;
  Histogram& work_;
  Counter& retries_;
  Gauge& unfinished_;
  Gauge& longest_;
};

class ControllerMetrics final : public kube::ReconcileMetrics {
 public:
  ControllerMetrics(PrometheusMetrics::Impl& m, const std::string& controller)
      : m_(m),
        controller_(controller),
        errors_(m.reconcile_errors.Add({{"controller", controller}})),
        terminal_(m.terminal_errors.Add({{"controller", controller}})),
        time_(m.reconcile_time.Add({{"controller", controller}}, ReconcileBuckets())),
        active_(m.active_workers.Add({{"controller", controller}})),
        max_(m.max_concurrent.Add({{"controller", controller}})) {
    // Like controller-runtime, every result series exists from the start (at 0).
    for (const char* r : {"success", "error", "requeue", "requeue_after"}) Result(r);
  }
  void IncResult(std::string_view result) override { Result(result).Increment(); }
  void IncErrors() override { errors_.Increment(); }
  void IncTerminalErrors() override { terminal_.Increment(); }
  void ObserveReconcileTime(double s) override { time_.Observe(s); }
  void SetActiveWorkers(int64_t n) override { active_.Set(static_cast<double>(n)); }
  void SetMaxConcurrentReconciles(int64_t n) override { max_.Set(static_cast<double>(n)); }

 private:
  Counter& Result(std::string_view r) {
    return m_.reconcile_total.Add({{"controller", controller_}, {"result", std::string(r)}});
  }
  PrometheusMetrics::Impl& m_;
  std::string controller_;
  Counter& errors_;
  Counter& terminal_;
  Histogram& time_;
  Gauge& active_;
  Gauge& max_;
};

class LeaderMetrics final : public kube::LeaderElectionMetrics {
 public:
  LeaderMetrics(PrometheusMetrics::Impl& m, const std::string& name)
      : gauge_(m.leader.Add({{"name", name}})) {}
  void SetLeader(bool leading) override { gauge_.Set(leading ? 1 : 0); }

 private:
  Gauge& gauge_;
};

}  // namespace

PrometheusMetrics::PrometheusMetrics() : impl_(std::make_unique<Impl>()) {}
PrometheusMetrics::~PrometheusMetrics() = default;

std::unique_ptr<kube::WorkQueueMetrics> PrometheusMetrics::NewWorkQueueMetrics(
    const std::string& name) {
  return std::make_unique<QueueMetrics>(*impl_, name);
}

std::unique_ptr<kube::ReconcileMetrics> PrometheusMetrics::NewReconcileMetrics(
    const std::string& controller) {
  return std::make_unique<ControllerMetrics>(*impl_, controller);
}

std::unique_ptr<kube::LeaderElectionMetrics> PrometheusMetrics::NewLeaderElectionMetrics(
    const std::string& name) {
  return std::make_unique<LeaderMetrics>(*impl_, name);
}

prometheus::Registry& PrometheusMetrics::registry() { return *impl_->registry; }

std::string PrometheusMetrics::Scrape() const {
  return prometheus::TextSerializer().Serialize(impl_->registry->Collect());
}

}  // namespace vmrelease::metrics

#include "controller/kube/metrics.h"

namespace vmrelease::kube {
namespace {

class NullWorkQueueMetrics final : public WorkQueueMetrics {
 public:
  void SetDepth(int64_t) override {}
  void IncAdds() override {}
  void ObserveQueueLatency(double) override {}
  void ObserveWorkDuration(double) override {}
  void IncRetries() override {}
  void SetUnfinishedWork(double) override {}
  void SetLongestRunningProcessor(double) override {}
};

class NullReconcileMetrics final : public ReconcileMetrics {
 public:
  void IncResult(std::string_view) override {}
  void IncErrors() override {}
  void IncTerminalErrors() override {}
  void ObserveReconcileTime(double) override {}
  void SetActiveWorkers(int64_t) override {}
  void SetMaxConcurrentReconciles(int64_t) override {}
};

class NullLeaderElectionMetrics final : public LeaderElectionMetrics {
 public:
  void SetLeader(bool) override {}
};

class NullMetricsProvider final : public MetricsProvider {
 public:
  std::unique_ptr<WorkQueueMetrics> NewWorkQueueMetrics(const std::string&) override {
    return std::make_unique<NullWorkQueueMetrics>();
  }
  std::unique_ptr<ReconcileMetrics> NewReconcileMetrics(const std::string&) override {
    return std::make_unique<NullReconcileMetrics>();
  }
  std::unique_ptr<LeaderElectionMetrics> NewLeaderElectionMetrics(const std::string&) override {
    return std::make_unique<NullLeaderElectionMetrics>();
  }
};

}  // namespace

MetricsProvider& NullMetrics() {
  static NullMetricsProvider provider;
  return provider;
}

}  // namespace vmrelease::kube

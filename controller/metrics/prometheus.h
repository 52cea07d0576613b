// PrometheusMetrics: the runtime's metrics (kube/metrics.h) in a prometheus-cpp
// registry, under controller-runtime's metric names, so dashboards and alerts
// written for Go operators work unchanged.
//
//   metrics::PrometheusMetrics prom;
//   kube::WorkQueue queue({.name = "imagerelease", .metrics = &prom});
//   std::string text = prom.Scrape();   // Prometheus text format
//
// prometheus-cpp stays inside this folder's .cc files. Guarantees: thread-safe;
// label sets are created on first use and live as long as this object.
#pragma once

#include <memory>
#include <string>

#include "controller/kube/metrics.h"

namespace prometheus {
class Registry;
}

namespace vmrelease::metrics {

class PrometheusMetrics final : public kube::MetricsProvider {
 public:
  PrometheusMetrics();
  ~PrometheusMetrics() override;
  PrometheusMetrics(const PrometheusMetrics&) = delete;
  PrometheusMetrics& operator=(const PrometheusMetrics&) = delete;

  std::unique_ptr<kube::WorkQueueMetrics> NewWorkQueueMetrics(const std::string& name) override;
  std::unique_ptr<kube::ReconcileMetrics> NewReconcileMetrics(
      const std::string& controller) override;
  std::unique_ptr<kube::LeaderElectionMetrics> NewLeaderElectionMetrics(
      const std::string& name) override;

  // Every metric in the Prometheus text exposition format (version 0.0.4).
  std::string Scrape() const;
  // The registry, for the product's own metrics (product_metrics.h); only .cc
  // files of this folder use prometheus-cpp types.
  prometheus::Registry& registry();

  struct Impl;  // the prometheus-cpp families (prometheus.cc)

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace vmrelease::metrics

// vmrelease's own metrics, next to the runtime's controller-runtime metrics in
// the same registry (prometheus.h):
//
//   vmrelease_release_phase{namespace,name,image,version,phase}   gauge, 1 for the current phase
//   vmrelease_pipeline_step_duration_seconds{step,backend,result} histogram
//   vmrelease_azure_requests_total{service,code}                   counter (arm | blob | token)
//   vmrelease_pin_info{namespace,environment,image,version}        gauge, 1 for the resolved
//   version vmrelease_pin_behind_by{namespace,environment,image}           gauge, newer Released
//   versions vmrelease_pin_ready{namespace,environment,image}               gauge, 1 when the pin
//   is Ready vmrelease_pin_revoked{namespace,environment,image}             gauge, 1 while it runs
//   a revoked version
//
//   metrics::PrometheusMetrics prom;
//   metrics::ProductMetrics product(prom);
//   release::Environment env{.metrics = &product, ...};
//   arm_options.on_response = product.AzureObserver("arm");
//
// Guarantees: thread-safe; a release's phase series and a pin's series are
// removed when the object is forgotten (deleted), so deleted objects do not
// linger; a pin's info series follows its resolved version (one series).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "controller/metrics/prometheus.h"
#include "controller/pin/metrics.h"
#include "controller/release/pipeline.h"

namespace vmrelease::metrics {

class ProductMetrics final : public release::PipelineMetrics, public pin::PinMetrics {
 public:
  explicit ProductMetrics(PrometheusMetrics& prom);
  ~ProductMetrics() override;

  void SetPhase(const std::string& ns, const std::string& name, const std::string& image,
                const std::string& version, std::string_view phase) override;
  void ForgetRelease(const std::string& ns, const std::string& name) override;
  void ObserveStep(std::string_view step, std::string_view backend, std::string_view result,
                   double seconds) override;

  void SetPin(const pin::PinSample& sample) override;
  void ForgetPin(const std::string& ns, const std::string& name) override;

  // One Azure response (`code` = HTTP status, 0 when no answer came back).
  void CountAzureRequest(std::string_view service, int code);
  // A callback for the Azure clients' on_response hooks.
  std::function<void(int)> AzureObserver(std::string service);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace vmrelease::metrics

#include "controller/metrics/product_metrics.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

namespace vmrelease::metrics {
namespace {

constexpr std::string_view kPhases[] = {"Pending",    "Building", "Staging", "Validating",
                                        "Publishing", "Released", "Failed",  "Revoked"};

}  // namespace

struct ProductMetrics::Impl {
  prometheus::Family<prometheus::Gauge>& phase;
  prometheus::Family<prometheus::Histogram>& step;
  prometheus::Family<prometheus::Counter>& azure;
  std::mutex mu;
  struct Release {
    std::string image, version;
    std::map<std::string, prometheus::Gauge*> gauges;  // phase → series
  };
  std::map<std::string, Release> releases;  // "ns/name"

  explicit Impl(prometheus::Registry& r)
      : phase(prometheus::BuildGauge()
                  .Name("vmrelease_release_phase")
                  .Help("The pipeline phase of each ImageRelease: 1 for its current phase, 0 for "
                        "the others")
                  .Register(r)),
        step(prometheus::BuildHistogram()
                 .Name("vmrelease_pipeline_step_duration_seconds")
                 .Help("How long each pipeline step took, by step, backend and result")
                 .Register(r)),
        azure(prometheus::BuildCounter()
                  .Name("vmrelease_azure_requests_total")
                  .Help("Requests to Azure by service (arm, blob, token) and HTTP status code "
                        "(0 = no answer)")
                  .Register(r)) {}
};

ProductMetrics::ProductMetrics(PrometheusMetrics& prom)
    : impl_(std::make_unique<Impl>(prom.registry())) {}
ProductMetrics::~ProductMetrics() = default;

void ProductMetrics::SetPhase(const std::string& ns, const std::string& name,
                              const std::string& image, const std::string& version,
                              std::string_view phase) {
  std::lock_guard g(impl_->mu);
  Impl::Release& r = impl_->releases[ns + "/" + name];
  if (r.gauges.empty() || r.image != image || r.version != version) {
    for (auto& [p, gauge] : r.gauges) impl_->phase.Remove(gauge);
    r.gauges.clear();
    r.image = image;
    r.version = version;
    for (std::string_view p : kPhases) {
      r.gauges[std::string(p)] = &impl_->phase.Add({{"namespace", ns},
                                                    {"name", name},
                                                    {"image", image},
                                                    {"version", version},
                                                    {"phase", std::string(p)}});
    }
  }
  for (auto& [p, gauge] : r.gauges) gauge->Set(p == phase ? 1 : 0);
}

void ProductMetrics::ForgetRelease(const std::string& ns, const std::string& name) {
  std::lock_guard g(impl_->mu);
  auto it = impl_->releases.find(ns + "/" + name);
  if (it == impl_->releases.end()) return;
  for (auto& [p, gauge] : it->second.gauges) impl_->phase.Remove(gauge);
  impl_->releases.erase(it);
}

void ProductMetrics::ObserveStep(std::string_view step, std::string_view backend,
                                 std::string_view result, double seconds) {
  // 1 s … ~9 h: a local build takes seconds, an Image Builder run hours.
  static const prometheus::Histogram::BucketBoundaries kBuckets = {
      1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400, 28800};
  impl_->step
      .Add({{"step", std::string(step)},
            {"backend", std::string(backend)},
            {"result", std::string(result)}},
           kBuckets)
      .Observe(seconds);
}

void ProductMetrics::CountAzureRequest(std::string_view service, int code) {
  impl_->azure.Add({{"service", std::string(service)}, {"code", std::to_string(code)}}).Increment();
}

std::function<void(int)> ProductMetrics::AzureObserver(std::string service) {
  return [this, service = std::move(service)](int code) { CountAzureRequest(service, code); };
}

}  // namespace vmrelease::metrics

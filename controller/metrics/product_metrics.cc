#include "controller/metrics/product_metrics.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <optional>

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
  prometheus::Family<prometheus::Gauge>& pin_info;
  prometheus::Family<prometheus::Gauge>& pin_behind;
  prometheus::Family<prometheus::Gauge>& pin_ready;
  prometheus::Family<prometheus::Gauge>& pin_revoked;
  struct Pin {
    std::string environment, image;
    std::optional<std::string> version;
    prometheus::Gauge* info = nullptr;
    prometheus::Gauge* behind = nullptr;
    prometheus::Gauge* ready = nullptr;
    prometheus::Gauge* revoked = nullptr;
  };
  std::map<std::string, Pin> pins;  // "ns/name"

  void RemovePin(Pin& p) {
    if (p.info) pin_info.Remove(p.info);
    if (p.behind) pin_behind.Remove(p.behind);
    if (p.ready) pin_ready.Remove(p.ready);
    if (p.revoked) pin_revoked.Remove(p.revoked);
    p = Pin{};
  }

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
                  .Register(r)),
        pin_info(prometheus::BuildGauge()
                     .Name("vmrelease_pin_info")
                     .Help("The version each EnvironmentPin resolves to (1 for that version)")
                     .Register(r)),
        pin_behind(prometheus::BuildGauge()
                       .Name("vmrelease_pin_behind_by")
                       .Help("How many Released, unrevoked versions are newer than the version "
                             "an EnvironmentPin resolves to")
                       .Register(r)),
        pin_ready(prometheus::BuildGauge()
                      .Name("vmrelease_pin_ready")
                      .Help("1 when the EnvironmentPin is Ready (resolves to what it asks for)")
                      .Register(r)),
        pin_revoked(prometheus::BuildGauge()
                        .Name("vmrelease_pin_revoked")
                        .Help("1 while the EnvironmentPin resolves to a revoked release: a person "
                              "must move it")
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

void ProductMetrics::SetPin(const pin::PinSample& s) {
  std::lock_guard g(impl_->mu);
  Impl::Pin& p = impl_->pins[s.ns + "/" + s.name];
  if (!p.ready || p.environment != s.environment || p.image != s.image) {
    impl_->RemovePin(p);
    p.environment = s.environment;
    p.image = s.image;
    const prometheus::Labels labels = {
        {"namespace", s.ns}, {"environment", s.environment}, {"image", s.image}};
    p.ready = &impl_->pin_ready.Add(labels);
    p.revoked = &impl_->pin_revoked.Add(labels);
  }
  if (p.version != s.version && p.info) {
    impl_->pin_info.Remove(p.info);
    p.info = nullptr;
  }
  p.version = s.version;
  if (s.version && !p.info)
    p.info = &impl_->pin_info.Add({{"namespace", s.ns},
                                   {"environment", s.environment},
                                   {"image", s.image},
                                   {"version", *s.version}});
  if (p.info) p.info->Set(1);
  if (s.behind_by && !p.behind)
    p.behind = &impl_->pin_behind.Add(
        {{"namespace", s.ns}, {"environment", s.environment}, {"image", s.image}});
  if (!s.behind_by && p.behind) {
    impl_->pin_behind.Remove(p.behind);
    p.behind = nullptr;
  }
  if (p.behind) p.behind->Set(static_cast<double>(*s.behind_by));
  p.ready->Set(s.ready ? 1 : 0);
  p.revoked->Set(s.revoked ? 1 : 0);
}

void ProductMetrics::ForgetPin(const std::string& ns, const std::string& name) {
  std::lock_guard g(impl_->mu);
  auto it = impl_->pins.find(ns + "/" + name);
  if (it == impl_->pins.end()) return;
  impl_->RemovePin(it->second);
  impl_->pins.erase(it);
}

void ProductMetrics::CountAzureRequest(std::string_view service, int code) {
  impl_->azure.Add({{"service", std::string(service)}, {"code", std::to_string(code)}}).Increment();
}

std::function<void(int)> ProductMetrics::AzureObserver(std::string service) {
  return [this, service = std::move(service)](int code) { CountAzureRequest(service, code); };
}

}  // namespace vmrelease::metrics

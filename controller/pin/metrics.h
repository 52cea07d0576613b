// What the pin reconciler reports as metrics (controller/metrics implements it):
//
//   vmrelease_pin_info{namespace,environment,image,version}   1 for the resolved version
//   vmrelease_pin_behind_by{namespace,environment,image}      newer Released versions
//   vmrelease_pin_ready{namespace,environment,image}          1 when Ready
//   vmrelease_pin_revoked{namespace,environment,image}        1 while it runs a revoked version
//
//   metrics.SetPin({.ns = "default", .name = "prod", .environment = "production",
//                   .image = "sql", .version = "1.2.0", .ready = true, .behind_by = 1});
//   metrics.ForgetPin("default", "prod");      // the pin is gone: its series go too
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace vmrelease::pin {

struct PinSample {
  std::string ns, name, environment, image;
  std::optional<std::string> version;  // unset: no resolution (no info series)
  bool ready = false;
  std::optional<int64_t> behind_by;
  bool revoked = false;
};

class PinMetrics {
 public:
  virtual ~PinMetrics() = default;
  virtual void SetPin(const PinSample& sample) = 0;
  virtual void ForgetPin(const std::string& ns, const std::string& name) = 0;
};

// Drops everything (tests, or a controller without metrics).
PinMetrics& NullPinMetrics();

}  // namespace vmrelease::pin

// Go-style durations ("90s", "5m", "1h30m", "250ms") as used in Kubernetes
// manifests (metav1.Duration) and in our flags.
//
//   StatusOr<Duration> d = ParseDuration("1h30m");   // 5400s
//   FormatDuration(std::chrono::minutes(90));        // "1h30m0s"
#pragma once

#include <string>

#include "controller/common/clock.h"
#include "controller/common/status.h"

namespace vmrelease {

// Units: ns, us (or µs), ms, s, m, h. A sign and fractions ("1.5h") are accepted
// like Go's time.ParseDuration; "0" alone is zero. Errors name the bad input.
StatusOr<Duration> ParseDuration(const std::string& s);
// Go's time.Duration.String() form: "1h30m0s", "250ms", "0s".
std::string FormatDuration(Duration d);

}  // namespace vmrelease

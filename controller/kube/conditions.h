// Reading conditions and the kstatus summary of any object, as JSON.
//
// Writing conditions is done on the typed API objects (controller/api/meta.h:
// api::SetCondition), the one place that knows the lastTransitionTime rule; this
// header only reads, for code that sees objects of any kind (kstatus, tools).
//
//   if (IsConditionTrue(obj["status"]["conditions"], "Stalled")) ...
//   KStatus s = SummarizeKStatus(obj).status;   // Current / InProgress / Failed / Terminating
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "controller/common/clock.h"
#include "controller/kube/resource.h"

namespace vmrelease::kube {

inline constexpr std::string_view kConditionTrue = "True";
inline constexpr std::string_view kConditionFalse = "False";
inline constexpr std::string_view kConditionUnknown = "Unknown";

// A condition as read from JSON (missing members read as empty / zero).
struct Condition {
  std::string type;    // "Ready", "Reconciling", "Stalled", ...
  std::string status;  // "True" | "False" | "Unknown"
  std::string reason;  // CamelCase
  std::string message;
  int64_t observed_generation = 0;
  std::string last_transition_time;  // RFC 3339

  static Condition FromJson(const Json& j);
};

// The condition of `type` in a conditions array (any other JSON reads as empty).
std::optional<Condition> FindCondition(const Json& conditions, std::string_view type);
bool IsConditionTrue(const Json& conditions, std::string_view type);
// kstatus (sigs.k8s.io/cli-utils) for custom resources that follow the
// Ready/Reconciling/Stalled conventions.
enum class KStatus { kInProgress, kCurrent, kFailed, kTerminating };
const char* KStatusName(KStatus s);
struct KStatusSummary {
  KStatus status;
  std::string message;
};
// Terminating when deleting; InProgress when status.observedGeneration lags
// metadata.generation or Reconciling=True; Failed when Stalled=True; InProgress
// when Ready is present and not True; otherwise Current.
KStatusSummary SummarizeKStatus(const Json& obj);

}  // namespace vmrelease::kube

// metav1.Condition helpers and a kstatus summary.
//
//   Json& conds = status["conditions"];
//   SetCondition(conds, {.type = "Ready", .status = "False", .reason = "Building",
//                        .message = "build job running", .observed_generation = gen},
//                clock.WallNow());
//   if (IsConditionTrue(obj["status"]["conditions"], "Stalled")) ...
//   KStatus s = SummarizeKStatus(obj);   // Current / InProgress / Failed / Terminating
//
// Guarantees: conditions are keyed by type (one entry per type, order kept);
// lastTransitionTime changes only when status changes, so repeated reconciles
// with the same outcome do not churn the object; SetCondition reports whether
// anything changed, so callers can skip a status write.
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

struct Condition {
  std::string type;    // "Ready", "Reconciling", "Stalled", ...
  std::string status;  // "True" | "False" | "Unknown"
  std::string reason;  // CamelCase
  std::string message;
  int64_t observed_generation = 0;
  std::string last_transition_time;  // RFC 3339; set by SetCondition

  Json ToJson() const;
  static Condition FromJson(const Json& j);
};

// Adds or updates the condition of `c.type` in `conditions` (a JSON array; null
// becomes an array). Keeps lastTransitionTime unless the status changed (then
// it becomes `now`). Returns true when the array changed.
bool SetCondition(Json& conditions, const Condition& c, WallTime now);
std::optional<Condition> FindCondition(const Json& conditions, std::string_view type);
bool IsConditionTrue(const Json& conditions, std::string_view type);
// Returns true when a condition was removed.
bool RemoveCondition(Json& conditions, std::string_view type);

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

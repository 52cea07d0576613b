#include "controller/kube/conditions.h"

namespace vmrelease::kube {

Condition Condition::FromJson(const Json& j) {
  Condition c;
  if (!j.is_object()) return c;
  auto str = [&](const char* k) {
    auto it = j.find(k);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  c.type = str("type");
  c.status = str("status");
  c.reason = str("reason");
  c.message = str("message");
  c.last_transition_time = str("lastTransitionTime");
  auto g = j.find("observedGeneration");
  if (g != j.end() && g->is_number_integer()) c.observed_generation = g->get<int64_t>();
  return c;
}

std::optional<Condition> FindCondition(const Json& conditions, std::string_view type) {
  if (!conditions.is_array()) return std::nullopt;
  for (const Json& c : conditions) {
    if (c.is_object() && c.value("type", "") == type) return Condition::FromJson(c);
  }
  return std::nullopt;
}

bool IsConditionTrue(const Json& conditions, std::string_view type) {
  auto c = FindCondition(conditions, type);
  return c.has_value() && c->status == kConditionTrue;
}

const char* KStatusName(KStatus s) {
  switch (s) {
    case KStatus::kInProgress:
      return "InProgress";
    case KStatus::kCurrent:
      return "Current";
    case KStatus::kFailed:
      return "Failed";
    case KStatus::kTerminating:
      return "Terminating";
  }
  return "Unknown";
}

KStatusSummary SummarizeKStatus(const Json& obj) {
  if (IsDeleting(obj)) return {KStatus::kTerminating, "resource is being deleted"};
  const Json* status = Find(obj, {"status"});
  const int64_t generation = Generation(obj);
  if (status != nullptr && status->is_object()) {
    auto og = status->find("observedGeneration");
    if (og != status->end() && og->is_number_integer() && og->get<int64_t>() < generation)
      return {KStatus::kInProgress, "generation " + std::to_string(generation) +
                                        " not yet observed (observed " +
                                        std::to_string(og->get<int64_t>()) + ")"};
  }
  static const Json kNone = Json::array();
  const Json* conds = Find(obj, {"status", "conditions"});
  const Json& conditions = conds != nullptr ? *conds : kNone;
  if (auto r = FindCondition(conditions, "Reconciling"); r && r->status == kConditionTrue)
    return {KStatus::kInProgress, r->message.empty() ? r->reason : r->message};
  if (auto s = FindCondition(conditions, "Stalled"); s && s->status == kConditionTrue)
    return {KStatus::kFailed, s->message.empty() ? s->reason : s->message};
  if (auto ready = FindCondition(conditions, "Ready"); ready && ready->status != kConditionTrue)
    return {KStatus::kInProgress, ready->message.empty() ? ready->reason : ready->message};
  return {KStatus::kCurrent, "resource is current"};
}

}  // namespace vmrelease::kube

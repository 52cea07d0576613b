// Object metadata and conditions shared by the vmrelease API types.
//
// SetCondition here is the one writer of metav1.Conditions in vmrelease (the
// reconcilers work on typed status); controller/kube/conditions.h only reads
// conditions of arbitrary JSON objects (kstatus).
//
// These mirror the parts of metav1.ObjectMeta and metav1.Condition that the
// controller reads or writes; everything else (managedFields, ownerReferences,
// ...) survives a round trip in `extra`.
//
//   const Condition* ready = FindCondition(release.status->conditions, kConditionReady);
//   if (ready && ready->status == ConditionStatus::kTrue) { ... }
//   SetCondition(conditions, {.type = "Ready", .status = ConditionStatus::kFalse,
//                             .reason = "Building", .message = "..."}, clock.WallNow());
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "controller/api/json_fields.h"
#include "controller/common/clock.h"

namespace vmrelease::api {

inline constexpr char kGroup[] = "vmrelease.io";
inline constexpr char kGroupVersion[] = "v1alpha1";
inline constexpr char kApiVersion[] = "vmrelease.io/v1alpha1";

struct ObjectMeta {
  std::string name;
  std::string ns;  // metadata.namespace
  std::string uid;
  std::string resource_version;
  std::optional<int64_t> generation;
  std::optional<std::string> creation_timestamp;  // RFC 3339
  std::optional<std::string> deletion_timestamp;  // RFC 3339
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  std::vector<std::string> finalizers;
  Json extra;

  template <typename Io, typename Self>
  static void Fields(Io& io, Self& s) {
    io.Field("name", s.name);
    io.Field("namespace", s.ns);
    io.Field("uid", s.uid);
    io.Field("resourceVersion", s.resource_version);
    io.Field("generation", s.generation);
    io.Field("creationTimestamp", s.creation_timestamp);
    io.Field("deletionTimestamp", s.deletion_timestamp);
    io.Field("labels", s.labels);
    io.Field("annotations", s.annotations);
    io.Field("finalizers", s.finalizers);
  }
};

enum class ConditionStatus { kTrue, kFalse, kUnknown };
template <>
struct EnumTraits<ConditionStatus> {
  static constexpr std::pair<ConditionStatus, std::string_view> kValues[] = {
      {ConditionStatus::kTrue, "True"},
      {ConditionStatus::kFalse, "False"},
      {ConditionStatus::kUnknown, "Unknown"},
  };
};

// Condition types used by both kinds (kstatus names plus our own).
inline constexpr char kConditionReady[] = "Ready";
inline constexpr char kConditionReconciling[] = "Reconciling";
inline constexpr char kConditionStalled[] = "Stalled";

// metav1.Condition.
struct Condition {
  std::string type;
  ConditionStatus status = ConditionStatus::kUnknown;
  std::optional<int64_t> observed_generation;
  std::string last_transition_time;  // RFC 3339
  std::string reason;
  std::string message;
  Json extra;

  template <typename Io, typename Self>
  static void Fields(Io& io, Self& s) {
    io.Always("type", s.type);
    io.Always("status", s.status);
    io.Field("observedGeneration", s.observed_generation);
    io.Always("lastTransitionTime", s.last_transition_time);
    io.Always("reason", s.reason);
    io.Always("message", s.message);
  }
};

// The condition of type `type`, or nullptr.
const Condition* FindCondition(const std::vector<Condition>& conditions, std::string_view type);

// Adds or updates `condition` by type. lastTransitionTime becomes `now` when the
// status changes (or the condition is new) and is otherwise kept, as
// apimachinery's meta.SetStatusCondition does. Returns true if anything changed.
bool SetCondition(std::vector<Condition>& conditions, Condition condition, WallTime now);
// Removes the condition of `type`; returns true when there was one.
bool RemoveCondition(std::vector<Condition>& conditions, std::string_view type);

// Checks the type meta of a top-level object: `json` is an object whose kind (if
// set) is `kind` and whose apiVersion (if set) is vmrelease.io/v1alpha1.
Status CheckTypeMeta(const Json& json, const char* kind);

// RFC 3339 timestamps as stored in status fields.
std::string FormatTime(WallTime t);
std::optional<WallTime> ParseTime(const std::string& text);

}  // namespace vmrelease::api

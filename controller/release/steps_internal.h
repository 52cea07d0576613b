// Helpers shared by the step files (steps.cc: spec, build, stage, validate;
// steps_publish.cc: publish; steps_lifecycle.cc: revoke, retry, delete).
// Internal to controller/release.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "controller/kube/resource.h"
#include "controller/release/steps.h"

namespace vmrelease::release::steps_internal {

using api::ConditionStatus;
using api::OperationStep;
using api::ReleasePhase;
using api::ReleaseStep;

inline constexpr char kLogger[] = "release";
inline constexpr const char* kOwnerTag = azure::kReleaseUidTag;

inline ReleasePhase PhaseOf(ReleaseStep step) {
  switch (step) {
    case ReleaseStep::kBuild:
      return ReleasePhase::kBuilding;
    case ReleaseStep::kStage:
      return ReleasePhase::kStaging;
    case ReleaseStep::kValidate:
      return ReleasePhase::kValidating;
    case ReleaseStep::kPublish:
      return ReleasePhase::kPublishing;
  }
  return ReleasePhase::kPending;
}

inline void SetCond(ReleaseContext& ctx, const char* type, ConditionStatus status,
                    std::string reason, std::string message) {
  api::SetCondition(ctx.status.conditions,
                    {.type = type,
                     .status = status,
                     .observed_generation = ctx.release.metadata.generation,
                     .reason = std::move(reason),
                     .message = TailForStatus(message, 32 * 1024)},
                    ctx.now);
}

inline azure::GalleryImageRef GalleryRef(const api::GalleryTarget& g) {
  return {g.subscription_id, g.resource_group, g.gallery, g.image_definition};
}

inline std::string Join(const std::vector<std::string>& parts, const std::string& sep) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : sep) + p;
  return out;
}

inline bool Older(const nlohmann::json& a, const nlohmann::json& b) {
  const auto* ta = kube::Find(a, {"metadata", "creationTimestamp"});
  const auto* tb = kube::Find(b, {"metadata", "creationTimestamp"});
  const std::string sa = ta && ta->is_string() ? ta->get<std::string>() : "";
  const std::string sb = tb && tb->is_string() ? tb->get<std::string>() : "";
  if (sa != sb) return sa < sb;  // RFC 3339 UTC sorts as text
  return kube::Name(a) < kube::Name(b);
}

inline std::string SpecString(const nlohmann::json& obj, const char* field) {
  const auto* v = kube::Find(obj, {"spec", field});
  return v && v->is_string() ? v->get<std::string>() : "";
}

inline azure::BlobRef PublishedRef(const api::ImageRelease& r) {
  return {r.spec.publish.blob->container, api::BlobTarget::BlobName(r.spec.image, r.spec.version)};
}

inline std::map<std::string, std::string> OwnerTags(const ReleaseContext& ctx) {
  return {{kOwnerTag, ctx.release.metadata.uid},
          {"vmrelease-release", ctx.names.key},
          {"vmrelease-image", ctx.release.spec.image},
          {"vmrelease-version", ctx.release.spec.version}};
}

}  // namespace vmrelease::release::steps_internal

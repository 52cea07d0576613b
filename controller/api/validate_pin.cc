// Validate / ValidateUpdate for EnvironmentPin. Each CEL rule of
// crds/environmentpins.vmrelease.io.yaml appears here with the same message, at
// the field path the API server reports it (tests/unit/api/cel_test).
#include <algorithm>
#include <set>

#include "controller/api/semver.h"
#include "controller/api/validation.h"
#include "controller/api/validation_util.h"

namespace vmrelease::api {

using internal::CheckDuration;
using internal::CheckLabel;
using internal::CheckReleaseVersion;
using internal::CheckSubdomain;
using internal::ErrorList;
using Type = FieldError::Type;

FieldErrors Validate(const EnvironmentPin& pin) {
  using namespace std::chrono_literals;
  ErrorList e;
  const EnvironmentPinSpec& s = pin.spec;
  CheckLabel(e, "spec.environment", s.environment);
  CheckLabel(e, "spec.image", s.image);
  if (s.version.has_value() == s.track.has_value()) {
    e.Invalid("spec", "exactly one of version, track must be set");
  }
  if (s.version) CheckReleaseVersion(e, "spec.version", *s.version);
  if (s.track && e.RequireString("spec.track.semver", s.track->semver)) {
    if (s.track->semver.size() > 256) {
      e.Invalid("spec.track.semver", "must be at most 256 characters");
    } else if (auto range = ParseRange(s.track->semver); !range.ok()) {
      e.Invalid("spec.track.semver", range.status().message());
    }
  }
  if (s.promotion) {
    const auto& reqs = s.promotion->require_pinned_in;
    if (reqs.size() > 10) {
      e.Add(Type::kTooMany, "spec.promotion.requirePinnedIn", "at most 10 entries are allowed");
    }
    std::set<std::string> seen;
    for (size_t i = 0; i < reqs.size(); ++i) {
      std::string path = IndexPath("spec.promotion.requirePinnedIn", i);
      CheckLabel(e, path + ".environment", reqs[i].environment);
      if (!reqs[i].environment.empty() && !seen.insert(reqs[i].environment).second) {
        e.Add(Type::kDuplicate, path + ".environment",
              "Duplicate value: \"" + reqs[i].environment + "\"");
      }
      CheckDuration(e, path + ".forAtLeast", reqs[i].for_at_least, Duration::zero(), 8760h,
                    "forAtLeast must be at most 8760h (one year)");
    }
    // The CEL rule on spec (requirePinnedIn.all(r, r.environment != self.environment)):
    // one error at spec, where the API server reports it.
    if (std::any_of(reqs.begin(), reqs.end(),
                    [&](const auto& r) { return r.environment == s.environment; })) {
      e.Invalid("spec", "promotion.requirePinnedIn cannot name the pin's own environment");
    }
  }
  if (s.export_spec && s.export_spec->config_map) {
    CheckSubdomain(e, "spec.export.configMap.name", s.export_spec->config_map->name);
  }
  return std::move(e).Take();
}

FieldErrors ValidateUpdate(const EnvironmentPin& old_pin, const EnvironmentPin& new_pin) {
  FieldErrors errors = Validate(new_pin);
  if (!old_pin.spec.environment.empty() && !new_pin.spec.environment.empty() &&
      old_pin.spec.environment != new_pin.spec.environment) {
    errors.push_back({Type::kInvalid, "spec.environment",
                      "environment is immutable; create a pin for the other environment instead"});
  }
  if (!old_pin.spec.image.empty() && !new_pin.spec.image.empty() &&
      old_pin.spec.image != new_pin.spec.image) {
    errors.push_back({Type::kInvalid, "spec.image",
                      "image is immutable; create a pin for the other image instead"});
  }
  return errors;
}

}  // namespace vmrelease::api

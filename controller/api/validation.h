// Semantic validation of ImageRelease and EnvironmentPin: every problem, with its field path.
//
// The CRD schema checks shapes; this checks meaning, and mirrors each CEL rule
// of the CRDs (x-kubernetes-validations) with the same message, because the
// local API server used in tests does not evaluate CEL and because the
// controller and the kubectl plugin must agree with a real cluster. It also
// repeats the schema checks that matter for correctness (required fields,
// names, versions), so an object built in code is held to the same rules.
//
//   FieldErrors errors = Validate(release);
//   for (const FieldError& e : errors) std::cout << e.ToString() << "\n";
//   // spec.build: exactly one of job, imageBuilder, local must be set
//   // spec.publish.gallery.targetRegions[1].name: unknown Azure region "westeurpoe"; did you mean
//   "westeurope"? RETURN_IF_ERROR(ToStatus(ValidateUpdate(old_release, new_release),
//   "ImageRelease", name));
//
// Guarantees: never stops at the first problem; the order follows the fields.
// ValidateUpdate applies the CRD defaults to both objects before comparing, as
// the API server does before it evaluates transition rules.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "controller/api/environment_pin.h"
#include "controller/api/image_release.h"
#include "controller/common/status.h"

namespace vmrelease::api {

struct FieldError {
  // The causes the API server reports (field.ErrorType).
  enum class Type { kRequired, kInvalid, kNotSupported, kDuplicate, kForbidden, kTooMany };
  Type type = Type::kInvalid;
  std::string field;    // "spec.validation.checks[2].timeout"
  std::string message;  // "checks[].timeout must be between 10s and 2h"

  // "<field>: <message>".
  std::string ToString() const { return field + ": " + message; }
};
using FieldErrors = std::vector<FieldError>;

FieldErrors Validate(const ImageRelease& release);
// Validate(new) plus the transition rules: image, version, source and build are immutable.
FieldErrors ValidateUpdate(const ImageRelease& old_release, const ImageRelease& new_release);

FieldErrors Validate(const EnvironmentPin& pin);
// Validate(new) plus the transition rules: environment and image are immutable.
FieldErrors ValidateUpdate(const EnvironmentPin& old_pin, const EnvironmentPin& new_pin);

// OK when `errors` is empty, else kInvalidArgument like the API server's 422:
// `ImageRelease "name" is invalid: [spec.build: ..., spec.version: ...]`.
Status ToStatus(const FieldErrors& errors, std::string_view kind, std::string_view name);

}  // namespace vmrelease::api

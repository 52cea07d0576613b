// One invalid field of a Kubernetes object, with the text apimachinery's
// field.Error renders, so what `kubectl vmrelease verify` prints is what the
// API server would answer. Used by the OpenAPI schema validator
// (controller/api/openapi_schema.h) and by the local API server in tests.
// Not api::FieldError (validation.h), which carries the C++ checks' messages.
//
//   FieldError e = InvalidField("spec.version", "1.2", "must be semver");
//   e.ToString();  // `spec.version: Invalid value: "1.2": must be semver`
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace vmrelease::api::schema {

// One invalid field (apimachinery's field.Error). `type` is the cause reason,
// e.g. "FieldValueRequired"; `body` is the "Required value" style text.
struct FieldError {
  std::string type;   // FieldValueRequired | FieldValueInvalid | FieldValueNotSupported | ...
  std::string field;  // "spec.version", "metadata.name"
  std::string body;   // e.g. `Invalid value: "1.2": spec.version in body should match '...'`
  std::string ToString() const { return field + ": " + body; }
};

// Go's %q for the ASCII subset the messages use; other bytes pass through.
std::string GoQuote(const std::string& s);

// Renders a value the way field.Error does: strings %q, numbers and bools plain,
// everything else as compact JSON.
std::string FieldValueRepr(const nlohmann::json& value);

FieldError RequiredField(const std::string& field, const std::string& detail = "");
FieldError InvalidField(const std::string& field, const nlohmann::json& value,
                        const std::string& detail);
FieldError TypeInvalidField(const std::string& field, const nlohmann::json& value,
                            const std::string& detail);
FieldError NotSupportedField(const std::string& field, const nlohmann::json& value,
                             const std::vector<std::string>& supported);
FieldError ForbiddenField(const std::string& field, const std::string& detail);
FieldError TooLongField(const std::string& field, int64_t max);
FieldError TooManyField(const std::string& field, int64_t actual, int64_t max);
FieldError DuplicateField(const std::string& field, const nlohmann::json& value);

}  // namespace vmrelease::api::schema

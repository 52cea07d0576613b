// Helpers shared by validate_release.cc and validate_pin.cc (not a public API).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "controller/api/validation.h"
#include "controller/common/clock.h"

namespace vmrelease::api::internal {

// Collects FieldErrors in field order.
class ErrorList {
 public:
  void Add(FieldError::Type type, std::string field, std::string message) {
    errors_.push_back({type, std::move(field), std::move(message)});
  }
  void Invalid(std::string field, std::string message) {
    Add(FieldError::Type::kInvalid, std::move(field), std::move(message));
  }
  void Required(std::string field) {
    Add(FieldError::Type::kRequired, std::move(field), "Required value");
  }
  // Required and non-empty; returns whether a value is there.
  bool RequireString(const std::string& field, const std::string& value) {
    if (value.empty()) Required(field);
    return !value.empty();
  }
  FieldErrors Take() && { return std::move(errors_); }
  size_t size() const { return errors_.size(); }

 private:
  FieldErrors errors_;
};

bool IsDnsLabel(std::string_view s);      // RFC 1123 label, at most 63 characters
bool IsDnsSubdomain(std::string_view s);  // RFC 1123 subdomain, at most 253 characters

// A DNS-1123 label that is required.
void CheckLabel(ErrorList& errors, const std::string& field, const std::string& value);
// A DNS-1123 subdomain that is required.
void CheckSubdomain(ErrorList& errors, const std::string& field, const std::string& value);
// MAJOR.MINOR.PATCH within Azure's 32-bit limit; required.
void CheckReleaseVersion(ErrorList& errors, const std::string& field, const std::string& value);
// A duration the CRD's pattern accepts, parsed; nullopt when it is not one.
// For rules that compare durations regardless of their own range rule (each
// CEL rule fails on its own, as on the API server).
std::optional<Duration> ParseCrdDuration(const std::string& value);
// A Go duration within [min, max]; `range_message` is the CRD rule's message.
// Returns the parsed value when it is valid.
std::optional<Duration> CheckDuration(ErrorList& errors, const std::string& field,
                                      const std::optional<std::string>& value, Duration min,
                                      Duration max, const std::string& range_message);

}  // namespace vmrelease::api::internal

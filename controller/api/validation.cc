#include "controller/api/validation.h"

#include <regex>

#include "controller/api/semver.h"
#include "controller/api/validation_util.h"
#include "controller/common/duration.h"

namespace vmrelease::api {
namespace internal {

bool IsDnsLabel(std::string_view s) {
  static const std::regex kLabel("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$");
  return !s.empty() && s.size() <= 63 && std::regex_match(s.begin(), s.end(), kLabel);
}

bool IsDnsSubdomain(std::string_view s) {
  static const std::regex kSubdomain(
      "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$");
  return !s.empty() && s.size() <= 253 && std::regex_match(s.begin(), s.end(), kSubdomain);
}

void CheckLabel(ErrorList& errors, const std::string& field, const std::string& value) {
  if (!errors.RequireString(field, value)) return;
  if (!IsDnsLabel(value)) {
    errors.Invalid(field, "\"" + value +
                              "\" must be a DNS-1123 label: at most 63 lowercase letters, digits "
                              "and '-', starting and ending with a letter or digit");
  }
}

void CheckSubdomain(ErrorList& errors, const std::string& field, const std::string& value) {
  if (!errors.RequireString(field, value)) return;
  if (!IsDnsSubdomain(value)) {
    errors.Invalid(field, "\"" + value +
                              "\" must be a DNS-1123 subdomain: at most 253 lowercase letters, "
                              "digits, '-' and '.', starting and ending with a letter or digit");
  }
}

void CheckReleaseVersion(ErrorList& errors, const std::string& field, const std::string& value) {
  if (!errors.RequireString(field, value)) return;
  auto v = ParseReleaseVersion(value);
  if (!v.ok()) {
    errors.Invalid(field, v.status().message());
    return;
  }
  constexpr uint64_t kAzureMax = 2147483647;  // gallery versions are 32-bit integers
  if (v->major > kAzureMax || v->minor > kAzureMax || v->patch > kAzureMax) {
    errors.Invalid(field, "\"" + value +
                              "\": MAJOR, MINOR and PATCH must each be at most 2147483647 (the "
                              "Azure Compute Gallery limit)");
  }
}

std::optional<Duration> ParseCrdDuration(const std::string& value) {
  // The CRD's pattern first: ParseDuration (Go's syntax) also takes "+5m" and
  // ".5h", which the API server refuses.
  static const std::regex kDurationPattern("^([0-9]+(\\.[0-9]+)?(ns|us|ms|s|m|h))+$");
  if (!std::regex_match(value, kDurationPattern)) return std::nullopt;
  auto d = ParseDuration(value);
  if (!d.ok() || d->count() < 0) return std::nullopt;
  return *d;
}

std::optional<Duration> CheckDuration(ErrorList& errors, const std::string& field,
                                      const std::optional<std::string>& value, Duration min,
                                      Duration max, const std::string& range_message) {
  if (!value) return std::nullopt;
  std::optional<Duration> d = ParseCrdDuration(*value);
  if (!d) {
    errors.Invalid(field, "\"" + *value +
                              "\" is not a duration: use a number and a unit (h, m, s, ms), e.g. "
                              "90m or 1h30m");
    return std::nullopt;
  }
  if (*d < min || *d > max) {
    errors.Invalid(field, range_message);
    return std::nullopt;
  }
  return *d;
}

}  // namespace internal

Status ToStatus(const FieldErrors& errors, std::string_view kind, std::string_view name) {
  if (errors.empty()) return Status::Ok();
  std::string message = std::string(kind) + " \"" + std::string(name) + "\" is invalid: ";
  if (errors.size() > 1) message += "[";
  for (size_t i = 0; i < errors.size(); ++i) {
    if (i > 0) message += ", ";
    message += errors[i].ToString();
  }
  if (errors.size() > 1) message += "]";
  return InvalidArgumentError(message);
}

}  // namespace vmrelease::api

// Kubernetes API errors as the local API server returns them: a `Status`
// object with code, reason, message and details, built the way apimachinery's
// error constructors build them so clients (and kubectl) see the same text.
//
//   ApiError e = ApiError::NotFound("configmaps", "", "cm1");
//   e.ToStatus();   // {"kind":"Status","code":404,"reason":"NotFound",...}
//
//   ApiOr<nlohmann::json> r = store.Get(...);
//   if (!r.ok()) return Reply(r.error());
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "controller/api/field_error.h"

namespace vmrelease::apiserver {

// FieldError and its constructors live in controller/api/field_error.h (the
// plugin's `verify` reports the same text); the server uses them unqualified.
using api::schema::DuplicateField;
using api::schema::FieldError;
using api::schema::FieldValueRepr;
using api::schema::ForbiddenField;
using api::schema::InvalidField;
using api::schema::NotSupportedField;
using api::schema::RequiredField;
using api::schema::TooLongField;
using api::schema::TooManyField;
using api::schema::TypeInvalidField;

struct ApiError {
  int code = 500;
  std::string reason;  // StatusReason, e.g. "NotFound"; empty for code-only errors
  std::string message;
  nlohmann::json details = nullptr;  // StatusDetails or null
  int retry_after_seconds = 0;       // > 0 adds a Retry-After header

  nlohmann::json ToStatus() const;

  // `resource` is the plural, `group` may be empty (core).
  static ApiError NotFound(const std::string& resource, const std::string& group,
                           const std::string& name);
  static ApiError AlreadyExists(const std::string& resource, const std::string& group,
                                const std::string& name);
  // Optimistic-lock conflict with apiserver's exact text.
  static ApiError Conflict(const std::string& resource, const std::string& group,
                           const std::string& name, const std::string& why);
  // 422 with details.causes. `kind` is the Kind, e.g. "ImageRelease".
  static ApiError Invalid(const std::string& kind, const std::string& group,
                          const std::string& name, const std::vector<FieldError>& errors);
  static ApiError BadRequest(const std::string& message);
  static ApiError Expired(const std::string& message);
  static ApiError Gone(const std::string& message);
  static ApiError MethodNotAllowed(const std::string& message);
  static ApiError UnsupportedMediaType(const std::string& message);
  static ApiError Unauthorized();
  static ApiError Forbidden(const std::string& resource, const std::string& group,
                            const std::string& name, const std::string& why);
  static ApiError Internal(const std::string& message);
  // Fault-injection and generic code → reason mapping (429 TooManyRequests, 503, ...).
  static ApiError FromCode(int code, const std::string& message);
};

// A value or an ApiError.
template <typename T>
class [[nodiscard]] ApiOr {
 public:
  // NOLINTNEXTLINE(google-explicit-constructor)
  ApiOr(T value) : v_(std::move(value)) {}
  // NOLINTNEXTLINE(google-explicit-constructor)
  ApiOr(ApiError error) : v_(std::move(error)) {}
  bool ok() const { return std::holds_alternative<T>(v_); }
  const ApiError& error() const { return std::get<ApiError>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T& value() & { return std::get<T>(v_); }
  T&& value() && { return std::move(std::get<T>(v_)); }
  const T& operator*() const& { return value(); }
  T& operator*() & { return value(); }
  const T* operator->() const { return &value(); }
  T* operator->() { return &value(); }

 private:
  std::variant<ApiError, T> v_;
};

// "group.resource" or "resource" for the core group (apimachinery's GroupResource.String()).
std::string QualifiedResource(const std::string& resource, const std::string& group);

}  // namespace vmrelease::apiserver

// Status and StatusOr<T>: how every fallible function in vmrelease reports failure.
//
// Modelled on absl::Status: a small set of canonical codes plus a message, and
// optional detail that lets a domain (Kubernetes, Azure, HTTP) keep what the
// remote said (HTTP status, reason, service error code, Retry-After) so callers
// can decide between retrying, waiting and stalling.
//
//   StatusOr<Config> c = LoadConfig(path);
//   if (!c.ok()) return c.status().WithContext("loading " + path);
//   RETURN_IF_ERROR(DoThing(*c), "doing thing");
//   ASSIGN_OR_RETURN(auto obj, client.Get(ref));
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace vmrelease {

enum class StatusCode {
  kOk = 0,
  kCancelled,
  kUnknown,
  kInvalidArgument,
  kDeadlineExceeded,
  kNotFound,
  kAlreadyExists,
  kPermissionDenied,
  kResourceExhausted,   // throttled, quota
  kFailedPrecondition,  // e.g. a precondition header or resourceVersion did not match
  kAborted,             // optimistic-concurrency conflict
  kOutOfRange,          // e.g. resourceVersion too old (410 Gone)
  kUnimplemented,
  kInternal,
  kUnavailable,  // connection failures, 5xx: retry
  kDataLoss,
  kUnauthenticated,
};

const char* StatusCodeName(StatusCode code);

// What a remote service said, kept alongside the canonical code.
struct ErrorDetail {
  int http_status = 0;  // 0 when no HTTP exchange happened
  std::string reason;   // Kubernetes Status.reason or Azure error.code
  std::optional<std::chrono::milliseconds> retry_after;
  std::string correlation_id;  // e.g. x-ms-correlation-request-id
};

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}
  Status(StatusCode code, std::string message, ErrorDetail detail)
      : code_(code), message_(std::move(message)), detail_(std::move(detail)) {}

  static Status Ok() { return {}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  const ErrorDetail& detail() const { return detail_; }
  ErrorDetail& mutable_detail() { return detail_; }

  // Prefixes the message with what the caller was doing: "ctx: message".
  Status WithContext(const std::string& context) const;
  // "NOT_FOUND: message" (or "OK").
  std::string ToString() const;

  // Explicitly ignore a Status (e.g. best-effort cleanup).
  void IgnoreError() const {}

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
  ErrorDetail detail_;
};

inline bool operator==(const Status& a, const Status& b) {
  return a.code() == b.code() && a.message() == b.message();
}

// Convenience constructors, one per canonical code that we use.
Status InvalidArgumentError(std::string msg);
Status NotFoundError(std::string msg);
Status AlreadyExistsError(std::string msg);
Status FailedPreconditionError(std::string msg);
Status AbortedError(std::string msg);
Status UnavailableError(std::string msg);
Status InternalError(std::string msg);
Status DeadlineExceededError(std::string msg);
Status CancelledError(std::string msg);
Status UnauthenticatedError(std::string msg);
Status PermissionDeniedError(std::string msg);
Status ResourceExhaustedError(std::string msg);
Status OutOfRangeError(std::string msg);
Status UnimplementedError(std::string msg);
Status DataLossError(std::string msg);

template <typename T>
class [[nodiscard]] StatusOr {
 public:
  // NOLINTNEXTLINE(google-explicit-constructor): implicit like absl::StatusOr.
  StatusOr(T value) : v_(std::move(value)) {}
  // NOLINTNEXTLINE(google-explicit-constructor)
  StatusOr(Status status) : v_(std::move(status)) {
    if (std::get<Status>(v_).ok()) v_ = Status(StatusCode::kInternal, "StatusOr built from OK");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const& {
    static const Status kOkStatus;
    return ok() ? kOkStatus : std::get<Status>(v_);
  }
  Status status() && { return ok() ? Status() : std::move(std::get<Status>(v_)); }

  const T& value() const& { return std::get<T>(v_); }
  T& value() & { return std::get<T>(v_); }
  T&& value() && { return std::move(std::get<T>(v_)); }
  const T& operator*() const& { return value(); }
  T& operator*() & { return value(); }
  T&& operator*() && { return std::move(std::get<T>(v_)); }
  const T* operator->() const { return &value(); }
  T* operator->() { return &value(); }
  T value_or(T fallback) const& { return ok() ? value() : std::move(fallback); }

 private:
  std::variant<Status, T> v_;
};

namespace internal {
inline Status AsStatus(const Status& s) { return s; }
template <typename T>
Status AsStatus(const StatusOr<T>& s) {
  return s.status();
}
}  // namespace internal

}  // namespace vmrelease

#define VMR_CONCAT_INNER_(a, b) a##b
#define VMR_CONCAT_(a, b) VMR_CONCAT_INNER_(a, b)

// RETURN_IF_ERROR(expr) or RETURN_IF_ERROR(expr, "context")
#define RETURN_IF_ERROR(...) VMR_RIE_PICK_(__VA_ARGS__, VMR_RIE2_, VMR_RIE1_)(__VA_ARGS__)
#define VMR_RIE_PICK_(_1, _2, NAME, ...) NAME
#define VMR_RIE1_(expr)                                                      \
  do {                                                                       \
    ::vmrelease::Status vmr_status_ = ::vmrelease::internal::AsStatus(expr); \
    if (!vmr_status_.ok()) return vmr_status_;                               \
  } while (0)
#define VMR_RIE2_(expr, ctx)                                                 \
  do {                                                                       \
    ::vmrelease::Status vmr_status_ = ::vmrelease::internal::AsStatus(expr); \
    if (!vmr_status_.ok()) return vmr_status_.WithContext(ctx);              \
  } while (0)

// ASSIGN_OR_RETURN(lhs, expr): evaluates a StatusOr, returns its error or assigns the value.
#define ASSIGN_OR_RETURN(lhs, expr) VMR_AOR_IMPL_(VMR_CONCAT_(vmr_statusor_, __LINE__), lhs, expr)
#define VMR_AOR_IMPL_(tmp, lhs, expr)            \
  auto tmp = (expr);                             \
  if (!tmp.ok()) return std::move(tmp).status(); \
  lhs = std::move(tmp).value()

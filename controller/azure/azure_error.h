// Azure error handling: turns ARM / Entra error responses into Status values and
// classifies a Status into the kinds reconcilers act on.
//
//   StatusOr<http::Response> r = http.Send(req);
//   if (r.ok() && !r->ok()) return ArmHttpError(*r, "PUT .../versions/1.0.0");
//   ...
//   switch (ClassifyArmError(status)) {
//     case ArmErrorKind::kThrottled: requeue after status.detail().retry_after; break;
//     case ArmErrorKind::kInvalid:   mark Stalled; break;
//   }
//
// Guarantees: the Azure error code is kept in ErrorDetail::reason, the HTTP status
// in ErrorDetail::http_status, Retry-After in ErrorDetail::retry_after and the
// x-ms-correlation-request-id in ErrorDetail::correlation_id. Messages are
// passed through log::Redact, so an error string is safe to log or put in status.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "controller/common/status.h"
#include "controller/http/types.h"

namespace vmrelease::azure {

// What the caller should do about an error (see STYLE.md "error kinds drive behaviour").
enum class ArmErrorKind {
  kNone,             // not an error
  kNotFound,         // 404 / ResourceNotFound: adopt-or-create, or treat deletion as done
  kConflict,         // 409 / 412 / an existing resource with different content: stall
  kThrottled,        // 429: retry after Retry-After
  kQuota,            // quota or capacity exhausted: stall until the user acts
  kInvalid,          // 400: the request is wrong; retrying will not help
  kAuth,             // 401 / 403: credentials or role assignments are wrong
  kServer,           // 5xx: transient, retry with backoff
  kTransport,        // no HTTP answer (refused, reset, timeout): transient
  kOperationFailed,  // a long-running operation ran and ended Failed/Canceled
  kOther,
};

const char* ArmErrorKindName(ArmErrorKind kind);

// Classifies a Status produced by this folder's clients.
ArmErrorKind ClassifyArmError(const Status& status);

// True for kinds worth retrying with backoff (throttled, server, transport).
bool IsTransientArmError(const Status& status);

// The `error` object of an ARM error body.
struct ArmErrorBody {
  std::string code;
  std::string message;
  std::string target;
  // "code: message" of each entry of `details`, in order.
  std::vector<std::string> details;
};

// Parses `{"error": {"code", "message", "target", "details"}}` and the
// unwrapped `{"code", "message"}` form some resource providers use. Returns
// nullopt when `body` carries neither.
std::optional<ArmErrorBody> ParseArmErrorBody(std::string_view body);

// Retry-After as ARM sends it (integer seconds). nullopt when absent or unparseable.
std::optional<std::chrono::milliseconds> ParseRetryAfter(const http::Headers& headers);

// Builds the Status for a non-2xx ARM response. `what` says what was being done
// ("PUT /subscriptions/.../versions/1.0.0"); it should not carry a query string.
Status ArmHttpError(const http::Response& response, const std::string& what);

// The Status for an operation whose status resource says Failed or Canceled.
// Uses the Azure code to pick the canonical code (quota → kResourceExhausted,
// conflict → kAborted, ...), kUnknown otherwise (ArmErrorKind::kOperationFailed).
Status ArmOperationError(const ArmErrorBody& error, const std::string& what,
                         const std::string& correlation_id = "");

}  // namespace vmrelease::azure

// Kubernetes API errors as vmrelease Status values.
//
// The API server answers failures with a `Status` object ({"kind":"Status",
// "reason":"Conflict","code":409,...}). FromResponse() turns one into a Status
// whose canonical code says what kind of failure it is and whose ErrorDetail
// keeps the HTTP status, the Kubernetes reason and any Retry-After, so callers
// branch on predicates instead of parsing messages:
//
//   auto obj = client.Update(type, edited);
//   if (IsConflict(obj.status())) { ... re-read and retry ... }
//   if (IsNotFound(obj.status())) return Action::AwaitChange();
//
// Mapping (HTTP → canonical code, ErrorDetail.reason = the Status reason):
//   400 BadRequest, 413, 415, 422 Invalid → kInvalidArgument (422 message lists the causes)
//   401 → kUnauthenticated            403 → kPermissionDenied
//   404 → kNotFound                   405 → kUnimplemented
//   409 AlreadyExists → kAlreadyExists
//   409 Conflict (stale resourceVersion, failed precondition) → kAborted
//   410 Gone / Expired → kOutOfRange
//   429 TooManyRequests → kResourceExhausted (retry_after from Retry-After / retryAfterSeconds)
//   500 → kInternal, 502/503 → kUnavailable, 504 → kDeadlineExceeded
// Transport failures come from the http layer as kUnavailable/kDeadlineExceeded
// with http_status 0.
#pragma once

#include <string>
#include <string_view>

#include "controller/common/status.h"
#include "controller/http/types.h"
#include "controller/kube/resource.h"

namespace vmrelease::kube {

// A Status for a non-2xx response. `what` names the operation ("get leases/x").
Status FromResponse(const http::Response& response, std::string_view what);
// A Status for a decoded Kubernetes Status object (also used for watch ERROR events).
Status FromKubeStatus(const Json& status, int http_status, std::string_view what,
                      std::string_view retry_after_header = "");

bool IsNotFound(const Status& s);
bool IsAlreadyExists(const Status& s);
// 409 other than AlreadyExists: stale resourceVersion or failed delete precondition.
bool IsConflict(const Status& s);
bool IsInvalid(const Status& s);  // 422 (and 400 BadRequest)
// 410 Gone or reason Expired: the resourceVersion or continue token is too old; relist.
bool IsGone(const Status& s);
bool IsTooManyRequests(const Status& s);
bool IsUnauthorized(const Status& s);
bool IsForbidden(const Status& s);
bool IsServerError(const Status& s);     // any 5xx
bool IsTransportError(const Status& s);  // no HTTP response at all
// Worth retrying the same request later: 429, 5xx, transport errors.
bool IsRetryable(const Status& s);

}  // namespace vmrelease::kube

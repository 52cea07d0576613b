// Blob service errors: turns a non-2xx storage response into a Status that
// keeps the storage error code, and classifies a Status into what callers do.
//
//   if (!resp.ok()) return BlobHttpError(resp, "PUT images/app/1.0.vhd");
//   ...
//   if (ClassifyBlobError(s) == BlobErrorKind::kAlreadyExists) { /* never overwrite */ }
//
// Status mapping (code from `<Error><Code>` or, for HEAD, x-ms-error-code):
//   404 → kNotFound · 409 *AlreadyExists → kAlreadyExists, other 409 → kAborted ·
//   304/412 → kFailedPrecondition · 400/413 → kInvalidArgument · 401 and 403
//   AuthenticationFailed → kUnauthenticated, other 403 → kPermissionDenied ·
//   416 → kOutOfRange · 429 → kResourceExhausted · 501 → kUnimplemented ·
//   500/502/503/504 → kUnavailable.
// Guarantees: ErrorDetail carries http_status, reason (storage code),
// retry_after and correlation_id (x-ms-request-id); messages are redacted.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "controller/common/clock.h"
#include "controller/common/status.h"
#include "controller/http/types.h"

namespace vmrelease::azure {

enum class BlobErrorKind {
  kNone,
  kNotFound,         // blob or container missing
  kAlreadyExists,    // If-None-Match: * refused, or the container exists
  kConditionFailed,  // If-Match / sequence-number condition failed: re-read and decide
  kThrottled,        // 429 / ServerBusy: retry after Retry-After
  kServer,           // 5xx: transient
  kTransport,        // no HTTP answer (refused, reset, timeout): transient
  kAuth,             // 401/403: key, token, SAS or role assignment is wrong
  kInvalid,          // 400: the request is wrong; retrying will not help
  kUnsupported,      // the endpoint lacks the feature (e.g. immutability on Azurite)
  kOther,
};

const char* BlobErrorKindName(BlobErrorKind kind);
BlobErrorKind ClassifyBlobError(const Status& status);
// Throttled, server and transport errors.
bool IsTransientBlobError(const Status& status);

struct StorageErrorBody {
  std::string code;
  std::string message;  // first line only (RequestId/Time lines dropped)
};
// Parses `<Error><Code>..</Code><Message>..</Message></Error>`; nullopt otherwise.
std::optional<StorageErrorBody> ParseStorageErrorBody(std::string_view body);

// Retry-After in seconds or as an HTTP date (relative to `now`); nullopt when absent/invalid.
std::optional<std::chrono::milliseconds> ParseStorageRetryAfter(const http::Headers& headers,
                                                                WallTime now);

// The Status for a non-2xx response. `what` is e.g. "PUT images/app/1.0.vhd?comp=page"
// and must not carry a SAS.
Status BlobHttpError(const http::Response& response, const std::string& what,
                     WallTime now = std::chrono::system_clock::now());

}  // namespace vmrelease::azure

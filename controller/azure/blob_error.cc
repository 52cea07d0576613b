#include "controller/azure/blob_error.h"

#include <cctype>

#include "controller/azure/blob_xml.h"
#include "controller/azure/storage_account.h"
#include "controller/common/log.h"
#include "controller/common/strings.h"

namespace vmrelease::azure {
namespace {

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

StatusCode CodeFor(int http_status, const std::string& code) {
  switch (http_status) {
    case 304:
    case 412:
      return StatusCode::kFailedPrecondition;
    case 400:
    case 413:
      return StatusCode::kInvalidArgument;
    case 401:
      return StatusCode::kUnauthenticated;
    case 403:
      return code == "AuthenticationFailed" ? StatusCode::kUnauthenticated
                                            : StatusCode::kPermissionDenied;
    case 404:
      return StatusCode::kNotFound;
    case 409:
      return EndsWith(code, "AlreadyExists") ? StatusCode::kAlreadyExists : StatusCode::kAborted;
    case 416:
      return StatusCode::kOutOfRange;
    case 429:
      return StatusCode::kResourceExhausted;
    case 501:
      return StatusCode::kUnimplemented;
    case 500:
    case 502:
    case 503:
    case 504:
      return StatusCode::kUnavailable;
    default:
      return http_status >= 500 ? StatusCode::kUnavailable : StatusCode::kUnknown;
  }
}

}  // namespace

const char* BlobErrorKindName(BlobErrorKind kind) {
  switch (kind) {
    case BlobErrorKind::kNone:
      return "None";
    case BlobErrorKind::kNotFound:
      return "NotFound";
    case BlobErrorKind::kAlreadyExists:
      return "AlreadyExists";
    case BlobErrorKind::kConditionFailed:
      return "ConditionFailed";
    case BlobErrorKind::kThrottled:
      return "Throttled";
    case BlobErrorKind::kServer:
      return "Server";
    case BlobErrorKind::kTransport:
      return "Transport";
    case BlobErrorKind::kAuth:
      return "Auth";
    case BlobErrorKind::kInvalid:
      return "Invalid";
    case BlobErrorKind::kUnsupported:
      return "Unsupported";
    case BlobErrorKind::kOther:
      return "Other";
  }
  return "Other";
}

BlobErrorKind ClassifyBlobError(const Status& s) {
  if (s.ok()) return BlobErrorKind::kNone;
  const int http_status = s.detail().http_status;
  if (http_status == 0) {
    switch (s.code()) {
      case StatusCode::kUnavailable:
      case StatusCode::kDeadlineExceeded:
        return BlobErrorKind::kTransport;
      default:
        break;
    }
  }
  if (http_status == 503 && s.detail().reason == "ServerBusy") return BlobErrorKind::kThrottled;
  switch (s.code()) {
    case StatusCode::kNotFound:
      return BlobErrorKind::kNotFound;
    case StatusCode::kAlreadyExists:
      return BlobErrorKind::kAlreadyExists;
    case StatusCode::kFailedPrecondition:
      return BlobErrorKind::kConditionFailed;
    case StatusCode::kResourceExhausted:
      return BlobErrorKind::kThrottled;
    case StatusCode::kUnavailable:
      return BlobErrorKind::kServer;
    case StatusCode::kUnauthenticated:
    case StatusCode::kPermissionDenied:
      return BlobErrorKind::kAuth;
    case StatusCode::kInvalidArgument:
    case StatusCode::kOutOfRange:
      return BlobErrorKind::kInvalid;
    case StatusCode::kUnimplemented:
      return BlobErrorKind::kUnsupported;
    default:
      return BlobErrorKind::kOther;
  }
}

bool IsTransientBlobError(const Status& s) {
  const BlobErrorKind k = ClassifyBlobError(s);
  return k == BlobErrorKind::kThrottled || k == BlobErrorKind::kServer ||
         k == BlobErrorKind::kTransport;
}

std::optional<StorageErrorBody> ParseStorageErrorBody(std::string_view body) {
  if (body.find("<Error") == std::string_view::npos) return std::nullopt;
  auto code = XmlElementText(body, "Code");
  if (!code) return std::nullopt;
  StorageErrorBody out;
  out.code = *code;
  std::string msg = XmlElementText(body, "Message").value_or("");
  const size_t nl = msg.find_first_of("\r\n");
  if (nl != std::string::npos) msg.resize(nl);
  out.message = msg;
  return out;
}

std::optional<std::chrono::milliseconds> ParseStorageRetryAfter(const http::Headers& headers,
                                                                WallTime now) {
  return ParseRetryAfter(headers.Get("Retry-After"), now);
}

Status BlobHttpError(const http::Response& response, const std::string& what, WallTime now) {
  ErrorDetail d;
  d.http_status = response.status;
  d.correlation_id = response.headers.Get("x-ms-request-id");
  d.retry_after = ParseStorageRetryAfter(response.headers, now);
  std::string message;
  if (auto body = ParseStorageErrorBody(response.body)) {
    d.reason = body->code;
    message = body->message;
  }
  // HEAD responses have no body; the code is in a header.
  if (d.reason.empty()) d.reason = response.headers.Get("x-ms-error-code");
  std::string text = what + ": HTTP " + std::to_string(response.status);
  if (!d.reason.empty()) text += " " + d.reason;
  if (!message.empty()) text += ": " + message;
  if (!d.correlation_id.empty()) text += " (request id " + d.correlation_id + ")";
  const StatusCode code = CodeFor(response.status, d.reason);
  return Status(code, log::Redact(text), std::move(d));
}

}  // namespace vmrelease::azure

#include "controller/azure/azure_error.h"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

#include "controller/common/json_depth.h"
#include "controller/common/log.h"
#include "controller/common/strings.h"

namespace vmrelease::azure {
namespace {

bool Contains(std::string_view haystack, std::string_view needle) {
  return AsciiLower(haystack).find(AsciiLower(needle)) != std::string::npos;
}

bool IsThrottleCode(const std::string& code) {
  return code == "TooManyRequests" || Contains(code, "Throttled");
}

// Quota and capacity errors: retrying the same request soon will not help,
// someone has to raise a limit or pick another size/region.
bool IsQuotaError(const std::string& code, const std::string& message) {
  if (Contains(code, "Quota")) return true;
  if (code == "SkuNotAvailable" || code == "AllocationFailed" || code == "ZonalAllocationFailed" ||
      code == "OverconstrainedAllocationRequest")
    return true;
  return code == "OperationNotAllowed" && Contains(message, "quota");
}

// The canonical code an Azure error code implies on its own (used for the
// body of a Failed operation, where there is no HTTP status to go by).
std::optional<StatusCode> CodeFromAzureCode(const std::string& code, const std::string& message) {
  if (IsQuotaError(code, message) || IsThrottleCode(code)) return StatusCode::kResourceExhausted;
  if (code == "NotFound" || code == "ResourceNotFound" || code == "ResourceGroupNotFound" ||
      code == "ParentResourceNotFound")
    return StatusCode::kNotFound;
  if (code == "Conflict" || code == "AnotherOperationInProgress" || code == "OperationNotAllowed" ||
      code == "ResourceExists")
    return StatusCode::kAborted;
  if (code == "InvalidParameter" || code == "BadRequest" || code == "InvalidRequestContent" ||
      code == "InvalidRequestFormat" || code == "InvalidResourceReference" ||
      code == "PropertyChangeNotAllowed" || code == "InvalidApiVersionParameter")
    return StatusCode::kInvalidArgument;
  if (code == "AuthorizationFailed" || code == "LinkedAuthorizationFailed")
    return StatusCode::kPermissionDenied;
  if (code == "AuthenticationFailed" || code == "ExpiredAuthenticationToken" ||
      Contains(code, "InvalidAuthenticationToken"))
    return StatusCode::kUnauthenticated;
  return std::nullopt;
}

StatusCode CodeFromHttp(int http_status) {
  switch (http_status) {
    case 400:
      return StatusCode::kInvalidArgument;
    case 401:
      return StatusCode::kUnauthenticated;
    case 403:
      return StatusCode::kPermissionDenied;
    case 404:
      return StatusCode::kNotFound;
    case 408:
      return StatusCode::kDeadlineExceeded;
    case 409:
      return StatusCode::kAborted;
    case 412:
      return StatusCode::kFailedPrecondition;
    case 429:
      return StatusCode::kResourceExhausted;
    default:
      break;
  }
  if (http_status >= 500) return StatusCode::kUnavailable;
  if (http_status >= 400) return StatusCode::kInvalidArgument;
  return StatusCode::kUnknown;
}

std::string FormatError(const ArmErrorBody& e) {
  std::string out = e.code.empty() ? std::string("error") : e.code;
  if (!e.message.empty()) out += ": " + e.message;
  if (!e.target.empty()) out += " (target " + e.target + ")";
  if (!e.details.empty()) {
    out += " [details: ";
    for (size_t i = 0; i < e.details.size(); ++i) out += (i ? "; " : "") + e.details[i];
    out += "]";
  }
  return out;
}

std::string JsonString(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return "";
  return it->get<std::string>();
}

}  // namespace

const char* ArmErrorKindName(ArmErrorKind kind) {
  switch (kind) {
    case ArmErrorKind::kNone:
      return "None";
    case ArmErrorKind::kNotFound:
      return "NotFound";
    case ArmErrorKind::kConflict:
      return "Conflict";
    case ArmErrorKind::kThrottled:
      return "Throttled";
    case ArmErrorKind::kQuota:
      return "Quota";
    case ArmErrorKind::kInvalid:
      return "Invalid";
    case ArmErrorKind::kAuth:
      return "Auth";
    case ArmErrorKind::kServer:
      return "Server";
    case ArmErrorKind::kTransport:
      return "Transport";
    case ArmErrorKind::kOperationFailed:
      return "OperationFailed";
    case ArmErrorKind::kOther:
      return "Other";
  }
  return "Other";
}

ArmErrorKind ClassifyArmError(const Status& status) {
  const ErrorDetail& d = status.detail();
  switch (status.code()) {
    case StatusCode::kOk:
      return ArmErrorKind::kNone;
    case StatusCode::kNotFound:
      return ArmErrorKind::kNotFound;
    case StatusCode::kAlreadyExists:
    case StatusCode::kAborted:
    case StatusCode::kFailedPrecondition:
      return ArmErrorKind::kConflict;
    case StatusCode::kResourceExhausted:
      return d.http_status == 429 || IsThrottleCode(d.reason) ? ArmErrorKind::kThrottled
                                                              : ArmErrorKind::kQuota;
    case StatusCode::kInvalidArgument:
      return ArmErrorKind::kInvalid;
    case StatusCode::kUnauthenticated:
    case StatusCode::kPermissionDenied:
      return ArmErrorKind::kAuth;
    case StatusCode::kUnavailable:
      return d.http_status >= 500 ? ArmErrorKind::kServer : ArmErrorKind::kTransport;
    case StatusCode::kDeadlineExceeded:
      return d.http_status >= 400 ? ArmErrorKind::kServer : ArmErrorKind::kTransport;
    case StatusCode::kUnknown:
      return d.reason.empty() ? ArmErrorKind::kOther : ArmErrorKind::kOperationFailed;
    default:
      return ArmErrorKind::kOther;
  }
}

bool IsTransientArmError(const Status& status) {
  switch (ClassifyArmError(status)) {
    case ArmErrorKind::kThrottled:
    case ArmErrorKind::kServer:
    case ArmErrorKind::kTransport:
      return true;
    default:
      return false;
  }
}

std::optional<ArmErrorBody> ParseArmErrorBody(std::string_view body) {
  auto parsed = ParseJsonBounded(body, kMaxServiceJsonDepth);
  if (!parsed.ok() || !parsed->is_object()) return std::nullopt;
  const nlohmann::json& j = *parsed;
  const nlohmann::json* e = &j;
  if (auto it = j.find("error"); it != j.end() && it->is_object()) e = &*it;
  ArmErrorBody out;
  out.code = JsonString(*e, "code");
  out.message = JsonString(*e, "message");
  out.target = JsonString(*e, "target");
  if (out.code.empty() && out.message.empty()) return std::nullopt;
  if (auto it = e->find("details"); it != e->end() && it->is_array()) {
    for (const auto& d : *it) {
      if (!d.is_object()) continue;
      std::string s = JsonString(d, "code");
      const std::string m = JsonString(d, "message");
      if (!m.empty()) s += (s.empty() ? "" : ": ") + m;
      if (!s.empty()) out.details.push_back(std::move(s));
    }
  }
  return out;
}

std::optional<std::chrono::milliseconds> ParseRetryAfter(const http::Headers& headers) {
  // ARM sends delay-seconds; the wall time only matters for the HTTP-date form.
  return vmrelease::ParseRetryAfter(headers.Get("Retry-After"), std::chrono::system_clock::now());
}

Status ArmHttpError(const http::Response& response, const std::string& what) {
  ErrorDetail detail;
  detail.http_status = response.status;
  detail.retry_after = ParseRetryAfter(response.headers);
  detail.correlation_id = response.headers.Get("x-ms-correlation-request-id");
  StatusCode code = CodeFromHttp(response.status);
  std::string message = what + ": HTTP " + std::to_string(response.status);
  if (auto body = ParseArmErrorBody(response.body)) {
    detail.reason = body->code;
    // Quota errors come back as 409 or 400 but mean "someone must raise a limit".
    if (IsQuotaError(body->code, body->message)) code = StatusCode::kResourceExhausted;
    message += ": " + FormatError(*body);
  } else if (!response.body.empty()) {
    // Not an ARM error body (a proxy, a gateway): keep a short prefix for diagnosis.
    message += ": " + response.body.substr(0, 200);
  }
  return Status(code, log::Redact(message), std::move(detail));
}

Status ArmOperationError(const ArmErrorBody& error, const std::string& what,
                         const std::string& correlation_id) {
  ErrorDetail detail;
  detail.reason = error.code.empty() ? "OperationFailed" : error.code;
  detail.correlation_id = correlation_id;
  const StatusCode code =
      CodeFromAzureCode(error.code, error.message).value_or(StatusCode::kUnknown);
  return Status(code, log::Redact(what + ": operation failed: " + FormatError(error)),
                std::move(detail));
}

}  // namespace vmrelease::azure

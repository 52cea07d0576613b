#include "controller/kube/errors.h"

#include <charconv>

#include "controller/common/json_depth.h"
#include "controller/common/strings.h"

namespace vmrelease::kube {
namespace {

std::string DefaultReason(int code) {
  switch (code) {
    case 400:
      return "BadRequest";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "NotFound";
    case 405:
      return "MethodNotAllowed";
    case 406:
      return "NotAcceptable";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 413:
      return "RequestEntityTooLarge";
    case 415:
      return "UnsupportedMediaType";
    case 422:
      return "Invalid";
    case 429:
      return "TooManyRequests";
    case 500:
      return "InternalError";
    case 503:
      return "ServiceUnavailable";
    case 504:
      return "Timeout";
    default:
      return code >= 500 ? "InternalError" : "Unknown";
  }
}

StatusCode CodeFor(int http_status, const std::string& reason) {
  if (reason == "AlreadyExists") return StatusCode::kAlreadyExists;
  if (reason == "Expired" || reason == "Gone") return StatusCode::kOutOfRange;
  switch (http_status) {
    case 400:
    case 406:
    case 413:
    case 415:
    case 422:
      return StatusCode::kInvalidArgument;
    case 401:
      return StatusCode::kUnauthenticated;
    case 403:
      return StatusCode::kPermissionDenied;
    case 404:
      return StatusCode::kNotFound;
    case 405:
      return StatusCode::kUnimplemented;
    case 409:
      return StatusCode::kAborted;
    case 410:
      return StatusCode::kOutOfRange;
    case 429:
      return StatusCode::kResourceExhausted;
    case 500:
      return StatusCode::kInternal;
    case 504:
      return StatusCode::kDeadlineExceeded;
    default:
      if (http_status >= 500) return StatusCode::kUnavailable;
      return StatusCode::kUnknown;
  }
}

// "spec.version: Invalid value ...; spec.image: Required value" unless the
// message already carries the causes (the apiserver usually includes them).
std::string WithCauses(std::string message, const Json& details) {
  if (!details.is_object()) return message;
  auto causes = details.find("causes");
  if (causes == details.end() || !causes->is_array()) return message;
  std::string extra;
  for (const auto& c : *causes) {
    if (!c.is_object()) continue;
    const std::string field = c.value("field", "");
    const std::string msg = c.value("message", "");
    if (msg.empty() || message.find(msg) != std::string::npos) continue;
    if (!extra.empty()) extra += "; ";
    extra += field.empty() ? msg : field + ": " + msg;
  }
  if (extra.empty()) return message;
  return message + " (causes: " + extra + ")";
}

int HttpStatus(const Status& s) { return s.detail().http_status; }

}  // namespace

Status FromKubeStatus(const Json& status, int http_status, std::string_view what,
                      std::string_view retry_after_header) {
  ErrorDetail detail;
  detail.http_status = http_status;
  std::string message;
  Json details;
  if (status.is_object()) {
    if (status.contains("code") && status["code"].is_number_integer() && http_status == 0)
      detail.http_status = status["code"].get<int>();
    message = status.value("message", "");
    detail.reason = status.value("reason", "");
    details = status.value("details", Json());
  }
  if (detail.reason.empty()) detail.reason = DefaultReason(detail.http_status);
  if (message.empty()) message = "HTTP " + std::to_string(detail.http_status) + " " + detail.reason;
  detail.retry_after = ParseRetryAfter(retry_after_header, std::chrono::system_clock::now());
  if (!detail.retry_after && details.is_object() && details.contains("retryAfterSeconds") &&
      details["retryAfterSeconds"].is_number_integer()) {
    detail.retry_after = std::chrono::seconds(details["retryAfterSeconds"].get<int>());
  }
  message = WithCauses(std::move(message), details);
  const StatusCode code = CodeFor(detail.http_status, detail.reason);
  std::string full = what.empty() ? message : std::string(what) + ": " + message;
  return Status(code, std::move(full), std::move(detail));
}

Status FromResponse(const http::Response& response, std::string_view what) {
  // Not JSON (e.g. a proxy's HTML page): fall back to the HTTP status.
  Json body = response.body.empty()
                  ? Json()
                  : ParseJsonBounded(response.body, kMaxKubeJsonDepth).value_or(Json());
  if (!body.is_object() || body.value("kind", "") != "Status") {
    Json synthetic = Json::object();
    std::string text = response.body.substr(0, 200);
    synthetic["message"] = text.empty() ? "" : text;
    body = synthetic;
  }
  return FromKubeStatus(body, response.status, what, response.headers.Get("Retry-After"));
}

bool IsNotFound(const Status& s) { return s.code() == StatusCode::kNotFound; }
bool IsAlreadyExists(const Status& s) { return s.code() == StatusCode::kAlreadyExists; }
bool IsConflict(const Status& s) {
  return s.code() == StatusCode::kAborted && HttpStatus(s) == 409;
}
bool IsInvalid(const Status& s) {
  return s.code() == StatusCode::kInvalidArgument && (HttpStatus(s) == 422 || HttpStatus(s) == 400);
}
bool IsGone(const Status& s) {
  return HttpStatus(s) == 410 || s.detail().reason == "Expired" || s.detail().reason == "Gone";
}
bool IsTooManyRequests(const Status& s) { return HttpStatus(s) == 429; }
bool IsUnauthorized(const Status& s) { return HttpStatus(s) == 401; }
bool IsForbidden(const Status& s) { return HttpStatus(s) == 403; }
bool IsServerError(const Status& s) { return HttpStatus(s) >= 500 && HttpStatus(s) < 600; }
bool IsTransportError(const Status& s) {
  return !s.ok() && HttpStatus(s) == 0 &&
         (s.code() == StatusCode::kUnavailable || s.code() == StatusCode::kDeadlineExceeded);
}
bool IsRetryable(const Status& s) {
  return IsTooManyRequests(s) || IsServerError(s) || IsTransportError(s);
}

}  // namespace vmrelease::kube

#include "tests/support/apiserver/errors.h"

#include <cmath>
#include <cstdio>

namespace vmrelease::apiserver {
namespace {

using api::schema::GoQuote;

const char* ReasonForCode(int code) {
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
      return "";
  }
}

nlohmann::json Details(const std::string& resource, const std::string& group,
                       const std::string& name) {
  nlohmann::json d = nlohmann::json::object();
  if (!name.empty()) d["name"] = name;
  if (!group.empty()) d["group"] = group;
  d["kind"] = resource;
  return d;
}

}  // namespace

std::string QualifiedResource(const std::string& resource, const std::string& group) {
  return group.empty() ? resource : resource + "." + group;
}

nlohmann::json ApiError::ToStatus() const {
  nlohmann::json s = {{"kind", "Status"},
                      {"apiVersion", "v1"},
                      {"metadata", nlohmann::json::object()},
                      {"status", "Failure"},
                      {"message", message}};
  if (!reason.empty()) s["reason"] = reason;
  nlohmann::json d = details.is_object() ? details : nlohmann::json::object();
  if (retry_after_seconds > 0) d["retryAfterSeconds"] = retry_after_seconds;
  if (!d.empty()) s["details"] = d;
  s["code"] = code;
  return s;
}

ApiError ApiError::NotFound(const std::string& resource, const std::string& group,
                            const std::string& name) {
  return {404, "NotFound", QualifiedResource(resource, group) + " " + GoQuote(name) + " not found",
          Details(resource, group, name)};
}

ApiError ApiError::AlreadyExists(const std::string& resource, const std::string& group,
                                 const std::string& name) {
  return {409, "AlreadyExists",
          QualifiedResource(resource, group) + " " + GoQuote(name) + " already exists",
          Details(resource, group, name)};
}

ApiError ApiError::Conflict(const std::string& resource, const std::string& group,
                            const std::string& name, const std::string& why) {
  return {409, "Conflict",
          "Operation cannot be fulfilled on " + QualifiedResource(resource, group) + " " +
              GoQuote(name) + ": " + why,
          Details(resource, group, name)};
}

ApiError ApiError::Invalid(const std::string& kind, const std::string& group,
                           const std::string& name, const std::vector<FieldError>& errors) {
  const std::string qualified_kind = group.empty() ? kind : kind + "." + group;
  nlohmann::json causes = nlohmann::json::array();
  std::vector<std::string> texts;
  for (const auto& e : errors) {
    causes.push_back({{"reason", e.type}, {"message", e.body}, {"field", e.field}});
    const std::string t = e.ToString();
    // utilerrors.NewAggregate de-duplicates identical messages.
    bool seen = false;
    for (const auto& x : texts) seen = seen || x == t;
    if (!seen) texts.push_back(t);
  }
  std::string msg = qualified_kind + " " + GoQuote(name) + " is invalid";
  if (texts.size() == 1) {
    msg += ": " + texts[0];
  } else if (texts.size() > 1) {
    msg += ": [";
    for (size_t i = 0; i < texts.size(); ++i) msg += (i ? ", " : "") + texts[i];
    msg += "]";
  }
  nlohmann::json d = {{"name", name}, {"kind", kind}, {"causes", causes}};
  if (!group.empty()) d["group"] = group;
  return {422, "Invalid", msg, d};
}

ApiError ApiError::BadRequest(const std::string& message) {
  return {400, "BadRequest", message, nullptr};
}
ApiError ApiError::Expired(const std::string& message) {
  return {410, "Expired", message, nullptr};
}
ApiError ApiError::Gone(const std::string& message) { return {410, "Gone", message, nullptr}; }
ApiError ApiError::MethodNotAllowed(const std::string& message) {
  return {405, "MethodNotAllowed", message, nullptr};
}
ApiError ApiError::UnsupportedMediaType(const std::string& message) {
  return {415, "UnsupportedMediaType", message, nullptr};
}
ApiError ApiError::Unauthorized() { return {401, "Unauthorized", "Unauthorized", nullptr}; }
ApiError ApiError::Forbidden(const std::string& resource, const std::string& group,
                             const std::string& name, const std::string& why) {
  return {403, "Forbidden",
          QualifiedResource(resource, group) + " " + GoQuote(name) + " is forbidden: " + why,
          Details(resource, group, name)};
}
ApiError ApiError::Internal(const std::string& message) {
  return {500, "InternalError", "Internal error occurred: " + message, nullptr};
}

ApiError ApiError::FromCode(int code, const std::string& message) {
  ApiError e{code, ReasonForCode(code), message, nullptr};
  if (code == 429) e.retry_after_seconds = 1;
  if (code == 500) e.details = {{"causes", {{{"message", message}}}}};
  return e;
}

}  // namespace vmrelease::apiserver

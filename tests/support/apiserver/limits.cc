#include "tests/support/apiserver/limits.h"

#include "controller/common/json_depth.h"

namespace vmrelease::apiserver {

ApiError RequestEntityTooLarge() {
  return ApiError{413, "RequestEntityTooLarge",
                  "Request entity too large: limit is " + std::to_string(kMaxRequestBodyBytes),
                  nullptr};
}

std::optional<ApiError> CheckJsonDepth(std::string_view body, const std::string& kind) {
  // The bracket that went one level too deep, as Go's scanner names it.
  char culprit = '{';
  if (JsonTextDepth(body, kMaxJsonNesting, &culprit) <= kMaxJsonNesting) return std::nullopt;
  // apiserver's transformDecodeError: the kind, the decoder's error, the first 30 bytes.
  std::string summary(body.substr(0, 30));
  if (body.size() > 30) summary += " ...";
  return ApiError::BadRequest(
      "the object provided is unrecognized (must be of type " + kind +
      "): couldn't get version/kind; json parse error: invalid character '" +
      std::string(1, culprit) + "' exceeded max depth (" + summary + ")");
}

std::optional<ApiError> CheckStoredSize(size_t serialised_bytes) {
  if (serialised_bytes <= kMaxStoredObjectBytes) return std::nullopt;
  return ApiError{500, "", "etcdserver: request is too large", nullptr};
}

}  // namespace vmrelease::apiserver

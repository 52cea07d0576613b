#include "tests/support/apiserver/limits.h"

#include "controller/common/json_depth.h"

namespace vmrelease::apiserver {

ApiError RequestEntityTooLarge() {
  return ApiError{413, "RequestEntityTooLarge",
                  "Request entity too large: limit is " + std::to_string(kMaxRequestBodyBytes),
                  nullptr};
}

std::optional<ApiError> CheckJsonDepth(std::string_view body, const std::string& kind) {
  if (JsonTextDepth(body, kMaxJsonNesting) <= kMaxJsonNesting) return std::nullopt;
  // The bracket that went one level too deep, as Go's scanner names it.
  size_t open = 0;
  char culprit = '{';
  bool in_string = false, escaped = false;
  for (char c : body) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++open > kMaxJsonNesting) {
        culprit = c;
        break;
      }
    } else if ((c == ']' || c == '}') && open > 0) {
      --open;
    }
  }
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

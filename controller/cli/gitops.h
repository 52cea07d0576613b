// The GitOps edit of `promote --gitops FILE` / `rollback --gitops FILE`: change the
// `version:` line of one EnvironmentPin in a YAML file and nothing else.
//
//   ASSIGN_OR_RETURN(std::string edited,
//                    SetPinVersion(text, {.environment = "production", .image = "app"}, "1.1.0"));
//
// The file is edited as text, not re-serialised: comments, key order, quoting,
// blank lines and the other documents stay byte for byte what they were. Only the
// value of the `version:` key directly under the top-level `spec:` of the one
// EnvironmentPin document whose spec names the environment and image changes (its
// quote style and a trailing comment are kept).
//
// Errors (kNotFound / kInvalidArgument / kFailedPrecondition), each naming the file's
// problem: no such pin, several such pins, a pin that tracks a range (`track:`; no
// exact version to edit), a flow-style `spec: {...}`, or a document that is not YAML.
#pragma once

#include <string>
#include <string_view>

#include "controller/common/status.h"

namespace vmrelease::cli {

struct PinSelector {
  std::string environment;
  std::string image;
};

StatusOr<std::string> SetPinVersion(std::string_view text, const PinSelector& pin,
                                    const std::string& version);

}  // namespace vmrelease::cli

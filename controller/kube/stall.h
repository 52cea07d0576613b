// Stalling an object that cannot be handled as its type (unparsable, nested too
// deep), without copying it into a typed object: Ready=False and Stalled=True
// with one reason and message, written as a merge patch guarded by the object's
// resourceVersion. Shared by every reconciler that parses custom resources.
//
//   auto written = kube::WriteRawStall(client, type, obj, {.reason = "InvalidSpec",
//                                      .message = redacted, .now = FormatTime(now)});
//   if (!written.ok()) return written.status();
//   if (*written) { /* log it, publish a Warning Event */ }
#pragma once

#include <string>

#include "controller/common/status.h"
#include "controller/kube/client.h"
#include "controller/kube/resource.h"

namespace vmrelease::kube {

struct RawStall {
  std::string reason;                  // CamelCase, for both conditions
  std::string message;                 // already redacted; cut to 4 KiB on a UTF-8 boundary here
  std::string now;                     // RFC 3339: lastTransitionTime
  Json extra_status = Json::object();  // merged into the status patch (e.g. a first phase)
};

// true when the patch was written; false when the conditions already said it.
StatusOr<bool> WriteRawStall(KubeClient& client, const ResourceType& type, const Json& obj,
                             const RawStall& stall);

}  // namespace vmrelease::kube

// JSON merge patches (RFC 7386) computed from two versions of an object, so a
// reconciler sends only what changed (e.g. its status) instead of the whole
// object.
//
//   Json patch = CreateMergePatch(old_status, new_status);   // {} when equal
//   client.PatchStatus(type, ref, PatchType::kMerge,
//                      {{"metadata", {{"resourceVersion", rv}}}, {"status", patch}});
//
// Guarantees: applying the result to `from` with nlohmann's merge_patch gives
// `to`, provided `to` holds no explicit nulls (merge patches cannot express
// them): removed members become null, changed arrays are replaced whole.
// Recursion follows the objects' nesting: callers pass values whose depth they
// have bounded (controller/common/json_depth.h).
#pragma once

#include "controller/kube/resource.h"

namespace vmrelease::kube {

Json CreateMergePatch(const Json& from, const Json& to);

}  // namespace vmrelease::kube

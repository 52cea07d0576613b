// The PATCH flavours the local API server accepts.
//
//   ApiOr<nlohmann::json> r = ApplyPatch(PatchType::kMerge, current, body);
//
// - kJson: RFC 6902 (nlohmann::json::patch); a failed `test` op is 422.
// - kMerge: RFC 7386 (nlohmann::json::merge_patch): objects merge, lists are
//   replaced, null deletes.
// - kStrategic: what kubectl's client-side apply and `kubectl patch` send for
//   built-in kinds. Maps merge; lists merge by key for the well-known fields
//   below and are replaced otherwise; directives `$patch: replace|delete|merge`,
//   `$retainKeys`, `$deleteFromPrimitiveList/<f>` are honoured and
//   `$setElementOrder/<f>` is ignored (order is kept as merged). Merge keys:
//   containers/initContainers/ephemeralContainers/env/volumes/imagePullSecrets
//   by name, volumeMounts by mountPath, container ports by containerPort,
//   service ports by port, ownerReferences by uid, conditions by type;
//   finalizers merge as a set of strings.
// - kApply: server-side apply approximated as a merge patch (no managedFields,
//   no conflict detection); see docs/local-apiserver.md.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "tests/support/apiserver/errors.h"

namespace vmrelease::apiserver {

enum class PatchType { kJson, kMerge, kStrategic, kApply };

// From a Content-Type header (parameters ignored). False for anything else.
bool ParsePatchType(const std::string& content_type, PatchType* out);

ApiOr<nlohmann::json> ApplyPatch(PatchType type, const nlohmann::json& current,
                                 const std::string& body);

// Exposed for tests: strategic merge of a parsed patch into `original`.
nlohmann::json StrategicMerge(const nlohmann::json& original, const nlohmann::json& patch,
                              const std::string& path = "");

}  // namespace vmrelease::apiserver

// Discovery and OpenAPI documents for the types a Store serves, shaped like
// kube-apiserver's (see ../shared/reference/kubernetes/discovery/*.json):
// legacy discovery (APIVersions, APIGroupList, APIGroup, APIResourceList),
// aggregated discovery (apidiscovery.k8s.io/v2), OpenAPI v3 per group-version
// (what `kubectl explain` and kubectl's field-validation probe read) and a
// minimal OpenAPI v2 (JSON).
//
//   auto types = store.Types();
//   nlohmann::json list = ApiResourceList(types, "vmrelease.io", "v1alpha1");  // null if unknown
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/support/apiserver/resource_types.h"

namespace vmrelease::apiserver {

using TypeList = std::vector<std::shared_ptr<const ResourceType>>;

nlohmann::json ApiVersions(const std::string& server_address);
nlohmann::json ApiGroupList(const TypeList& types);
// Null when the group is not served.
nlohmann::json ApiGroup(const TypeList& types, const std::string& group);
nlohmann::json ApiResourceList(const TypeList& types, const std::string& group,
                               const std::string& version);
// `core` selects /api (the legacy group) instead of /apis.
nlohmann::json AggregatedDiscovery(const TypeList& types, bool core);

// {"paths": {"api/v1": {"serverRelativeURL": "/openapi/v3/api/v1?hash=..."}, ...}}
nlohmann::json OpenApiV3Root(const TypeList& types);
// Null when the group-version is not served. `path` is "api/v1" or "apis/G/V".
nlohmann::json OpenApiV3Document(const TypeList& types, const std::string& path);
nlohmann::json OpenApiV2(const TypeList& types);

// Versions sorted the way Kubernetes prefers them (v2 > v1 > v1beta2 > v1beta1 > v1alpha1).
bool VersionPriorityLess(const std::string& a, const std::string& b);

}  // namespace vmrelease::apiserver

// What the local API server can serve: one ResourceType per group/version/
// resource, either built in (namespaces, configmaps, leases, ...) or made from
// a CustomResourceDefinition.
//
//   std::vector<ResourceType> types = BuiltinTypes();
//   ApiOr<std::vector<ResourceType>> crd_types = TypesFromCrd(crd_json);
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/support/apiserver/errors.h"
#include "tests/support/apiserver/table.h"

namespace vmrelease::apiserver {

struct ResourceType {
  std::string group;  // "" for core
  std::string version;
  std::string plural;
  std::string singular;
  std::string kind;
  std::string list_kind;
  bool namespaced = true;
  std::vector<std::string> short_names;
  std::vector<std::string> categories;
  bool status_subresource = false;
  bool tracks_generation = false;      // metadata.generation maintained
  bool unconditional_update = true;    // PUT without resourceVersion allowed
  bool return_deleted_object = false;  // DELETE answers with the object, not a Status
  bool log_subresource = false;        // pods/log (served from the log store)
  // DELETE without propagationPolicy: Background, or Orphan for batch/v1 Jobs
  // (the Job strategy's default, kept for backward compatibility).
  std::string default_propagation = "Background";
  nlohmann::json schema;               // openAPIV3Schema for custom resources; null for built-ins
  int name_priority = 0;               // 1 hides the Name column outside -o wide (core Events)
  std::vector<PrinterColumn> columns;  // besides Name
  std::vector<std::string> field_selectors;  // accepted besides metadata.name/namespace
  std::string crd_name;                      // non-empty for custom resources
  bool storage_version = true;               // the version objects are stored at
  // Non-empty when another type's storage holds these objects ("/events": the
  // core/v1 Events, for events.k8s.io/v1); writes and renders convert
  // (event_conversion.h).
  std::string stored_as;

  std::string api_version() const { return group.empty() ? version : group + "/" + version; }
  // Storage identity shared by all versions of a resource: "group/plural".
  std::string storage_key() const { return stored_as.empty() ? group + "/" + plural : stored_as; }
  // "configmaps" or "imagereleases.vmrelease.io" (messages, details).
  std::string qualified() const { return QualifiedResource(plural, group); }
};

// core/v1 namespaces, configmaps, secrets, pods, services, serviceaccounts,
// events; events.k8s.io/v1 events; coordination.k8s.io/v1 leases; batch/v1
// jobs; apps/v1 deployments; rbac.authorization.k8s.io/v1 clusterroles, roles,
// clusterrolebindings, rolebindings; apiextensions.k8s.io/v1
// customresourcedefinitions.
std::vector<ResourceType> BuiltinTypes();

// Validates a CRD (names, scope, versions, structural schemas) and returns one
// type per served version. Errors: 422 Invalid with causes.
ApiOr<std::vector<ResourceType>> TypesFromCrd(const nlohmann::json& crd);

}  // namespace vmrelease::apiserver

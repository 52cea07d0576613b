// The export of a pin's resolution to a ConfigMap (spec.export.configMap), for
// consumers that cannot read an EnvironmentPin: Terraform's kubernetes_config_map
// data source, Cluster API templates, scripts.
//
//   std::map<std::string, std::string> data = ExportData(pin.spec.image, *status.resolved);
//   ASSIGN_OR_RETURN(bool wrote, EnsureExport(client, pin_json, "sql-baseline-production", data));
//
// The ConfigMap holds the keys image, version, release, galleryImageVersionId,
// vhdUri and sha256 (absent values are omitted) plus resolution.json, a JSON
// object with all of them.
//
// Guarantees: the ConfigMap is owned by the pin (a controller ownerReference, so
// it goes when the pin goes); it is written only when its data differs from what
// it should hold, so a steady state costs one read and no write. A ConfigMap of
// that name that this pin does not own is never taken over (kFailedPrecondition).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "controller/api/environment_pin.h"
#include "controller/common/status.h"
#include "controller/kube/client.h"

namespace vmrelease::pin {

inline constexpr char kResolutionJsonKey[] = "resolution.json";

kube::ResourceType ConfigMapType();

std::map<std::string, std::string> ExportData(const std::string& image,
                                              const api::ResolvedRelease& resolved);

// Creates or updates the ConfigMap `name` in the pin's namespace; true when it wrote.
StatusOr<bool> EnsureExport(kube::KubeClient& client, const kube::Json& pin,
                            const std::string& name,
                            const std::map<std::string, std::string>& data);

// Deletes the ConfigMaps this pin exported before under another name (its
// spec.export changed or went): those in its namespace labelled with the pin's
// name and controlled by its uid, except `keep` (empty: keep none). Returns the
// names it deleted; one that is already gone counts as deleted.
StatusOr<std::vector<std::string>> RemoveStaleExports(kube::KubeClient& client,
                                                      const kube::Json& pin,
                                                      const std::string& keep);

}  // namespace vmrelease::pin

// The package-level part of `kubectl vmrelease diff`: the inventories of the two
// resolved releases (status.inventory → the ConfigMap, digest checked) and what
// changed from the first to the second (controller/inventory).
//
//   kube::Json inv = InventoryDiffJson(ctx.client, world, ns, "app-1-0-0", "app-1-1-0");
//   PrintInventoryDiff(ctx, inv, "  ");
#pragma once

#include <string>

#include "controller/cli/commands.h"
#include "controller/cli/world.h"

namespace vmrelease::cli {

// {"available": true, "a": {release, configMap, sha256, packages, files}, "b": {...},
//  "packages": {"added", "removed", "changed"}, "files": {"added", "removed", "changed"}}
// or {"available": false, "a": ..., "b": ..., "reason": "..."} where a side without an
// inventory is {"release": name, "missing": why}. `release_a` / `release_b` are the
// ImageRelease names the two pins resolved to ("" when unknown).
kube::Json InventoryDiffJson(kube::KubeClient& client, const World& world, const std::string& ns,
                             const std::string& release_a, const std::string& release_b);

// The table form: counts, then one line per package and file ("+" added in B,
// "-" removed, "~" changed), or the reason there is none.
void PrintInventoryDiff(Context& ctx, const kube::Json& inventory, const std::string& env_a,
                        const std::string& env_b, const std::string& indent);

}  // namespace vmrelease::cli

// Azure region names, for validating `location` and `targetRegions[].name`.
//
// The CRD only checks the shape of a region name (lowercase letters and
// digits); this list catches typos ("westeurpoe") and display names ("West
// Europe") before a build spends an hour failing on them.
//
//   if (!IsKnownAzureRegion(name)) error("unknown region; did you mean " +
//   SuggestAzureRegion(name));
//
// Caveats: the list is compiled from Azure's public, sovereign and canary
// regions as of 2025; a new region needs a line in regions.cc.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace vmrelease::api {

// Programmatic names, sorted ("australiacentral", ..., "westus3").
const std::vector<std::string_view>& KnownAzureRegions();
bool IsKnownAzureRegion(std::string_view name);
// The known region closest to `name` (case, spaces and small typos forgiven),
// or "" when nothing is close.
std::string SuggestAzureRegion(std::string_view name);

}  // namespace vmrelease::api

#include "controller/api/regions.h"

#include <algorithm>
#include <cctype>

namespace vmrelease::api {
namespace {

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

}  // namespace

const std::vector<std::string_view>& KnownAzureRegions() {
  static const std::vector<std::string_view> kRegions = [] {
    std::vector<std::string_view> r = {
        // Americas
        "eastus", "eastus2", "centralus", "northcentralus", "southcentralus", "westcentralus",
        "westus", "westus2", "westus3", "canadacentral", "canadaeast", "brazilsouth",
        "brazilsoutheast", "mexicocentral", "chilecentral",
        // Europe
        "northeurope", "westeurope", "uksouth", "ukwest", "francecentral", "francesouth",
        "germanywestcentral", "germanynorth", "switzerlandnorth", "switzerlandwest", "norwayeast",
        "norwaywest", "swedencentral", "swedensouth", "polandcentral", "italynorth", "spaincentral",
        "austriaeast", "belgiumcentral", "denmarkeast",
        // Asia Pacific
        "eastasia", "southeastasia", "japaneast", "japanwest", "koreacentral", "koreasouth",
        "australiaeast", "australiasoutheast", "australiacentral", "australiacentral2",
        "centralindia", "southindia", "westindia", "jioindiawest", "jioindiacentral",
        "newzealandnorth", "indonesiacentral", "malaysiawest",
        // Middle East and Africa
        "uaenorth", "uaecentral", "qatarcentral", "israelcentral", "southafricanorth",
        "southafricawest",
        // Canary (early access)
        "eastus2euap", "centraluseuap",
        // Azure Government
        "usgovvirginia", "usgovarizona", "usgovtexas", "usdodeast", "usdodcentral",
        // Azure operated by 21Vianet (China)
        "chinaeast", "chinaeast2", "chinaeast3", "chinanorth", "chinanorth2", "chinanorth3"};
    std::sort(r.begin(), r.end());
    return r;
  }();
  return kRegions;
}

bool IsKnownAzureRegion(std::string_view name) {
  const auto& regions = KnownAzureRegions();
  return std::binary_search(regions.begin(), regions.end(), name);
}

std::string SuggestAzureRegion(std::string_view name) {
  std::string normalized;
  for (char c : name) {
    if (std::isalnum(static_cast<unsigned char>(c))) {
      normalized += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
  }
  if (normalized.empty()) return "";
  if (IsKnownAzureRegion(normalized)) return normalized;
  std::string_view best;
  size_t best_distance = 3;  // at most two edits away
  for (std::string_view region : KnownAzureRegions()) {
    size_t d = EditDistance(normalized, region);
    if (d < best_distance) {
      best_distance = d;
      best = region;
    }
  }
  return std::string(best);
}

}  // namespace vmrelease::api

// ARM resource ids and small JSON accessors shared by the Gallery, VM and Image
// Builder clients.
//
//   ResourceGroupRef rg{.subscription_id = sub, .resource_group = "images"};
//   rg.Id("Microsoft.Network/networkInterfaces", "validate-nic")
//     //
//     "/subscriptions/<sub>/resourceGroups/images/providers/Microsoft.Network/networkInterfaces/validate-nic"
//
// Names are checked before they go into a path: ARM names never contain '/',
// '?', '#' or whitespace, and refusing them here keeps a bad spec from
// addressing a different resource.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "controller/common/clock.h"
#include "controller/common/status.h"

namespace vmrelease::azure {

struct ResourceGroupRef {
  std::string subscription_id;
  std::string resource_group;

  // "/subscriptions/{sub}/resourceGroups/{rg}"
  std::string Id() const;
  // "/subscriptions/{sub}/resourceGroups/{rg}/providers/{type}/{name}"
  std::string Id(const std::string& type, const std::string& name) const;
  bool operator==(const ResourceGroupRef&) const = default;
};

// kInvalidArgument naming `what` unless `name` is a plausible ARM resource name.
Status ValidateResourceName(const std::string& name, const std::string& what);
Status ValidateResourceGroup(const ResourceGroupRef& rg);

// Case-insensitive comparison of ARM ids (ARM treats ids case-insensitively).
bool SameResourceId(const std::string& a, const std::string& b);

// The last path segment of an id ("/.../disks/os-1" → "os-1").
std::string ResourceName(const std::string& id);

// JSON accessors that tolerate missing or mistyped fields (ARM omits empty ones).
std::string JsonStr(const nlohmann::json& j, const std::string& pointer);
// True when `have` holds everything in `want`: every member of a `want` object
// is in `have` and contains its value; arrays match element by element (same
// length); other values are equal. Extra members in `have` are ignored.
bool JsonContains(const nlohmann::json& have, const nlohmann::json& want);
std::optional<long long> JsonInt(const nlohmann::json& j, const std::string& pointer);
std::optional<bool> JsonBool(const nlohmann::json& j, const std::string& pointer);
std::optional<WallTime> JsonTime(const nlohmann::json& j, const std::string& pointer);
std::map<std::string, std::string> JsonTags(const nlohmann::json& resource);
nlohmann::json TagsJson(const std::map<std::string, std::string>& tags);

}  // namespace vmrelease::azure

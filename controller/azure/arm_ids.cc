#include "controller/azure/arm_ids.h"

#include <algorithm>
#include <cctype>

namespace vmrelease::azure {

std::string ResourceGroupRef::Id() const {
  return "/subscriptions/" + subscription_id + "/resourceGroups/" + resource_group;
}

std::string ResourceGroupRef::Id(const std::string& type, const std::string& name) const {
  return Id() + "/providers/" + type + "/" + name;
}

Status ValidateResourceName(const std::string& name, const std::string& what) {
  if (name.empty() || name.size() > 260) return InvalidArgumentError(what + ": invalid name ''");
  for (unsigned char c : name) {
    if (c == '/' || c == '?' || c == '#' || c == '%' || c == '\\' || std::isspace(c) ||
        std::iscntrl(c))
      return InvalidArgumentError(what + ": invalid name '" + name + "'");
  }
  if (name == "." || name == "..")
    return InvalidArgumentError(what + ": invalid name '" + name + "'");
  return Status::Ok();
}

Status ValidateResourceGroup(const ResourceGroupRef& rg) {
  RETURN_IF_ERROR(ValidateResourceName(rg.subscription_id, "subscription id"));
  return ValidateResourceName(rg.resource_group, "resource group");
}

bool SameResourceId(const std::string& a, const std::string& b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string ResourceName(const std::string& id) {
  const auto slash = id.find_last_of('/');
  return slash == std::string::npos ? id : id.substr(slash + 1);
}

namespace {
const nlohmann::json* At(const nlohmann::json& j, const std::string& pointer) {
  try {
    const nlohmann::json::json_pointer p(pointer);
    if (!j.contains(p)) return nullptr;
    return &j.at(p);
  } catch (const nlohmann::json::exception&) {
    return nullptr;
  }
}
}  // namespace

bool JsonContains(const nlohmann::json& have, const nlohmann::json& want) {
  if (want.is_object()) {
    if (!have.is_object()) return false;
    for (const auto& [key, value] : want.items()) {
      auto it = have.find(key);
      if (it == have.end() || !JsonContains(*it, value)) return false;
    }
    return true;
  }
  if (want.is_array()) {
    if (!have.is_array() || have.size() != want.size()) return false;
    for (size_t i = 0; i < want.size(); ++i) {
      if (!JsonContains(have[i], want[i])) return false;
    }
    return true;
  }
  return have == want;
}

std::string JsonStr(const nlohmann::json& j, const std::string& pointer) {
  const nlohmann::json* v = At(j, pointer);
  return v && v->is_string() ? v->get<std::string>() : "";
}

std::optional<long long> JsonInt(const nlohmann::json& j, const std::string& pointer) {
  const nlohmann::json* v = At(j, pointer);
  if (!v) return std::nullopt;
  if (v->is_number_integer()) return v->get<long long>();
  if (v->is_number()) return static_cast<long long>(v->get<double>());
  return std::nullopt;
}

std::optional<bool> JsonBool(const nlohmann::json& j, const std::string& pointer) {
  const nlohmann::json* v = At(j, pointer);
  if (!v || !v->is_boolean()) return std::nullopt;
  return v->get<bool>();
}

std::optional<WallTime> JsonTime(const nlohmann::json& j, const std::string& pointer) {
  const std::string s = JsonStr(j, pointer);
  WallTime t;
  if (s.empty() || !ParseRfc3339(s, &t)) return std::nullopt;
  return t;
}

std::map<std::string, std::string> JsonTags(const nlohmann::json& resource) {
  std::map<std::string, std::string> out;
  const nlohmann::json* tags = At(resource, "/tags");
  if (!tags || !tags->is_object()) return out;
  for (const auto& [k, v] : tags->items())
    if (v.is_string()) out[k] = v.get<std::string>();
  return out;
}

nlohmann::json TagsJson(const std::map<std::string, std::string>& tags) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [k, v] : tags) j[k] = v;
  return j;
}

}  // namespace vmrelease::azure

// Helpers shared by the Store's translation units (store.cc: reads and
// watches; store_write.cc: admission and writes). Not part of the API.
#pragma once

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "controller/common/crypto.h"
#include "tests/support/apiserver/store.h"

namespace vmrelease::apiserver::internal {

inline constexpr char kContinueExpired[] =
    "The provided continue parameter is too old to display a consistent list result. You can start "
    "a new list without the continue parameter, or use the continue token in this response to "
    "retrieve the remainder of the results. Continuing with the provided token results in an "
    "inconsistent list - objects that were created, modified, or deleted between the time the "
    "first "
    "chunk was returned and now may show up in the list.";

inline std::string Key(const std::string& ns, const std::string& name) { return ns + "/" + name; }

inline std::string NsOfKey(const std::string& key) { return key.substr(0, key.find('/')); }
inline std::string NameOfKey(const std::string& key) { return key.substr(key.find('/') + 1); }

inline const nlohmann::json& Meta(const nlohmann::json& obj) {
  static const nlohmann::json empty = nlohmann::json::object();
  auto it = obj.find("metadata");
  return it != obj.end() && it->is_object() ? *it : empty;
}

inline std::string MetaStr(const nlohmann::json& obj, const char* field) {
  const nlohmann::json& m = Meta(obj);
  auto it = m.find(field);
  return it != m.end() && it->is_string() ? it->get<std::string>() : "";
}

inline bool Deleting(const nlohmann::json& obj) {
  return !MetaStr(obj, "deletionTimestamp").empty();
}

inline std::vector<std::string> Finalizers(const nlohmann::json& obj) {
  std::vector<std::string> out;
  const nlohmann::json& m = Meta(obj);
  if (auto it = m.find("finalizers"); it != m.end() && it->is_array())
    for (const auto& f : *it)
      if (f.is_string()) out.push_back(f.get<std::string>());
  return out;
}

inline std::vector<std::string> OwnerUids(const nlohmann::json& obj) {
  std::vector<std::string> out;
  const nlohmann::json& m = Meta(obj);
  if (auto it = m.find("ownerReferences"); it != m.end() && it->is_array())
    for (const auto& r : *it)
      if (r.is_object() && r.contains("uid") && r["uid"].is_string())
        out.push_back(r["uid"].get<std::string>());
  return out;
}

inline bool Matches(const WatchOptions& o, const nlohmann::json& obj) {
  return o.labels.Matches(Meta(obj).value("labels", nlohmann::json())) && o.fields.Matches(obj);
}
inline bool Matches(const ListOptions& o, const nlohmann::json& obj) {
  return o.labels.Matches(Meta(obj).value("labels", nlohmann::json())) && o.fields.Matches(obj);
}

// Everything that makes up "desired state" for generation purposes.
inline nlohmann::json GenerationView(const nlohmann::json& obj, bool status_subresource) {
  nlohmann::json v = obj;
  v.erase("metadata");
  if (status_subresource) v.erase("status");
  return v;
}

// What a watcher with selectors sees for a stored event: an object that stops
// matching is DELETED for it, one that starts matching is ADDED.
inline std::string FilteredType(const std::string& type, bool now, bool before) {
  if (type == "ADDED") return now ? "ADDED" : "";
  if (type == "DELETED") return before ? "DELETED" : "";
  if (now && before) return "MODIFIED";
  if (now) return "ADDED";
  if (before) return "DELETED";
  return "";
}

inline std::string EncodeContinue(int64_t rv, const std::string& start) {
  nlohmann::json t = {{"v", "meta.k8s.io/v1"}, {"rv", rv}, {"start", start}};
  return Base64Encode(t.dump());
}

inline bool DecodeContinue(const std::string& token, int64_t* rv, std::string* start) {
  auto raw = Base64Decode(token);
  if (!raw.ok()) return false;
  try {
    nlohmann::json t = nlohmann::json::parse(*raw);
    *rv = t.at("rv").get<int64_t>();
    *start = t.at("start").get<std::string>();
    return true;
  } catch (const nlohmann::json::exception&) {
    return false;
  }
}

inline bool ParseRv(const std::string& s, int64_t* out) {
  if (s.empty() || s.size() > 18 || s.find_first_not_of("0123456789") != std::string::npos)
    return false;
  *out = std::stoll(s);
  return true;
}

}  // namespace vmrelease::apiserver::internal

namespace vmrelease::apiserver {
struct Store::Bucket {
  std::map<std::string, ObjectPtr> objects;  // ns/name → object
};
}  // namespace vmrelease::apiserver

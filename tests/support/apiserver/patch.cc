#include "tests/support/apiserver/patch.h"

#include <algorithm>

#include "controller/api/manifest.h"

namespace vmrelease::apiserver {
namespace {

using nlohmann::json;

struct ListStrategy {
  enum Kind { kReplace, kMergeByKey, kPrimitiveSet } kind = kReplace;
  std::string key;
};

ListStrategy StrategyFor(const std::string& parent_path, const std::string& field) {
  if (field == "containers" || field == "initContainers" || field == "ephemeralContainers" ||
      field == "env" || field == "volumes" || field == "imagePullSecrets")
    return {ListStrategy::kMergeByKey, "name"};
  if (field == "volumeMounts") return {ListStrategy::kMergeByKey, "mountPath"};
  if (field == "ports") {
    const bool in_container = parent_path.find("ontainers") != std::string::npos;
    return {ListStrategy::kMergeByKey, in_container ? "containerPort" : "port"};
  }
  if (field == "ownerReferences") return {ListStrategy::kMergeByKey, "uid"};
  if (field == "conditions") return {ListStrategy::kMergeByKey, "type"};
  if (field == "finalizers") return {ListStrategy::kPrimitiveSet, ""};
  return {};
}

json StripDirectives(const json& v) {
  if (v.is_object()) {
    json out = json::object();
    for (auto it = v.begin(); it != v.end(); ++it) {
      if (!it.key().empty() && it.key()[0] == '$') continue;
      out[it.key()] = StripDirectives(it.value());
    }
    return out;
  }
  if (v.is_array()) {
    json out = json::array();
    for (const auto& e : v) out.push_back(StripDirectives(e));
    return out;
  }
  return v;
}

json MergeList(const json& original, const json& patch, const ListStrategy& st,
               const std::string& path) {
  if (st.kind == ListStrategy::kReplace || !original.is_array()) {
    json out = json::array();
    for (const auto& e : patch) {
      if (e.is_object() &&
          (e.value("$patch", "") == "delete" || e.value("$patch", "") == "replace"))
        continue;
      out.push_back(StripDirectives(e));
    }
    return out;
  }
  // {"$patch": "replace"} as an element: the list becomes the other elements.
  for (const auto& item : patch) {
    if (item.is_object() && item.size() == 1 && item.value("$patch", "") == "replace")
      return MergeList(json(), patch, ListStrategy{}, path);
  }
  json out = original;
  if (st.kind == ListStrategy::kPrimitiveSet) {
    for (const auto& e : patch)
      if (std::find(out.begin(), out.end(), e) == out.end()) out.push_back(e);
    return out;
  }
  for (const auto& item : patch) {
    if (!item.is_object() || !item.contains(st.key)) {
      out.push_back(StripDirectives(item));
      continue;
    }
    auto match = std::find_if(out.begin(), out.end(), [&](const json& e) {
      return e.is_object() && e.contains(st.key) && e[st.key] == item[st.key];
    });
    if (item.value("$patch", "") == "delete") {
      if (match != out.end()) out.erase(match);
      continue;
    }
    if (match != out.end()) {
      *match = StrategicMerge(*match, item, path);
    } else {
      out.push_back(StripDirectives(item));
    }
  }
  return out;
}

ApiError PatchError(const std::string& what) { return {422, "Invalid", what, nullptr}; }

}  // namespace

json StrategicMerge(const json& original, const json& patch, const std::string& path) {
  if (!patch.is_object()) return patch;
  const std::string directive = patch.value("$patch", "");
  if (directive == "replace") return StripDirectives(patch);
  json out = original.is_object() ? original : json::object();
  if (directive == "delete") return json::object();
  for (auto it = patch.begin(); it != patch.end(); ++it) {
    const std::string& key = it.key();
    const json& val = it.value();
    if (key == "$patch" || key.rfind("$setElementOrder/", 0) == 0 || key == "$retainKeys") continue;
    if (key.rfind("$deleteFromPrimitiveList/", 0) == 0) {
      const std::string field = key.substr(std::string("$deleteFromPrimitiveList/").size());
      if (out.contains(field) && out[field].is_array() && val.is_array()) {
        json kept = json::array();
        for (const auto& e : out[field])
          if (std::find(val.begin(), val.end(), e) == val.end()) kept.push_back(e);
        out[field] = kept;
      }
      continue;
    }
    const std::string child = path.empty() ? key : path + "." + key;
    if (val.is_null()) {
      out.erase(key);
    } else if (val.is_object()) {
      if (val.value("$patch", "") == "delete") {
        out.erase(key);
      } else {
        out[key] = StrategicMerge(out.contains(key) ? out[key] : json(), val, child);
      }
    } else if (val.is_array()) {
      out[key] =
          MergeList(out.contains(key) ? out[key] : json(), val, StrategyFor(path, key), child);
    } else {
      out[key] = val;
    }
  }
  if (auto rk = patch.find("$retainKeys"); rk != patch.end() && rk->is_array()) {
    json kept = json::object();
    for (const auto& k : *rk)
      if (k.is_string() && out.contains(k.get<std::string>()))
        kept[k.get<std::string>()] = out[k.get<std::string>()];
    out = kept;
  }
  return out;
}

bool ParsePatchType(const std::string& content_type, PatchType* out) {
  std::string ct = content_type.substr(0, content_type.find(';'));
  ct.erase(std::remove(ct.begin(), ct.end(), ' '), ct.end());
  if (ct == "application/json-patch+json") {
    *out = PatchType::kJson;
  } else if (ct == "application/merge-patch+json") {
    *out = PatchType::kMerge;
  } else if (ct == "application/strategic-merge-patch+json") {
    *out = PatchType::kStrategic;
  } else if (ct == "application/apply-patch+yaml" || ct == "application/apply-patch+json") {
    *out = PatchType::kApply;
  } else {
    return false;
  }
  return true;
}

ApiOr<json> ApplyPatch(PatchType type, const json& current, const std::string& body) {
  json patch;
  if (type == PatchType::kApply) {
    auto parsed = api::ParseYamlDocument(body);
    if (!parsed.ok())
      return ApiError::BadRequest("error decoding YAML: " + parsed.status().message());
    patch = *parsed;
  } else {
    try {
      patch = json::parse(body);
    } catch (const json::exception& e) {
      return ApiError::BadRequest(std::string("error decoding patch: ") + e.what());
    }
  }
  try {
    switch (type) {
      case PatchType::kJson: {
        if (!patch.is_array())
          return ApiError::BadRequest(
              "json: cannot unmarshal object into Go value of type jsonpatch.Patch");
        return current.patch(patch);
      }
      case PatchType::kMerge:
      case PatchType::kApply: {
        if (!patch.is_object()) return ApiError::BadRequest("patch body must be a JSON object");
        json out = current;
        out.merge_patch(patch);
        return out;
      }
      case PatchType::kStrategic:
        if (!patch.is_object()) return ApiError::BadRequest("patch body must be a JSON object");
        return StrategicMerge(current, patch);
    }
  } catch (const json::exception& e) {
    return PatchError(
        std::string("the server rejected our request due to an error in our request: ") + e.what());
  }
  return ApiError::BadRequest("unknown patch type");
}

}  // namespace vmrelease::apiserver

#include "tests/support/apiserver/discovery.h"

#include <algorithm>
#include <map>
#include <regex>
#include <set>

#include "controller/common/crypto.h"

namespace vmrelease::apiserver {
namespace {

using nlohmann::json;

const char kObjectMetaRef[] =
    "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";

json Verbs() {
  return {"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"};
}

// group → versions (sorted by priority, best first).
std::map<std::string, std::vector<std::string>> GroupVersions(const TypeList& types) {
  std::map<std::string, std::set<std::string>> gv;
  for (const auto& t : types) gv[t->group].insert(t->version);
  std::map<std::string, std::vector<std::string>> out;
  for (auto& [g, vs] : gv) {
    std::vector<std::string> v(vs.begin(), vs.end());
    std::sort(v.begin(), v.end(),
              [](const std::string& a, const std::string& b) { return VersionPriorityLess(b, a); });
    out[g] = v;
  }
  return out;
}

json GroupJson(const std::string& group, const std::vector<std::string>& versions) {
  json vs = json::array();
  for (const auto& v : versions) vs.push_back({{"groupVersion", group + "/" + v}, {"version", v}});
  return {{"name", group},
          {"versions", vs},
          {"preferredVersion",
           {{"groupVersion", group + "/" + versions.front()}, {"version", versions.front()}}}};
}

std::vector<std::shared_ptr<const ResourceType>> Of(const TypeList& types, const std::string& group,
                                                    const std::string& version) {
  std::vector<std::shared_ptr<const ResourceType>> out;
  for (const auto& t : types)
    if (t->group == group && t->version == version) out.push_back(t);
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a->plural < b->plural; });
  return out;
}

std::string StorageHash(const ResourceType& t) {
  return Base64Encode(Sha256Hex(t.storage_key() + "/" + t.version).substr(0, 8));
}

std::string ReverseGroup(const std::string& group) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    size_t dot = group.find('.', start);
    parts.push_back(
        group.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  std::string out;
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) out += (out.empty() ? "" : ".") + *it;
  return out;
}

std::string SchemaId(const ResourceType& t) {
  if (t.group.empty()) return "io.k8s.api.core." + t.version + "." + t.kind;
  if (t.crd_name.empty()) {
    std::string g = t.group.substr(0, t.group.find('.'));
    return "io.k8s.api." + g + "." + t.version + "." + t.kind;
  }
  return ReverseGroup(t.group) + "." + t.version + "." + t.kind;
}

json Gvk(const ResourceType& t) {
  return {{"group", t.group}, {"version", t.version}, {"kind", t.kind}};
}

json ObjectMetaSchema() {
  auto str = [](const char* d) { return json{{"type", "string"}, {"description", d}}; };
  return {
      {"description",
       "ObjectMeta is metadata that all persisted resources must have, which includes all objects "
       "users must create."},
      {"type", "object"},
      {"properties",
       {{"name", str("Name must be unique within a namespace. Cannot be updated.")},
        {"generateName", str("GenerateName is an optional prefix, used by the server, to generate "
                             "a unique name ONLY IF the Name field has not been provided.")},
        {"namespace", str("Namespace defines the space within which each name must be unique.")},
        {"uid", str("UID is the unique in time and space value for this object.")},
        {"resourceVersion", str("An opaque value that represents the internal version of this "
                                "object that can be used by clients to determine when objects "
                                "have changed.")},
        {"generation",
         {{"type", "integer"},
          {"format", "int64"},
          {"description",
           "A sequence number representing a specific generation "
           "of the desired state."}}},
        {"creationTimestamp",
         {{"type", "string"},
          {"format", "date-time"},
          {"description",
           "CreationTimestamp is a timestamp representing the "
           "server time when this object was created."}}},
        {"deletionTimestamp",
         {{"type", "string"},
          {"format", "date-time"},
          {"description",
           "DeletionTimestamp is RFC 3339 date and time at "
           "which this resource will be deleted."}}},
        {"labels",
         {{"type", "object"},
          {"additionalProperties", {{"type", "string"}}},
          {"description",
           "Map of string keys and values that can be used to organize "
           "and categorize (scope and select) objects."}}},
        {"annotations",
         {{"type", "object"},
          {"additionalProperties", {{"type", "string"}}},
          {"description",
           "Annotations is an unstructured key value map stored "
           "with a resource."}}},
        {"finalizers",
         {{"type", "array"},
          {"items", {{"type", "string"}}},
          {"description",
           "Must be empty before the object is deleted from the "
           "registry."}}},
        {"ownerReferences",
         {{"type", "array"},
          {"items", {{"type", "object"}, {"x-kubernetes-preserve-unknown-fields", true}}},
          {"description", "List of objects depended by this object."}}}}}};
}

json KindSchema(const ResourceType& t) {
  json s;
  if (!t.schema.is_null()) {
    s = t.schema;
  } else {
    s = {{"type", "object"},
         {"description", t.kind + " (" + t.api_version() +
                             "). The local API server accepts its fields without a published "
                             "schema."},
         {"x-kubernetes-preserve-unknown-fields", true}};
  }
  if (!s.contains("properties") || !s["properties"].is_object()) s["properties"] = json::object();
  s["properties"]["apiVersion"] = {
      {"type", "string"},
      {"description",
       "APIVersion defines the versioned schema of this representation of an object. Servers "
       "should convert recognized schemas to the latest internal value, and may reject "
       "unrecognized values."}};
  s["properties"]["kind"] = {
      {"type", "string"},
      {"description",
       "Kind is a string value representing the REST resource this object represents. Servers "
       "may infer this from the endpoint the client submits requests to. Cannot be updated. In "
       "CamelCase."}};
  s["properties"]["metadata"] = {
      {"allOf", {{{"$ref", kObjectMetaRef}}}},
      {"default", json::object()},
      {"description",
       "Standard object's metadata. More info: "
       "https://git.k8s.io/community/contributors/devel/sig-architecture/"
       "api-conventions.md#metadata"}};
  s["x-kubernetes-group-version-kind"] = json::array({Gvk(t)});
  return s;
}

json Param(const std::string& name, const std::string& description) {
  return {{"name", name},
          {"in", "query"},
          {"description", description},
          {"schema", {{"type", "string"}, {"uniqueItems", true}}}};
}

json PathParam(const std::string& name) {
  return {{"name", name},
          {"in", "path"},
          {"required", true},
          {"schema", {{"type", "string"}, {"uniqueItems", true}}}};
}

json Op(const ResourceType& t, const std::string& action, const std::string& op_id,
        const std::string& schema_ref, bool with_validation) {
  json op = {{"tags", {t.group.empty() ? "core_" + t.version : t.group + "_" + t.version}},
             {"operationId", op_id},
             {"responses",
              {{"200",
                {{"description", "OK"},
                 {"content", {{"application/json", {{"schema", {{"$ref", schema_ref}}}}}}}}},
               {"401", {{"description", "Unauthorized"}}}}},
             {"x-kubernetes-action", action},
             {"x-kubernetes-group-version-kind", Gvk(t)}};
  json params = json::array();
  if (with_validation) {
    params.push_back(
        Param("dryRun", "When present, indicates that modifications should not be persisted."));
    params.push_back(Param("fieldManager",
                           "fieldManager is a name associated with the actor or entity that is "
                           "making these changes."));
    params.push_back(Param("fieldValidation",
                           "fieldValidation instructs the server on how to handle objects in the "
                           "request (POST/PUT/PATCH) containing unknown or duplicate fields. Valid "
                           "values are: - Ignore - Warn - Strict"));
  }
  if (!params.empty()) op["parameters"] = params;
  return op;
}

}  // namespace

bool VersionPriorityLess(const std::string& a, const std::string& b) {
  static const std::regex re(R"(^v(\d+)(?:(alpha|beta)(\d+))?$)");
  auto rank = [](const std::string& v, long* major, int* stability, long* minor) {
    std::smatch m;
    if (!std::regex_match(v, m, re)) return false;
    *major = std::stol(m[1]);
    *stability = m[2] == "alpha" ? 0 : m[2] == "beta" ? 1 : 2;
    *minor = m[3].matched ? std::stol(m[3]) : 0;
    return true;
  };
  long ma = 0, mia = 0, mb = 0, mib = 0;
  int sa = 0, sb = 0;
  const bool ka = rank(a, &ma, &sa, &mia), kb = rank(b, &mb, &sb, &mib);
  if (ka != kb) return !ka;  // non-kube versions sort below kube-like ones
  if (!ka) return a > b;
  if (sa != sb) return sa < sb;
  if (ma != mb) return ma < mb;
  return mia < mib;
}

json ApiVersions(const std::string& server_address) {
  return {{"kind", "APIVersions"},
          {"versions", {"v1"}},
          {"serverAddressByClientCIDRs",
           {{{"clientCIDR", "0.0.0.0/0"}, {"serverAddress", server_address}}}}};
}

json ApiGroupList(const TypeList& types) {
  json groups = json::array();
  for (const auto& [g, vs] : GroupVersions(types)) {
    if (g.empty()) continue;
    groups.push_back(GroupJson(g, vs));
  }
  return {{"kind", "APIGroupList"}, {"apiVersion", "v1"}, {"groups", groups}};
}

json ApiGroup(const TypeList& types, const std::string& group) {
  auto gv = GroupVersions(types);
  auto it = gv.find(group);
  if (group.empty() || it == gv.end()) return nullptr;
  json g = GroupJson(group, it->second);
  g["kind"] = "APIGroup";
  g["apiVersion"] = "v1";
  return g;
}

json ApiResourceList(const TypeList& types, const std::string& group, const std::string& version) {
  auto list = Of(types, group, version);
  if (list.empty()) return nullptr;
  json resources = json::array();
  for (const auto& t : list) {
    json r = {{"name", t->plural},
              {"singularName", t->singular},
              {"namespaced", t->namespaced},
              {"kind", t->kind},
              {"verbs", Verbs()},
              {"storageVersionHash", StorageHash(*t)}};
    if (!t->short_names.empty()) r["shortNames"] = t->short_names;
    if (!t->categories.empty()) r["categories"] = t->categories;
    resources.push_back(r);
    if (t->status_subresource) {
      resources.push_back({{"name", t->plural + "/status"},
                           {"singularName", ""},
                           {"namespaced", t->namespaced},
                           {"kind", t->kind},
                           {"verbs", {"get", "patch", "update"}}});
    }
    if (t->log_subresource) {
      resources.push_back({{"name", t->plural + "/log"},
                           {"singularName", ""},
                           {"namespaced", t->namespaced},
                           {"kind", t->kind},
                           {"verbs", {"get"}}});
    }
  }
  return {{"kind", "APIResourceList"},
          {"apiVersion", "v1"},
          {"groupVersion", group.empty() ? version : group + "/" + version},
          {"resources", resources}};
}

json AggregatedDiscovery(const TypeList& types, bool core) {
  json items = json::array();
  for (const auto& [g, vs] : GroupVersions(types)) {
    if (g.empty() != core) continue;
    json versions = json::array();
    for (const auto& v : vs) {
      json resources = json::array();
      for (const auto& t : Of(types, g, v)) {
        json kind = {{"group", t->group}, {"version", t->version}, {"kind", t->kind}};
        json r = {{"resource", t->plural},
                  {"responseKind", kind},
                  {"scope", t->namespaced ? "Namespaced" : "Cluster"},
                  {"singularResource", t->singular},
                  {"verbs", Verbs()}};
        if (!t->short_names.empty()) r["shortNames"] = t->short_names;
        if (!t->categories.empty()) r["categories"] = t->categories;
        if (t->status_subresource)
          r["subresources"].push_back({{"subresource", "status"},
                                       {"responseKind", kind},
                                       {"verbs", {"get", "patch", "update"}}});
        if (t->log_subresource)
          r["subresources"].push_back(
              {{"subresource", "log"}, {"responseKind", kind}, {"verbs", {"get"}}});
        resources.push_back(r);
      }
      versions.push_back({{"version", v}, {"resources", resources}, {"freshness", "Current"}});
    }
    json meta = {{"creationTimestamp", nullptr}};
    if (!g.empty()) meta["name"] = g;
    items.push_back({{"metadata", meta}, {"versions", versions}});
  }
  return {{"kind", "APIGroupDiscoveryList"},
          {"apiVersion", "apidiscovery.k8s.io/v2"},
          {"metadata", json::object()},
          {"items", items}};
}

json OpenApiV3Document(const TypeList& types, const std::string& path) {
  std::string group, version;
  if (path.rfind("api/", 0) == 0) {
    version = path.substr(4);
  } else if (path.rfind("apis/", 0) == 0) {
    std::string rest = path.substr(5);
    size_t slash = rest.find('/');
    if (slash == std::string::npos) return nullptr;
    group = rest.substr(0, slash);
    version = rest.substr(slash + 1);
  } else {
    return nullptr;
  }
  auto list = Of(types, group, version);
  if (list.empty()) return nullptr;
  json paths = json::object();
  json schemas = json::object();
  schemas["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"] = ObjectMetaSchema();
  schemas["io.k8s.apimachinery.pkg.apis.meta.v1.Patch"] = {
      {"type", "object"},
      {"description",
       "Patch is provided to give a concrete name and type to the Kubernetes PATCH request body."}};
  const std::string prefix = group.empty() ? "/api/" + version : "/apis/" + group + "/" + version;
  for (const auto& t : list) {
    const std::string id = SchemaId(*t);
    schemas[id] = KindSchema(*t);
    schemas[id + "List"] = {
        {"type", "object"},
        {"description", t->list_kind + " is a list of " + t->kind},
        {"required", {"items"}},
        {"properties",
         {{"apiVersion", {{"type", "string"}}},
          {"kind", {{"type", "string"}}},
          {"items", {{"type", "array"}, {"items", {{"$ref", "#/components/schemas/" + id}}}}}}},
        {"x-kubernetes-group-version-kind",
         json::array({{{"group", t->group}, {"version", t->version}, {"kind", t->list_kind}}})}};
    const std::string ref = "#/components/schemas/" + id;
    const std::string base =
        prefix + (t->namespaced ? "/namespaces/{namespace}/" : "/") + t->plural;
    json coll_params = json::array();
    json item_params = json::array({PathParam("name")});
    if (t->namespaced) {
      coll_params.push_back(PathParam("namespace"));
      item_params.push_back(PathParam("namespace"));
    }
    json patch = Op(*t, "patch", "patch" + t->kind, ref, true);
    json content = {
        {"application/json-patch+json",
         {{"schema",
           {{"$ref", "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.Patch"}}}}},
        {"application/merge-patch+json",
         {{"schema",
           {{"$ref", "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.Patch"}}}}},
        {"application/apply-patch+yaml",
         {{"schema",
           {{"$ref", "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.Patch"}}}}}};
    patch["requestBody"] = {{"content", content}, {"required", true}};
    json body = {{"content", {{"*/*", {{"schema", {{"$ref", ref}}}}}}}, {"required", true}};
    json put = Op(*t, "put", "replace" + t->kind, ref, true);
    put["requestBody"] = body;
    json post = Op(*t, "post", "create" + t->kind, ref, true);
    post["requestBody"] = body;
    paths[base + "/{name}"] = {{"get", Op(*t, "get", "read" + t->kind, ref, false)},
                               {"put", put},
                               {"patch", patch},
                               {"delete", Op(*t, "delete", "delete" + t->kind, ref, false)},
                               {"parameters", item_params}};
    paths[base] = {{"get", Op(*t, "list", "list" + t->kind, ref + "List", false)},
                   {"post", post},
                   {"parameters", coll_params}};
    if (t->status_subresource) {
      json sp = Op(*t, "patch", "patch" + t->kind + "Status", ref, true);
      sp["requestBody"] = {{"content", content}, {"required", true}};
      json su = Op(*t, "put", "replace" + t->kind + "Status", ref, true);
      su["requestBody"] = body;
      paths[base + "/{name}/status"] = {
          {"get", Op(*t, "get", "read" + t->kind + "Status", ref, false)},
          {"put", su},
          {"patch", sp},
          {"parameters", item_params}};
    }
  }
  return {{"openapi", "3.0.0"},
          {"info", {{"title", "Kubernetes"}, {"version", "v1.32.0"}}},
          {"paths", paths},
          {"components", {{"schemas", schemas}}}};
}

json OpenApiV3Root(const TypeList& types) {
  json paths = json::object();
  for (const auto& [g, vs] : GroupVersions(types)) {
    for (const auto& v : vs) {
      const std::string p = g.empty() ? "api/" + v : "apis/" + g + "/" + v;
      const std::string hash = Sha256Hex(OpenApiV3Document(types, p).dump()).substr(0, 32);
      paths[p] = {{"serverRelativeURL", "/openapi/v3/" + p + "?hash=" + hash}};
    }
  }
  return {{"paths", paths}};
}

json OpenApiV2(const TypeList& types) {
  json defs = json::object();
  for (const auto& t : types) {
    json s = KindSchema(*t);
    s["properties"]["metadata"] = {
        {"$ref", "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}};
    defs[SchemaId(*t)] = s;
  }
  defs["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"] = ObjectMetaSchema();
  return {{"swagger", "2.0"},
          {"info", {{"title", "Kubernetes"}, {"version", "v1.32.0"}}},
          {"paths", json::object()},
          {"definitions", defs}};
}

}  // namespace vmrelease::apiserver

#include "controller/kube/resource.h"

#include "controller/http/types.h"

namespace vmrelease::kube {
namespace {

const std::string& EmptyString() {
  static const std::string kEmpty;
  return kEmpty;
}

const std::string& MetaString(const Json& obj, const char* field) {
  if (!obj.is_object()) return EmptyString();
  auto meta = obj.find("metadata");
  if (meta == obj.end() || !meta->is_object()) return EmptyString();
  auto it = meta->find(field);
  if (it == meta->end() || !it->is_string()) return EmptyString();
  return it->get_ref<const std::string&>();
}

std::optional<std::string> MetaMapValue(const Json& obj, const char* map, std::string_view key) {
  const Json* m = Find(obj, {"metadata", map});
  if (m == nullptr || !m->is_object()) return std::nullopt;
  auto it = m->find(std::string(key));
  if (it == m->end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

}  // namespace

std::string ResourceType::ApiVersion() const {
  return group.empty() ? version : group + "/" + version;
}

std::string ResourceType::Name() const { return group.empty() ? plural : plural + "." + group; }

ResourceType LeaseResource() { return {"coordination.k8s.io", "v1", "leases", "Lease", true}; }
ResourceType EventResource() { return {"events.k8s.io", "v1", "events", "Event", true}; }
ResourceType ConfigMapResource() { return {"", "v1", "configmaps", "ConfigMap", true}; }
ResourceType SecretResource() { return {"", "v1", "secrets", "Secret", true}; }
ResourceType NamespaceResource() { return {"", "v1", "namespaces", "Namespace", false}; }
ResourceType CrdResource() {
  return {"apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition",
          false};
}

ObjectRef ObjectRef::FromKey(std::string_view key) {
  const size_t slash = key.find('/');
  if (slash == std::string_view::npos) return {"", std::string(key)};
  return {std::string(key.substr(0, slash)), std::string(key.substr(slash + 1))};
}

ObjectRef ObjectRef::FromObject(const Json& obj) { return {Namespace(obj), Name(obj)}; }

std::string CollectionPath(const ResourceType& type, std::string_view ns) {
  std::string path =
      type.group.empty() ? "/api/" + type.version : "/apis/" + type.group + "/" + type.version;
  if (type.namespaced && !ns.empty()) path += "/namespaces/" + http::PercentEncode(ns);
  path += "/" + type.plural;
  return path;
}

std::string ObjectPath(const ResourceType& type, const ObjectRef& ref,
                       std::string_view subresource) {
  std::string path = CollectionPath(type, type.namespaced ? ref.ns : "");
  path += "/" + http::PercentEncode(ref.name);
  if (!subresource.empty()) path += "/" + std::string(subresource);
  return path;
}

const std::string& Name(const Json& obj) { return MetaString(obj, "name"); }
const std::string& Namespace(const Json& obj) { return MetaString(obj, "namespace"); }
const std::string& ResourceVersion(const Json& obj) { return MetaString(obj, "resourceVersion"); }
const std::string& Uid(const Json& obj) { return MetaString(obj, "uid"); }

int64_t Generation(const Json& obj) {
  const Json* g = Find(obj, {"metadata", "generation"});
  return g != nullptr && g->is_number_integer() ? g->get<int64_t>() : 0;
}

bool IsDeleting(const Json& obj) {
  const Json* d = Find(obj, {"metadata", "deletionTimestamp"});
  return d != nullptr && d->is_string() && !d->get_ref<const std::string&>().empty();
}

std::optional<std::string> Annotation(const Json& obj, std::string_view key) {
  return MetaMapValue(obj, "annotations", key);
}

std::optional<std::string> Label(const Json& obj, std::string_view key) {
  return MetaMapValue(obj, "labels", key);
}

const Json* Find(const Json& obj, std::initializer_list<std::string_view> path) {
  const Json* cur = &obj;
  for (std::string_view part : path) {
    if (!cur->is_object()) return nullptr;
    auto it = cur->find(std::string(part));
    if (it == cur->end()) return nullptr;
    cur = &*it;
  }
  return cur;
}

bool IsReconcilePaused(const Json& obj) {
  auto v = Annotation(obj, kReconcileAnnotation);
  return v.has_value() && *v == "disabled";
}

}  // namespace vmrelease::kube

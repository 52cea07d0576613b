// Resource descriptions and object references: what lets the runtime work on
// any Kubernetes resource as plain JSON (nlohmann::json), kube-rs `ApiResource`
// style, without generated types.
//
//   const ResourceType kReleases{.group = "vmrelease.io", .version = "v1alpha1",
//                                .plural = "imagereleases", .kind = "ImageRelease"};
//   ObjectRef ref{.ns = "default", .name = "sql-1.3.0"};
//   std::string path = ObjectPath(kReleases, ref);   // /apis/vmrelease.io/v1alpha1/namespaces/...
//   std::string key = ref.Key();                      // "default/sql-1.3.0"
//
// Accessors (Name(obj), ResourceVersion(obj), ...) never throw: a missing or
// mistyped field reads as empty / zero.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace vmrelease::kube {

using Json = nlohmann::json;
// An immutable snapshot of an object, shared between the store and its readers.
using ObjectPtr = std::shared_ptr<const Json>;

// Group/version/resource plus kind and scope: everything needed to build URLs
// and to stamp apiVersion/kind on objects.
struct ResourceType {
  std::string group;    // "" for the core group
  std::string version;  // "v1", "v1alpha1"
  std::string plural;   // URL segment, e.g. "leases"
  std::string kind;     // e.g. "Lease"
  bool namespaced = true;

  // "v1" for core, "group/version" otherwise.
  std::string ApiVersion() const;
  // "plural.group" (or "plural" for core): the name kubectl and errors use.
  std::string Name() const;
  bool operator==(const ResourceType& o) const = default;
};

// Well-known built-in types the runtime itself uses.
ResourceType LeaseResource();      // coordination.k8s.io/v1 leases
ResourceType EventResource();      // events.k8s.io/v1 events
ResourceType ConfigMapResource();  // v1 configmaps
ResourceType SecretResource();     // v1 secrets
ResourceType NamespaceResource();  // v1 namespaces (cluster-scoped)
ResourceType CrdResource();        // apiextensions.k8s.io/v1 customresourcedefinitions

// The identity of an object inside one resource: what work queues carry.
struct ObjectRef {
  std::string ns;  // empty for cluster-scoped objects
  std::string name;

  // "ns/name", or "name" when cluster-scoped (client-go's MetaNamespaceKey).
  std::string Key() const { return ns.empty() ? name : ns + "/" + name; }
  static ObjectRef FromKey(std::string_view key);
  static ObjectRef FromObject(const Json& obj);
  bool operator==(const ObjectRef& o) const = default;
  auto operator<=>(const ObjectRef& o) const = default;
};

// --- URL paths -------------------------------------------------------------------
// Collection path; `ns` empty means all namespaces (or a cluster-scoped type).
std::string CollectionPath(const ResourceType& type, std::string_view ns);
// Single object path, optionally with a subresource ("status").
std::string ObjectPath(const ResourceType& type, const ObjectRef& ref,
                       std::string_view subresource = "");

// --- metadata accessors (never throw) ----------------------------------------------
const std::string& Name(const Json& obj);
const std::string& Namespace(const Json& obj);
const std::string& ResourceVersion(const Json& obj);
const std::string& Uid(const Json& obj);
int64_t Generation(const Json& obj);
bool IsDeleting(const Json& obj);  // metadata.deletionTimestamp is set
// The annotation's value, or nullopt.
std::optional<std::string> Annotation(const Json& obj, std::string_view key);
std::optional<std::string> Label(const Json& obj, std::string_view key);
// A nested value by path (e.g. {"status", "phase"}); nullptr when absent.
const Json* Find(const Json& obj, std::initializer_list<std::string_view> path);

// The annotation that pauses reconciliation of one object (value "disabled").
inline constexpr std::string_view kReconcileAnnotation = "vmrelease.io/reconcile";
bool IsReconcilePaused(const Json& obj);

}  // namespace vmrelease::kube

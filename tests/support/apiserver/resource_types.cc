#include "tests/support/apiserver/resource_types.h"

#include <regex>

#include "controller/api/openapi_schema.h"
#include "tests/support/apiserver/workloads.h"

namespace vmrelease::apiserver {
namespace schema = api::schema;
namespace {

using nlohmann::json;

PrinterColumn Computed(std::string name, std::function<json(const json&, WallTime)> f,
                       std::string description = "") {
  PrinterColumn c;
  c.name = std::move(name);
  c.description = std::move(description);
  c.compute = std::move(f);
  return c;
}

PrinterColumn Path(std::string name, std::string path, std::string type = "string") {
  PrinterColumn c;
  c.name = std::move(name);
  c.json_path = std::move(path);
  c.type = std::move(type);
  auto parsed = JsonPath::Parse(c.json_path);
  if (parsed.ok()) c.parsed = std::make_shared<const JsonPath>(std::move(parsed.value()));
  return c;
}

json CountKeys(const json& obj, std::initializer_list<const char*> fields) {
  int64_t n = 0;
  for (const char* f : fields) {
    auto it = obj.find(f);
    if (it != obj.end() && it->is_object()) n += static_cast<int64_t>(it->size());
  }
  return n;
}

ResourceType Builtin(std::string group, std::string version, std::string plural,
                     std::string singular, std::string kind, bool namespaced,
                     std::vector<std::string> short_names = {}) {
  ResourceType t;
  t.group = std::move(group);
  t.version = std::move(version);
  t.plural = std::move(plural);
  t.singular = std::move(singular);
  t.kind = kind;
  t.list_kind = kind + "List";
  t.namespaced = namespaced;
  t.short_names = std::move(short_names);
  t.columns = DefaultColumns();
  return t;
}

const PrinterColumn& Age() {
  static const PrinterColumn age = DefaultColumns()[0];
  return age;
}

}  // namespace

std::vector<ResourceType> BuiltinTypes() {
  std::vector<ResourceType> out;

  ResourceType ns = Builtin("", "v1", "namespaces", "namespace", "Namespace", false, {"ns"});
  ns.status_subresource = true;
  ns.columns = {Path("Status", ".status.phase"), Age()};
  ns.field_selectors = {"status.phase"};
  out.push_back(ns);

  ResourceType cm = Builtin("", "v1", "configmaps", "configmap", "ConfigMap", true, {"cm"});
  cm.columns = {Computed("Data",
                         [](const json& o, WallTime) {
                           return CountKeys(o, {"data", "binaryData"});
                         }),
                Age()};
  cm.columns[0].type = "integer";
  out.push_back(cm);

  ResourceType secret = Builtin("", "v1", "secrets", "secret", "Secret", true);
  secret.columns = {
      Path("Type", ".type"),
      Computed("Data", [](const json& o, WallTime) { return CountKeys(o, {"data"}); }), Age()};
  secret.columns[1].type = "integer";
  secret.field_selectors = {"type"};
  out.push_back(secret);

  ResourceType pod = Builtin("", "v1", "pods", "pod", "Pod", true, {"po"});
  pod.status_subresource = true;
  pod.return_deleted_object = true;
  pod.log_subresource = true;
  pod.columns = PodColumns();
  pod.field_selectors = {"spec.nodeName",           "spec.restartPolicy", "spec.schedulerName",
                         "spec.serviceAccountName", "status.phase",       "status.podIP"};
  pod.categories = {"all"};
  out.push_back(pod);

  ResourceType svc = Builtin("", "v1", "services", "service", "Service", true, {"svc"});
  svc.status_subresource = true;
  svc.columns = {Path("Type", ".spec.type"), Path("Cluster-IP", ".spec.clusterIP"), Age()};
  svc.categories = {"all"};
  out.push_back(svc);

  out.push_back(
      Builtin("", "v1", "serviceaccounts", "serviceaccount", "ServiceAccount", true, {"sa"}));

  ResourceType ev = Builtin("", "v1", "events", "event", "Event", true, {"ev"});
  ev.name_priority = 1;
  ev.columns = {Computed("Last Seen",
                         [](const json& o, WallTime now) -> json {
                           std::string t = o.value("lastTimestamp", json("")).is_string()
                                               ? o.value("lastTimestamp", "")
                                               : "";
                           if (t.empty() && o.value("eventTime", json()).is_string())
                             t = o.value("eventTime", "");
                           return AgeSince(t, now);
                         }),
                Path("Type", ".type"), Path("Reason", ".reason"),
                Computed("Object",
                         [](const json& o, WallTime) -> json {
                           const json io = o.value("involvedObject", json::object());
                           std::string kind = io.value("kind", "");
                           for (auto& c : kind)
                             c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
                           return kind + "/" + io.value("name", "");
                         }),
                Path("Message", ".message")};
  ev.field_selectors = {"involvedObject.kind",
                        "involvedObject.namespace",
                        "involvedObject.name",
                        "involvedObject.uid",
                        "involvedObject.apiVersion",
                        "involvedObject.resourceVersion",
                        "involvedObject.fieldPath",
                        "reason",
                        "reportingComponent",
                        "source",
                        "type"};
  out.push_back(ev);

  ResourceType ev2 = Builtin("events.k8s.io", "v1", "events", "event", "Event", true, {"ev"});
  ev2.stored_as = "/events";
  ev2.storage_version = false;
  // Cells are computed on the stored (core/v1) objects.
  ev2.columns = {Path("Type", ".type"), Path("Reason", ".reason"), Path("Note", ".message"), Age()};
  ev2.field_selectors = {
      "regarding.kind", "regarding.namespace", "regarding.name", "regarding.uid", "reason",
      "type",           "reportingController"};
  out.push_back(ev2);

  ResourceType lease = Builtin("coordination.k8s.io", "v1", "leases", "lease", "Lease", true);
  lease.columns = {Path("Holder", ".spec.holderIdentity"), Age()};
  out.push_back(lease);

  ResourceType job = Builtin("batch", "v1", "jobs", "job", "Job", true);
  job.status_subresource = true;
  job.tracks_generation = true;
  job.categories = {"all"};
  job.default_propagation = "Orphan";
  job.columns = JobColumns();
  out.push_back(job);

  ResourceType deploy =
      Builtin("apps", "v1", "deployments", "deployment", "Deployment", true, {"deploy"});
  deploy.status_subresource = true;
  deploy.tracks_generation = true;
  deploy.categories = {"all"};
  deploy.columns = DeploymentColumns();
  out.push_back(deploy);

  // RBAC objects are stored and validated, never enforced (the server has no authorization).
  ResourceType cr = Builtin("rbac.authorization.k8s.io", "v1", "clusterroles", "clusterrole",
                            "ClusterRole", false);
  // kubectl prints the timestamp itself here, not an age (as for CRDs below).
  PrinterColumn created_at = Path("Created At", ".metadata.creationTimestamp", "date");
  created_at.compute = [](const json& o, WallTime) -> json {
    return o["metadata"].value("creationTimestamp", "");
  };
  cr.columns = {created_at};
  out.push_back(cr);
  ResourceType role = Builtin("rbac.authorization.k8s.io", "v1", "roles", "role", "Role", true);
  role.columns = cr.columns;
  out.push_back(role);
  ResourceType crb = Builtin("rbac.authorization.k8s.io", "v1", "clusterrolebindings",
                             "clusterrolebinding", "ClusterRoleBinding", false);
  crb.columns = {Computed("Role",
                          [](const json& o, WallTime) -> json {
                            const json ref = o.value("roleRef", json::object());
                            return ref.value("kind", "") + "/" + ref.value("name", "");
                          }),
                 Age()};
  out.push_back(crb);
  ResourceType rb = Builtin("rbac.authorization.k8s.io", "v1", "rolebindings", "rolebinding",
                            "RoleBinding", true);
  rb.columns = crb.columns;
  out.push_back(rb);

  ResourceType crd =
      Builtin("apiextensions.k8s.io", "v1", "customresourcedefinitions", "customresourcedefinition",
              "CustomResourceDefinition", false, {"crd", "crds"});
  crd.status_subresource = true;
  crd.tracks_generation = true;
  crd.categories = {"api-extensions"};
  PrinterColumn created = Path("Created At", ".metadata.creationTimestamp", "date");
  created.compute = [](const json& o, WallTime) -> json {
    return o["metadata"].value("creationTimestamp", "");
  };
  crd.columns = {created};
  out.push_back(crd);
  return out;
}

ApiOr<std::vector<ResourceType>> TypesFromCrd(const json& crd) {
  std::vector<FieldError> errs;
  const std::string name = crd.value("metadata", json::object()).value("name", "");
  const json spec = crd.value("spec", json::object());
  const std::string group = spec.value("group", "");
  const json names = spec.value("names", json::object());
  const std::string plural = names.value("plural", "");
  const std::string kind = names.value("kind", "");
  const std::string scope = spec.value("scope", "");
  static const std::regex kDns1035(R"(^[a-z]([-a-z0-9]*[a-z0-9])?$)");
  static const std::regex kKind(R"(^[A-Za-z][A-Za-z0-9]*$)");
  if (group.empty()) errs.push_back(RequiredField("spec.group"));
  if (group.find('.') == std::string::npos && !group.empty())
    errs.push_back(InvalidField("spec.group", group, "should be a domain with at least one dot"));
  if (plural.empty()) {
    errs.push_back(RequiredField("spec.names.plural"));
  } else if (!std::regex_match(plural, kDns1035)) {
    errs.push_back(InvalidField("spec.names.plural", plural,
                                "a lowercase RFC 1123 label must consist of lower case "
                                "alphanumeric characters or '-'"));
  }
  if (kind.empty()) {
    errs.push_back(RequiredField("spec.names.kind"));
  } else if (!std::regex_match(kind, kKind)) {
    errs.push_back(InvalidField("spec.names.kind", kind, "must be a valid kind name"));
  }
  if (!plural.empty() && !group.empty() && name != plural + "." + group)
    errs.push_back(
        InvalidField("metadata.name", name, "must be spec.names.plural+\".\"+spec.group"));
  if (scope != "Namespaced" && scope != "Cluster")
    errs.push_back(NotSupportedField("spec.scope", scope, {"Cluster", "Namespaced"}));
  const json versions = spec.value("versions", json::array());
  if (!versions.is_array() || versions.empty())
    errs.push_back(
        RequiredField("spec.versions", "must have exactly one version marked as storage version"));
  int storage = 0;
  std::vector<ResourceType> out;
  for (size_t i = 0; versions.is_array() && i < versions.size(); ++i) {
    const json& v = versions[i];
    const std::string vpath = "spec.versions[" + std::to_string(i) + "]";
    if (v.value("storage", false)) ++storage;
    const std::string vname = v.value("name", "");
    if (vname.empty()) errs.push_back(RequiredField(vpath + ".name"));
    json schema = v.value("schema", json::object()).value("openAPIV3Schema", json());
    if (schema.is_null()) {
      errs.push_back(RequiredField(vpath + ".schema.openAPIV3Schema", "schemas are required"));
    } else {
      for (auto& e : schema::CheckStructural(schema, vpath + ".schema.openAPIV3Schema"))
        errs.push_back(std::move(e));
    }
    if (!v.value("served", false)) continue;
    ResourceType t;
    t.group = group;
    t.version = vname;
    t.plural = plural;
    t.singular = names.value("singular", "");
    if (t.singular.empty()) {
      t.singular = kind;
      for (auto& c : t.singular) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    t.kind = kind;
    t.list_kind = names.value("listKind", kind + "List");
    t.namespaced = scope == "Namespaced";
    t.short_names = names.value("shortNames", std::vector<std::string>{});
    t.categories = names.value("categories", std::vector<std::string>{});
    t.status_subresource = v.value("subresources", json::object()).contains("status");
    t.tracks_generation = true;
    t.unconditional_update = false;
    t.return_deleted_object = true;
    t.schema = schema;
    t.crd_name = name;
    t.storage_version = v.value("storage", false);
    const json cols = v.value("additionalPrinterColumns", json::array());
    if (cols.is_array() && !cols.empty()) {
      size_t ci = 0;
      for (const auto& c : cols) {
        PrinterColumn pc;
        pc.name = c.value("name", "");
        pc.type = c.value("type", "string");
        pc.format = c.value("format", "");
        pc.description = c.value("description", "");
        pc.priority = c.value("priority", 0);
        pc.json_path = c.value("jsonPath", "");
        const std::string cpath = vpath + ".additionalPrinterColumns[" + std::to_string(ci++) + "]";
        if (pc.name.empty()) errs.push_back(RequiredField(cpath + ".name"));
        if (!JsonPath::Parse(pc.json_path).ok())
          errs.push_back(
              InvalidField(cpath + ".jsonPath", pc.json_path, "must be a simple json path"));
        t.columns.push_back(pc);
      }
    } else {
      t.columns = {Age()};
    }
    out.push_back(std::move(t));
  }
  if (versions.is_array() && !versions.empty() && storage != 1)
    errs.push_back(InvalidField("spec.versions", versions.size(),
                                "must have exactly one version marked as storage version"));
  if (!errs.empty())
    return ApiError::Invalid("CustomResourceDefinition", "apiextensions.k8s.io", name, errs);
  return out;
}

}  // namespace vmrelease::apiserver

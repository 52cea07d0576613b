#include "controller/pin/export.h"

#include "controller/kube/errors.h"

namespace vmrelease::pin {

kube::ResourceType ConfigMapType() { return {"", "v1", "configmaps", "ConfigMap", true}; }

std::map<std::string, std::string> ExportData(const std::string& image,
                                              const api::ResolvedRelease& r) {
  std::map<std::string, std::string> data;
  auto put = [&](const char* key, const std::optional<std::string>& v) {
    if (v && !v->empty()) data[key] = *v;
  };
  put("image", image);
  put("version", r.version);
  put("release", r.release);
  put("galleryImageVersionId", r.gallery_image_version_id);
  put("vhdUri", r.vhd_uri);
  put("sha256", r.sha256);
  kube::Json all = kube::Json::object();
  for (const auto& [k, v] : data) all[k] = v;
  data[kResolutionJsonKey] = all.dump();
  return data;
}

namespace {

kube::Json OwnerRef(const kube::Json& pin) {
  return {{"apiVersion", pin.value("apiVersion", std::string("vmrelease.io/v1alpha1"))},
          {"kind", pin.value("kind", std::string("EnvironmentPin"))},
          {"name", kube::Name(pin)},
          {"uid", kube::Uid(pin)},
          {"controller", true},
          {"blockOwnerDeletion", true}};
}

// The owner reference of `cm` that is a controller, if any: its uid.
std::optional<std::string> ControllerUid(const kube::Json& cm) {
  const kube::Json* refs = kube::Find(cm, {"metadata", "ownerReferences"});
  if (!refs || !refs->is_array()) return std::nullopt;
  for (const kube::Json& r : *refs) {
    if (r.value("controller", false)) return r.value("uid", std::string());
  }
  return std::nullopt;
}

}  // namespace

StatusOr<bool> EnsureExport(kube::KubeClient& client, const kube::Json& pin,
                            const std::string& name,
                            const std::map<std::string, std::string>& data) {
  const std::string ns = kube::Namespace(pin);
  kube::Json want_data = kube::Json::object();
  for (const auto& [k, v] : data) want_data[k] = v;
  auto got = client.Get(ConfigMapType(), {ns, name});
  if (!got.ok() && !kube::IsNotFound(got.status()))
    return got.status().WithContext("reading ConfigMap " + ns + "/" + name);
  if (!got.ok()) {
    kube::Json cm = {{"apiVersion", "v1"},
                     {"kind", "ConfigMap"},
                     {"metadata",
                      {{"name", name},
                       {"namespace", ns},
                       {"labels", {{"vmrelease.io/pin", kube::Name(pin)}}},
                       {"ownerReferences", kube::Json::array({OwnerRef(pin)})}}},
                     {"data", want_data}};
    auto created = client.Create(ConfigMapType(), cm);
    if (!created.ok()) return created.status().WithContext("creating ConfigMap " + ns + "/" + name);
    return true;
  }
  kube::Json cm = std::move(*got);
  const std::optional<std::string> owner = ControllerUid(cm);
  if (!owner || *owner != kube::Uid(pin))
    return FailedPreconditionError("ConfigMap " + ns + "/" + name +
                                   " exists and is not owned by this pin; delete it or choose "
                                   "another spec.export.configMap.name");
  const kube::Json* have = kube::Find(cm, {"data"});
  if (have && *have == want_data) return false;
  cm["data"] = want_data;
  auto updated = client.Update(ConfigMapType(), cm);
  if (!updated.ok()) return updated.status().WithContext("updating ConfigMap " + ns + "/" + name);
  return true;
}

StatusOr<std::vector<std::string>> RemoveStaleExports(kube::KubeClient& client,
                                                      const kube::Json& pin,
                                                      const std::string& keep) {
  const std::string ns = kube::Namespace(pin);
  auto list = client.List(ConfigMapType(),
                          {.ns = ns, .label_selector = "vmrelease.io/pin=" + kube::Name(pin)});
  if (!list.ok()) return list.status().WithContext("listing the pin's exported ConfigMaps");
  std::vector<std::string> removed;
  for (const kube::Json& cm : list->items) {
    const std::string name = kube::Name(cm);
    const kube::Json* label = kube::Find(cm, {"metadata", "labels", "vmrelease.io/pin"});
    if (name == keep || kube::Namespace(cm) != ns || !label || *label != kube::Name(pin)) continue;
    const std::optional<std::string> owner = ControllerUid(cm);
    if (!owner || *owner != kube::Uid(pin)) continue;  // never someone else's
    auto gone = client.Delete(ConfigMapType(), {ns, name});
    if (!gone.ok() && !kube::IsNotFound(gone.status()))
      return gone.status().WithContext("deleting ConfigMap " + ns + "/" + name);
    removed.push_back(name);
  }
  return removed;
}

}  // namespace vmrelease::pin

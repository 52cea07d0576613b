#include "controller/inventory/store.h"

#include "controller/common/crypto.h"
#include "controller/kube/errors.h"
#include "controller/kube/resource.h"

namespace vmrelease::inventory {
namespace {

using Json = nlohmann::json;

// A Kubernetes label value: at most 63 characters, alphanumerics and -_. inside.
bool IsLabelValue(const std::string& v) {
  if (v.empty() || v.size() > 63) return false;
  auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  };
  if (!alnum(v.front()) || !alnum(v.back())) return false;
  for (char c : v)
    if (!alnum(c) && c != '-' && c != '_' && c != '.') return false;
  return true;
}

bool OwnedBy(const Json& cm, const std::string& uid) {
  const Json* refs = kube::Find(cm, {"metadata", "ownerReferences"});
  if (!refs || !refs->is_array()) return false;
  for (const Json& r : *refs)
    if (r.value("controller", false) && r.value("uid", std::string()) == uid) return true;
  return false;
}

std::string Annotation(const Json& cm, const char* key) {
  const Json* v = kube::Find(cm, {"metadata", "annotations", key});
  return v && v->is_string() ? v->get<std::string>() : "";
}

}  // namespace

StatusOr<Stored> StoreInventory(kube::KubeClient& client, const Owner& owner,
                                const std::string& name, const Inventory& inventory) {
  StatusOr<Encoded> enc = Encode(inventory);
  if (!enc.ok()) return enc.status();
  Stored stored{.config_map = name,
                .sha256 = enc->canonical_sha256,
                .packages = static_cast<int64_t>(inventory.packages.size()),
                .files = static_cast<int64_t>(inventory.files.size()),
                .compressed_bytes = enc->gz.size()};
  Json labels = {{"app.kubernetes.io/managed-by", "vmrelease"}};
  if (IsLabelValue(owner.name)) labels["vmrelease.io/release"] = owner.name;
  if (IsLabelValue(inventory.image)) labels["vmrelease.io/image"] = inventory.image;
  if (IsLabelValue(inventory.version)) labels["vmrelease.io/version"] = inventory.version;
  Json want = {{"apiVersion", "v1"},
               {"kind", "ConfigMap"},
               {"metadata",
                {{"name", name},
                 {"namespace", owner.ns},
                 {"labels", labels},
                 {"annotations", {{kDigestAnnotation, enc->canonical_sha256}}},
                 {"ownerReferences", Json::array({{{"apiVersion", owner.api_version},
                                                   {"kind", owner.kind},
                                                   {"name", owner.name},
                                                   {"uid", owner.uid},
                                                   {"controller", true},
                                                   {"blockOwnerDeletion", true}}})}}},
               {"binaryData", {{kDataKey, Base64Encode(enc->gz)}}}};
  const std::string where = "ConfigMap " + owner.ns + "/" + name;
  StatusOr<Json> created = client.Create(kube::ConfigMapResource(), want);
  if (created.ok()) {
    stored.created = true;
    return stored;
  }
  if (!kube::IsAlreadyExists(created.status()))
    return created.status().WithContext("creating " + where);
  // An earlier attempt (a controller killed before it recorded the status) or someone else.
  StatusOr<Json> got = client.Get(kube::ConfigMapResource(), {owner.ns, name});
  if (!got.ok()) return got.status().WithContext("reading " + where);
  if (!OwnedBy(*got, owner.uid))
    return FailedPreconditionError(where +
                                   " exists and is not owned by this release; the inventory was "
                                   "not recorded (delete that ConfigMap to let it be)");
  if (Annotation(*got, kDigestAnnotation) == enc->canonical_sha256) {
    // Trust the annotation only with the content behind it.
    StatusOr<Inventory> have = ReadInventory(client, owner.ns, name, enc->canonical_sha256);
    if (have.ok()) return stored;
  }
  Json update = *got;
  update["metadata"]["labels"] = labels;
  update["metadata"]["annotations"][kDigestAnnotation] = enc->canonical_sha256;
  update["binaryData"] = want["binaryData"];
  update.erase("data");
  StatusOr<Json> updated = client.Update(kube::ConfigMapResource(), update);
  if (!updated.ok()) return updated.status().WithContext("replacing " + where);
  return stored;
}

StatusOr<Inventory> ReadInventory(kube::KubeClient& client, const std::string& ns,
                                  const std::string& name, const std::string& expected_sha256) {
  const std::string where = "ConfigMap " + ns + "/" + name;
  StatusOr<Json> cm = client.Get(kube::ConfigMapResource(), {ns, name});
  if (!cm.ok()) return cm.status().WithContext("reading the inventory " + where);
  const Json* b64 = kube::Find(*cm, {"binaryData", kDataKey});
  if (!b64 || !b64->is_string()) return DataLossError(where + " has no " + kDataKey);
  StatusOr<std::string> gz = Base64Decode(b64->get<std::string>());
  if (!gz.ok()) return DataLossError(where + ": " + kDataKey + " is not base64");
  StatusOr<std::string> text = Gunzip(*gz);
  if (!text.ok()) return DataLossError(where + ": " + text.status().message());
  if (const std::string sha = Sha256Hex(*text); sha != expected_sha256)
    return DataLossError(where + " holds an inventory with SHA-256 " + sha +
                         ", not the one the release recorded (" + expected_sha256 + ")");
  StatusOr<Inventory> inv = ParseInventory(*text);
  if (!inv.ok()) return DataLossError(where + ": " + inv.status().message());
  return inv;
}

}  // namespace vmrelease::inventory

// The ConfigMap a release keeps its image's inventory in: binaryData
// `inventory.json.gz` (the gzip of the canonical JSON), an annotation with the
// SHA-256 of that JSON, labels naming the release, image and version, and a
// controller ownerReference to the release (deleted with it).
//
//   StatusOr<Stored> s = StoreInventory(client, owner, "app-1-0-0-inventory", inv);
//   // → status.inventory {configMap, sha256, packages, files}
//   StatusOr<Inventory> inv = ReadInventory(client, "default", cm_name, status_sha256);
//
// Guarantees: StoreInventory is idempotent and safe to interrupt anywhere: create,
// and on AlreadyExists read the object and adopt it when it is this release's with
// the same digest (replace it when it is this release's with another digest, e.g. a
// rebuild). A ConfigMap that is not this release's is never touched (kFailedPrecondition).
// ReadInventory checks the digest of what it read against the one the release recorded.
#pragma once

#include <string>

#include "controller/common/status.h"
#include "controller/inventory/inventory.h"
#include "controller/kube/client.h"

namespace vmrelease::inventory {

inline constexpr char kDataKey[] = "inventory.json.gz";
inline constexpr char kDigestAnnotation[] = "vmrelease.io/inventory-sha256";

struct Owner {  // the ImageRelease
  std::string api_version = "vmrelease.io/v1alpha1";
  std::string kind = "ImageRelease";
  std::string ns, name, uid;
};

struct Stored {
  std::string config_map;
  std::string sha256;  // of CanonicalJson
  int64_t packages = 0, files = 0;
  size_t compressed_bytes = 0;
  bool created = false;  // false: adopted (an earlier attempt had created it)
};

StatusOr<Stored> StoreInventory(kube::KubeClient& client, const Owner& owner,
                                const std::string& name, const Inventory& inventory);

// Errors: kNotFound (the ConfigMap is gone), kDataLoss (not gzip, digest mismatch,
// not a valid inventory), or the API server's error.
StatusOr<Inventory> ReadInventory(kube::KubeClient& client, const std::string& ns,
                                  const std::string& name, const std::string& expected_sha256);

}  // namespace vmrelease::inventory

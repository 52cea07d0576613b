// Deterministic names for everything a release creates, derived from the
// release's namespace, name and uid, so that a restarted controller finds (and
// adopts) what an earlier process started instead of creating it twice.
//
//   ReleaseNames names = ReleaseNames::For(release);
//   names.staging_blob;   // "default/sql-1-3-0-3f2a9c1e/<uid>.vhd"
//   names.vm;             // "vmr-sql-1-3-0-3f2a9c1e" (Azure VM name, <= 64 characters)
//
// Guarantees: the same (namespace, name, uid) always gives the same names; two
// releases never share one (the uid is part of every name, as a hash where
// Azure limits the length); every name satisfies the Azure / Kubernetes naming
// rules for its kind.
#pragma once

#include <string>
#include <string_view>

#include "controller/api/image_release.h"

namespace vmrelease::release {

struct ReleaseNames {
  std::string key;         // "namespace/name"
  std::string hash;        // 10 hex characters of SHA-256(namespace/name/uid)
  std::string short_name;  // NameFragment(name, 30)

  std::string staging_blob;       // in the staging container: "<ns>/<name>/<uid>.vhd"
  std::string staging_inventory;  // beside it: "<ns>/<name>/<uid>.inventory.json" (job builds)
  std::string work_dir;        // relative to the controller's work directory: "<ns>/<name>-<uid>"
  std::string build;           // status.build.name of a local build: "local-<short>-<hash>"
  std::string vm;              // test VM (and Run Command parent): "vmr-<short>-<hash>"
  std::string nic;             // "<vm>-nic"
  std::string os_disk;         // "<vm>-osdisk" (created from the gallery image with the VM)
  std::string staged_disk;     // managed disk imported from the VHD when no gallery: "<vm>-src"
  std::string job;             // Kubernetes Job of a job build: "vmr-build-<short>-<hash>" (<= 63)
  std::string image_template;  // Image Builder template: "vmr-<short>-<hash>"
  // The inventory ConfigMap: "<name>-inventory" ("vmr-<short>-<hash>-inventory" for a
  // name too long for that).
  std::string inventory_config_map;

  // Kubernetes Job (and its Secret) of one check of a job validation:
  // "vmr-check-<short>-<check>-<hash of the release hash and the check>" (<= 58 characters).
  std::string CheckJob(std::string_view check) const;

  static ReleaseNames For(const api::ImageRelease& release);
  static ReleaseNames For(std::string_view ns, std::string_view name, std::string_view uid);
};

// `text` lowered, with every run of characters other than [a-z0-9] replaced by
// one '-', trimmed of '-' and cut to `max` characters: a fragment usable in
// DNS labels and Azure resource names.
std::string NameFragment(std::string_view text, size_t max);

}  // namespace vmrelease::release

#include "controller/release/names.h"

#include "controller/common/crypto.h"

namespace vmrelease::release {

std::string NameFragment(std::string_view text, size_t max) {
  std::string out;
  bool dash = false;
  for (char c : text) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (ok) {
      if (dash && !out.empty()) out += '-';
      out += c;
      dash = false;
    } else {
      dash = true;
    }
    if (out.size() >= max) break;
  }
  if (out.size() > max) out.resize(max);
  while (!out.empty() && out.back() == '-') out.pop_back();
  return out;
}

ReleaseNames ReleaseNames::For(const api::ImageRelease& release) {
  return For(release.metadata.ns, release.metadata.name, release.metadata.uid);
}

ReleaseNames ReleaseNames::For(std::string_view ns, std::string_view name, std::string_view uid) {
  ReleaseNames n;
  n.key = std::string(ns) + "/" + std::string(name);
  n.hash =
      Sha256Hex(std::string(ns) + "/" + std::string(name) + "/" + std::string(uid)).substr(0, 10);
  n.short_name = NameFragment(name, 30);
  const std::string base = (n.short_name.empty() ? "" : n.short_name + "-") + n.hash;
  n.staging_blob = std::string(ns) + "/" + std::string(name) + "/" + std::string(uid) + ".vhd";
  n.staging_inventory =
      std::string(ns) + "/" + std::string(name) + "/" + std::string(uid) + ".inventory.json";
  n.work_dir = std::string(ns) + "/" + std::string(name) + "-" + std::string(uid);
  n.build = "local-" + base;
  n.vm = "vmr-" + base;
  n.nic = n.vm + "-nic";
  n.os_disk = n.vm + "-osdisk";
  n.staged_disk = n.vm + "-src";
  n.job = "vmr-build-" + base;
  n.image_template = "vmr-" + base;
  // A ConfigMap name is a DNS subdomain (<= 253); release names are too.
  n.inventory_config_map =
      name.size() <= 243 ? std::string(name) + "-inventory" : "vmr-" + base + "-inventory";
  return n;
}

std::string ReleaseNames::CheckJob(std::string_view check) const {
  // The release's part is cut to 20 characters and the check's to 16 so that
  // the name stays a DNS label (it is also the value of the Pods' job label);
  // the hash keeps two checks (or releases) whose fragments agree apart.
  const std::string release_part = NameFragment(short_name, 20);
  const std::string check_part = NameFragment(check, 16);
  std::string out = "vmr-check-";
  if (!release_part.empty()) out += release_part + "-";
  if (!check_part.empty()) out += check_part + "-";
  return out + Sha256Hex(hash + "/" + std::string(check)).substr(0, 10);
}

}  // namespace vmrelease::release

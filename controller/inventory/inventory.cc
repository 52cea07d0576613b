#include "controller/inventory/inventory.h"

#include <zlib.h>

#include <algorithm>

#include "controller/common/crypto.h"
#include "controller/common/json_depth.h"

namespace vmrelease::inventory {
namespace {

using Json = nlohmann::json;

std::string At(const char* list, size_t i, const char* field) {
  std::string at = std::string(list) + "[" + std::to_string(i) + "]";
  return *field ? at + "." + field : at;
}

// A string field: present, a string, within `max` bytes, without control
// characters (the plugin prints these on terminals).
Status GetString(const Json& obj, const char* key, const std::string& where, size_t max,
                 bool required, std::string& out) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) {
    if (required) return InvalidArgumentError(where + ": required");
    return Status::Ok();
  }
  if (!it->is_string()) return InvalidArgumentError(where + ": must be a string");
  const std::string& s = it->get_ref<const std::string&>();
  if (s.size() > max)
    return InvalidArgumentError(where + ": longer than " + std::to_string(max) + " bytes");
  for (unsigned char c : s)
    if (c < 0x20 || c == 0x7f)
      return InvalidArgumentError(where + ": contains a control character");
  if (required && s.empty()) return InvalidArgumentError(where + ": must not be empty");
  out = s;
  return Status::Ok();
}

bool IsHex64(const std::string& s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

}  // namespace

StatusOr<Inventory> ParseInventory(std::string_view text) {
  if (text.size() > kMaxInventoryBytes)
    return InvalidArgumentError("the inventory is " + std::to_string(text.size()) +
                                " bytes; at most " + std::to_string(kMaxInventoryBytes) +
                                " are read");
  StatusOr<Json> parsed = ParseJsonBounded(text, kMaxInventoryDepth);
  if (!parsed.ok()) return parsed.status().WithContext("the inventory is not valid JSON");
  const Json& doc = *parsed;
  if (!doc.is_object()) return InvalidArgumentError("the inventory must be a JSON object");
  auto sv = doc.find("schemaVersion");
  if (sv == doc.end() || !sv->is_number_integer() || sv->get<int64_t>() != 1)
    return InvalidArgumentError("schemaVersion: must be 1");
  Inventory inv;
  if (Status s = GetString(doc, "image", "image", kMaxNameBytes, true, inv.image); !s.ok())
    return s;
  if (Status s = GetString(doc, "version", "version", kMaxNameBytes, true, inv.version); !s.ok())
    return s;
  auto list = [&](const char* key, size_t max) -> StatusOr<const Json*> {
    auto it = doc.find(key);
    if (it == doc.end()) return InvalidArgumentError(std::string(key) + ": required");
    if (!it->is_array()) return InvalidArgumentError(std::string(key) + ": must be an array");
    if (it->size() > max)
      return InvalidArgumentError(std::string(key) + ": " + std::to_string(it->size()) +
                                  " entries; at most " + std::to_string(max));
    return &*it;
  };
  StatusOr<const Json*> packages = list("packages", kMaxPackages);
  if (!packages.ok()) return packages.status();
  StatusOr<const Json*> files = list("files", kMaxFiles);
  if (!files.ok()) return files.status();

  inv.packages.reserve((*packages)->size());
  for (size_t i = 0; i < (*packages)->size(); ++i) {
    const Json& p = (**packages)[i];
    if (!p.is_object()) return InvalidArgumentError(At("packages", i, "") + ": must be an object");
    Package pkg;
    if (Status s = GetString(p, "name", At("packages", i, "name"), kMaxNameBytes, true, pkg.name);
        !s.ok())
      return s;
    if (Status s = GetString(p, "version", At("packages", i, "version"), kMaxVersionBytes, true,
                             pkg.version);
        !s.ok())
      return s;
    inv.packages.push_back(std::move(pkg));
  }
  inv.files.reserve((*files)->size());
  for (size_t i = 0; i < (*files)->size(); ++i) {
    const Json& f = (**files)[i];
    if (!f.is_object()) return InvalidArgumentError(At("files", i, "") + ": must be an object");
    File file;
    if (Status s = GetString(f, "path", At("files", i, "path"), kMaxPathBytes, true, file.path);
        !s.ok())
      return s;
    if (Status s = GetString(f, "sha256", At("files", i, "sha256"), 64, false, file.sha256);
        !s.ok())
      return s;
    if (!file.sha256.empty() && !IsHex64(file.sha256))
      return InvalidArgumentError(At("files", i, "sha256") + ": must be 64 lowercase hex digits");
    if (Status s = GetString(f, "mode", At("files", i, "mode"), 8, false, file.mode); !s.ok())
      return s;
    if (!std::all_of(file.mode.begin(), file.mode.end(),
                     [](char c) { return c >= '0' && c <= '7'; }))
      return InvalidArgumentError(At("files", i, "mode") + ": must be octal digits");
    if (auto it = f.find("size"); it != f.end() && !it->is_null()) {
      if (!it->is_number_integer() || it->get<int64_t>() < 0)
        return InvalidArgumentError(At("files", i, "size") + ": must be an integer >= 0");
      file.size = it->get<int64_t>();
    }
    inv.files.push_back(std::move(file));
  }
  // Canonical order, and one entry per name / path.
  std::sort(inv.packages.begin(), inv.packages.end(),
            [](const Package& a, const Package& b) { return a.name < b.name; });
  for (size_t i = 1; i < inv.packages.size(); ++i)
    if (inv.packages[i].name == inv.packages[i - 1].name)
      return InvalidArgumentError("packages: " + inv.packages[i].name + " is listed twice");
  std::sort(inv.files.begin(), inv.files.end(),
            [](const File& a, const File& b) { return a.path < b.path; });
  for (size_t i = 1; i < inv.files.size(); ++i)
    if (inv.files[i].path == inv.files[i - 1].path)
      return InvalidArgumentError("files: " + inv.files[i].path + " is listed twice");
  return inv;
}

namespace {
Json FileJson(const File& f, bool with_path) {
  Json j = {{"size", f.size}};
  if (with_path) j["path"] = f.path;
  if (!f.sha256.empty()) j["sha256"] = f.sha256;
  if (!f.mode.empty()) j["mode"] = f.mode;
  return j;
}
}  // namespace

Json ToJson(const Inventory& inv) {
  Json packages = Json::array(), files = Json::array();
  for (const Package& p : inv.packages)
    packages.push_back({{"name", p.name}, {"version", p.version}});
  for (const File& f : inv.files) files.push_back(FileJson(f, true));
  return {{"schemaVersion", 1},
          {"image", inv.image},
          {"version", inv.version},
          {"packages", std::move(packages)},
          {"files", std::move(files)}};
}

std::string CanonicalJson(const Inventory& inv) { return ToJson(inv).dump(); }

StatusOr<std::string> Gzip(std::string_view data) {
  z_stream zs{};
  // 15 + 16: a gzip wrapper; level 9: the ConfigMap limit matters more than CPU.
  if (deflateInit2(&zs, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) != Z_OK)
    return InternalError("zlib: deflateInit2 failed");
  std::string out(deflateBound(&zs, data.size()), '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) return InternalError("zlib: deflate did not finish");
  return out;
}

StatusOr<std::string> Gunzip(std::string_view gz, size_t max_bytes) {
  z_stream zs{};
  if (inflateInit2(&zs, 15 + 16) != Z_OK) return InternalError("zlib: inflateInit2 failed");
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gz.data()));
  zs.avail_in = static_cast<uInt>(gz.size());
  std::string out;
  char buf[64 * 1024];
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof(buf);
    rc = inflate(&zs, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      inflateEnd(&zs);
      return DataLossError("not valid gzip data");
    }
    const size_t got = sizeof(buf) - zs.avail_out;
    if (out.size() + got > max_bytes) {
      inflateEnd(&zs);
      return DataLossError("gzip data expands to more than " + std::to_string(max_bytes) +
                           " bytes");
    }
    out.append(buf, got);
    if (rc == Z_OK && got == 0 && zs.avail_in == 0) {  // truncated input
      inflateEnd(&zs);
      return DataLossError("truncated gzip data");
    }
  }
  inflateEnd(&zs);
  return out;
}

StatusOr<Encoded> Encode(const Inventory& inventory) {
  const std::string canonical = CanonicalJson(inventory);
  StatusOr<std::string> gz = Gzip(canonical);
  if (!gz.ok()) return gz.status();
  if (gz->size() > kMaxCompressedBytes)
    return ResourceExhaustedError(
        "the inventory (" + std::to_string(inventory.packages.size()) + " packages, " +
        std::to_string(inventory.files.size()) + " files) is " + std::to_string(gz->size()) +
        " bytes compressed; a ConfigMap holds at most " + std::to_string(kMaxCompressedBytes) +
        " (the API server's limit is 1 MiB)");
  return Encoded{Sha256Hex(canonical), std::move(*gz)};
}

InventoryDiff DiffInventories(const Inventory& a, const Inventory& b) {
  InventoryDiff d;
  for (size_t i = 0, j = 0; i < a.packages.size() || j < b.packages.size();) {
    if (j == b.packages.size() ||
        (i < a.packages.size() && a.packages[i].name < b.packages[j].name)) {
      d.packages_removed.push_back(a.packages[i++]);
    } else if (i == a.packages.size() || b.packages[j].name < a.packages[i].name) {
      d.packages_added.push_back(b.packages[j++]);
    } else {
      if (a.packages[i].version != b.packages[j].version)
        d.packages_changed.push_back(
            {a.packages[i].name, a.packages[i].version, b.packages[j].version});
      ++i, ++j;
    }
  }
  for (size_t i = 0, j = 0; i < a.files.size() || j < b.files.size();) {
    if (j == b.files.size() || (i < a.files.size() && a.files[i].path < b.files[j].path)) {
      d.files_removed.push_back(a.files[i++]);
    } else if (i == a.files.size() || b.files[j].path < a.files[i].path) {
      d.files_added.push_back(b.files[j++]);
    } else {
      if (!(a.files[i] == b.files[j]))
        d.files_changed.push_back({a.files[i].path, a.files[i], b.files[j]});
      ++i, ++j;
    }
  }
  return d;
}

Json DiffToJson(const InventoryDiff& d) {
  Json pa = Json::array(), pr = Json::array(), pc = Json::array();
  for (const Package& p : d.packages_added)
    pa.push_back({{"name", p.name}, {"version", p.version}});
  for (const Package& p : d.packages_removed)
    pr.push_back({{"name", p.name}, {"version", p.version}});
  for (const PackageChange& c : d.packages_changed)
    pc.push_back({{"name", c.name}, {"from", c.from}, {"to", c.to}});
  Json fa = Json::array(), fr = Json::array(), fc = Json::array();
  for (const File& f : d.files_added) fa.push_back(FileJson(f, true));
  for (const File& f : d.files_removed) fr.push_back(FileJson(f, true));
  for (const FileChange& c : d.files_changed)
    fc.push_back(
        {{"path", c.path}, {"from", FileJson(c.from, false)}, {"to", FileJson(c.to, false)}});
  return {{"packages", {{"added", pa}, {"removed", pr}, {"changed", pc}}},
          {"files", {{"added", fa}, {"removed", fr}, {"changed", fc}}}};
}

}  // namespace vmrelease::inventory

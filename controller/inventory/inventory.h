// An image's inventory: the packages and regular files a build put into it, as the
// build leaves it in VMRELEASE_INVENTORY (docs/local-images.md, "Inventory"):
//
//   {"schemaVersion": 1, "image": "demo", "version": "1.1.0",
//    "packages": [{"name": "libc6", "version": "2.36-9"}, ...],
//    "files": [{"path": "/etc/demo/greeting", "sha256": "...", "size": 25, "mode": "0644"}, ...]}
//
//   ASSIGN_OR_RETURN(Inventory inv, ParseInventory(text));      // bounded, sorted
//   const std::string canonical = CanonicalJson(inv);           // what the digest covers
//   InventoryDiff d = DiffInventories(old_inv, new_inv);        // O(n) on sorted input
//
// Guarantees: ParseInventory never recurses deeper than kMaxInventoryDepth (the text
// is checked before nlohmann parses it), refuses what exceeds the limits below, and
// returns packages sorted by name and files by path (byte order), each unique; so
// CanonicalJson of the same content is the same bytes whatever order the build wrote.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "controller/common/status.h"

namespace vmrelease::inventory {

// Limits on what a build may hand over. They keep parsing, memory and the stored
// ConfigMap bounded; a 5,000-package, 50,000-file inventory is far inside them.
inline constexpr size_t kMaxInventoryBytes = 64 * 1024 * 1024;  // the JSON text
inline constexpr size_t kMaxInventoryDepth = 8;                 // it needs 4
inline constexpr size_t kMaxPackages = 100000;
inline constexpr size_t kMaxFiles = 1000000;
inline constexpr size_t kMaxNameBytes = 512;     // package names, image, version
inline constexpr size_t kMaxPathBytes = 4096;    // file paths (PATH_MAX)
inline constexpr size_t kMaxVersionBytes = 256;  // package versions
// The gzip of the canonical JSON must fit one ConfigMap: a real API server refuses
// more than 1 MiB (1,048,576 bytes) of data and binaryData together; this leaves room.
inline constexpr size_t kMaxCompressedBytes = 1000000;

struct Package {
  std::string name;
  std::string version;
  bool operator==(const Package&) const = default;
};

struct File {
  std::string path;
  std::string sha256;  // lowercase hex, or "" when the build did not hash it
  int64_t size = 0;
  std::string mode;  // e.g. "0644", or ""
  bool operator==(const File&) const = default;
};

struct Inventory {
  std::string image;
  std::string version;
  std::vector<Package> packages;  // sorted by name, unique
  std::vector<File> files;        // sorted by path, unique
};

// Parses and validates inventory JSON (schemaVersion 1). Errors: kInvalidArgument
// naming the field, e.g. "packages[3].version: must be a string".
StatusOr<Inventory> ParseInventory(std::string_view text);

// The canonical form: compact JSON, keys sorted, packages and files in order.
std::string CanonicalJson(const Inventory& inventory);
nlohmann::json ToJson(const Inventory& inventory);

// gzip (RFC 1952) through zlib. Gunzip refuses output larger than `max_bytes`.
StatusOr<std::string> Gzip(std::string_view data);
StatusOr<std::string> Gunzip(std::string_view gz, size_t max_bytes = kMaxInventoryBytes);

// The gzip of the canonical JSON and its digest; kResourceExhausted when the gzip is
// over kMaxCompressedBytes (the message says how large it is and the limit).
struct Encoded {
  std::string canonical_sha256;
  std::string gz;
};
StatusOr<Encoded> Encode(const Inventory& inventory);

struct PackageChange {
  std::string name;
  std::string from, to;  // versions
};
struct FileChange {
  std::string path;
  File from, to;
};
// What changed from `a` to `b`, each list sorted by name/path.
struct InventoryDiff {
  std::vector<Package> packages_added, packages_removed;
  std::vector<PackageChange> packages_changed;
  std::vector<File> files_added, files_removed;
  std::vector<FileChange> files_changed;
  bool empty() const {
    return packages_added.empty() && packages_removed.empty() && packages_changed.empty() &&
           files_added.empty() && files_removed.empty() && files_changed.empty();
  }
};
// One merge pass over the sorted lists: O(n + m).
InventoryDiff DiffInventories(const Inventory& a, const Inventory& b);

// {"packages": {"added": [{name, version}], "removed": [...], "changed": [{name, from, to}]},
//  "files": {"added": [{path, sha256, size, mode}], "removed": [...],
//            "changed": [{path, from: {sha256, size, mode}, to: {...}}]}}
nlohmann::json DiffToJson(const InventoryDiff& diff);

}  // namespace vmrelease::inventory

// libFuzzer target for image inventories, which come from builds (a file a local
// build leaves, a blob a build Job uploads) and from ConfigMaps (gzipped): what
// the controller and `kubectl vmrelease diff` parse must never crash, recurse
// without bound or allocate past the limits.
//
// Input layout: byte 0 picks the path, the rest is the text.
//   even: ParseInventory(text); when it parses, the result is sorted and unique,
//         its canonical JSON parses back to the same inventory, the gzip round
//         trip gives the canonical bytes, and a diff with itself is empty while a
//         diff with an empty inventory lists everything as added;
//   odd:  Gunzip(text) with a small output limit (a ConfigMap's binaryData), and
//         ParseInventory of what comes out.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "controller/inventory/inventory.h"

namespace {

namespace inv = vmrelease::inventory;

void Check(bool ok) {
  if (!ok) std::abort();
}

void CheckParsed(const inv::Inventory& a) {
  for (size_t i = 1; i < a.packages.size(); ++i) Check(a.packages[i - 1].name < a.packages[i].name);
  for (size_t i = 1; i < a.files.size(); ++i) Check(a.files[i - 1].path < a.files[i].path);
  const std::string canonical = inv::CanonicalJson(a);
  auto again = inv::ParseInventory(canonical);
  Check(again.ok());
  Check(again->image == a.image && again->version == a.version);
  Check(again->packages == a.packages && again->files == a.files);
  Check(inv::CanonicalJson(*again) == canonical);
  auto gz = inv::Gzip(canonical);
  Check(gz.ok());
  auto back = inv::Gunzip(*gz);
  Check(back.ok() && *back == canonical);
  Check(inv::DiffInventories(a, a).empty());
  const inv::InventoryDiff from_nothing = inv::DiffInventories(inv::Inventory{}, a);
  Check(from_nothing.packages_added.size() == a.packages.size());
  Check(from_nothing.files_added.size() == a.files.size());
  Check(from_nothing.packages_removed.empty() && from_nothing.files_changed.empty());
  (void)inv::DiffToJson(from_nothing).dump();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] % 2 == 0) {
    auto parsed = inv::ParseInventory(text);
    if (parsed.ok()) CheckParsed(*parsed);
    return 0;
  }
  constexpr size_t kLimit = 1 << 16;
  auto out = inv::Gunzip(text, kLimit);
  if (!out.ok()) return 0;
  Check(out->size() <= kLimit);
  auto parsed = inv::ParseInventory(*out);
  if (parsed.ok()) CheckParsed(*parsed);
  return 0;
}

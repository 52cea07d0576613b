// What `kubectl vmrelease diff` does with two inventories once it has the two ConfigMaps:
// gunzip, check the digest, parse (bounded, sorted), diff. N packages and N files per side;
// the newer side changes 1% of the versions, drops 2 packages and adds 3.
//
//   ninja -C build inventory_diff_bench && build/bin/inventory_diff_bench
//
// BM_Diff: the merge of two sorted inventories (O(n)); BM_ReadAndDiff: the whole local
// part of the command, both sides (O(n log n), the sort in ParseInventory); BM_Encode:
// what the controller does before it stores one (canonical JSON + gzip), with the
// compressed size as a counter. Results: bench/inventory/README.md.
#include <benchmark/benchmark.h>

#include <cstdio>

#include "controller/common/crypto.h"
#include "controller/inventory/inventory.h"

namespace vmrelease::inventory {
namespace {

Inventory Make(int n, bool newer) {
  Inventory inv{.image = "big", .version = newer ? "1.1.0" : "1.0.0"};
  auto add = [&](const std::string& name, const std::string& v) {
    inv.packages.push_back({name, v});
    inv.files.push_back({"/usr/share/doc/" + name + "/copyright", Sha256Hex(name + v),
                         100 + static_cast<int64_t>(name.size()), "0644"});
  };
  for (int i = 0; i < n; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "pkg-%06d", i);
    if (newer && i >= n - 2) continue;
    add(name, (newer && i % 100 == 0 ? "2." : "1.") + std::to_string(i % 13) + "-1");
  }
  if (newer)
    for (int i = 1; i <= 3; ++i) add("zz-extra-" + std::to_string(i), "0.1");
  // Made sorted the way ParseInventory leaves it.
  return *ParseInventory(CanonicalJson(inv));
}

void BM_Diff(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const Inventory a = Make(n, false), b = Make(n, true);
  for (auto _ : state) {
    InventoryDiff d = DiffInventories(a, b);
    benchmark::DoNotOptimize(d);
  }
  state.SetComplexityN(n);
}
BENCHMARK(BM_Diff)
    ->RangeMultiplier(10)
    ->Range(500, 50000)
    ->Complexity()
    ->Unit(benchmark::kMillisecond);

void BM_ReadAndDiff(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const Encoded ea = *Encode(Make(n, false)), eb = *Encode(Make(n, true));
  for (auto _ : state) {
    auto side = [](const Encoded& e) {
      std::string text = *Gunzip(e.gz);
      if (Sha256Hex(text) != e.canonical_sha256) std::abort();
      return *ParseInventory(text);
    };
    const Inventory a = side(ea), b = side(eb);
    benchmark::DoNotOptimize(DiffToJson(DiffInventories(a, b)));
  }
  state.SetComplexityN(n);
}
// 50,000 files of distinct hashes do not fit a ConfigMap (Encode refuses them).
BENCHMARK(BM_ReadAndDiff)
    ->Arg(500)
    ->Arg(5000)
    ->Arg(10000)
    ->Complexity()
    ->Unit(benchmark::kMillisecond);

void BM_Encode(benchmark::State& state) {
  const Inventory inv = Make(static_cast<int>(state.range(0)), false);
  size_t bytes = 0;
  for (auto _ : state) {
    Encoded e = *Encode(inv);
    bytes = e.gz.size();
    benchmark::DoNotOptimize(e);
  }
  state.counters["gzip_bytes"] = static_cast<double>(bytes);
  state.counters["json_bytes"] = static_cast<double>(CanonicalJson(inv).size());
}
BENCHMARK(BM_Encode)->Arg(5000)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace vmrelease::inventory

// libFuzzer target for the semver parsers (controller/api/semver.h).
//
// Input layout: the first byte picks what to exercise, the rest is the text.
// Besides "no crash, no sanitizer report", it checks properties that must hold
// for every input the parsers accept:
//   * a parsed version prints canonically and reparses to an equal version;
//   * a strict release version is also a valid semver version;
//   * a parsed range prints a desugared form that reparses to the same form;
//   * Satisfies() agrees between a range and its desugared form;
//   * Compare() is antisymmetric.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "controller/api/semver.h"

namespace {

using vmrelease::api::Compare;
using vmrelease::api::ParseRange;
using vmrelease::api::ParseReleaseVersion;
using vmrelease::api::ParseVersion;
using vmrelease::api::Version;

void Check(bool ok) {
  if (!ok) std::abort();
}

// Fixed probes: boundaries that ranges desugar around, with and without prereleases.
const char* const kProbes[] = {"0.0.0",         "0.0.1",   "0.1.0", "1.0.0-0",
                               "1.0.0-alpha.1", "1.0.0",   "1.2.3", "1.2.4-rc.1",
                               "1.3.0",         "2.0.0-0", "2.0.0", "10.20.30"};

void FuzzVersion(std::string_view text) {
  auto v = ParseVersion(text);
  if (v.ok()) {
    std::string printed = v->ToString();
    Check(printed == text);  // semver has exactly one spelling per version
    auto again = ParseVersion(printed);
    Check(again.ok() && Compare(*again, *v) == 0);
  }
  auto r = ParseReleaseVersion(text);
  if (r.ok()) {
    Check(v.ok() && !r->IsPrerelease() && r->build.empty());
  }
}

void FuzzRange(std::string_view text) {
  auto range = ParseRange(text);
  if (!range.ok()) {
    Check(!range.status().message().empty());
    return;
  }
  std::string desugared = range->ToString();
  auto again = ParseRange(desugared);
  Check(again.ok());
  Check(again->ToString() == desugared);
  for (const char* probe : kProbes) {
    auto v = ParseVersion(probe);
    Check(v.ok());
    Check(range->Satisfies(*v) == again->Satisfies(*v));
  }
}

void FuzzCompare(std::string_view text) {
  size_t bar = text.find('|');
  if (bar == std::string_view::npos) return;
  auto a = ParseVersion(text.substr(0, bar));
  auto b = ParseVersion(text.substr(bar + 1));
  if (!a.ok() || !b.ok()) return;
  Check(Compare(*a, *b) == -Compare(*b, *a));
  Check(Compare(*a, *a) == 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 3) {
    case 0:
      FuzzVersion(text);
      break;
    case 1:
      FuzzRange(text);
      break;
    default:
      FuzzCompare(text);
      break;
  }
  return 0;
}

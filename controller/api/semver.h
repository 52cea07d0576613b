// Semantic versions (semver 2.0.0) and npm-style version ranges.
//
// Release versions in vmrelease are strict `MAJOR.MINOR.PATCH` (the Azure Compute
// Gallery rule); an EnvironmentPin may follow "the newest Released version in a
// range", written the way npm writes ranges. This module parses both, orders
// versions by semver precedence and matches ranges with npm's prerelease rule.
//
//   ASSIGN_OR_RETURN(Version v, ParseReleaseVersion("1.3.0"));
//   ASSIGN_OR_RETURN(Range r, ParseRange("^1.2 || >=2.0.0 <2.5.0"));
//   r.Satisfies(v);                                   // true
//   r.ToString();                                     // ">=1.2.0 <2.0.0-0||>=2.0.0 <2.5.0"
//   std::optional<Version> best = MaxSatisfying(candidates, r);
//
// Range syntax (node-semver's grammar, strict mode): comparators `<`, `<=`, `>`,
// `>=`, `=` (or none) before a full or partial version; X-ranges `1.x`, `1.2.*`,
// `*`, `1`, `1.2`; tilde `~1.2.3`, `~1.2`, `~1` (also `~>`); caret `^1.2.3`,
// `^0.2.3`, `^0.0.3`, `^1.2.x`, `^0.0`; hyphen ranges `1.2.3 - 2.3.4` (a whole
// comparator set on its own); whitespace means AND, `||` means OR; an empty
// range means `*`. Advanced forms desugar exactly as node-semver 7 does (upper
// bounds end in `-0` so prereleases of the next version never match).
//
// Caveats (deliberately stricter than npm, so a typo in a GitOps repo is an
// error rather than a surprise): numbers with leading zeros, a number after a
// wildcard (`1.x.3`), a prerelease after a wildcard (`1.x-beta`), an empty side
// of `||` and a hyphen range mixed with other comparators are rejected. A
// leading `v` on a version inside a range is accepted, as npm accepts it.
// Numeric components are limited to 2^53-1 (npm's Number.MAX_SAFE_INTEGER).
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "controller/common/status.h"

namespace vmrelease::api {

// The largest numeric component accepted (npm's Number.MAX_SAFE_INTEGER).
inline constexpr uint64_t kMaxVersionComponent = 9007199254740991ULL;

struct Version {
  uint64_t major = 0;
  uint64_t minor = 0;
  uint64_t patch = 0;
  std::vector<std::string> prerelease;  // dot-separated identifiers after '-'
  std::vector<std::string> build;       // dot-separated identifiers after '+'

  bool IsPrerelease() const { return !prerelease.empty(); }
  // Canonical text: "1.2.3", "1.2.3-rc.1+build.5".
  std::string ToString() const;
  // The same [major, minor, patch] tuple (ignores prerelease and build).
  bool SameTuple(const Version& o) const {
    return major == o.major && minor == o.minor && patch == o.patch;
  }
};

// Semver 2.0 precedence: negative, zero or positive. Build metadata is ignored,
// so 1.0.0+a and 1.0.0+b compare equal; prerelease identifiers compare
// numerically when both are numeric, numeric < alphanumeric, otherwise ASCII;
// a shorter prerelease list that is a prefix of a longer one sorts first.
int Compare(const Version& a, const Version& b);
// Ordering and equality by precedence (so == ignores build metadata).
inline std::weak_ordering operator<=>(const Version& a, const Version& b) {
  int c = Compare(a, b);
  return c < 0 ? std::weak_ordering::less
               : (c > 0 ? std::weak_ordering::greater : std::weak_ordering::equivalent);
}
inline bool operator==(const Version& a, const Version& b) { return Compare(a, b) == 0; }

// Parses a full semver 2.0.0 version ("1.2.3", "1.2.3-alpha.1+sha.5114f85").
// Errors (kInvalidArgument) quote the input and say at which position what was
// expected, e.g. `invalid version "01.2.3": position 0: leading zero in major`.
StatusOr<Version> ParseVersion(std::string_view text);

// Parses a release version as used in `spec.version`: exactly MAJOR.MINOR.PATCH,
// non-negative integers without leading zeros; no `v` prefix, no prerelease,
// no build metadata (Azure Compute Gallery versions cannot carry them).
StatusOr<Version> ParseReleaseVersion(std::string_view text);

// One primitive comparison, the unit every range desugars to.
struct Comparator {
  enum class Op { kEq, kLt, kLe, kGt, kGe };
  Op op = Op::kGe;
  Version version;

  // Plain comparison, without the prerelease rule (that belongs to a set).
  bool Matches(const Version& v) const;
  // ">=1.2.3", "<2.0.0-0", "1.2.3" (equality prints without '=').
  std::string ToString() const;
};

// A union (`||`) of comparator sets, each an intersection (whitespace).
class Range {
 public:
  // The range that matches every non-prerelease version ("*").
  Range();

  // True when some set matches `v`. A prerelease version only matches a set
  // that also contains a comparator with a prerelease on the same
  // [major, minor, patch] tuple (npm's rule): `>1.2.3-alpha.3` matches
  // 1.2.3-alpha.7 but not 3.4.5-alpha.9.
  bool Satisfies(const Version& v) const;
  // The desugared form, node-semver 7's `Range.range`: sets joined by "||",
  // comparators by a space, e.g. "^0.2.3" -> ">=0.2.3 <0.3.0-0".
  std::string ToString() const;
  const std::vector<std::vector<Comparator>>& sets() const { return sets_; }

 private:
  friend StatusOr<Range> ParseRange(std::string_view text);
  std::vector<std::vector<Comparator>> sets_;
};

// Parses an npm-style range (see the file comment). Errors (kInvalidArgument)
// quote the input and name the position and what was expected, e.g.
// `invalid semver range ">=1.2.3 <2.0.0-": position 14: expected a prerelease identifier`.
StatusOr<Range> ParseRange(std::string_view text);

// The highest version in `versions` satisfying `range`, if any.
std::optional<Version> MaxSatisfying(const std::vector<Version>& versions, const Range& range);

}  // namespace vmrelease::api

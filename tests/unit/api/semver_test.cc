// Table-driven tests of the semver module: parsing (semver 2.0 and strict
// release versions), precedence, range desugaring (the forms documented in the
// node-semver README) and matching, including npm's prerelease rule.
#include "controller/api/semver.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

namespace vmrelease::api {
namespace {

Version MustParse(const std::string& text) {
  auto v = ParseVersion(text);
  EXPECT_TRUE(v.ok()) << text << ": " << v.status().ToString();
  return v.ok() ? *v : Version{};
}

// --- versions ------------------------------------------------------------------------------

class ValidVersionTest : public ::testing::TestWithParam<const char*> {};

TEST_P(ValidVersionTest, ParsesAndPrintsCanonically) {
  auto v = ParseVersion(GetParam());
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->ToString(), GetParam());
}

// From semver.org's list of valid versions.
INSTANTIATE_TEST_SUITE_P(
    SemverOrg, ValidVersionTest,
    ::testing::Values("0.0.4", "1.2.3", "10.20.30", "1.1.2-prerelease+meta", "1.1.2+meta",
                      "1.1.2+meta-valid", "1.0.0-alpha", "1.0.0-beta", "1.0.0-alpha.beta",
                      "1.0.0-alpha.beta.1", "1.0.0-alpha.1", "1.0.0-alpha0.valid",
                      "1.0.0-alpha.0valid",
                      "1.0.0-alpha-a.b-c-somethinglong+build.1-aef.1-its-okay",
                      "1.0.0-rc.1+build.1", "2.0.0-rc.1+build.123", "1.2.3-beta",
                      "10.2.3-DEV-SNAPSHOT", "1.2.3-SNAPSHOT-123", "2.0.0+build.1848",
                      "2.0.1-alpha.1227", "1.0.0-alpha+beta",
                      "1.2.3----RC-SNAPSHOT.12.9.1--.12+788", "1.2.3----R-S.12.9.1--.12+meta",
                      "1.2.3----RC-SNAPSHOT.12.9.1--.12", "1.0.0+0.build.1-rc.10000aaa-kk-0.1",
                      "1.0.0-0A.is.legal", "9007199254740991.0.0"));

struct BadCase {
  const char* input;
  const char* message;  // substring of the error
};

void PrintTo(const BadCase& c, std::ostream* os) { *os << '"' << c.input << '"'; }

class InvalidVersionTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(InvalidVersionTest, RejectsWithPositionAndReason) {
  auto v = ParseVersion(GetParam().input);
  ASSERT_FALSE(v.ok()) << GetParam().input << " parsed as " << v->ToString();
  EXPECT_EQ(v.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(v.status().message().find(GetParam().message), std::string::npos)
      << v.status().message();
  EXPECT_NE(v.status().message().find("position"), std::string::npos) << v.status().message();
}

// From semver.org's list of invalid versions, plus our own.
INSTANTIATE_TEST_SUITE_P(
    SemverOrg, InvalidVersionTest,
    ::testing::Values(
        BadCase{"1", "position 1: expected '.' after the major version, found end of input"},
        BadCase{"1.2", "position 3: expected '.' after the minor version"},
        BadCase{"1.2.3-0123", "leading zero in numeric prerelease identifier \"0123\""},
        BadCase{"1.2.3-0123.0123", "leading zero in numeric prerelease identifier"},
        BadCase{"1.1.2+.123", "position 6: expected a build identifier"},
        BadCase{"+invalid", "position 0: expected a number for major, found '+'"},
        BadCase{"-invalid", "expected a number for major"},
        BadCase{"-invalid+invalid", "expected a number for major"},
        BadCase{"alpha", "expected a number for major, found 'a'"},
        BadCase{"alpha.beta.1", "expected a number for major"},
        BadCase{"1.0.0-alpha_beta", "position 11: expected '-', '+' or the end of the version"},
        BadCase{"-alpha.", "expected a number for major"},
        BadCase{"1.0.0-alpha..", "position 12: expected a prerelease identifier"},
        BadCase{"1.0.0-alpha..1", "expected a prerelease identifier"},
        BadCase{"01.1.1", "position 0: leading zero in major"},
        BadCase{"1.01.1", "position 2: leading zero in minor"},
        BadCase{"1.1.01", "position 4: leading zero in patch"},
        BadCase{"1.2.3.4", "position 5: expected '-', '+' or the end"},
        BadCase{"1.2.3-", "position 6: expected a prerelease identifier"},
        BadCase{"1.2.3+", "expected a build identifier"},
        BadCase{"1.2.3-+123", "expected a prerelease identifier"},
        BadCase{"1.2.31.2.3----RC-SNAPSHOT.12.09.1--..12+788", "expected '-', '+' or the end"},
        BadCase{"9.8.7-whatever+meta+meta", "expected '-', '+' or the end"},
        BadCase{"99999999999999999999999.999999999999999999.99999999999999999",
                "major is larger than 9007199254740991"},
        BadCase{"9007199254740992.0.0", "major is larger than"},
        BadCase{"v1.2.3", "expected a number for major, found 'v'"}, BadCase{" 1.2.3", "found ' '"},
        BadCase{"", "found an empty string"}, BadCase{"1.2.3\n", "found byte 0x0a"}));

TEST(ReleaseVersionTest, AcceptsMajorMinorPatch) {
  for (const char* ok : {"0.0.0", "1.2.3", "10.20.30", "2147483647.0.1"}) {
    auto v = ParseReleaseVersion(ok);
    ASSERT_TRUE(v.ok()) << ok << ": " << v.status().ToString();
    EXPECT_EQ(v->ToString(), ok);
  }
  auto v = ParseReleaseVersion("1.30.5");
  EXPECT_EQ(v->major, 1u);
  EXPECT_EQ(v->minor, 30u);
  EXPECT_EQ(v->patch, 5u);
}

class InvalidReleaseVersionTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(InvalidReleaseVersionTest, RejectsWithReadableReason) {
  auto v = ParseReleaseVersion(GetParam().input);
  ASSERT_FALSE(v.ok()) << GetParam().input;
  EXPECT_NE(v.status().message().find(GetParam().message), std::string::npos)
      << v.status().message();
}

INSTANTIATE_TEST_SUITE_P(
    Strict, InvalidReleaseVersionTest,
    ::testing::Values(
        BadCase{"1.2", "position 3: expected '.' and a patch version (MAJOR.MINOR.PATCH)"},
        BadCase{"1", "expected '.' and a minor version"},
        BadCase{"v1.2.3", "position 0: a 'v' prefix is not allowed"},
        BadCase{"V1.2.3", "a 'v' prefix is not allowed"},
        BadCase{"1.2.3-rc1", "position 5: a prerelease suffix is not allowed"},
        BadCase{"1.2.3+build.5", "build metadata is not allowed"},
        BadCase{"01.2.3", "leading zero in major"}, BadCase{"1.02.3", "leading zero in minor"},
        BadCase{"1.2.03", "leading zero in patch"}, BadCase{"1..3", "expected a number for minor"},
        BadCase{"1.2.3 ", "expected the end of the version"},
        BadCase{"1.2.3.4", "expected the end of the version"}, BadCase{"", "found an empty string"},
        BadCase{"a.b.c", "expected a number for major"},
        BadCase{"-1.2.3", "expected a number for major"}));

TEST(VersionOrderTest, FollowsSemverPrecedence) {
  // semver.org §11's example chain, then numeric ordering of components.
  std::vector<std::string> ordered = {
      "0.0.1",      "0.1.0",        "1.0.0-0",       "1.0.0-2",
      "1.0.0-10",   "1.0.0-alpha",  "1.0.0-alpha.1", "1.0.0-alpha.beta",
      "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1",
      "1.0.0",      "1.0.1",        "1.2.0",         "1.10.0",
      "2.0.0",      "2.1.0",        "2.1.1",         "10.0.0"};
  std::vector<Version> versions;
  for (const auto& s : ordered) versions.push_back(MustParse(s));
  std::vector<Version> shuffled = versions;
  std::mt19937 rng(42);
  std::shuffle(shuffled.begin(), shuffled.end(), rng);
  std::sort(shuffled.begin(), shuffled.end());
  for (size_t i = 0; i < ordered.size(); ++i) EXPECT_EQ(shuffled[i].ToString(), ordered[i]);
  for (size_t i = 0; i + 1 < versions.size(); ++i) {
    EXPECT_LT(Compare(versions[i], versions[i + 1]), 0) << ordered[i] << " < " << ordered[i + 1];
    EXPECT_GT(Compare(versions[i + 1], versions[i]), 0);
    EXPECT_TRUE(versions[i] < versions[i + 1]);
  }
}

TEST(VersionOrderTest, IgnoresBuildMetadataAndComparesHugeNumericIdentifiers) {
  EXPECT_EQ(Compare(MustParse("1.0.0+a"), MustParse("1.0.0+b")), 0);
  EXPECT_TRUE(MustParse("1.0.0+a") == MustParse("1.0.0"));
  EXPECT_LT(
      Compare(MustParse("1.0.0-99999999999999999999"), MustParse("1.0.0-100000000000000000000")),
      0);
  EXPECT_LT(Compare(MustParse("1.0.0-99999999999999999999"), MustParse("1.0.0-a")), 0);
}

// --- ranges -------------------------------------------------------------------------------

struct DesugarCase {
  const char* range;
  const char* desugared;
};

void PrintTo(const DesugarCase& c, std::ostream* os) { *os << '"' << c.range << '"'; }

class RangeDesugarTest : public ::testing::TestWithParam<DesugarCase> {};

TEST_P(RangeDesugarTest, MatchesNodeSemver) {
  auto r = ParseRange(GetParam().range);
  ASSERT_TRUE(r.ok()) << GetParam().range << ": " << r.status().ToString();
  EXPECT_EQ(r->ToString(), GetParam().desugared) << GetParam().range;
  // The desugared form is itself a range with the same meaning.
  auto again = ParseRange(r->ToString());
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->ToString(), r->ToString());
}

// Every ":=" of the node-semver README's "Advanced Range Syntax", in node-semver 7's
// form (exclusive upper bounds carry "-0"), plus primitive operators with partials.
INSTANTIATE_TEST_SUITE_P(
    NodeSemverReadme, RangeDesugarTest,
    ::testing::Values(
        // Hyphen ranges.
        DesugarCase{"1.2.3 - 2.3.4", ">=1.2.3 <=2.3.4"},
        DesugarCase{"1.2 - 2.3.4", ">=1.2.0 <=2.3.4"},
        DesugarCase{"1.2.3 - 2.3", ">=1.2.3 <2.4.0-0"},
        DesugarCase{"1.2.3 - 2", ">=1.2.3 <3.0.0-0"},
        DesugarCase{"1.2.3-beta.1 - 2.0.0-rc.1", ">=1.2.3-beta.1 <=2.0.0-rc.1"},
        DesugarCase{"* - 2", "<3.0.0-0"}, DesugarCase{"1.0.0 - *", ">=1.0.0"},
        // X-ranges.
        DesugarCase{"*", ">=0.0.0"}, DesugarCase{"x", ">=0.0.0"}, DesugarCase{"X", ">=0.0.0"},
        DesugarCase{"1.x", ">=1.0.0 <2.0.0-0"}, DesugarCase{"1.2.x", ">=1.2.0 <1.3.0-0"},
        DesugarCase{"1.2.*", ">=1.2.0 <1.3.0-0"}, DesugarCase{"1.X", ">=1.0.0 <2.0.0-0"},
        DesugarCase{"2.x.x", ">=2.0.0 <3.0.0-0"}, DesugarCase{"", ">=0.0.0"},
        DesugarCase{"1", ">=1.0.0 <2.0.0-0"}, DesugarCase{"1.2", ">=1.2.0 <1.3.0-0"},
        // Tilde ranges.
        DesugarCase{"~1.2.3", ">=1.2.3 <1.3.0-0"}, DesugarCase{"~1.2", ">=1.2.0 <1.3.0-0"},
        DesugarCase{"~1", ">=1.0.0 <2.0.0-0"}, DesugarCase{"~0.2.3", ">=0.2.3 <0.3.0-0"},
        DesugarCase{"~0.2", ">=0.2.0 <0.3.0-0"}, DesugarCase{"~0", ">=0.0.0 <1.0.0-0"},
        DesugarCase{"~1.2.3-beta.2", ">=1.2.3-beta.2 <1.3.0-0"},
        DesugarCase{"~>3.2.1", ">=3.2.1 <3.3.0-0"}, DesugarCase{"~> 1", ">=1.0.0 <2.0.0-0"},
        DesugarCase{"~*", ">=0.0.0"},
        // Caret ranges.
        DesugarCase{"^1.2.3", ">=1.2.3 <2.0.0-0"}, DesugarCase{"^0.2.3", ">=0.2.3 <0.3.0-0"},
        DesugarCase{"^0.0.3", ">=0.0.3 <0.0.4-0"},
        DesugarCase{"^1.2.3-beta.2", ">=1.2.3-beta.2 <2.0.0-0"},
        DesugarCase{"^0.0.3-beta", ">=0.0.3-beta <0.0.4-0"},
        DesugarCase{"^1.2.x", ">=1.2.0 <2.0.0-0"}, DesugarCase{"^0.0.x", ">=0.0.0 <0.1.0-0"},
        DesugarCase{"^0.0", ">=0.0.0 <0.1.0-0"}, DesugarCase{"^1.x", ">=1.0.0 <2.0.0-0"},
        DesugarCase{"^0.x", ">=0.0.0 <1.0.0-0"}, DesugarCase{"^0.1", ">=0.1.0 <0.2.0-0"},
        DesugarCase{"^1.2", ">=1.2.0 <2.0.0-0"}, DesugarCase{"^*", ">=0.0.0"},
        // Primitive comparators, partials, whitespace and unions.
        DesugarCase{">=1.2.7 <1.3.0", ">=1.2.7 <1.3.0"},
        DesugarCase{"1.2.7 || >=1.2.9 <2.0.0", "1.2.7||>=1.2.9 <2.0.0"},
        DesugarCase{"=1.2.3", "1.2.3"}, DesugarCase{"v1.2.3", "1.2.3"},
        DesugarCase{"1.2.3+build.7", "1.2.3"}, DesugarCase{">= 1.0.0", ">=1.0.0"},
        DesugarCase{">   1.0.0", ">1.0.0"}, DesugarCase{"<=   2.0.0", "<=2.0.0"},
        DesugarCase{">1", ">=2.0.0"}, DesugarCase{">1.2", ">=1.3.0"},
        DesugarCase{"<=1.2", "<1.3.0-0"}, DesugarCase{"<=1", "<2.0.0-0"},
        DesugarCase{"<1.2", "<1.2.0-0"}, DesugarCase{"<1", "<1.0.0-0"},
        DesugarCase{">=1.2", ">=1.2.0"}, DesugarCase{"=1.2.x", ">=1.2.0 <1.3.0-0"},
        DesugarCase{">*", "<0.0.0-0"}, DesugarCase{"<*", "<0.0.0-0"}, DesugarCase{"<=*", ">=0.0.0"},
        DesugarCase{"0.1.20 || 1.2.4", "0.1.20||1.2.4"},
        DesugarCase{"  >=0.2.3   ||   <0.0.1  ", ">=0.2.3||<0.0.1"},
        DesugarCase{"1.2.x || 2.x", ">=1.2.0 <1.3.0-0||>=2.0.0 <3.0.0-0"},
        DesugarCase{">=1.3.0\t<2.0.0", ">=1.3.0 <2.0.0"}));

struct MatchCase {
  const char* range;
  const char* version;
  bool matches;
};

void PrintTo(const MatchCase& c, std::ostream* os) {
  *os << '"' << c.version << "\" in \"" << c.range << '"';
}

class RangeMatchTest : public ::testing::TestWithParam<MatchCase> {};

TEST_P(RangeMatchTest, Satisfies) {
  auto r = ParseRange(GetParam().range);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->Satisfies(MustParse(GetParam().version)), GetParam().matches)
      << GetParam().version << (GetParam().matches ? " should satisfy " : " should not satisfy ")
      << GetParam().range << " (" << r->ToString() << ")";
}

INSTANTIATE_TEST_SUITE_P(
    NodeSemverReadme, RangeMatchTest,
    ::testing::Values(
        // README: ">=1.2.7" and ">=1.2.7 <1.3.0".
        MatchCase{">=1.2.7", "1.2.7", true}, MatchCase{">=1.2.7", "1.2.8", true},
        MatchCase{">=1.2.7", "2.5.3", true}, MatchCase{">=1.2.7", "1.3.9", true},
        MatchCase{">=1.2.7", "1.2.6", false}, MatchCase{">=1.2.7", "1.1.0", false},
        MatchCase{">=1.2.7 <1.3.0", "1.2.99", true}, MatchCase{">=1.2.7 <1.3.0", "1.3.0", false},
        MatchCase{">=1.2.7 <1.3.0", "1.2.6", false},
        // README: "1.2.7 || >=1.2.9 <2.0.0".
        MatchCase{"1.2.7 || >=1.2.9 <2.0.0", "1.2.7", true},
        MatchCase{"1.2.7 || >=1.2.9 <2.0.0", "1.2.9", true},
        MatchCase{"1.2.7 || >=1.2.9 <2.0.0", "1.4.6", true},
        MatchCase{"1.2.7 || >=1.2.9 <2.0.0", "1.2.8", false},
        MatchCase{"1.2.7 || >=1.2.9 <2.0.0", "2.0.0", false},
        // README: prerelease tags.
        MatchCase{">1.2.3-alpha.3", "1.2.3-alpha.7", true},
        MatchCase{">1.2.3-alpha.3", "3.4.5-alpha.9", false},
        MatchCase{">1.2.3-alpha.3", "3.4.5", true},
        MatchCase{">1.2.3-alpha.3", "1.2.3-alpha.2", false},
        MatchCase{">=1.2.3", "1.2.3-beta", false}, MatchCase{">=1.2.3", "2.3.0-beta", false},
        MatchCase{"<1.2.3", "1.2.3-beta", false}, MatchCase{"*", "1.0.0-beta", false},
        MatchCase{"~1.2.3-beta.2", "1.2.3-beta.4", true},
        MatchCase{"~1.2.3-beta.2", "1.2.4-beta.2", false},
        MatchCase{"~1.2.3-beta.2", "1.2.3-beta.1", false},
        MatchCase{"^1.2.3-beta.2", "1.2.3-beta.4", true},
        MatchCase{"^1.2.3-beta.2", "1.2.4-beta.2", false},
        MatchCase{"^1.2.3-beta.2", "1.9.0", true}, MatchCase{"^0.0.3-beta", "0.0.3-pr.2", true},
        MatchCase{"^0.0.3-beta", "0.0.3-alpha", false},
        MatchCase{"^0.0.3-beta", "0.0.4-beta", false},
        // README: the opening example and the "-0" upper bounds.
        MatchCase{"1.x || >=2.5.0 || 5.0.0 - 7.2.3", "1.2.3", true},
        MatchCase{"1.x || >=2.5.0 || 5.0.0 - 7.2.3", "2.4.9", false},
        MatchCase{"^1.2.3", "2.0.0-alpha", false}, MatchCase{"~1.2", "1.3.0-0", false},
        MatchCase{"<2.0.0", "2.0.0-rc.1", false},
        // Caret, tilde, X and hyphen boundaries.
        MatchCase{"^1.2.3", "1.2.3", true}, MatchCase{"^1.2.3", "1.99.99", true},
        MatchCase{"^1.2.3", "2.0.0", false}, MatchCase{"^1.2.3", "1.2.2", false},
        MatchCase{"^0.2.3", "0.2.9", true}, MatchCase{"^0.2.3", "0.3.0", false},
        MatchCase{"^0.0.3", "0.0.3", true}, MatchCase{"^0.0.3", "0.0.4", false},
        MatchCase{"^0.0", "0.0.9", true}, MatchCase{"^0.0", "0.1.0", false},
        MatchCase{"^0.x", "0.9.9", true}, MatchCase{"^0.x", "1.0.0", false},
        MatchCase{"~1.2.3", "1.2.9", true}, MatchCase{"~1.2.3", "1.3.0", false},
        MatchCase{"~1", "1.9.0", true}, MatchCase{"~1", "2.0.0", false},
        MatchCase{"1.2.x", "1.2.0", true}, MatchCase{"1.2.x", "1.3.0", false},
        MatchCase{"*", "0.0.0", true}, MatchCase{"", "42.0.0", true},
        MatchCase{"1.2.3 - 2.3.4", "2.3.4", true}, MatchCase{"1.2.3 - 2.3.4", "2.3.5", false},
        MatchCase{"1.2.3 - 2.3", "2.3.99", true}, MatchCase{"1.2.3 - 2.3", "2.4.0", false},
        MatchCase{"1.2.3 - 2", "2.99.0", true}, MatchCase{"1.2.3 - 2", "3.0.0", false},
        MatchCase{"1.2 - 2.3.4", "1.2.0", true}, MatchCase{"1.2 - 2.3.4", "1.1.9", false},
        MatchCase{">1", "1.9.9", false}, MatchCase{">1", "2.0.0", true},
        MatchCase{"<=1.2", "1.2.9", true}, MatchCase{"<=1.2", "1.3.0", false},
        MatchCase{">*", "0.0.0", false}, MatchCase{"1.2.3+b1", "1.2.3+b2", true},
        MatchCase{">=1.3.0 <2.0.0", "1.3.0", true}, MatchCase{">=1.3.0 <2.0.0", "2.0.0", false}));

class InvalidRangeTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(InvalidRangeTest, RejectsWithPositionAndExpectation) {
  auto r = ParseRange(GetParam().input);
  ASSERT_FALSE(r.ok()) << GetParam().input << " parsed as " << r->ToString();
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find(GetParam().message), std::string::npos)
      << r.status().message();
}

INSTANTIATE_TEST_SUITE_P(
    Malformed, InvalidRangeTest,
    ::testing::Values(
        BadCase{">=1.2.3 <2.0.0-", "position 15: expected a prerelease identifier"},
        BadCase{">=", "position 2: expected a version after the operator, found end of input"},
        BadCase{">= || 1.0.0", "expected a version after the operator"},
        BadCase{"1.2.3 |", "position 6: expected '||' (a single '|' is not an operator)"},
        BadCase{"1.2.3 || ", "position 8: expected a comparator set on this side of '||'"},
        BadCase{"|| 1.2.3", "position 0: expected a comparator set on this side of '||'"},
        BadCase{"1.2.3 || || 2.0.0", "expected a comparator set"},
        BadCase{"01.2.3", "position 0: leading zero in major"},
        BadCase{"1.02", "position 2: leading zero in minor"},
        BadCase{"1.x.3", "position 4: a number cannot follow a wildcard"},
        BadCase{"1.x-beta", "position 3: a prerelease or build suffix needs a full"},
        BadCase{"1.2-rc.1", "a prerelease or build suffix needs a full"},
        BadCase{"1.2.3.4", "position 5: too many components"},
        BadCase{"1.2.3 - 2.0.0 <1.5.0", "must be the only item of its comparator set"},
        BadCase{">1.0.0 1.2.3 - 2.0.0", "must be the only item of its comparator set"},
        BadCase{"1.2.3 -", "position 7: expected a version after ' - '"},
        BadCase{"1.2.3 -2", "position 6: expected a number or a wildcard"},
        BadCase{"abc", "position 0: expected a number or a wildcard ('x', 'X', '*') for major"},
        BadCase{">=1.2.3<2.0.0", "position 7: expected whitespace, '||' or the end"},
        BadCase{">>1.2.3", "two operators in a row"}, BadCase{"^~1.2.3", "two operators in a row"},
        BadCase{"1.2.3 && 2.0.0", "expected a number or a wildcard"},
        BadCase{"~1.2.3-", "expected a prerelease identifier"},
        BadCase{"^1.2.3-01", "leading zero in numeric prerelease identifier"},
        BadCase{"1.2.99999999999999999", "patch is larger than 9007199254740991"},
        // Bounds past the largest number (node-semver refuses these too; found by semver_fuzz).
        BadCase{"3 || 9007199254740991",
                "position 5: its upper bound would be a version with a number larger than "
                "9007199254740991"},
        BadCase{"~1.9007199254740991", "its upper bound would be a version"},
        BadCase{"^9007199254740991.1.2", "its upper bound would be a version"},
        BadCase{"^0.0.9007199254740991", "its upper bound would be a version"},
        BadCase{">9007199254740991", "its upper bound would be a version"},
        BadCase{"1 - 9007199254740991.x", "its upper bound would be a version"},
        BadCase{"1.2.3\x01", "found byte 0x01"}));

TEST(RangeTest, TheLargestNumbersStillWorkWhereNoBoundPassesThem) {
  for (const char* text :
       {"9007199254740991.9007199254740991.9007199254740991", ">=9007199254740991",
        "<=9007199254740991.0.0", "1 - 9007199254740991.0.0", "^0.9007199254740990"}) {
    auto r = ParseRange(text);
    ASSERT_TRUE(r.ok()) << text << ": " << r.status().ToString();
    auto again = ParseRange(r->ToString());
    EXPECT_TRUE(again.ok()) << text << " -> " << r->ToString();
  }
}

TEST(MaxSatisfyingTest, PicksTheHighestMatchingVersion) {
  std::vector<Version> versions;
  for (const char* s : {"1.2.0", "1.3.0", "1.10.2", "2.0.0", "1.11.0-rc.1", "0.9.0"}) {
    versions.push_back(MustParse(s));
  }
  auto pick = [&](const char* range) -> std::string {
    auto r = ParseRange(range);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    auto best = MaxSatisfying(versions, *r);
    return best ? best->ToString() : "none";
  };
  EXPECT_EQ(pick(">=1.3.0 <2.0.0"), "1.10.2");
  EXPECT_EQ(pick("^1"), "1.10.2");
  EXPECT_EQ(pick("~1.2"), "1.2.0");
  EXPECT_EQ(pick("*"), "2.0.0");
  EXPECT_EQ(pick(">=1.11.0-rc.0 <2.0.0"), "1.11.0-rc.1");
  EXPECT_EQ(pick("^3"), "none");
  EXPECT_EQ(pick("<1"), "0.9.0");
  EXPECT_FALSE(MaxSatisfying({}, Range()).has_value());
}

TEST(RangeTest, DefaultRangeIsStar) {
  Range r;
  EXPECT_EQ(r.ToString(), ">=0.0.0");
  EXPECT_TRUE(r.Satisfies(MustParse("3.1.4")));
  EXPECT_FALSE(r.Satisfies(MustParse("3.1.4-rc.1")));
}

TEST(RangeTest, ErrorQuotesAndBoundsHostileInput) {
  std::string long_input(5000, '1');
  long_input += "\"x";
  auto r = ParseRange(long_input);
  ASSERT_FALSE(r.ok());
  EXPECT_LT(r.status().message().size(), 400u) << r.status().message();
  EXPECT_NE(r.status().message().find("..."), std::string::npos);
}

}  // namespace
}  // namespace vmrelease::api

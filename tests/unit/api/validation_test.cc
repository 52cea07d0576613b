// Semantic validation: every example is valid, every problem is reported with
// its field, each CEL rule of the CRDs is mirrored (same message, exercised by a
// corpus case), and the semantic half of tests/testdata/invalid is rejected.
#include "controller/api/validation.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <set>
#include <sstream>

#include "controller/api/manifest.h"
#include "controller/api/regions.h"
#include "tests/unit/api/api_test_util.h"

namespace vmrelease::api {
namespace {

using testing::CorpusCase;
using testing::CorpusFiles;
using testing::CrdFiles;
using testing::ExampleFiles;
using testing::LoadCorpusCase;
using testing::TestName;

std::string Join(const FieldErrors& errors) {
  std::string out;
  for (const auto& e : errors) out += "\n  " + e.ToString();
  return out.empty() ? " (none)" : out;
}

bool HasError(const FieldErrors& errors, const std::string& text) {
  for (const auto& e : errors) {
    if (e.ToString().find(text) != std::string::npos) return true;
  }
  return false;
}

FieldErrors ValidateDoc(const Json& doc) {
  if (doc.value("kind", "") == kEnvironmentPinKind) {
    auto pin = ParseEnvironmentPin(doc);
    EXPECT_TRUE(pin.ok()) << pin.status().ToString();
    return pin.ok() ? Validate(*pin) : FieldErrors{};
  }
  auto release = ParseImageRelease(doc);
  EXPECT_TRUE(release.ok()) << release.status().ToString();
  return release.ok() ? Validate(*release) : FieldErrors{};
}

FieldErrors ValidateUpdateDocs(const Json& old_doc, const Json& new_doc) {
  if (old_doc.value("kind", "") == kEnvironmentPinKind) {
    auto a = ParseEnvironmentPin(old_doc);
    auto b = ParseEnvironmentPin(new_doc);
    EXPECT_TRUE(a.ok() && b.ok());
    return a.ok() && b.ok() ? ValidateUpdate(*a, *b) : FieldErrors{};
  }
  auto a = ParseImageRelease(old_doc);
  auto b = ParseImageRelease(new_doc);
  EXPECT_TRUE(a.ok() && b.ok());
  return a.ok() && b.ok() ? ValidateUpdate(*a, *b) : FieldErrors{};
}

// --- examples ------------------------------------------------------------------------------

class ExampleValidationTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ExampleValidationTest, IsValidAsWrittenAndAfterDefaulting) {
  auto docs = LoadManifestFile(GetParam());
  ASSERT_TRUE(docs.ok()) << docs.status().ToString();
  for (const Json& doc : *docs) {
    FieldErrors errors = ValidateDoc(doc);
    EXPECT_TRUE(errors.empty()) << Join(errors);
    // Applying it again (kubectl apply twice) is an update that changes nothing.
    errors = ValidateUpdateDocs(doc, doc);
    EXPECT_TRUE(errors.empty()) << Join(errors);
    if (doc["kind"] == kImageReleaseKind) {
      auto r = ParseImageRelease(doc);
      SetDefaults(*r);
      errors = Validate(*r);
      EXPECT_TRUE(errors.empty()) << Join(errors);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Examples, ExampleValidationTest, ::testing::ValuesIn(ExampleFiles()),
                         [](const auto& info) { return TestName(info.param); });

// --- targeted cases ------------------------------------------------------------------------

ImageRelease BaseRelease() {
  auto docs = LoadManifestFile(vmrelease::testing::SourceDir() +
                               "/deploy/examples/release-job-packer.yaml");
  EXPECT_TRUE(docs.ok());
  auto r = ParseImageRelease((*docs)[0]);
  EXPECT_TRUE(r.ok());
  return *r;
}

struct MutationCase {
  const char* name;
  std::function<void(ImageRelease&)> mutate;
  const char* error;  // expected FieldError::ToString()
};

class ReleaseMutationTest : public ::testing::TestWithParam<MutationCase> {};

TEST_P(ReleaseMutationTest, ReportsTheFieldAndWhy) {
  ImageRelease r = BaseRelease();
  ASSERT_TRUE(Validate(r).empty());
  GetParam().mutate(r);
  FieldErrors errors = Validate(r);
  ASSERT_EQ(errors.size(), 1u) << Join(errors);
  EXPECT_EQ(errors[0].ToString(), GetParam().error);
}

INSTANTIATE_TEST_SUITE_P(
    Release, ReleaseMutationTest,
    ::testing::Values(
        MutationCase{"RegionDisplayName",
                     [](ImageRelease& r) { r.spec.validation.vm->location = "West Europe"; },
                     "spec.validation.vm.location: unknown Azure region \"West Europe\"; did you "
                     "mean \"westeurope\"?"},
        MutationCase{"RegionNowhere",
                     [](ImageRelease& r) { r.spec.publish.gallery->target_regions[1].name = "x"; },
                     "spec.publish.gallery.targetRegions[1].name: unknown Azure region \"x\"; use "
                     "a region's programmatic name, e.g. westeurope"},
        MutationCase{"VersionNotStrict", [](ImageRelease& r) { r.spec.version = "1.3"; },
                     "spec.version: invalid release version \"1.3\": position 3: expected '.' "
                     "and a patch version (MAJOR.MINOR.PATCH), found end of input"},
        MutationCase{"VersionPrerelease", [](ImageRelease& r) { r.spec.version = "1.3.0-rc.1"; },
                     "spec.version: invalid release version \"1.3.0-rc.1\": position 5: a "
                     "prerelease suffix is not allowed in a release version (Azure Compute "
                     "Gallery versions are MAJOR.MINOR.PATCH)"},
        MutationCase{"ImageNotALabel", [](ImageRelease& r) { r.spec.image = "SQL"; },
                     "spec.image: \"SQL\" must be a DNS-1123 label: at most 63 lowercase letters, "
                     "digits and '-', starting and ending with a letter or digit"},
        MutationCase{"MissingImage", [](ImageRelease& r) { r.spec.image.clear(); },
                     "spec.image: Required value"},
        MutationCase{"ChangelogKind", [](ImageRelease& r) { r.spec.changelog[1].kind.reset(); },
                     "spec.changelog[1].kind: Required value"},
        MutationCase{"RestartAlways",
                     [](ImageRelease& r) {
                       r.spec.build.job->pod_template["spec"]["restartPolicy"] = "Always";
                     },
                     "spec.build.job.template.spec.restartPolicy: supported values: \"Never\", "
                     "\"OnFailure\" (a Job's Pod cannot restart Always)"},
        MutationCase{"ContainerWithoutImage",
                     [](ImageRelease& r) {
                       r.spec.build.job->pod_template["spec"]["containers"][0].erase("image");
                     },
                     "spec.build.job.template.spec.containers[0].image: Required value"},
        MutationCase{"NoContainers",
                     [](ImageRelease& r) {
                       r.spec.build.job->pod_template["spec"]["containers"] = Json::array();
                     },
                     "spec.build.job.template.spec.containers: at least one container is "
                     "required"},
        MutationCase{"NoTemplate", [](ImageRelease& r) { r.spec.build.job->pod_template = {}; },
                     "spec.build.job.template: Required value"},
        MutationCase{
            "OutputRegex",
            [](ImageRelease& r) { r.spec.validation.checks[0].expect->output_matches = "[0-9"; },
            "spec.validation.checks[0].expect.outputMatches: invalid regular expression "
            "\"[0-9\": Unexpected character within '[...]' in regular expression"},
        MutationCase{"CheckName",
                     [](ImageRelease& r) { r.spec.validation.checks[2].name = "Backup Job"; },
                     "spec.validation.checks[2].name: \"Backup Job\" must be a DNS-1123 label: at "
                     "most 63 lowercase letters, digits and '-', starting and ending with a letter "
                     "or digit"},
        MutationCase{"TimeoutNotADuration",
                     [](ImageRelease& r) { r.spec.validation.checks[0].timeout = "five minutes"; },
                     "spec.validation.checks[0].timeout: \"five minutes\" is not a duration: use a "
                     "number and a unit (h, m, s, ms), e.g. 90m or 1h30m"},
        MutationCase{"SignedDuration", [](ImageRelease& r) { r.spec.build.timeout = "+2h"; },
                     "spec.build.timeout: \"+2h\" is not a duration: use a number and a unit (h, "
                     "m, s, ms), e.g. 90m or 1h30m"},
        MutationCase{"NegativeDuration", [](ImageRelease& r) { r.spec.build.timeout = "-2h"; },
                     "spec.build.timeout: \"-2h\" is not a duration: use a number and a unit (h, "
                     "m, s, ms), e.g. 90m or 1h30m"},
        MutationCase{"SasInAccountUrlIsNotEchoed",
                     [](ImageRelease& r) {
                       r.spec.publish.blob->account_url =
                           "https://corpimages.blob.core.windows.net/?sv=2024&sig=c2VjcmV0";
                     },
                     "spec.publish.blob.accountUrl: must not contain a query string: a SAS token "
                     "belongs in publish.credentials, never in the spec"},
        MutationCase{"AccountUrlNotAUrl",
                     [](ImageRelease& r) { r.spec.publish.blob->account_url = "corpimages"; },
                     "spec.publish.blob.accountUrl: must be an http(s) URL such as "
                     "https://acct.blob.core.windows.net"},
        MutationCase{"AzuriteIsFine",
                     [](ImageRelease& r) {
                       r.spec.publish.blob->account_url = "http://127.0.0.1:10000/devstoreaccount1";
                       r.spec.image = "";
                     },
                     "spec.image: Required value"},
        MutationCase{"ContainerName",
                     [](ImageRelease& r) { r.spec.publish.blob->container = "a--b"; },
                     "spec.publish.blob.container: \"a--b\" is not a container name (3-63 "
                     "lowercase letters, digits and single hyphens)"},
        MutationCase{
            "Replicas",
            [](ImageRelease& r) { r.spec.publish.gallery->target_regions[0].replicas = 101; },
            "spec.publish.gallery.targetRegions[0].replicas: must be between 1 and 100"},
        MutationCase{
            "GalleryName", [](ImageRelease& r) { r.spec.publish.gallery->gallery = "corp-images"; },
            "spec.publish.gallery.gallery: \"corp-images\" is not a gallery name (letters, "
            "digits, '_' and '.')"},
        MutationCase{
            "SecretName",
            [](ImageRelease& r) { r.spec.publish.credentials->secret_ref->name = "Azure"; },
            "spec.publish.credentials.secretRef.name: \"Azure\" must be a DNS-1123 "
            "subdomain: at most 253 lowercase letters, digits, '-' and '.', starting and "
            "ending with a letter or digit"},
        MutationCase{"RetentionTooLong",
                     [](ImageRelease& r) { r.spec.retention->minimum_days = 5000; },
                     "spec.retention.minimumDays: must be between 0 and 3650"},
        MutationCase{"RevocationReason", [](ImageRelease& r) { r.spec.revocation = Revocation{}; },
                     "spec.revocation.reason: Required value"},
        MutationCase{"VmOsType", [](ImageRelease& r) { r.spec.validation.vm->os_type.reset(); },
                     "spec.validation.vm.osType: Required value"},
        MutationCase{
            "GalleryVersionSource",
            [](ImageRelease& r) {
              r.spec.source = ReleaseSource{.gallery_image_version_id = "/subscriptions/x"};
            },
            "spec.source.galleryImageVersionId: \"/subscriptions/x\" is not a gallery "
            "image version resource id (/subscriptions/.../galleries/G/images/D/versions/V)"},
        MutationCase{"LocalCommandEmpty",
                     [](ImageRelease& r) {
                       r.spec.build.job.reset();
                       r.spec.build.local = LocalCommand{};
                     },
                     "spec.build.local.command: the program to run is required"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(ValidationTest, ReportsEveryProblemOfAnEmptyRelease) {
  FieldErrors errors = Validate(ImageRelease{});
  std::vector<std::string> expected = {
      "spec.image: Required value",
      "spec.version: Required value",
      "spec.source: exactly one of platformImage, galleryImageVersionId, release must be set",
      "spec.build: exactly one of job, imageBuilder, local must be set",
      "spec.validation: exactly one of vm, job, local must be set",
      "spec.validation.checks: at least one check is required",
      "spec.publish: at least one of gallery, blob must be set",
  };
  ASSERT_EQ(errors.size(), expected.size()) << Join(errors);
  for (size_t i = 0; i < expected.size(); ++i) EXPECT_EQ(errors[i].ToString(), expected[i]);
  EXPECT_EQ(errors[0].type, FieldError::Type::kRequired);
  EXPECT_EQ(errors[2].type, FieldError::Type::kInvalid);
}

TEST(ValidationTest, ReportsEveryProblemOfAnEmptyPin) {
  FieldErrors errors = Validate(EnvironmentPin{});
  ASSERT_EQ(errors.size(), 3u) << Join(errors);
  EXPECT_EQ(errors[0].ToString(), "spec.environment: Required value");
  EXPECT_EQ(errors[1].ToString(), "spec.image: Required value");
  EXPECT_EQ(errors[2].ToString(), "spec: exactly one of version, track must be set");
}

TEST(ValidationTest, ChecksEveryTrackRangeWithTheSemverParser) {
  EnvironmentPin pin;
  pin.spec.environment = "dev";
  pin.spec.image = "corpus";
  for (const char* ok : {"^1.3", ">=1.3.0 <2.0.0", "1.x || ^2", "~1.3.0", "1.3.0 - 1.5.0", "*"}) {
    pin.spec.track = VersionTrack{.semver = ok};
    EXPECT_TRUE(Validate(pin).empty()) << ok << Join(Validate(pin));
  }
  pin.spec.track = VersionTrack{.semver = "^01.3"};
  EXPECT_EQ(Join(Validate(pin)),
            "\n  spec.track.semver: invalid semver range \"^01.3\": position 1: leading zero in "
            "major (write 0 without leading zeros)");
}

TEST(ValidationUpdateTest, ComparesAfterDefaulting) {
  ImageRelease stored = BaseRelease();
  stored.spec.build.timeout.reset();
  ImageRelease applied = stored;
  SetDefaults(stored);  // what the API server stored: timeout 2h filled in
  EXPECT_TRUE(ValidateUpdate(stored, applied).empty()) << Join(ValidateUpdate(stored, applied));
  applied.spec.build.timeout = "2h";
  EXPECT_TRUE(ValidateUpdate(stored, applied).empty());
  applied.spec.build.timeout = "3h";
  EXPECT_EQ(Join(ValidateUpdate(stored, applied)),
            "\n  spec.build: build is immutable; a different build is a different version");
}

TEST(ValidationUpdateTest, RevocationAndChangelogMayChange) {
  ImageRelease before = BaseRelease();
  ImageRelease after = before;
  after.spec.revocation = Revocation{.reason = "CVE-2026-1234"};
  after.spec.changelog.push_back({.kind = ChangeKind::kOther, .summary = "typo fixed"});
  after.spec.publish.gallery->exclude_from_latest = true;
  EXPECT_TRUE(ValidateUpdate(before, after).empty()) << Join(ValidateUpdate(before, after));
  EXPECT_TRUE(ValidateUpdate(after, before).empty());
}

TEST(ValidationUpdateTest, EveryImmutableFieldAtOnce) {
  ImageRelease before = BaseRelease();
  ImageRelease after = before;
  after.spec.image = "other";
  after.spec.version = "9.9.9";
  after.spec.source.platform_image->offer = "sql2019-ws2019";
  after.spec.build.job->pod_template["spec"]["containers"][0]["image"] = "packer:2";
  FieldErrors errors = ValidateUpdate(before, after);
  std::vector<std::string> fields;
  for (const auto& e : errors) fields.push_back(e.field);
  EXPECT_EQ(fields,
            (std::vector<std::string>{"spec.image", "spec.version", "spec.source", "spec.build"}));
}

TEST(ValidationUpdateTest, PinVersionMayChangeButNotEnvironmentOrImage) {
  EnvironmentPin before{.spec = {.environment = "prod", .image = "sql", .version = "1.2.0"}};
  EnvironmentPin after = before;
  after.spec.version = "1.3.0";
  EXPECT_TRUE(ValidateUpdate(before, after).empty());
  after.spec.version.reset();
  after.spec.track = VersionTrack{.semver = "^1"};
  EXPECT_TRUE(ValidateUpdate(before, after).empty());
  after.spec.environment = "staging";
  after.spec.image = "sql2";
  EXPECT_EQ(Join(ValidateUpdate(before, after)),
            "\n  spec.environment: environment is immutable; create a pin for the other "
            "environment instead\n  spec.image: image is immutable; create a pin for the other "
            "image instead");
}

TEST(ValidationTest, ToStatusLooksLikeTheApiServer) {
  EXPECT_TRUE(ToStatus({}, "ImageRelease", "x").ok());
  Status one = ToStatus({{FieldError::Type::kRequired, "spec.image", "Required value"}},
                        "ImageRelease", "x");
  EXPECT_EQ(one.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(one.message(), "ImageRelease \"x\" is invalid: spec.image: Required value");
  Status two = ToStatus(Validate(EnvironmentPin{}), "EnvironmentPin", "p");
  EXPECT_EQ(two.message(),
            "EnvironmentPin \"p\" is invalid: [spec.environment: Required value, spec.image: "
            "Required value, spec: exactly one of version, track must be set]");
}

TEST(RegionsTest, KnowsRegionsAndSuggestsFixes) {
  EXPECT_TRUE(IsKnownAzureRegion("westeurope"));
  EXPECT_TRUE(IsKnownAzureRegion("swedencentral"));
  EXPECT_TRUE(IsKnownAzureRegion("usgovvirginia"));
  EXPECT_FALSE(IsKnownAzureRegion("WestEurope"));
  EXPECT_FALSE(IsKnownAzureRegion(""));
  EXPECT_EQ(SuggestAzureRegion("West Europe"), "westeurope");
  EXPECT_EQ(SuggestAzureRegion("westeurpoe"), "westeurope");
  EXPECT_EQ(SuggestAzureRegion("east-us-2"), "eastus2");
  EXPECT_EQ(SuggestAzureRegion("moonbase1"), "");
  EXPECT_TRUE(std::is_sorted(KnownAzureRegions().begin(), KnownAzureRegions().end()));
  EXPECT_GT(KnownAzureRegions().size(), 60u);
}

// --- the invalid corpus (semantic half) ----------------------------------------------------

class SemanticCorpusTest : public ::testing::TestWithParam<std::string> {};

TEST_P(SemanticCorpusTest, RejectedWithAMessageNamingTheField) {
  CorpusCase c = LoadCorpusCase(GetParam());
  ASSERT_TRUE(c.docs.size() == 1 || c.docs.size() == 2) << c.path;
  FieldErrors errors =
      c.docs.size() == 1 ? ValidateDoc(c.docs[0]) : ValidateUpdateDocs(c.docs[0], c.docs[1]);
  EXPECT_TRUE(HasError(errors, c.expect)) << "expected: " << c.expect << "\ngot:" << Join(errors);
  if (c.docs.size() == 2) {
    EXPECT_TRUE(ValidateDoc(c.docs[0]).empty()) << "the stored object itself must be valid";
    EXPECT_TRUE(ValidateDoc(c.docs[1]).empty()) << "only the transition may be invalid";
  }
}

INSTANTIATE_TEST_SUITE_P(Corpus, SemanticCorpusTest, ::testing::ValuesIn(CorpusFiles("semantic")),
                         [](const auto& info) { return TestName(info.param); });

// The corpus is exactly the cases listed in tests/testdata/invalid/cases.txt: a case
// deleted (or renamed) by mistake, or added without being listed, fails here, so the
// tests that iterate over the directory cannot silently shrink.
TEST(CorpusTest, IsExactlyTheListedCases) {
  std::istringstream in(vmrelease::testing::ReadFile(vmrelease::testing::SourceDir() +
                                                     "/tests/testdata/invalid/cases.txt"));
  std::multiset<std::string> listed;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && !line.starts_with("#")) listed.insert(line);
  }
  std::set<std::string> present;
  for (const auto& f : CorpusFiles()) present.insert(std::filesystem::path(f).filename().string());
  for (const auto& name : listed) {
    EXPECT_EQ(listed.count(name), 1u) << name << " is listed twice in cases.txt";
    EXPECT_TRUE(present.contains(name))
        << "tests/testdata/invalid/" << name << " is listed in cases.txt but does not exist";
  }
  for (const auto& name : present) {
    EXPECT_TRUE(listed.contains(name))
        << "tests/testdata/invalid/" << name << " exists but is not listed in cases.txt";
  }
  EXPECT_EQ(listed.size(), present.size());
}

// Every file says who rejects it and what the message contains; the apiserver half is
// checked against the local API server in tests/e2e/api.
TEST(CorpusTest, IsLargeAndCoversBothRejectors) {
  int semantic = 0, apiserver = 0;
  for (const auto& f : CorpusFiles()) {
    CorpusCase c = LoadCorpusCase(f);
    EXPECT_TRUE(c.rejected_by == "semantic" || c.rejected_by == "apiserver") << f;
    EXPECT_FALSE(c.expect.empty()) << f << " has no '# expect:' line";
    EXPECT_TRUE(c.docs.size() == 1 || c.docs.size() == 2) << f;
    (c.rejected_by == "semantic" ? semantic : apiserver)++;
  }
  EXPECT_GE(semantic + apiserver, 40);
  EXPECT_GE(semantic, 15);
  EXPECT_GE(apiserver, 15);
}

// Every CEL rule of the CRDs has a semantic corpus case expecting its exact message,
// so the C++ mirror of each rule is exercised.
TEST(CelMirrorTest, EveryCelMessageIsExpectedBySomeSemanticCase) {
  std::set<std::string> expectations;
  for (const auto& f : CorpusFiles()) {
    CorpusCase c = LoadCorpusCase(f);
    if (c.rejected_by == "semantic") expectations.insert(c.expect);
  }
  std::vector<std::string> messages;
  std::function<void(const Json&)> walk = [&](const Json& node) {
    if (node.is_object()) {
      if (auto it = node.find("x-kubernetes-validations"); it != node.end()) {
        for (const auto& rule : *it) messages.push_back(rule.at("message").get<std::string>());
      }
      for (const auto& [k, v] : node.items()) walk(v);
    } else if (node.is_array()) {
      for (const auto& v : node) walk(v);
    }
  };
  for (const auto& f : CrdFiles()) {
    auto docs = LoadManifestFile(f);
    ASSERT_TRUE(docs.ok()) << docs.status().ToString();
    for (const auto& d : *docs) walk(d);
  }
  EXPECT_GE(messages.size(), 19u);
  for (const auto& m : messages) {
    bool covered = std::any_of(expectations.begin(), expectations.end(), [&](const std::string& e) {
      return e.size() >= m.size() && e.compare(e.size() - m.size(), m.size(), m) == 0;
    });
    EXPECT_TRUE(covered) << "no semantic corpus case expects the CEL message: " << m;
  }
}

}  // namespace
}  // namespace vmrelease::api

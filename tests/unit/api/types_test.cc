// The C++ types of both kinds: parse -> serialise is lossless (every example,
// with and without unknown fields injected everywhere), parse errors name the
// field, defaults match the CRD, condition helpers behave like apimachinery's.
#include <gtest/gtest.h>

#include "controller/api/environment_pin.h"
#include "controller/api/image_release.h"
#include "controller/api/manifest.h"
#include "tests/unit/api/api_test_util.h"

namespace vmrelease::api {
namespace {

using testing::ExampleFiles;
using testing::RoundTrip;
using testing::TestName;
using testing::YamlFiles;
using namespace std::chrono_literals;

// Adds an unknown member to every object of `doc`, except inside maps whose values
// must be strings (labels, env, ...), where an object would be a type error.
void InjectUnknown(Json& j, int& counter, const std::string& key = "") {
  static const std::set<std::string> kStringMaps = {"labels", "annotations", "env", "tags"};
  if (j.is_object()) {
    for (auto& [k, v] : j.items()) InjectUnknown(v, counter, k);
    if (!kStringMaps.contains(key)) {
      j["zzUnknown" + std::to_string(counter++)] = {{"nested", {1, "two", nullptr}},
                                                    {"flag", true}};
    }
  } else if (j.is_array()) {
    for (auto& v : j) InjectUnknown(v, counter, "");
  }
}

std::vector<std::string> RoundTripFiles() {
  std::vector<std::string> files = ExampleFiles();
  for (const auto& f : YamlFiles("tests/testdata/api")) files.push_back(f);
  return files;
}

class RoundTripTest : public ::testing::TestWithParam<std::string> {};

TEST_P(RoundTripTest, SerialisesBackToEquivalentJson) {
  auto docs = LoadManifestFile(GetParam());
  ASSERT_TRUE(docs.ok()) << docs.status().ToString();
  ASSERT_FALSE(docs->empty());
  for (const Json& doc : *docs) {
    auto back = RoundTrip(doc);
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(*back, doc) << "diff: " << Json::diff(doc, *back).dump(2);
  }
}

TEST_P(RoundTripTest, KeepsUnknownFieldsAtEveryLevel) {
  auto docs = LoadManifestFile(GetParam());
  ASSERT_TRUE(docs.ok()) << docs.status().ToString();
  for (const Json& doc : *docs) {
    Json injected = doc;
    int counter = 0;
    InjectUnknown(injected, counter);
    ASSERT_GE(counter, 3);
    auto back = RoundTrip(injected);
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(*back, injected) << "diff: " << Json::diff(injected, *back).dump(2);
  }
}

INSTANTIATE_TEST_SUITE_P(ExamplesAndTestdata, RoundTripTest, ::testing::ValuesIn(RoundTripFiles()),
                         [](const auto& info) { return TestName(info.param); });

TEST(RoundTripTest, CoversEveryExampleAndBothStatusShapes) {
  EXPECT_GE(ExampleFiles().size(), 8u);
  EXPECT_EQ(YamlFiles("tests/testdata/api").size(), 2u);
}

TEST(TypesTest, ReadsTypedFields) {
  auto doc = ParseYamlDocument(vmrelease::testing::ReadFile(
      vmrelease::testing::SourceDir() + "/tests/testdata/api/release-with-status.yaml"));
  ASSERT_TRUE(doc.ok()) << doc.status().ToString();
  auto r = ParseImageRelease(*doc);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->metadata.name, "sql-server-baseline-1.2.0");
  EXPECT_EQ(r->spec.version, "1.2.0");
  ASSERT_TRUE(r->spec.source.platform_image);
  EXPECT_EQ(r->spec.source.platform_image->sku, "standard-gen2");
  ASSERT_EQ(r->spec.changelog.size(), 1u);
  EXPECT_EQ(r->spec.changelog[0].kind, ChangeKind::kSecurity);
  ASSERT_TRUE(r->status);
  EXPECT_EQ(r->status->phase, ReleasePhase::kReleased);
  EXPECT_TRUE(r->IsReleased());
  const Condition* ready = FindCondition(r->status->conditions, kConditionReady);
  ASSERT_NE(ready, nullptr);
  EXPECT_EQ(ready->status, ConditionStatus::kTrue);
  EXPECT_EQ(r->status->artifact->size_bytes, 136365212160);
  ASSERT_EQ(r->status->validation->results.size(), 2u);
  EXPECT_TRUE(r->status->validation->results[1].passed);
  EXPECT_DOUBLE_EQ(*r->status->validation->results[0].duration_seconds, 41.5);
  EXPECT_EQ(r->status->publish->regions[0].state, RegionState::kCompleted);
  EXPECT_EQ(r->spec.build.TimeoutOrDefault(), Duration(3h));
  EXPECT_EQ(r->spec.validation.TimeoutOrDefault(), Duration(1h));  // default
  EXPECT_EQ(r->spec.validation.checks[0].TimeoutOrDefault(), Duration(10min));
  EXPECT_EQ(r->spec.validation.checks[1].ExpectedExitCode(), 3);
  EXPECT_EQ(r->spec.DeletionPolicyOrDefault(), DeletionPolicy::kRetain);
  EXPECT_EQ(r->spec.MinimumRetentionDays(), 90);
  EXPECT_EQ(r->spec.publish.gallery->ImageVersionId(r->spec.version),
            "/subscriptions/3f2c8f7e-5b1a-4c3e-9d2f-7a6b5c4d3e2f/resourceGroups/rg-images/"
            "providers/Microsoft.Compute/galleries/corp_images/images/sql-server-baseline/"
            "versions/1.2.0");
  EXPECT_EQ(BlobTarget::BlobName(r->spec.image, r->spec.version), "sql-server-baseline/1.2.0.vhd");
}

TEST(TypesTest, ReadsPinStatus) {
  auto doc = ParseYamlDocument(vmrelease::testing::ReadFile(
      vmrelease::testing::SourceDir() + "/tests/testdata/api/pin-with-status.yaml"));
  ASSERT_TRUE(doc.ok()) << doc.status().ToString();
  auto p = ParseEnvironmentPin(*doc);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  ASSERT_TRUE(p->spec.promotion);
  EXPECT_EQ(p->spec.promotion->require_pinned_in[0].ForAtLeastOrDefault(), Duration(72h));
  EXPECT_EQ(p->spec.export_spec->config_map->name, "sql-baseline-production");
  ASSERT_TRUE(p->status);
  EXPECT_EQ(p->status->resolved->version, "1.2.0");
  EXPECT_EQ(p->status->behind_by, 2);
  ASSERT_EQ(p->status->history.size(), 2u);
  EXPECT_FALSE(p->status->history[0].to.has_value());
  EXPECT_EQ(p->status->history[1].to, "2026-02-01T09:00:00Z");
  EXPECT_EQ(p->status->changes[0].kind, ChangeKind::kFix);
  auto since = ParseTime(*p->status->resolved->since);
  ASSERT_TRUE(since.has_value());
  EXPECT_EQ(FormatTime(*since), *p->status->resolved->since);
}

struct ParseErrorCase {
  const char* name;
  const char* json;
  const char* error;
};

class ParseErrorTest : public ::testing::TestWithParam<ParseErrorCase> {};

TEST_P(ParseErrorTest, NamesTheField) {
  Json j = Json::parse(GetParam().json);
  Status s = j.value("kind", "") == "EnvironmentPin" ? ParseEnvironmentPin(j).status()
                                                     : ParseImageRelease(j).status();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), GetParam().error);
}

INSTANTIATE_TEST_SUITE_P(
    Types, ParseErrorTest,
    ::testing::Values(
        ParseErrorCase{"VersionNumber", R"({"kind":"ImageRelease","spec":{"version":1.2}})",
                       "spec.version: must be a string, got number"},
        ParseErrorCase{"CheckTimeoutInteger",
                       R"({"spec":{"validation":{"checks":[{"name":"a"},{"timeout":300}]}}})",
                       "spec.validation.checks[1].timeout: must be a string, got integer"},
        ParseErrorCase{"EnumValue", R"({"spec":{"retention":{"deletionPolicy":"Keep"}}})",
                       "spec.retention.deletionPolicy: unsupported value \"Keep\": supported "
                       "values: \"Retain\", \"Delete\""},
        ParseErrorCase{"SpecArray", R"({"spec":[]})", "spec: must be an object, got array"},
        ParseErrorCase{"LabelValue", R"({"metadata":{"labels":{"team":5}}})",
                       "metadata.labels[team]: must be a string, got integer"},
        ParseErrorCase{"ExitCodeFraction",
                       R"({"spec":{"validation":{"checks":[{"expect":{"exitCode":0.5}}]}}})",
                       "spec.validation.checks[0].expect.exitCode: must be an integer, got "
                       "number"},
        ParseErrorCase{"KeepVmString", R"({"spec":{"validation":{"keepVmOnFailure":"no"}}})",
                       "spec.validation.keepVmOnFailure: must be a boolean, got string"},
        ParseErrorCase{"WrongKind",
                       R"({"kind":"EnvironmentPin","apiVersion":"vmrelease.io/v1alpha1",
                                        "spec":{"version":3}})",
                       "spec.version: must be a string, got integer"},
        ParseErrorCase{"KindMismatch", R"({"kind":"Pod"})",
                       "kind: expected \"ImageRelease\", got \"Pod\""},
        ParseErrorCase{"ApiVersionMismatch", R"({"kind":"ImageRelease","apiVersion":"v1"})",
                       "apiVersion: expected \"vmrelease.io/v1alpha1\", got \"v1\""},
        ParseErrorCase{"PinTrack", R"({"kind":"EnvironmentPin","spec":{"track":"^1.2"}})",
                       "spec.track: must be an object, got string"},
        ParseErrorCase{"StatusPhase", R"({"status":{"phase":"Done"}})",
                       "status.phase: unsupported value \"Done\": supported values: \"Pending\", "
                       "\"Building\", \"Staging\", \"Validating\", \"Publishing\", \"Released\", "
                       "\"Failed\", \"Revoked\""}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(TypesTest, NotAnObject) {
  EXPECT_EQ(ParseImageRelease(Json::array()).status().message(),
            "ImageRelease: must be a JSON object, got array");
}

TEST(TypesTest, KeepsEmptyValuesAndNullsAsWritten) {
  Json j = Json::parse(R"({
    "apiVersion": "vmrelease.io/v1alpha1", "kind": "ImageRelease",
    "metadata": {"name": "x", "labels": {}, "finalizers": []},
    "spec": {"image": "", "changelog": [], "source": {}, "build": {"job": {"template": {}}},
             "revocation": null, "validation": {"checks": [{"name": "a", "expect": {}}]}},
    "status": null})");
  auto r = ParseImageRelease(j);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->spec.image.empty());
  EXPECT_FALSE(r->spec.revocation.has_value());
  EXPECT_FALSE(r->status.has_value());
  EXPECT_EQ(ToJson(*r), j) << Json::diff(j, ToJson(*r)).dump(2);
}

TEST(TypesTest, CodeChangesWinOverWhatWasRead) {
  Json j = Json::parse(R"({"kind": "ImageRelease", "spec": {"changelog": [], "image": "a"}})");
  auto r = ParseImageRelease(j);
  ASSERT_TRUE(r.ok());
  r->spec.changelog.push_back({.kind = ChangeKind::kFix, .summary = "one"});
  r->spec.image = "";
  r->spec.revocation = Revocation{.reason = "CVE-2026-1"};
  r->status = ImageReleaseStatus{.phase = ReleasePhase::kRevoked};
  Json out = ToJson(*r);
  EXPECT_EQ(out["spec"]["changelog"], Json::parse(R"([{"kind": "Fix", "summary": "one"}])"));
  EXPECT_FALSE(out["spec"].contains("image"));
  EXPECT_EQ(out["spec"]["revocation"], Json::parse(R"({"reason": "CVE-2026-1"})"));
  EXPECT_EQ(out["status"], Json::parse(R"({"phase": "Revoked"})"));
}

TEST(TypesTest, ConditionsAlwaysCarryTheirRequiredFields) {
  EnvironmentPin pin;
  pin.status.emplace();
  pin.status->conditions.push_back(
      {.type = "Ready", .status = ConditionStatus::kFalse, .reason = "ReleaseNotFound"});
  Json out = ToJson(pin)["status"]["conditions"][0];
  EXPECT_EQ(out, Json::parse(R"({"type": "Ready", "status": "False", "lastTransitionTime": "",
                                 "reason": "ReleaseNotFound", "message": ""})"));
}

TEST(DefaultsTest, FillsWhatTheCrdDefaults) {
  auto docs =
      LoadManifestFile(vmrelease::testing::SourceDir() + "/deploy/examples/release-revoked.yaml");
  ASSERT_TRUE(docs.ok());
  auto r = ParseImageRelease((*docs)[0]);
  ASSERT_TRUE(r.ok());
  ASSERT_FALSE(r->spec.build.timeout.has_value());
  SetDefaults(*r);
  EXPECT_EQ(r->spec.source.platform_image->version, "latest");
  EXPECT_EQ(r->spec.build.timeout, "2h");
  EXPECT_EQ(r->spec.validation.timeout, "1h");
  EXPECT_EQ(r->spec.validation.keep_vm_on_failure, false);
  // No defaults inside list items (kubectl replaces lists whole); accessors apply them.
  EXPECT_FALSE(r->spec.validation.checks[0].timeout.has_value());
  EXPECT_EQ(r->spec.validation.checks[0].TimeoutOrDefault(), Duration(5min));
  EXPECT_FALSE(r->spec.validation.checks[0].expect->exit_code.has_value());
  EXPECT_EQ(r->spec.validation.checks[0].ExpectedExitCode(), 0);
  EXPECT_FALSE(r->spec.publish.gallery->target_regions[0].replicas.has_value());
  EXPECT_EQ(r->spec.publish.gallery->target_regions[0].ReplicasOrDefault(), 1);
  EXPECT_EQ(r->spec.publish.gallery->exclude_from_latest, false);
  EXPECT_EQ(r->spec.retention->deletion_policy, DeletionPolicy::kRetain);
  EXPECT_EQ(r->spec.retention->minimum_days, 90);
  Json once = ToJson(*r);
  SetDefaults(*r);
  EXPECT_EQ(ToJson(*r), once) << "SetDefaults must be idempotent";
}

TEST(DefaultsTest, DefaultsOnlyInsideObjectsThatExist) {
  ImageRelease r;
  SetDefaults(r);
  Json out = ToJson(r);
  EXPECT_EQ(out, Json::parse(R"({"spec": {"retention": {"deletionPolicy": "Retain"}}})"));
  PromotionRequirement requirement{.environment = "staging"};
  EXPECT_EQ(requirement.ForAtLeastOrDefault(), Duration::zero());
}

TEST(ConditionTest, SetConditionMovesTransitionTimeOnlyOnStatusChange) {
  ManualClock clock;
  std::vector<Condition> conditions;
  EXPECT_TRUE(SetCondition(
      conditions, {.type = "Ready", .status = ConditionStatus::kFalse, .reason = "Building"},
      clock.WallNow()));
  std::string first = conditions[0].last_transition_time;
  EXPECT_EQ(first, "2026-01-01T00:00:00Z");
  clock.Advance(1h);
  EXPECT_TRUE(SetCondition(
      conditions, {.type = "Ready", .status = ConditionStatus::kFalse, .reason = "Validating"},
      clock.WallNow()));
  EXPECT_EQ(conditions[0].last_transition_time, first);
  EXPECT_EQ(conditions[0].reason, "Validating");
  EXPECT_FALSE(SetCondition(
      conditions, {.type = "Ready", .status = ConditionStatus::kFalse, .reason = "Validating"},
      clock.WallNow()));
  EXPECT_TRUE(SetCondition(
      conditions, {.type = "Ready", .status = ConditionStatus::kTrue, .reason = "Released"},
      clock.WallNow()));
  EXPECT_EQ(conditions[0].last_transition_time, "2026-01-01T01:00:00Z");
  EXPECT_EQ(conditions.size(), 1u);
  EXPECT_EQ(FindCondition(conditions, "Stalled"), nullptr);
  // Keyed by type, order kept, removable.
  SetCondition(conditions, {.type = "Reconciling", .status = ConditionStatus::kTrue},
               clock.WallNow());
  ASSERT_EQ(conditions.size(), 2u);
  EXPECT_EQ(conditions[1].type, "Reconciling");
  EXPECT_TRUE(RemoveCondition(conditions, "Reconciling"));
  EXPECT_FALSE(RemoveCondition(conditions, "Reconciling"));
  EXPECT_EQ(conditions.size(), 1u);
}

TEST(EnumTest, NamesRoundTrip) {
  for (const auto& [value, name] : EnumTraits<ReleasePhase>::kValues) {
    EXPECT_EQ(EnumName(value), name);
    EXPECT_EQ(EnumFromName<ReleasePhase>(name), value);
  }
  EXPECT_FALSE(EnumFromName<ReleasePhase>("released").has_value());
}

// --- manifests ----------------------------------------------------------------------------

struct YamlCase {
  const char* name;
  const char* yaml;
  const char* json;
};

class YamlScalarTest : public ::testing::TestWithParam<YamlCase> {};

TEST_P(YamlScalarTest, ResolvesLikeKubectl) {
  auto j = ParseYamlDocument(GetParam().yaml);
  ASSERT_TRUE(j.ok()) << j.status().ToString();
  EXPECT_EQ(*j, Json::parse(GetParam().json)) << j->dump();
}

INSTANTIATE_TEST_SUITE_P(
    GoYamlRules, YamlScalarTest,
    ::testing::Values(
        YamlCase{"VersionString", "v: 1.2.0", R"({"v": "1.2.0"})"},
        YamlCase{"TwoPartVersionIsANumber", "v: 1.2", R"({"v": 1.2})"},
        YamlCase{"QuotedNumber", "v: '1.2'", R"({"v": "1.2"})"},
        YamlCase{"Integer", "v: 42", R"({"v": 42})"}, YamlCase{"Negative", "v: -1", R"({"v": -1})"},
        YamlCase{"Octal", "v: 010", R"({"v": 8})"}, YamlCase{"Hex", "v: 0x1F", R"({"v": 31})"},
        YamlCase{"Underscores", "v: 1_000", R"({"v": 1000})"},
        YamlCase{"Float", "v: 1e3", R"({"v": 1000.0})"},
        YamlCase{"Yes", "v: yes", R"({"v": true})"}, YamlCase{"Off", "v: Off", R"({"v": false})"},
        YamlCase{"QuotedYes", "v: \"yes\"", R"({"v": "yes"})"},
        YamlCase{"Null", "v: ~", R"({"v": null})"}, YamlCase{"Empty", "v:", R"({"v": null})"},
        YamlCase{"TaggedString", "v: !!str 12", R"({"v": "12"})"},
        YamlCase{"TaggedInt", "v: !!int '12'", R"({"v": 12})"},
        YamlCase{"Block", "v: |\n  line\n", R"({"v": "line\n"})"},
        YamlCase{"Duration", "v: 1h30m", R"({"v": "1h30m"})"},
        YamlCase{"FlowMap", "v: {a: [1, x], b: null}", R"({"v": {"a": [1, "x"], "b": null}})"},
        YamlCase{"NumericKey", "1: a", R"({"1": "a"})"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(ManifestTest, ErrorsCarryLineAndColumn) {
  auto dup = ParseYamlDocument("a: 1\nb:\n  c: 2\n  c: 3\n");
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.status().message(), "line 4, column 3: duplicate key \"c\"");
  auto bad = ParseYamlDocument("a: [1, 2\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("invalid YAML"), std::string::npos);
  EXPECT_NE(bad.status().message().find("line "), std::string::npos);
  auto inf = ParseYamlDocument("a: .inf\n");
  EXPECT_EQ(inf.status().message(), "line 1, column 4: \".inf\" is not representable in JSON");
  auto tag = ParseYamlDocument("a: !!int abc\n");
  EXPECT_NE(tag.status().message().find("is not a valid !!int"), std::string::npos);
}

TEST(ManifestTest, SplitsDocumentsAndSkipsEmptyOnes) {
  auto docs = ParseYamlDocuments("# comment only\n---\na: 1\n---\n---\nb: 2\n...\n");
  ASSERT_TRUE(docs.ok()) << docs.status().ToString();
  ASSERT_EQ(docs->size(), 2u);
  EXPECT_EQ((*docs)[1], Json::parse(R"({"b": 2})"));
  EXPECT_EQ(ParseYamlDocument("a: 1\n---\nb: 2\n").status().message(),
            "expected exactly one YAML document, found 2");
  EXPECT_EQ(LoadManifestFile("/nonexistent/x.yaml").status().code(), StatusCode::kNotFound);
}

TEST(ManifestTest, OrderedVariantKeepsKeyOrder) {
  auto docs = ParseYamlDocumentsOrdered("zeta: 1\nalpha: {y: 2, b: 3}\n");
  ASSERT_TRUE(docs.ok());
  EXPECT_EQ((*docs)[0].dump(), R"({"zeta":1,"alpha":{"y":2,"b":3}})");
}

TEST(ManifestTest, RefusesControlCharactersInsteadOfHanging) {
  // A release manifest with NUL and ^A bytes made yaml-cpp 0.7 loop forever (object_fuzz).
  const std::string text = std::string("publish:\n  blob:\n    accountUrl: http://127") + '\x01' +
                           std::string(2, '\0') + "\x12.0.0.1:10000/x\n";
  auto docs = ParseYamlDocuments(text);
  ASSERT_FALSE(docs.ok());
  EXPECT_NE(docs.status().message().find("control characters are not allowed"), std::string::npos)
      << docs.status().message();
  EXPECT_TRUE(ParseYamlDocuments("a: \"tab\there\"\r\nb: 1\n").ok());
}

TEST(ManifestTest, RefusesADocumentStartingWithACommaInsteadOfHanging) {
  // yaml-cpp 0.7 loops forever on these (object_fuzz); none is valid YAML.
  for (const char* text : {",", ", a", "# comment\n\n  ,", "--- ,", "a: 1\n---\n,", "a: 1\n...\n,",
                           "%YAML 1.2\n---\n,", "!,3.1", "!a ,", "&a,", "!!str ,", "--- !a ,",
                           "!a &b ,", "# c\n!a ,", "a: 1\n---\n!t ,"}) {
    auto docs = ParseYamlDocuments(text);
    ASSERT_FALSE(docs.ok()) << text;
    EXPECT_NE(docs.status().message().find("a document cannot start with \",\""), std::string::npos)
        << docs.status().message();
  }
  // Commas elsewhere are fine: in values, flow collections, block scalars, quoted text.
  for (const char* text :
       {"a: ,b", "a: 1, b", "[1\n , 2]", "{a: 1\n, b: 2}", "a: |\n  ,x\n", "\"a\n,b\"", "- ,",
        "a: [1]\n---\nb: 2", "!<,> x", "[!,]", "!!str a, b", "&a x, y"}) {
    auto docs = ParseYamlDocuments(text);
    EXPECT_FALSE(!docs.ok() &&
                 docs.status().message().find("cannot start with") != std::string::npos)
        << text;
  }
}

TEST(ManifestTest, RefusesALineStartingWithACommaInsteadOfHanging) {
  // yaml-cpp 0.7 loops forever on most of these (object_fuzz); in block context a line
  // cannot start with "," (bar the continuation of a plain scalar, which can be quoted).
  for (const char* text :
       {"n\n#\n,", "n\n#\n ,x", "n #c\n,", "- a\n# c\n,", "[a]\n#\n,", "\"n\"\n#\n,",
        "a: |\n  x\nb: 1\n# c\n,", "image: demo\n# the version\n  ,  1.0.0", " :\n,", "- :\n,",
        "- a\n,", "-\n,", "- [a]\n,", "a: 1\n, b", "spec:\n  export:\n ,  configMap: x"}) {
    auto docs = ParseYamlDocuments(text);
    ASSERT_FALSE(docs.ok()) << text;
    EXPECT_NE(docs.status().message().find("\",\" cannot start a line"), std::string::npos)
        << docs.status().message();
  }
  // Valid YAML where a line starts with ",": in flow collections, block scalars and
  // quoted scalars.
  for (const char* text : {"[a\n#\n, b]", "{a: 1\n#\n, b: 2}", "x: [a\n #\n , b]",
                           "x: |\n  a\n  #\n  ,", "x: >-\n  # not a comment\n  , y",
                           "x: \"a # b\n ,\"", "x: 'it''s # b\n ,'", "- |2\n   #\n   ,"}) {
    auto docs = ParseYamlDocuments(text);
    EXPECT_TRUE(docs.ok()) << text << ": " << docs.status().message();
  }
}

TEST(ManifestTest, RefusesACommaAfterAQuotedScalarOrFlowCollectionInBlockContext) {
  // yaml-cpp 0.7 loops forever on most of these (object_fuzz); none is valid YAML.
  for (const char* text : {"\"\",", "\"a\" ,", "'a',", "[a],", "{a: 1},", "a: \"b\",", "- [b],",
                           "a:\n  - 'x' ,", "!\" \",", "!t \"a\",", "&a [b] ,", "a: !t 'b',"}) {
    auto docs = ParseYamlDocuments(text);
    ASSERT_FALSE(docs.ok()) << text;
    EXPECT_NE(docs.status().message().find("follow a quoted scalar or a flow collection"),
              std::string::npos)
        << docs.status().message();
  }
  // Quotes and brackets inside plain scalars are plain text; commas in flow collections
  // and after plain scalars are fine.
  for (const char* text :
       {"summary: fix \"a\", \"b\"", "summary: see [docs], then", "x \"a\",", "a: [\"x\", 'y']",
        "a: {b: \"c\", d: [1, 2]}", "summary: it's, it's", "- a \"b\", c"}) {
    auto docs = ParseYamlDocuments(text);
    EXPECT_TRUE(docs.ok()) << text << ": " << docs.status().message();
  }
}

TEST(ManifestTest, AStreamOnWhichYamlCppWouldLoopIsStoppedWhereItStops) {
  // The generic guard behind the shape checks above: every stream yaml-cpp 0.7's LoadAll
  // loops on (found by object_fuzz) is stopped by CheckYamlTerminates alone, at the token
  // it cannot get past.
  const std::pair<const char*, const char*> looping[] = {
      {",", "line 1, column 1: \",\""},       {"- a\n,", "line 2, column 1: \",\""},
      {" :\n,", "line 2, column 1: \",\""},   {"!t ,", "line 1, column 4: \",\""},
      {"\"a\",", "line 1, column 4: \",\""},  {"[a],", "line 1, column 4: \",\""},
      {"!\" \",", "line 1, column 5: \",\""}, {"a: 1\n---\n&x ,", "line 3, column 4: \",\""}};
  for (const auto& [text, where] : looping) {
    const Status s = CheckYamlTerminates(text);
    ASSERT_FALSE(s.ok()) << text;
    EXPECT_NE(s.message().find(std::string(where) + " cannot appear here"), std::string::npos)
        << text << ": " << s.message();
  }
  // Multi-document streams, empty documents and directives go through.
  for (const char* text : {"", "a: 1", "a: 1\n---\nb: 2\n", "---\n---\n---\na: 1\n",
                           "%YAML 1.2\n---\na: 1\n...\n---\nb: 2\n", "- a\n- b, c\n"}) {
    EXPECT_TRUE(CheckYamlTerminates(text).ok())
        << text << ": " << CheckYamlTerminates(text).message();
  }
  EXPECT_EQ(ParseYamlDocuments("---\n---\na: 1\n---\n").value().size(), 1u);
}

TEST(ManifestTest, RefusesInvalidUtf8InsteadOfHanging) {
  // yaml-cpp 0.7 loops forever in Parser::HandleNextDocument on some invalid UTF-8
  // (object_fuzz): the parser refuses it first and names the byte.
  auto docs = ParseYamlDocuments(
      "image: caf\xc3\xa9\nversion: \xff\xfe"
      "1.0.0\n");
  ASSERT_FALSE(docs.ok());
  EXPECT_EQ(docs.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(docs.status().message().find("not valid UTF-8 (byte 22)"), std::string::npos)
      << docs.status().message();
  EXPECT_TRUE(ParseYamlDocuments("image: caf\xc3\xa9\n").ok());
}

}  // namespace
}  // namespace vmrelease::api

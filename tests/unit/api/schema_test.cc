// The CRDs against the schema engine the API server and `verify` share
// (controller/api/openapi_schema.h), without starting a server: the CRDs are structural, every
// example passes the schema as written, every "semantic" corpus case passes it too (so only the CEL
// mirror in C++ can catch it, as on a server that does not evaluate CEL), and the C++ SetDefaults
// applies exactly the CRD's defaults.
#include <gtest/gtest.h>

#include <functional>
#include <map>

#include "controller/api/manifest.h"
#include "controller/api/openapi_schema.h"
#include "controller/api/validation.h"
#include "tests/unit/api/api_test_util.h"

namespace vmrelease::api {
namespace {

using testing::CorpusCase;
using testing::CorpusFiles;
using testing::CrdFiles;
using testing::ExampleFiles;
using testing::LoadCorpusCase;
using testing::TestName;

// openAPIV3Schema by kind.
const std::map<std::string, Json>& Schemas() {
  static const std::map<std::string, Json> schemas = [] {
    std::map<std::string, Json> out;
    for (const auto& f : CrdFiles()) {
      auto docs = LoadManifestFile(f);
      EXPECT_TRUE(docs.ok()) << docs.status().ToString();
      for (const auto& crd : *docs) {
        out[crd["spec"]["names"]["kind"]] = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"];
      }
    }
    return out;
  }();
  return schemas;
}

std::string Describe(const schema::ObjectResult& r) {
  std::string out;
  for (const auto& e : r.errors) out += "\n  " + e.ToString();
  for (const auto& u : r.unknown_fields) out += "\n  unknown field " + u;
  return out;
}

// What the API server does on a write: prune (recording unknown fields), default, validate.
schema::ObjectResult Process(Json& doc) {
  const auto& schemas = Schemas();
  auto it = schemas.find(doc.value("kind", ""));
  EXPECT_NE(it, schemas.end()) << doc.value("kind", "");
  if (it == schemas.end()) return {};
  return schema::ProcessObject(it->second, doc);
}

TEST(CrdSchemaTest, BothCrdsAreStructural) {
  ASSERT_EQ(Schemas().size(), 2u);
  for (const auto& [kind, s] : Schemas()) {
    auto errors = schema::CheckStructural(s, "spec.versions[0].schema.openAPIV3Schema");
    std::string text;
    for (const auto& e : errors) text += "\n  " + e.ToString();
    EXPECT_TRUE(errors.empty()) << kind << text;
  }
}

class ExampleSchemaTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ExampleSchemaTest, PassesTheSchemaWithoutUnknownFields) {
  auto docs = LoadManifestFile(GetParam());
  ASSERT_TRUE(docs.ok());
  for (Json doc : *docs) {
    auto r = Process(doc);
    EXPECT_TRUE(r.errors.empty() && r.unknown_fields.empty()) << Describe(r);
  }
}

// The C++ defaults are the CRD's: defaulting an example with the schema engine and
// with SetDefaults gives the same object.
TEST_P(ExampleSchemaTest, SetDefaultsMatchesTheCrdDefaults) {
  auto docs = LoadManifestFile(GetParam());
  ASSERT_TRUE(docs.ok());
  for (const Json& doc : *docs) {
    Json by_server = doc;
    schema::ApplyDefaults(Schemas().at(doc["kind"]), by_server);
    Json by_cpp;
    if (doc["kind"] == kImageReleaseKind) {
      auto r = ParseImageRelease(doc);
      ASSERT_TRUE(r.ok());
      SetDefaults(*r);
      by_cpp = ToJson(*r);
    } else {
      auto p = ParseEnvironmentPin(doc);
      ASSERT_TRUE(p.ok());
      by_cpp = ToJson(*p);  // the pin CRD has no defaults
    }
    EXPECT_EQ(by_cpp, by_server) << Json::diff(by_server, by_cpp).dump(2);
  }
}

INSTANTIATE_TEST_SUITE_P(Examples, ExampleSchemaTest, ::testing::ValuesIn(ExampleFiles()),
                         [](const auto& info) { return TestName(info.param); });

TEST(DefaultsTest, EveryCrdDefaultIsExercisedByAMinimalRelease) {
  // A release that sets nothing optional: every default of the CRD applies.
  Json doc = Json::parse(R"({
    "apiVersion": "vmrelease.io/v1alpha1", "kind": "ImageRelease", "metadata": {"name": "m-1.0.0"},
    "spec": {"image": "m", "version": "1.0.0",
      "source": {"platformImage": {"publisher": "p", "offer": "o", "sku": "s"}},
      "build": {"imageBuilder": {"location": "westeurope"}},
      "validation": {"checks": [{"name": "c", "script": "true"}]},
      "publish": {"gallery": {"targetRegions": [{"name": "westeurope"}]}}}})");
  Json by_server = doc;
  schema::ApplyDefaults(Schemas().at("ImageRelease"), by_server);
  auto r = ParseImageRelease(doc);
  ASSERT_TRUE(r.ok());
  SetDefaults(*r);
  EXPECT_EQ(ToJson(*r), by_server) << Json::diff(by_server, ToJson(*r)).dump(2);
  EXPECT_NE(by_server, doc);

  Json pin = Json::parse(R"({"apiVersion": "vmrelease.io/v1alpha1", "kind": "EnvironmentPin",
    "spec": {"promotion": {"requirePinnedIn": [{"environment": "dev"}]}}})");
  Json pin_by_server = pin;
  schema::ApplyDefaults(Schemas().at("EnvironmentPin"), pin_by_server);
  EXPECT_EQ(pin_by_server, pin) << "the pin CRD has no defaults";
}

// No `default:` inside list items: kubectl replaces lists whole, so a server-side default
// there would make every re-apply of an unchanged manifest report "configured".
TEST(DefaultsTest, NoDefaultsInsideListItems) {
  std::function<void(const Json&, const std::string&, bool)> walk =
      [&](const Json& node, const std::string& path, bool in_list) {
        if (!node.is_object()) return;
        EXPECT_FALSE(in_list && node.contains("default")) << path << " has a default inside a list";
        if (auto props = node.find("properties"); props != node.end()) {
          for (const auto& [name, child] : props->items()) walk(child, path + "." + name, in_list);
        }
        if (auto items = node.find("items"); items != node.end()) walk(*items, path + "[]", true);
      };
  for (const auto& [kind, s] : Schemas()) walk(s, kind, false);
}

class SemanticCaseSchemaTest : public ::testing::TestWithParam<std::string> {};

// A case labelled "semantic" must get past the schema: otherwise it would be the API
// server that rejects it and the label would be wrong.
TEST_P(SemanticCaseSchemaTest, PassesTheSchema) {
  CorpusCase c = LoadCorpusCase(GetParam());
  for (Json doc : c.docs) {
    auto r = Process(doc);
    EXPECT_TRUE(r.errors.empty() && r.unknown_fields.empty()) << Describe(r);
  }
}

INSTANTIATE_TEST_SUITE_P(Corpus, SemanticCaseSchemaTest,
                         ::testing::ValuesIn(CorpusFiles("semantic")),
                         [](const auto& info) { return TestName(info.param); });

}  // namespace
}  // namespace vmrelease::api

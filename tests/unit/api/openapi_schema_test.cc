// Structural-schema validation: one table row per rule, with the exact message
// text the real apiserver produces, plus defaulting, pruning and the
// structural checks on CRD schemas.
#include "controller/api/openapi_schema.h"

#include <gtest/gtest.h>

namespace vmrelease::api::schema {
namespace {

using nlohmann::json;

struct Case {
  std::string name;
  json schema;                          // schema of "spec"
  json value;                           // value of "spec"
  std::vector<std::string> errors;      // FieldError::ToString() in order
  std::vector<std::string> types = {};  // cause reasons, when checked
};

class ValidateTest : public ::testing::TestWithParam<Case> {};

TEST_P(ValidateTest, ReportsEveryViolationWithApiserverText) {
  const Case& c = GetParam();
  std::vector<std::string> got;
  std::vector<std::string> types;
  for (const auto& e : Validate(c.schema, c.value, "spec")) {
    got.push_back(e.ToString());
    types.push_back(e.type);
  }
  EXPECT_EQ(got, c.errors);
  if (!c.types.empty()) {
    EXPECT_EQ(types, c.types);
  }
}

json Obj(json props, json extra = json::object()) {
  json s = {{"type", "object"}, {"properties", props}};
  s.update(extra);
  return s;
}

INSTANTIATE_TEST_SUITE_P(
    Rules, ValidateTest,
    ::testing::Values(
        Case{"valid", Obj({{"a", {{"type", "string"}}}}), {{"a", "x"}}, {}},
        Case{
            "type_string",
            Obj({{"a", {{"type", "string"}}}}),
            {{"a", 5}},
            {R"(spec.a: Invalid value: "integer": spec.a in body must be of type string: "integer")"},
            {"FieldValueTypeInvalid"}},
        Case{
            "integer_rejects_fraction",
            Obj({{"n", {{"type", "integer"}}}}),
            {{"n", 1.5}},
            {R"(spec.n: Invalid value: "number": spec.n in body must be of type integer: "number")"}},
        Case{"integer_accepts_integral_float",
             Obj({{"n", {{"type", "integer"}}}}),
             {{"n", 2.0}},
             {}},
        Case{"number_accepts_integer", Obj({{"n", {{"type", "number"}}}}), {{"n", 2}}, {}},
        Case{
            "int32_range",
            Obj({{"n", {{"type", "integer"}, {"format", "int32"}}}}),
            {{"n", 3000000000LL}},
            {R"(spec.n: Invalid value: 3000000000: spec.n in body must be of type int32: "3000000000")"}},
        Case{"required",
             Obj({{"image", {{"type", "string"}}}}, {{"required", {"image", "version"}}}),
             json::object(),
             {"spec.image: Required value", "spec.version: Required value"},
             {"FieldValueRequired", "FieldValueRequired"}},
        Case{"enum",
             Obj({{"mode", {{"type", "string"}, {"enum", {"Fast", "Safe"}}}}}),
             {{"mode", "Slow"}},
             {R"(spec.mode: Unsupported value: "Slow": supported values: "Fast", "Safe")"},
             {"FieldValueNotSupported"}},
        Case{
            "pattern",
            Obj({{"version",
                  {{"type", "string"},
                   {"pattern", R"(^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$)"}}}}),
            {{"version", "1.2"}},
            {R"(spec.version: Invalid value: "1.2": spec.version in body should match '^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$')"}},
        Case{"minimum_maximum",
             Obj({{"lo", {{"type", "integer"}, {"minimum", 1}}},
                  {"hi", {{"type", "integer"}, {"maximum", 10}}}}),
             {{"lo", 0}, {"hi", 11}},
             {"spec.hi: Invalid value: 11: spec.hi in body should be less than or equal to 10",
              "spec.lo: Invalid value: 0: spec.lo in body should be greater than or equal to 1"}},
        Case{"exclusive_bounds",
             Obj({{"lo", {{"type", "number"}, {"minimum", 1}, {"exclusiveMinimum", true}}},
                  {"hi", {{"type", "number"}, {"maximum", 10}, {"exclusiveMaximum", true}}}}),
             {{"lo", 1}, {"hi", 10}},
             {"spec.hi: Invalid value: 10: spec.hi in body should be less than 10",
              "spec.lo: Invalid value: 1: spec.lo in body should be greater than 1"}},
        Case{"lengths",
             Obj({{"s", {{"type", "string"}, {"minLength", 2}}},
                  {"t", {{"type", "string"}, {"maxLength", 3}}}}),
             {{"s", "a"}, {"t", "abcd"}},
             {R"(spec.s: Invalid value: "a": spec.s in body should be at least 2 chars long)",
              "spec.t: Too long: may not be more than 3 bytes"},
             {"FieldValueInvalid", "FieldValueTooLong"}},
        Case{"max_length_counts_characters",
             Obj({{"t", {{"type", "string"}, {"maxLength", 2}}}}),
             {{"t", "\xc3\xa9\xc3\xa9"}},
             {}},
        Case{"items_bounds",
             Obj({{"few", {{"type", "array"}, {"minItems", 2}, {"items", {{"type", "string"}}}}},
                  {"many", {{"type", "array"}, {"maxItems", 1}, {"items", {{"type", "string"}}}}}}),
             {{"few", {"a"}}, {"many", {"a", "b"}}},
             {R"(spec.few: Invalid value: ["a"]: spec.few in body should have at least 2 items)",
              "spec.many: Too many: 2: must have at most 1 items"},
             {"FieldValueInvalid", "FieldValueTooMany"}},
        Case{"unique_items",
             Obj({{"r",
                   {{"type", "array"}, {"uniqueItems", true}, {"items", {{"type", "string"}}}}}}),
             {{"r", {"a", "b", "a"}}},
             {R"(spec.r[2]: Duplicate value: "a")"},
             {"FieldValueDuplicate"}},
        Case{
            "item_errors_have_index_paths",
            Obj({{"c",
                  {{"type", "array"},
                   {"items", Obj({{"status", {{"type", "string"}, {"enum", {"True", "False"}}}}},
                                 {{"required", {"type"}}})}}}}),
            {{"c", {{{"type", "Ready"}, {"status", "True"}}, {{"status", "Maybe"}}}}},
            {"spec.c[1].type: Required value",
             R"(spec.c[1].status: Unsupported value: "Maybe": supported values: "True", "False")"}},
        Case{"additional_properties_false",
             {{"type", "object"},
              {"additionalProperties", false},
              {"x-kubernetes-preserve-unknown-fields", true}},
             {{"x", 1}},
             {"spec.x: Forbidden: spec.x in body is a forbidden property"}},
        Case{
            "map_values_validated",
            Obj({{"tags", {{"type", "object"}, {"additionalProperties", {{"type", "string"}}}}}}),
            {{"tags", {{"team", "a"}, {"n", 1}}}},
            {R"(spec.tags.n: Invalid value: "integer": spec.tags.n in body must be of type string: "integer")"}},
        Case{"nullable",
             Obj({{"a", {{"type", "string"}, {"nullable", true}}}, {"b", {{"type", "string"}}}}),
             {{"a", nullptr}, {"b", nullptr}},
             {R"(spec.b: Invalid value: "null": spec.b in body must be of type string: "null")"}},
        Case{
            "int_or_string",
            Obj({{"p", {{"x-kubernetes-int-or-string", true}}},
                 {"q", {{"x-kubernetes-int-or-string", true}}},
                 {"r", {{"x-kubernetes-int-or-string", true}}}}),
            {{"p", 80}, {"q", "http"}, {"r", true}},
            {R"(spec.r: Invalid value: "boolean": spec.r in body must be of type integer,string: "boolean")"}},
        Case{
            "date_time_format",
            Obj({{"t", {{"type", "string"}, {"format", "date-time"}}},
                 {"u", {{"type", "string"}, {"format", "date-time"}}}}),
            {{"t", "2025-07-01T10:00:00Z"}, {"u", "yesterday"}},
            {R"(spec.u: Invalid value: "yesterday": spec.u in body must be of type date-time: "yesterday")"}},
        Case{
            "one_of",
            {{"type", "object"},
             {"oneOf", {{{"required", {"a"}}}, {{"required", {"b"}}}}},
             {"properties", {{"a", {{"type", "string"}}}, {"b", {{"type", "string"}}}}}},
            {{"a", "x"}, {"b", "y"}},
            {R"(spec: Invalid value: {"a":"x","b":"y"}: spec in body must validate one and only one schema (oneOf))"}}),
    [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

TEST(DefaultsTest, AppliesNestedDefaultsOnlyWhereAbsent) {
  json s = Obj(
      {{"replicas", {{"type", "integer"}, {"default", 1}}},
       {"mode", {{"type", "string"}, {"default", "Safe"}}},
       {"nested", Obj({{"x", {{"type", "string"}, {"default", "d"}}}})},
       {"items",
        {{"type", "array"}, {"items", Obj({{"k", {{"type", "string"}, {"default", "kv"}}}})}}}});
  json v = {
      {"mode", "Fast"}, {"nested", json::object()}, {"items", {json::object(), {{"k", "set"}}}}};
  ApplyDefaults(s, v);
  EXPECT_EQ(v["replicas"], 1);
  EXPECT_EQ(v["mode"], "Fast");
  EXPECT_EQ(v["nested"]["x"], "d");
  EXPECT_EQ(v["items"][0]["k"], "kv");
  EXPECT_EQ(v["items"][1]["k"], "set");
}

TEST(PruneTest, DropsUnknownFieldsUnlessPreserved) {
  json s = Obj({{"known", {{"type", "string"}}},
                {"extra", {{"type", "object"}, {"x-kubernetes-preserve-unknown-fields", true}}},
                {"list", {{"type", "array"}, {"items", Obj({{"a", {{"type", "string"}}}})}}}});
  json v = {{"known", "k"},
            {"foo", 1},
            {"extra", {{"anything", {{"deep", true}}}}},
            {"list", {{{"a", "x"}, {"b", "y"}}}}};
  auto removed = Prune(s, v, "spec");
  EXPECT_EQ(removed, (std::vector<std::string>{"spec.foo", "spec.list[0].b"}));
  EXPECT_EQ(v, json({{"known", "k"},
                     {"extra", {{"anything", {{"deep", true}}}}},
                     {"list", {{{"a", "x"}}}}}));
}

TEST(ProcessObjectTest, PrunesDefaultsAndValidatesAWholeObject) {
  json s = Obj({{"spec", Obj({{"image", {{"type", "string"}}},
                              {"replicas", {{"type", "integer"}, {"default", 1}}}},
                             {{"required", {"image"}}})},
                {"metadata", Obj({{"name", {{"type", "string"}, {"maxLength", 5}}}})}});
  json obj = {{"apiVersion", "example.com/v1"},
              {"kind", "W"},
              {"metadata", {{"name", "toolong"}, {"bogus", 1}, {"labels", {{"a", "b"}}}}},
              {"spec", {{"foo", 1}}},
              {"top", 2}};
  ObjectResult r = ProcessObject(s, obj);
  EXPECT_EQ(r.unknown_fields, (std::vector<std::string>{"spec.foo", "top", "metadata.bogus"}));
  std::vector<std::string> errs;
  for (const auto& e : r.errors) errs.push_back(e.ToString());
  EXPECT_EQ(errs,
            (std::vector<std::string>{"spec.image: Required value",
                                      "metadata.name: Too long: may not be more than 5 bytes"}));
  EXPECT_EQ(obj["spec"], json({{"replicas", 1}}));
  EXPECT_EQ(obj["apiVersion"], "example.com/v1");
  EXPECT_EQ(obj["metadata"], json({{"name", "toolong"}, {"labels", {{"a", "b"}}}}));
  EXPECT_FALSE(obj.contains("top"));
}

TEST(StructuralTest, AcceptsAGoodSchemaAndNamesEveryProblem) {
  json good = Obj({{"spec", Obj({{"p", {{"x-kubernetes-int-or-string", true}}},
                                 {"any", {{"x-kubernetes-preserve-unknown-fields", true}}},
                                 {"l", {{"type", "array"}, {"items", {{"type", "string"}}}}}})},
                   {"metadata", Obj({{"name", {{"type", "string"}}}})}});
  EXPECT_TRUE(CheckStructural(good, "schema").empty());
  json bad = Obj({{"spec", {{"properties", {{"a", {{"type", "string"}}}}}}},
                  {"both",
                   {{"type", "object"},
                    {"properties", json::object()},
                    {"additionalProperties", {{"type", "string"}}}}},
                  {"ref", {{"$ref", "#/x"}, {"type", "object"}}},
                  {"arr", {{"type", "array"}}},
                  {"metadata", Obj({{"labels", {{"type", "object"}}}})}});
  std::vector<std::string> got;
  for (const auto& e : CheckStructural(bad, "s")) got.push_back(e.ToString());
  EXPECT_EQ(got,
            (std::vector<std::string>{
                "s.properties[arr].items: Required value: must be specified",
                "s.properties[both].additionalProperties: Forbidden: additionalProperties and "
                "properties are mutual exclusive",
                "s.properties[metadata].properties[labels]: Forbidden: must not specify "
                "anything other than name and generateName, but metadata is implicitly specified",
                "s.properties[ref].$ref: Forbidden",
                "s.properties[spec].type: Required value: must not be empty for specified object "
                "fields"}));
  EXPECT_FALSE(CheckStructural({{"type", "string"}}, "s").empty());
  // Types are needed below preserve-unknown-fields too; defaults must be valid.
  json nested = Obj({{"x",
                      {{"type", "object"},
                       {"x-kubernetes-preserve-unknown-fields", true},
                       {"properties", {{"y", {{"description", "untyped"}}}}}}},
                     {"n", {{"type", "integer"}, {"minimum", 1}, {"default", 0}}}});
  got.clear();
  for (const auto& e : CheckStructural(nested, "s")) got.push_back(e.ToString());
  EXPECT_EQ(
      got,
      (std::vector<std::string>{
          "s.properties[n].default: Invalid value: 0: default in body should be greater than or "
          "equal to 1",
          "s.properties[x].properties[y].type: Required value: must not be empty for "
          "specified object fields"}));
}

}  // namespace
}  // namespace vmrelease::api::schema

// JSONPath subset, human durations and Table building for kubectl get.
#include "tests/support/apiserver/table.h"

#include <gtest/gtest.h>

namespace vmrelease::apiserver {
namespace {

using nlohmann::json;

const json kObj = {
    {"metadata",
     {{"name", "w1"}, {"creationTimestamp", "2026-01-01T00:00:00Z"}, {"labels", {{"a.b/c", "x"}}}}},
    {"spec", {{"replicas", 3}, {"list", {{{"name", "first"}}, {{"name", "second"}}}}}},
    {"status",
     {{"conditions",
       {{{"type", "Built"}, {"status", "True"}}, {{"type", "Ready"}, {"status", "False"}}}}}}};

struct PathCase {
  std::string path;
  std::vector<json> want;
};
class JsonPathTest : public ::testing::TestWithParam<PathCase> {};

TEST_P(JsonPathTest, Evaluates) {
  auto p = JsonPath::Parse(GetParam().path);
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->Evaluate(kObj), GetParam().want) << GetParam().path;
}

INSTANTIATE_TEST_SUITE_P(
    All, JsonPathTest,
    ::testing::Values(PathCase{".spec.replicas", {3}}, PathCase{"{.spec.replicas}", {3}},
                      PathCase{".spec.list[0].name", {"first"}},
                      PathCase{".spec.list[-1].name", {"second"}},
                      PathCase{".spec.list[*].name", {"first", "second"}},
                      PathCase{".status.conditions[?(@.type==\"Ready\")].status", {"False"}},
                      PathCase{".status.conditions[?(@.type=='Built')].status", {"True"}},
                      PathCase{".status.conditions[?(@.type!=\"Built\")].type", {"Ready"}},
                      PathCase{".metadata.labels['a.b/c']", {"x"}}, PathCase{".spec.missing", {}},
                      PathCase{".spec.list[5]", {}}));

TEST(JsonPathTest, RejectsGarbage) {
  EXPECT_FALSE(JsonPath::Parse(".a[").ok());
  EXPECT_FALSE(JsonPath::Parse(".a[x]").ok());
  EXPECT_FALSE(JsonPath::Parse("a b").ok());
}

TEST(HumanDurationTest, MatchesApimachinery) {
  using std::chrono::seconds;
  EXPECT_EQ(HumanDuration(seconds(-5)), "<invalid>");
  EXPECT_EQ(HumanDuration(seconds(0)), "0s");
  EXPECT_EQ(HumanDuration(seconds(119)), "119s");
  EXPECT_EQ(HumanDuration(seconds(125)), "2m5s");
  EXPECT_EQ(HumanDuration(seconds(600)), "10m");
  EXPECT_EQ(HumanDuration(seconds(3 * 3600 + 120)), "3h2m");
  EXPECT_EQ(HumanDuration(seconds(10 * 3600)), "10h");
  EXPECT_EQ(HumanDuration(seconds(3 * 86400 + 3600)), "3d1h");
  EXPECT_EQ(HumanDuration(seconds(400 * 86400)), "400d");
  EXPECT_EQ(HumanDuration(seconds((365 * 3 + 10) * 86400LL)), "3y10d");
}

TEST(TableTest, BuildsColumnsCellsAndPartialObjects) {
  WallTime now;
  ASSERT_TRUE(ParseRfc3339("2026-01-01T00:05:00Z", &now));
  std::vector<PrinterColumn> cols = {
      {"Replicas", "integer", "", "", 0, ".spec.replicas"},
      {"Ready", "string", "", "", 0, ".status.conditions[?(@.type==\"Ready\")].status"},
      {"Missing", "string", "", "", 1, ".status.nope"},
      {"Age", "date", "", "", 0, ".metadata.creationTimestamp"}};
  json t = BuildTable(cols, {&kObj}, IncludeObject::kMetadata, "42", "tok", now);
  EXPECT_EQ(t["kind"], "Table");
  EXPECT_EQ(t["apiVersion"], "meta.k8s.io/v1");
  EXPECT_EQ(t["metadata"]["resourceVersion"], "42");
  EXPECT_EQ(t["metadata"]["continue"], "tok");
  ASSERT_EQ(t["columnDefinitions"].size(), 5u);
  EXPECT_EQ(t["columnDefinitions"][0]["name"], "Name");
  EXPECT_EQ(t["columnDefinitions"][3]["priority"], 1);
  EXPECT_EQ(t["rows"][0]["cells"], json({"w1", 3, "False", nullptr, "5m"}));
  EXPECT_EQ(t["rows"][0]["object"]["kind"], "PartialObjectMetadata");
  EXPECT_EQ(t["rows"][0]["object"]["metadata"]["name"], "w1");
  json none = BuildTable(DefaultColumns(), {&kObj}, IncludeObject::kNone, "1", "", now);
  EXPECT_FALSE(none["rows"][0].contains("object"));
  EXPECT_EQ(none["rows"][0]["cells"], json({"w1", "5m"}));
}

}  // namespace
}  // namespace vmrelease::apiserver

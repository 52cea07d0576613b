// PATCH flavours: JSON patch, merge patch, strategic merge (maps merge, lists
// by merge key or replaced, directives) and apply-as-merge.
#include "tests/support/apiserver/patch.h"

#include <gtest/gtest.h>

namespace vmrelease::apiserver {
namespace {

using nlohmann::json;

TEST(PatchTypeTest, ParsesContentTypes) {
  PatchType t;
  ASSERT_TRUE(ParsePatchType("application/merge-patch+json", &t));
  EXPECT_EQ(t, PatchType::kMerge);
  ASSERT_TRUE(ParsePatchType("application/json-patch+json; charset=utf-8", &t));
  EXPECT_EQ(t, PatchType::kJson);
  ASSERT_TRUE(ParsePatchType("application/strategic-merge-patch+json", &t));
  EXPECT_EQ(t, PatchType::kStrategic);
  ASSERT_TRUE(ParsePatchType("application/apply-patch+yaml", &t));
  EXPECT_EQ(t, PatchType::kApply);
  EXPECT_FALSE(ParsePatchType("application/json", &t));
}

TEST(MergePatchTest, MergesMapsReplacesListsAndDeletesNulls) {
  json cur = {{"spec", {{"a", 1}, {"b", 2}, {"list", {1, 2, 3}}}}};
  auto r = ApplyPatch(PatchType::kMerge, cur, R"({"spec":{"a":null,"c":3,"list":[9]}})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, json({{"spec", {{"b", 2}, {"c", 3}, {"list", {9}}}}}));
}

TEST(JsonPatchTest, AppliesOpsAndFailsTestOpWith422) {
  json cur = {{"metadata", {{"resourceVersion", "5"}}}, {"spec", {{"a", 1}}}};
  auto r = ApplyPatch(
      PatchType::kJson, cur,
      R"([{"op":"replace","path":"/spec/a","value":2},{"op":"add","path":"/spec/b","value":"x"}])");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)["spec"], json({{"a", 2}, {"b", "x"}}));
  auto failed = ApplyPatch(PatchType::kJson, cur,
                           R"([{"op":"test","path":"/metadata/resourceVersion","value":"4"}])");
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().code, 422);
  auto bad = ApplyPatch(PatchType::kJson, cur, R"({"op":"add"})");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, 400);
  EXPECT_FALSE(ApplyPatch(PatchType::kMerge, cur, "{not json").ok());
}

TEST(StrategicMergeTest, ListsWithMergeKeysMergeOthersReplace) {
  json cur = {{"spec",
               {{"containers",
                 {{{"name", "app"}, {"image", "v1"}, {"env", {{{"name", "A"}, {"value", "1"}}}}},
                  {{"name", "side"}, {"image", "s1"}}}},
                {"args", {"x", "y"}}}}};
  json patch = {{"spec",
                 {{"containers",
                   {{{"name", "app"}, {"image", "v2"}, {"env", {{{"name", "B"}, {"value", "2"}}}}},
                    {{"name", "side"}, {"$patch", "delete"}},
                    {{"name", "new"}, {"image", "n1"}}}},
                  {"args", {"z"}}}}};
  json out = StrategicMerge(cur, patch);
  const json& cs = out["spec"]["containers"];
  ASSERT_EQ(cs.size(), 2u);
  EXPECT_EQ(cs[0]["image"], "v2");
  EXPECT_EQ(cs[0]["env"].size(), 2u);  // env merged by name
  EXPECT_EQ(cs[1]["name"], "new");
  EXPECT_EQ(out["spec"]["args"], json({"z"}));  // no merge key: replaced
}

TEST(StrategicMergeTest, DirectivesAndFinalizerSet) {
  json cur = {{"metadata", {{"finalizers", {"a"}}, {"labels", {{"x", "1"}, {"y", "2"}}}}},
              {"data", {{"k", "v"}, {"old", "o"}}}};
  json patch = {{"metadata",
                 {{"finalizers", {"b"}},
                  {"$setElementOrder/finalizers", {"a", "b"}},
                  {"labels", {{"x", nullptr}}}}},
                {"data", {{"$patch", "replace"}, {"k", "v2"}}}};
  json out = StrategicMerge(cur, patch);
  EXPECT_EQ(out["metadata"]["finalizers"], json({"a", "b"}));
  EXPECT_EQ(out["metadata"]["labels"], json({{"y", "2"}}));
  EXPECT_EQ(out["data"], json({{"k", "v2"}}));
  json out2 = StrategicMerge(out, {{"metadata", {{"$deleteFromPrimitiveList/finalizers", {"a"}}}}});
  EXPECT_EQ(out2["metadata"]["finalizers"], json({"b"}));
  json retained = StrategicMerge({{"spec", {{"a", 1}, {"b", 2}}}},
                                 {{"spec", {{"$retainKeys", {"b", "c"}}, {"c", 3}}}});
  EXPECT_EQ(retained["spec"], json({{"b", 2}, {"c", 3}}));
}

TEST(ApplyPatchTest, ApplyIsMergeFromYaml) {
  json cur = {{"spec", {{"a", 1}, {"b", 2}}}};
  auto r = ApplyPatch(PatchType::kApply, cur, "spec:\n  b: 3\n  c: '4'\n");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)["spec"], json({{"a", 1}, {"b", 3}, {"c", "4"}}));
}

}  // namespace
}  // namespace vmrelease::apiserver

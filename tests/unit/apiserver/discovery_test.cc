// Discovery and OpenAPI documents: version priority, resource lists with
// status subresources, aggregated discovery and the OpenAPI v3 pieces kubectl
// reads (GVK extensions and the fieldValidation parameter on PATCH).
#include "tests/support/apiserver/discovery.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace vmrelease::apiserver {
namespace {

using nlohmann::json;

TypeList Types() {
  TypeList out;
  for (auto& t : BuiltinTypes()) out.push_back(std::make_shared<const ResourceType>(std::move(t)));
  json crd = {{"metadata", {{"name", "widgets.example.com"}}},
              {"spec",
               {{"group", "example.com"},
                {"scope", "Namespaced"},
                {"names", {{"plural", "widgets"}, {"kind", "Widget"}, {"shortNames", {"wg"}}}},
                {"versions",
                 {{{"name", "v1beta1"},
                   {"served", true},
                   {"storage", false},
                   {"schema", {{"openAPIV3Schema", {{"type", "object"}}}}}},
                  {{"name", "v1"},
                   {"served", true},
                   {"storage", true},
                   {"subresources", {{"status", json::object()}}},
                   {"schema",
                    {{"openAPIV3Schema",
                      {{"type", "object"},
                       {"properties",
                        {{"spec", {{"type", "object"}, {"description", "The spec."}}}}}}}}}}}}}}};
  auto crd_types = TypesFromCrd(crd);
  EXPECT_TRUE(crd_types.ok());
  for (auto& t : *crd_types) out.push_back(std::make_shared<const ResourceType>(t));
  return out;
}

TEST(DiscoveryTest, VersionPriority) {
  std::vector<std::string> v = {"v1alpha1", "v1", "v2beta1", "v1beta2", "v1beta1", "v2", "foo"};
  std::sort(v.begin(), v.end(),
            [](const auto& a, const auto& b) { return VersionPriorityLess(b, a); });
  EXPECT_EQ(v, (std::vector<std::string>{"v2", "v1", "v2beta1", "v1beta2", "v1beta1", "v1alpha1",
                                         "foo"}));
}

TEST(DiscoveryTest, LegacyDocuments) {
  const TypeList types = Types();
  json group = ApiGroup(types, "example.com");
  EXPECT_EQ(group["kind"], "APIGroup");
  EXPECT_EQ(group["preferredVersion"]["version"], "v1");
  EXPECT_EQ(group["versions"].size(), 2u);
  EXPECT_TRUE(ApiGroup(types, "nope.io").is_null());
  json list = ApiResourceList(types, "example.com", "v1");
  ASSERT_EQ(list["resources"].size(), 2u);
  EXPECT_EQ(list["resources"][0]["name"], "widgets");
  EXPECT_EQ(list["resources"][0]["shortNames"], json({"wg"}));
  EXPECT_EQ(list["resources"][1]["name"], "widgets/status");
  EXPECT_EQ(list["resources"][1]["verbs"], json({"get", "patch", "update"}));
  json core = ApiResourceList(types, "", "v1");
  EXPECT_EQ(core["groupVersion"], "v1");
  bool has_group_core = false;
  const json groups = ApiGroupList(types);  // a temporary's member would dangle in the loop
  for (const auto& g : groups["groups"]) has_group_core = has_group_core || g["name"] == "";
  EXPECT_FALSE(has_group_core);
}

TEST(DiscoveryTest, AggregatedDiscovery) {
  json apis = AggregatedDiscovery(Types(), false);
  EXPECT_EQ(apis["kind"], "APIGroupDiscoveryList");
  EXPECT_EQ(apis["apiVersion"], "apidiscovery.k8s.io/v2");
  const json* example = nullptr;
  for (const auto& item : apis["items"])
    if (item["metadata"].value("name", "") == "example.com") example = &item;
  ASSERT_NE(example, nullptr);
  EXPECT_EQ((*example)["versions"][0]["version"], "v1");
  const json& r = (*example)["versions"][0]["resources"][0];
  EXPECT_EQ(r["resource"], "widgets");
  EXPECT_EQ(r["scope"], "Namespaced");
  EXPECT_EQ(r["responseKind"]["kind"], "Widget");
  EXPECT_EQ(r["subresources"][0]["subresource"], "status");
  json core = AggregatedDiscovery(Types(), true);
  ASSERT_EQ(core["items"].size(), 1u);
  EXPECT_FALSE(core["items"][0]["metadata"].contains("name"));
}

TEST(DiscoveryTest, OpenApiV3CarriesSchemasAndFieldValidation) {
  const TypeList types = Types();
  json root = OpenApiV3Root(types);
  const std::string url = root["paths"]["apis/example.com/v1"]["serverRelativeURL"];
  EXPECT_EQ(url.rfind("/openapi/v3/apis/example.com/v1?hash=", 0), 0u);
  json doc = OpenApiV3Document(types, "apis/example.com/v1");
  const json& schema = doc["components"]["schemas"]["com.example.v1.Widget"];
  EXPECT_EQ(schema["properties"]["spec"]["description"], "The spec.");
  EXPECT_EQ(schema["x-kubernetes-group-version-kind"][0]["kind"], "Widget");
  const json& patch =
      doc["paths"]["/apis/example.com/v1/namespaces/{namespace}/widgets/{name}"]["patch"];
  EXPECT_EQ(patch["x-kubernetes-group-version-kind"]["kind"], "Widget");
  bool field_validation = false;
  for (const auto& p : patch["parameters"])
    field_validation = field_validation || p["name"] == "fieldValidation";
  EXPECT_TRUE(field_validation);
  EXPECT_TRUE(
      doc["paths"].contains("/apis/example.com/v1/namespaces/{namespace}/widgets/{name}/status"));
  EXPECT_TRUE(OpenApiV3Document(types, "apis/nope.io/v1").is_null());
  // The hash changes with the schema, so kubectl's cache never serves a stale document.
  TypeList changed = types;
  auto w = std::make_shared<ResourceType>(*changed.back());
  w->schema["description"] = "changed";
  changed.back() = w;
  EXPECT_NE(OpenApiV3Root(changed)["paths"]["apis/example.com/v1"]["serverRelativeURL"], url);
}

}  // namespace
}  // namespace vmrelease::apiserver

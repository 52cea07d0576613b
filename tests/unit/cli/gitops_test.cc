// SetPinVersion edits one line of a GitOps file and nothing else; JsonToYaml reads back
// as the JSON it came from.
#include "controller/cli/gitops.h"

#include <gtest/gtest.h>

#include "controller/api/manifest.h"
#include "controller/cli/output.h"

namespace vmrelease::cli {
namespace {

const PinSelector kProd{"production", "app"};

struct Case {
  std::string name;
  std::string in;
  std::string want;  // empty: an error containing `error`
  std::string error;
};

class SetPinVersionTest : public ::testing::TestWithParam<Case> {};

TEST_P(SetPinVersionTest, EditsOnlyTheVersionLine) {
  const Case& c = GetParam();
  auto got = SetPinVersion(c.in, kProd, "1.2.0");
  if (c.want.empty()) {
    ASSERT_FALSE(got.ok()) << *got;
    EXPECT_NE(got.status().message().find(c.error), std::string::npos) << got.status().message();
    return;
  }
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, c.want);
}

const char kPinHead[] =
    "kind: EnvironmentPin\napiVersion: vmrelease.io/v1alpha1\nmetadata:\n  name: p\n";

INSTANTIATE_TEST_SUITE_P(
    Cases, SetPinVersionTest,
    ::testing::Values(
        Case{"plain",
             std::string(kPinHead) + "spec:\n  environment: production\n  image: app\n  "
                                     "version: 1.0.0\n",
             std::string(kPinHead) + "spec:\n  environment: production\n  image: app\n  "
                                     "version: 1.2.0\n"},
        Case{"quotes_and_comment_kept",
             std::string(kPinHead) + "spec:  # the pin\n    environment: production\n    "
                                     "image: app\n    version: '1.0.0'  # reviewed\n",
             std::string(kPinHead) + "spec:  # the pin\n    environment: production\n    "
                                     "image: app\n    version: '1.2.0'  # reviewed\n"},
        Case{"crlf_and_no_final_newline",
             "kind: EnvironmentPin\r\nspec:\r\n  environment: production\r\n  image: app\r\n"
             "  version: \"1.0.0\"",
             "kind: EnvironmentPin\r\nspec:\r\n  environment: production\r\n  image: app\r\n"
             "  version: \"1.2.0\""},
        // A nested `version:` (deeper than spec's keys) and other documents stay.
        Case{"right_document_and_depth",
             "kind: EnvironmentPin\nspec:\n  environment: staging\n  image: app\n  version: "
             "1.0.0\n---\n# prod\nkind: EnvironmentPin\nspec:\n  environment: production\n  "
             "export:\n    version: 9.9.9\n  image: app\n\n  # comment\n  version: 1.0.0\n"
             "status:\n  version: 1.0.0\n",
             "kind: EnvironmentPin\nspec:\n  environment: staging\n  image: app\n  version: "
             "1.0.0\n---\n# prod\nkind: EnvironmentPin\nspec:\n  environment: production\n  "
             "export:\n    version: 9.9.9\n  image: app\n\n  # comment\n  version: 1.2.0\n"
             "status:\n  version: 1.0.0\n"},
        Case{"missing", "kind: EnvironmentPin\nspec:\n  environment: dev\n  image: app\n", "",
             "no EnvironmentPin for environment production and image app"},
        Case{"track",
             "kind: EnvironmentPin\nspec:\n  environment: production\n  image: app\n"
             "  track: {semver: '^1'}\n",
             "", "tracks a range"},
        Case{"flow",
             "kind: EnvironmentPin\nspec: {environment: production, image: app, "
             "version: 1.0.0}\n",
             "", "flow style"},
        Case{"twice",
             "kind: EnvironmentPin\nspec:\n  environment: production\n  image: app\n  version: "
             "1.0.0\n---\nkind: EnvironmentPin\nspec:\n  environment: production\n  image: "
             "app\n  version: 1.0.0\n",
             "", "more than one"},
        Case{"not_yaml", "kind: EnvironmentPin\nspec: [\n", "", "not valid YAML"}),
    [](const auto& info) { return info.param.name; });

TEST(JsonToYamlTest, ReadsBackAsTheSameJson) {
  const nlohmann::json j = {
      {"version", "1.0"}, {"ready", true},   {"count", 2},         {"empty", ""},
      {"no", "no"},       {"none", nullptr}, {"list", {"a", "b"}}, {"obj", {{"k", "1.2.0"}}}};
  auto back = api::ParseYamlDocument(JsonToYaml(j));
  ASSERT_TRUE(back.ok()) << back.status().ToString() << JsonToYaml(j);
  EXPECT_EQ(*back, j) << JsonToYaml(j);
}

}  // namespace
}  // namespace vmrelease::cli

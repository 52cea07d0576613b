// deploy/krew/vmrelease.yaml is a krew Plugin manifest that installs this binary.
#include <gtest/gtest.h>

#include <regex>

#include "controller/api/manifest.h"
#include "tests/support/testing/process.h"

namespace vmrelease::cli {
namespace {

TEST(KrewManifestTest, ParsesAndInstallsKubectlVmrelease) {
  const std::string dir = testing::SourceDir();
  auto docs = api::LoadManifestFile(dir + "/deploy/krew/vmrelease.yaml");
  ASSERT_TRUE(docs.ok()) << docs.status().ToString();
  ASSERT_EQ(docs->size(), 1u);
  const api::Json& m = (*docs)[0];
  EXPECT_EQ(m["apiVersion"], "krew.googlecontainertools.github.com/v1alpha2");
  EXPECT_EQ(m["kind"], "Plugin");
  // krew installs plugin NAME as kubectl-NAME: `kubectl vmrelease`.
  EXPECT_EQ(m["metadata"]["name"], "vmrelease");
  const api::Json& spec = m["spec"];
  ASSERT_TRUE(spec["shortDescription"].is_string());
  EXPECT_LE(spec["shortDescription"].get<std::string>().size(), 60u);  // krew's index rule
  // The version is the project's (CMakeLists.txt: project(vmrelease VERSION x.y.z)).
  std::smatch match;
  const std::string cmake = testing::ReadFile(dir + "/CMakeLists.txt");
  ASSERT_TRUE(std::regex_search(cmake, match, std::regex(R"(project\(vmrelease VERSION (\S+))")));
  EXPECT_EQ(spec["version"], "v" + match[1].str());
  ASSERT_EQ(spec["platforms"].size(), 1u);
  const api::Json& p = spec["platforms"][0];
  EXPECT_EQ(p["selector"]["matchLabels"], api::Json({{"os", "linux"}, {"arch", "amd64"}}));
  EXPECT_EQ(p["bin"], "kubectl-vmrelease");
  EXPECT_EQ(p["files"][0]["from"], "kubectl-vmrelease");
  ASSERT_TRUE(p["uri"].is_string());
  EXPECT_EQ(p["uri"].get<std::string>().rfind("https://", 0), 0u);
  ASSERT_TRUE(p["sha256"].is_string());
  EXPECT_TRUE(std::regex_match(p["sha256"].get<std::string>(), std::regex("[0-9a-f]{64}")));
}

}  // namespace
}  // namespace vmrelease::cli

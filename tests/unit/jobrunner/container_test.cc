// What the kubelet does before starting a container, as the job runner does it:
// environment from values, Secrets, ConfigMaps and fields, `$(VAR)` expansion,
// the termination-message path, the executable lookup and the errors a user
// sees when something is missing.
#include "tests/support/jobrunner/container.h"

#include <gtest/gtest.h>

#include "controller/common/crypto.h"
#include "tests/support/testing/process.h"
#include "tests/unit/kube/fake_client.h"

namespace vmrelease::jobrunner {
namespace {

using kube::Json;

TEST(ExpandVarsTest, FollowsKubernetesExpansion) {
  const std::map<std::string, std::string> vars = {{"A", "1"}, {"B", "two"}};
  for (const auto& [in, want] : std::vector<std::pair<std::string, std::string>>{
           {"$(A)", "1"},
           {"x$(A)y$(B)z", "x1ytwoz"},
           {"$(MISSING)", "$(MISSING)"},
           {"$$(A)", "$(A)"},
           {"$$", "$"},
           {"$$$$", "$$"},
           {"$A", "$A"},
           {"$(A", "$(A"},
           {"cost: 5$", "cost: 5$"},
       }) {
    EXPECT_EQ(ExpandVars(in, vars), want) << in;
  }
}

class PlanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    client_.Put(
        kube::SecretResource(),
        {{"metadata", {{"name", "creds"}, {"namespace", "ns"}}},
         {"data", {{"token", Base64Encode("s3cr3t-token")}, {"bad key", Base64Encode("x")}}}});
    client_.Put(kube::ConfigMapResource(), {{"metadata", {{"name", "cfg"}, {"namespace", "ns"}}},
                                            {"data", {{"region", "westeurope"}, {"size", "10"}}}});
  }
  ContainerPlan Plan(Json container) {
    if (!container.contains("name")) container["name"] = "main";
    return PlanContainer(client_, pod_, container,
                         {.attempt_dir = dir_.path(),
                          .termination_path = dir_.Join("termination-log"),
                          .path = "/usr/bin:/bin"});
  }
  Json pod_ = {{"metadata",
                {{"name", "build-x1"},
                 {"namespace", "ns"},
                 {"uid", "u-1"},
                 {"labels", {{"app", "packer"}}}}},
               {"spec", {{"serviceAccountName", "builder"}}}};
  kube::testing::MemoryClient client_;
  testing::TempDir dir_;
};

TEST_F(PlanTest, BuildsTheEnvironmentFromValuesSecretsConfigMapsAndFields) {
  ContainerPlan p =
      Plan({{"command", {"sh", "-c", "echo $(REGION)"}},
            {"envFrom",
             {{{"configMapRef", {{"name", "cfg"}}}, {"prefix", "CFG_"}},
              {{"secretRef", {{"name", "creds"}}}}}},
            {"env",
             {{{"name", "TOKEN"},
               {"valueFrom", {{"secretKeyRef", {{"name", "creds"}, {"key", "token"}}}}}},
              {{"name", "REGION"},
               {"valueFrom", {{"configMapKeyRef", {{"name", "cfg"}, {"key", "region"}}}}}},
              {{"name", "WHERE"}, {"value", "$(REGION)-$(MISSING)"}},
              {{"name", "POD"}, {"valueFrom", {{"fieldRef", {{"fieldPath", "metadata.name"}}}}}},
              {{"name", "APP"},
               {"valueFrom", {{"fieldRef", {{"fieldPath", "metadata.labels['app']"}}}}}},
              {{"name", "OPTIONAL"},
               {"valueFrom",
                {{"secretKeyRef", {{"name", "nope"}, {"key", "k"}, {"optional", true}}}}}}}}});
  ASSERT_TRUE(p.ok()) << p.error->message;
  EXPECT_EQ(p.env["TOKEN"], "s3cr3t-token");
  EXPECT_EQ(p.env["token"], "s3cr3t-token") << "envFrom secretRef";
  EXPECT_FALSE(p.env.count("bad key")) << "not an environment variable name: skipped";
  EXPECT_EQ(p.env["CFG_region"], "westeurope");
  EXPECT_EQ(p.env["REGION"], "westeurope");
  EXPECT_EQ(p.env["WHERE"], "westeurope-$(MISSING)");
  EXPECT_EQ(p.env["POD"], "build-x1");
  EXPECT_EQ(p.env["APP"], "packer");
  EXPECT_FALSE(p.env.count("OPTIONAL"));
  EXPECT_EQ(p.env["HOSTNAME"], "build-x1");
  EXPECT_EQ(p.env["PATH"], "/usr/bin:/bin");
  EXPECT_EQ(p.env[kTerminationPathEnv], dir_.Join("termination-log"));
  EXPECT_EQ(p.argv, (std::vector<std::string>{"/usr/bin/sh", "-c", "echo westeurope"}));
  EXPECT_EQ(p.secret_values, (std::vector<std::string>{"s3cr3t-token", "s3cr3t-token"}));
  EXPECT_EQ(p.working_dir, dir_.path());
}

TEST_F(PlanTest, MissingSecretsAndKeysAreConfigErrorsWithTheKubeletsText) {
  ContainerPlan p = Plan(
      {{"command", {"true"}},
       {"env",
        {{{"name", "T"}, {"valueFrom", {{"secretKeyRef", {{"name", "gone"}, {"key", "k"}}}}}}}}});
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error->reason, "CreateContainerConfigError");
  EXPECT_EQ(p.error->message, "secret \"gone\" not found");
  p = Plan({{"command", {"true"}},
            {"env",
             {{{"name", "T"},
               {"valueFrom", {{"configMapKeyRef", {{"name", "cfg"}, {"key", "nope"}}}}}}}}});
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error->message, "couldn't find key nope in ConfigMap ns/cfg");
  p = Plan({{"command", {"true"}}, {"envFrom", {{{"configMapRef", {{"name", "absent"}}}}}}});
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error->message, "configmap \"absent\" not found");
}

TEST_F(PlanTest, TheTerminationMessagePathIsRewrittenToTheWorkDirFile) {
  ContainerPlan p = Plan({{"command", {"sh", "-c", "echo done > /dev/termination-log"}}});
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p.argv[2], "echo done > " + dir_.Join("termination-log"));
  p = Plan(
      {{"command", {"sh", "-c", "echo done > /tmp/msg"}}, {"terminationMessagePath", "/tmp/msg"}});
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p.argv[2], "echo done > " + dir_.Join("termination-log"));
}

TEST_F(PlanTest, CommandsThatCannotRunAreStartErrors) {
  ContainerPlan p = Plan({{"command", {"no-such-tool-here"}}});
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error->reason, "StartError");
  EXPECT_EQ(p.error->message, "exec: \"no-such-tool-here\": executable file not found in $PATH");
  p = Plan({{"image", "packer:1"}});
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error->reason, "StartError");
  EXPECT_NE(p.error->message.find("pulls no image"), std::string::npos);
  // With no command, args are what runs.
  p = Plan({{"args", {"true"}}});
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p.argv, std::vector<std::string>{"/usr/bin/true"});
}

TEST_F(PlanTest, AWorkingDirThatExistsIsUsedElseTheAttemptDir) {
  EXPECT_EQ(Plan({{"command", {"true"}}, {"workingDir", "/tmp"}}).working_dir, "/tmp");
  EXPECT_EQ(Plan({{"command", {"true"}}, {"workingDir", "/no/such/dir"}}).working_dir, dir_.path());
}

}  // namespace
}  // namespace vmrelease::jobrunner

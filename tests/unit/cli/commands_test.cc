// The commands against an in-memory API (MemoryClient): the cases the end-to-end
// test does not reach — several images at once, a tracking target, end of life,
// duplicate pins, several namespaces, what is refused before anything is written.
#include "controller/cli/commands.h"

#include <gtest/gtest.h>

#include <sstream>

#include "controller/api/meta.h"
#include "controller/cli/world.h"
#include "tests/unit/kube/fake_client.h"

namespace vmrelease::cli {
namespace {

using kube::Json;

Json Release(const std::string& ns, const std::string& image, const std::string& version,
             const std::string& phase, Json status_extra = Json::object()) {
  std::string name = image + "-" + version;
  Json status = {{"phase", phase}};
  status.update(status_extra);
  return {{"apiVersion", "vmrelease.io/v1alpha1"},
          {"kind", "ImageRelease"},
          {"metadata",
           {{"namespace", ns}, {"name", name}, {"creationTimestamp", "2026-01-01T00:00:00Z"}}},
          {"spec",
           {{"image", image},
            {"version", version},
            {"changelog", {{{"kind", "Fix"}, {"summary", "fix in " + image + " " + version}}}}}},
          {"status", status}};
}

Json Pin(const std::string& ns, const std::string& env, const std::string& image, Json spec_extra,
         const std::vector<std::string>& history /* newest first */) {
  Json spec = {{"environment", env}, {"image", image}};
  spec.update(spec_extra);
  Json hist = Json::array();
  for (size_t i = 0; i < history.size(); ++i) {
    Json h = {{"version", history[i]},
              {"release", image + "-" + history[i]},
              {"from", "2026-01-0" + std::to_string(9 - i) + "T00:00:00Z"},
              {"reason", "Pinned"}};
    if (i > 0) h["to"] = "2026-01-0" + std::to_string(10 - i) + "T00:00:00Z";
    hist.push_back(h);
  }
  Json status = {{"history", hist},
                 {"conditions",
                  {{{"type", "Ready"},
                    {"status", "True"},
                    {"reason", "Resolved"},
                    {"message", "ok"},
                    {"lastTransitionTime", "2026-01-01T00:00:00Z"}}}}};
  if (!history.empty())
    status["resolved"] = {{"version", history[0]}, {"release", image + "-" + history[0]}};
  return {{"apiVersion", "vmrelease.io/v1alpha1"},
          {"kind", "EnvironmentPin"},
          {"metadata",
           {{"namespace", ns},
            {"name", image + "-" + env},
            {"generation", 1},
            {"creationTimestamp", "2026-01-01T00:00:00Z"}}},
          {"spec", spec},
          {"status", status}};
}

class CommandsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* image : {"app", "db"}) {
      client_.Put(ReleaseType(), Release("default", image, "1.0.0", "Released"));
      client_.Put(ReleaseType(), Release("default", image, "1.1.0", "Released"));
    }
    client_.Put(ReleaseType(), Release("default", "app", "1.2.0", "Failed"));
    client_.Put(PinType(),
                Pin("default", "dev", "app", {{"version", "1.1.0"}}, {"1.1.0", "1.0.0"}));
    client_.Put(PinType(), Pin("default", "dev", "db", {{"version", "1.1.0"}}, {"1.1.0"}));
    client_.Put(PinType(), Pin("default", "production", "app", {{"track", {{"semver", "~1.0.0"}}}},
                               {"1.0.0"}));
    client_.Put(PinType(), Pin("default", "production", "db", {{"version", "1.0.0"}}, {"1.0.0"}));
  }
  Context Ctx() { return Context{.client = client_, .ns = "default", .out = out_, .err = err_}; }
  std::optional<Json> GetPin(const std::string& name) {
    return client_.Peek(PinType(), {"default", name});
  }
  kube::testing::MemoryClient client_;
  std::ostringstream out_, err_;
};

TEST_F(CommandsTest, PromoteMovesEveryImageAndATrackingTargetBecomesExact) {
  Context ctx = Ctx();
  ASSERT_EQ(RunPromote(ctx, {.from = "dev", .to = "production"}), 0) << err_.str();
  Json app = *GetPin("app-production"), db = *GetPin("db-production");
  EXPECT_EQ(app["spec"]["version"], "1.1.0");
  EXPECT_FALSE(app["spec"].contains("track")) << app["spec"].dump();
  EXPECT_EQ(db["spec"]["version"], "1.1.0");
  EXPECT_NE(out_.str().find("production / app: promote 1.0.0 -> 1.1.0"), std::string::npos);
  EXPECT_NE(out_.str().find("production / db: promote 1.0.0 -> 1.1.0"), std::string::npos);
  EXPECT_NE(out_.str().find("fix in db 1.1.0"), std::string::npos) << out_.str();
}

TEST_F(CommandsTest, RefusalsWriteNothing) {
  struct Case {
    std::function<int(Context&)> run;
    std::string error;
  };
  client_.Put(ReleaseType(), Release("default", "db", "0.9.0", "Released",
                                     {{"endOfLife", "2020-01-01T00:00:00Z"}}));
  // A release being deleted (its artifacts are going), and a pin whose previous version's
  // release is gone altogether.
  Json going = Release("default", "db", "0.8.0", "Released");
  going["metadata"]["deletionTimestamp"] = "2026-01-05T00:00:00Z";
  going["metadata"]["finalizers"] = {"vmrelease.io/finalizer"};
  client_.Put(ReleaseType(), going);
  client_.Put(PinType(),
              Pin("default", "staging", "app", {{"version", "1.1.0"}}, {"1.1.0", "0.7.0"}));
  const std::vector<Case> cases = {
      {[](Context& c) { return RunRollback(c, {.environment = "production"}); },
       "pins several images (app, db); choose one with --image"},
      {[](Context& c) { return RunRollback(c, {.environment = "production", .image = "db"}); },
       "its history has no earlier version"},
      {[](Context& c) {
         return RunRollback(c, {.environment = "dev", .image = "app", .to_version = "1.2.0"});
       },
       "1.2.0 (app-1.2.0) is not Released (phase Failed)"},
      {[](Context& c) {
         return RunRollback(c, {.environment = "dev", .image = "db", .to_version = "0.9.0"});
       },
       "is past its end of life (2020-01-01T00:00:00Z)"},
      {[](Context& c) {
         return RunRollback(c, {.environment = "dev", .image = "db", .to_version = "0.8.0"});
       },
       "0.8.0 (db-0.8.0) is being deleted"},
      {[](Context& c) { return RunRollback(c, {.environment = "staging", .image = "app"}); },
       "refusing to roll back staging / app to 0.7.0: no ImageRelease has version 0.7.0 "
       "(missing)"},
      {[](Context& c) {
         return RunRollback(c, {.environment = "dev", .image = "db", .to_version = "v1"});
       },
       "not a release version"},
      {[](Context& c) { return RunPromote(c, {.from = "dev", .to = "dev"}); },
       "the same environment"},
      {[](Context& c) { return RunPromote(c, {.from = "qa", .to = "dev"}); },
       "no EnvironmentPin for environment qa"},
      {[](Context& c) { return RunHistory(c, {.environment = "qa"}); },
       "no EnvironmentPin for environment qa"},
  };
  for (const Case& c : cases) {
    out_.str("");
    err_.str("");
    Context ctx = Ctx();
    EXPECT_EQ(c.run(ctx), 1) << c.error;
    EXPECT_NE(err_.str().find(c.error), std::string::npos)
        << "want: " << c.error << "\ngot: " << err_.str();
  }
  EXPECT_EQ(client_.CountCalls("patch"), 0u);
}

TEST_F(CommandsTest, RevokeSetsTheRevocationAndRefusesUnknownVersions) {
  Context ctx = Ctx();
  // 1.1.0 exists for app and db: which one?
  EXPECT_EQ(RunRevoke(ctx, {.version = "1.1.0", .reason = "CVE-1"}), 1);
  EXPECT_NE(err_.str().find("exists for several images (app, db); choose one with --image"),
            std::string::npos)
      << err_.str();
  EXPECT_EQ(RunRevoke(ctx, {.version = "3.0.0", .reason = "CVE-1", .image = "app"}), 1);
  EXPECT_NE(err_.str().find("no ImageRelease of image app has version 3.0.0"), std::string::npos)
      << err_.str();
  EXPECT_EQ(RunRevoke(ctx, {.version = "1.1.0", .reason = "", .image = "app"}), 1);
  EXPECT_EQ(client_.CountCalls("patch"), 0u);

  ASSERT_EQ(RunRevoke(ctx, {.version = "1.1.0", .reason = "CVE-1", .image = "db"}), 0)
      << err_.str();
  Json db = *client_.Peek(ReleaseType(), {"default", "db-1.1.0"});
  EXPECT_EQ(db["spec"]["revocation"], Json({{"reason", "CVE-1"}}));
  EXPECT_FALSE(
      client_.Peek(ReleaseType(), {"default", "app-1.1.0"})->at("spec").contains("revocation"));
  // dev runs db 1.1.0.
  EXPECT_NE(out_.str().find("still running it: dev"), std::string::npos) << out_.str();
}

TEST_F(CommandsTest, PromoteRefusesADuplicateTarget) {
  Json dup = Pin("default", "production", "db", {{"version", "1.0.0"}}, {});
  dup["metadata"]["name"] = "db-production-2";
  client_.Put(PinType(), dup);
  Context ctx = Ctx();
  EXPECT_EQ(RunPromote(ctx, {.from = "dev", .to = "production", .image = "db"}), 1);
  EXPECT_NE(err_.str().find("has 2 EnvironmentPins of image db"), std::string::npos) << err_.str();
  EXPECT_EQ(client_.CountCalls("patch"), 0u);
}

TEST_F(CommandsTest, StatusOfAllNamespacesAndOfOne) {
  client_.Put(ReleaseType(), Release("team-b", "app", "2.0.0", "Released"));
  client_.Put(ReleaseType(), Release("team-b", "app", "2.1.0", "Validating"));
  client_.Put(PinType(), Pin("team-b", "dev", "app", {{"version", "2.0.0"}}, {"2.0.0"}));
  Context all = Ctx();
  all.all_namespaces = true;
  all.output = OutputFormat::kJson;
  ASSERT_EQ(RunStatus(all), 0) << err_.str();
  Json j = Json::parse(out_.str());
  ASSERT_EQ(j["images"].size(), 3u) << j.dump(2);  // default/app, default/db, team-b/app
  EXPECT_EQ(j["images"][2]["namespace"], "team-b");
  EXPECT_EQ(j["images"][2]["environments"]["dev"]["version"], "2.0.0");
  ASSERT_EQ(j["inFlight"].size(), 1u);
  EXPECT_EQ(j["inFlight"][0]["phase"], "Validating");

  out_.str("");
  Context one = Ctx();
  ASSERT_EQ(RunStatus(one), 0) << err_.str();
  EXPECT_EQ(out_.str().find("team-b"), std::string::npos) << out_.str();
  EXPECT_EQ(out_.str().find("2.0.0"), std::string::npos) << out_.str();
  EXPECT_NE(out_.str().find("IMAGE   DEV     PRODUCTION"), std::string::npos) << out_.str();
}

}  // namespace
}  // namespace vmrelease::cli

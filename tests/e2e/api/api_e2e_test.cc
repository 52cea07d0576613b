// The product's API against real kubectl v1.32 (default flags) and the local API
// server: both CRDs and every example apply, `kubectl get` shows the printer
// columns (also with status values), `kubectl explain` shows our descriptions,
// and the invalid corpus splits exactly as labelled: "apiserver" cases are
// rejected by the server with a message naming the field, "semantic" cases are
// accepted by it (it does not evaluate CEL) and left to the C++ validation.
#include <gtest/gtest.h>

#include <regex>

#include "controller/api/environment_pin.h"
#include "controller/api/image_release.h"
#include "controller/api/manifest.h"
#include "tests/support/apiserver/fixture.h"
#include "tests/unit/api/api_test_util.h"

namespace vmrelease::api {
namespace {

using testing::CorpusCase;
using testing::CorpusFiles;
using testing::CrdFiles;
using testing::ExampleFiles;
using testing::LoadCorpusCase;
using testing::TestName;
using vmrelease::testing::CommandResult;
using vmrelease::testing::LocalApiServer;

std::string Join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += x + " ";
  return s;
}

// One server for the whole executable: the CRDs are applied once, with kubectl.
class ApiServerEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    auto s = LocalApiServer::Start();
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    server_ = std::move(*s);
    for (const auto& crd : CrdFiles()) {
      CommandResult r = server_->Kubectl({"apply", "-f", crd});
      ASSERT_EQ(r.exit_code, 0) << crd << "\n" << r.out << r.err << "\n" << server_->log();
      std::string name = std::filesystem::path(crd).stem().string();
      EXPECT_EQ(r.out, "customresourcedefinition.apiextensions.k8s.io/" + name + " created\n");
      CommandResult wait =
          server_->Kubectl({"wait", "--for=condition=Established", "crd/" + name, "--timeout=60s"});
      ASSERT_EQ(wait.exit_code, 0) << wait.out << wait.err;
    }
  }
  void TearDown() override { server_.reset(); }
  static LocalApiServer& server() { return *server_; }

 private:
  static inline std::unique_ptr<LocalApiServer> server_;
};

LocalApiServer& Server() { return ApiServerEnvironment::server(); }
[[maybe_unused]] ::testing::Environment* const kEnvironment =
    ::testing::AddGlobalTestEnvironment(new ApiServerEnvironment);

std::string Ok(const std::vector<std::string>& args, const std::string& in = "") {
  CommandResult r = Server().Kubectl(args, in);
  EXPECT_EQ(r.exit_code, 0) << "kubectl " << Join(args) << "\nstdout: " << r.out
                            << "\nstderr: " << r.err;
  return r.out;
}

std::string Collection(const Json& doc) {
  std::string plural =
      doc.value("kind", "") == kEnvironmentPinKind ? kEnvironmentPinPlural : kImageReleasePlural;
  return "/apis/vmrelease.io/v1alpha1/namespaces/default/" + plural;
}

TEST(CrdTest, ReapplyingTheCrdsChangesNothing) {
  for (const auto& crd : CrdFiles()) {
    std::string name = std::filesystem::path(crd).stem().string();
    EXPECT_EQ(Ok({"apply", "-f", crd}),
              "customresourcedefinition.apiextensions.k8s.io/" + name + " unchanged\n");
  }
}

// Each example applies with kubectl's default flags (strict field validation, client-side
// apply), re-applies unchanged, and what the server stores parses into the C++ types.
TEST(ExampleTest, EveryExampleAppliesWithDefaultFlags) {
  std::vector<std::string> files = ExampleFiles();
  ASSERT_GE(files.size(), 8u);
  for (const auto& file : files) {
    SCOPED_TRACE(file);
    auto docs = LoadManifestFile(file);
    ASSERT_TRUE(docs.ok());
    const Json& doc = (*docs)[0];
    bool is_pin = doc["kind"] == kEnvironmentPinKind;
    std::string name = doc["metadata"]["name"];
    std::string ref =
        std::string(is_pin ? "environmentpin" : "imagerelease") + ".vmrelease.io/" + name;
    EXPECT_EQ(Ok({"apply", "-f", file}), ref + " created\n");
    EXPECT_EQ(Ok({"apply", "-f", file}), ref + " unchanged\n");
    auto stored = Server().Request("GET", Collection(doc) + "/" + name);
    ASSERT_TRUE(stored.ok());
    ASSERT_EQ(stored->status, 200) << stored->body;
    Json obj = Json::parse(stored->body);
    if (is_pin) {
      auto p = ParseEnvironmentPin(obj);
      ASSERT_TRUE(p.ok()) << p.status().ToString();
      EXPECT_EQ(p->spec.environment, doc["spec"]["environment"]);
    } else {
      auto r = ParseImageRelease(obj);
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      EXPECT_TRUE(r->spec.build.timeout.has_value()) << "the CRD default is applied";
      EXPECT_TRUE(r->spec.retention.has_value());
    }
  }
}

// Runs after ExampleTest (plain TESTs run in the order they are defined).
TEST(PrinterColumnsTest, GetShowsTheColumnsWithStatusValues) {
  // The controller's part, done by hand: a release and a pin get a status.
  auto patch = [](const std::string& path, const Json& status) {
    auto r = Server().Request("PATCH", path + "/status", Json{{"status", status}}.dump(),
                              "application/merge-patch+json");
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->status, 200) << r->body;
  };
  const std::string releases = "/apis/vmrelease.io/v1alpha1/namespaces/default/imagereleases";
  const std::string pins = "/apis/vmrelease.io/v1alpha1/namespaces/default/environmentpins";
  patch(releases + "/sql-server-baseline-1.3.0",
        Json::parse(R"({"phase": "Released", "conditions": [{"type": "Ready", "status": "True",
          "lastTransitionTime": "2026-01-20T11:42:10Z", "reason": "Released", "message": "ok"}],
          "artifact": {"galleryImageVersionId": "/subscriptions/3f2c8f7e-5b1a-4c3e-9d2f-7a6b5c4d3e2f/resourceGroups/rg-images/providers/Microsoft.Compute/galleries/corp_images/images/sql-server-baseline/versions/1.3.0"}})"));
  patch(pins + "/staging-sql",
        Json::parse(R"({"resolved": {"version": "1.3.0", "release": "sql-server-baseline-1.3.0"},
          "behindBy": 1, "conditions": [{"type": "Ready", "status": "True",
          "lastTransitionTime": "2026-01-21T08:00:00Z", "reason": "Resolved", "message": ""}]})"));

  std::string ir = Ok({"get", "imagereleases"});
  EXPECT_TRUE(
      std::regex_search(ir, std::regex(R"(^NAME\s+IMAGE\s+VERSION\s+PHASE\s+READY\s+AGE\n)")))
      << ir;
  EXPECT_TRUE(std::regex_search(
      ir,
      std::regex(
          R"(\nsql-server-baseline-1\.3\.0\s+sql-server-baseline\s+1\.3\.0\s+Released\s+True\s+\d+[smh]\w*\n)")))
      << ir;
  EXPECT_TRUE(std::regex_search(
      ir, std::regex(R"(\nubuntu-base-2\.4\.0\s+ubuntu-base\s+2\.4\.0\s+\d+[smh]\w*\n)")))
      << "no status yet: empty Phase and Ready\n"
      << ir;
  std::string wide = Ok({"get", "ir", "-o", "wide"});
  EXPECT_TRUE(std::regex_search(
      wide,
      std::regex(
          R"(^NAME\s+IMAGE\s+VERSION\s+PHASE\s+READY\s+AGE\s+REASON\s+GALLERY-VERSION\s+PINNED-BY\n)")))
      << wide;
  EXPECT_NE(wide.find("/versions/1.3.0"), std::string::npos) << wide;

  std::string pin = Ok({"get", "environmentpins"});
  EXPECT_TRUE(std::regex_search(
      pin, std::regex(R"(^NAME\s+ENVIRONMENT\s+IMAGE\s+VERSION\s+READY\s+BEHIND\s+AGE\n)")))
      << pin;
  EXPECT_TRUE(std::regex_search(
      pin,
      std::regex(
          R"(\nstaging-sql\s+staging\s+sql-server-baseline\s+1\.3\.0\s+True\s+1\s+\d+[smh]\w*\n)")))
      << pin;
  std::string pin_wide = Ok({"get", "pin", "-o", "wide"});
  EXPECT_TRUE(std::regex_search(
      pin_wide, std::regex(R"(\ndev-sql\s+dev\s+sql-server-baseline\s.*>=1\.3\.0 <2\.0\.0)")))
      << pin_wide;

  // The category lists both kinds.
  std::string all = Ok({"get", "vmrelease"});
  EXPECT_NE(all.find("imagerelease.vmrelease.io/sql-server-baseline-1.3.0"), std::string::npos)
      << all;
  EXPECT_NE(all.find("environmentpin.vmrelease.io/production-sql"), std::string::npos) << all;
}

TEST(ExplainTest, ShowsOurDescriptions) {
  std::string version = Ok({"explain", "imagerelease.spec.version"});
  EXPECT_NE(version.find("KIND:       ImageRelease"), std::string::npos) << version;
  EXPECT_NE(version.find("FIELD: version <string>"), std::string::npos) << version;
  EXPECT_NE(version.find("MAJOR.MINOR.PATCH with non-negative integers"), std::string::npos)
      << version;
  std::string track = Ok({"explain", "environmentpin.spec.track.semver"});
  EXPECT_NE(track.find("npm-style semver range"), std::string::npos) << track;
  std::string build = Ok({"explain", "ir.spec.build"});
  EXPECT_NE(build.find("imageBuilder"), std::string::npos) << build;
  EXPECT_NE(build.find("exactly one backend"), std::string::npos) << build;
}

// --- the invalid corpus --------------------------------------------------------------------

class CorpusServerTest : public ::testing::TestWithParam<std::string> {};

TEST_P(CorpusServerTest, SplitsAsLabelled) {
  CorpusCase c = LoadCorpusCase(GetParam());
  ASSERT_FALSE(c.docs.empty());
  const Json& first = c.docs[0];
  const std::string name = first["metadata"].value("name", "");
  auto create =
      Server().Request("POST", Collection(first) + "?fieldValidation=Strict", first.dump());
  ASSERT_TRUE(create.ok()) << create.status().ToString();
  if (c.rejected_by == "apiserver") {
    ASSERT_EQ(c.docs.size(), 1u);
    EXPECT_TRUE(create->status == 422 || create->status == 400) << create->status << create->body;
    Json status = Json::parse(create->body);
    std::string message = status.value("message", "");
    EXPECT_NE(message.find(c.expect), std::string::npos)
        << "expected: " << c.expect << "\nserver said: " << message;
    return;
  }
  // Semantic: the server accepts the object (and the update), C++ validation rejects it
  // (tests/unit/api/validation_test).
  EXPECT_EQ(create->status, 201) << create->body;
  if (c.docs.size() == 2 && create->status == 201) {
    Json update = c.docs[1];
    update["metadata"]["resourceVersion"] =
        Json::parse(create->body)["metadata"]["resourceVersion"];
    auto put = Server().Request("PUT", Collection(first) + "/" + name + "?fieldValidation=Strict",
                                update.dump());
    ASSERT_TRUE(put.ok());
    EXPECT_EQ(put->status, 200) << put->body;
  }
  auto del = Server().Request("DELETE", Collection(first) + "/" + name);
  ASSERT_TRUE(del.ok());
  EXPECT_EQ(del->status, 200) << del->body;
}

INSTANTIATE_TEST_SUITE_P(Corpus, CorpusServerTest, ::testing::ValuesIn(CorpusFiles()),
                         [](const auto& info) { return TestName(info.param); });

TEST(CorpusKubectlTest, RejectionsReadWellThroughKubectl) {
  const std::string dir = vmrelease::testing::SourceDir() + "/tests/testdata/invalid/";
  struct Case {
    const char* file;
    const char* stderr_text;
  };
  for (const Case& c : {
           Case{"release-version-two-parts.yaml",
                "The ImageRelease \"corpus-1.0.0\" is invalid: spec.version: Invalid value: "
                "\"1.2\": spec.version in body should match '^(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)"},
           Case{"release-unknown-field.yaml", "unknown field \"spec.imageName\""},
           Case{"pin-missing-environment.yaml", "spec.environment: Required value"},
       }) {
    CommandResult r = Server().Kubectl({"apply", "-f", dir + c.file});
    EXPECT_NE(r.exit_code, 0) << c.file << "\n" << r.out;
    EXPECT_NE(r.err.find(c.stderr_text), std::string::npos) << c.file << "\n" << r.err;
  }
}

}  // namespace
}  // namespace vmrelease::api

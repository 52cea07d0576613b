// verify DIR on testdata/verify: the good tree passes; each directory of broken/ is an
// overlay on it (its files replace or add to the good tree's) with one kind of mistake,
// which must be reported with its file, object and field, and exit code 1.
#include "controller/cli/verify.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "controller/cli/embedded_crds.h"
#include "tests/support/testing/process.h"

namespace vmrelease::cli {
namespace {

namespace fs = std::filesystem;
using kube::Json;
using testing::TempDir;

std::string TestData(const std::string& rel) {
  return testing::SourceDir() + "/tests/unit/cli/testdata/verify/" + rel;
}

// The good tree with `overlay` (a directory of broken/, or "") copied over it.
void MakeTree(const std::string& dir, const std::string& overlay) {
  const auto opts = fs::copy_options::recursive | fs::copy_options::overwrite_existing;
  fs::copy(TestData("good"), dir, opts);
  if (!overlay.empty()) fs::copy(TestData("broken/" + overlay), dir, opts);
}

struct Outcome {
  int code;
  std::string out, err;
};

Outcome Verify(const std::string& dir, OutputFormat format = OutputFormat::kTable,
               kube::KubeClient* cluster = nullptr) {
  std::ostringstream out, err;
  const int code = RunVerify({.dir = dir, .cluster = cluster}, format, out, err);
  return {code, out.str(), err.str()};
}

TEST(VerifyTest, TheGoodTreeIsClean) {
  TempDir dir;
  MakeTree(dir.path(), "");
  Outcome r = Verify(dir.path());
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  // The hidden directory's broken file is not read; the ConfigMap and Kustomization are
  // not ours.
  EXPECT_NE(r.out.find("verified 6 file(s), 3 ImageRelease(s), 4 EnvironmentPin(s): no problems"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(r.err, "");
  r = Verify(dir.path(), OutputFormat::kJson);
  ASSERT_EQ(r.code, 0) << r.err;
  Json j = Json::parse(r.out);
  EXPECT_EQ(j["problems"], Json::array());
  EXPECT_EQ(j["pins"], 4);
}

TEST(VerifyTest, UsageErrorsExitTwo) {
  TempDir dir;
  Outcome r = Verify(dir.Join("no-such-dir"));
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("is not a directory"), std::string::npos) << r.err;
  // An empty directory is a mistake too (a CI job pointed at the wrong path), not a pass.
  r = Verify(dir.path());
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("no ImageRelease or EnvironmentPin manifest"), std::string::npos) << r.out;
}

struct Case {
  std::string overlay;
  std::string file;    // relative to the tree
  std::string object;  // "" for the whole file
  std::string field;
  std::string message;  // a part of it
  size_t problems;      // all the tree has (no noise besides what this mistake causes)
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.overlay; }

class BrokenTreeTest : public ::testing::TestWithParam<Case> {};

TEST_P(BrokenTreeTest, ReportsFileObjectAndField) {
  const Case& c = GetParam();
  TempDir dir;
  MakeTree(dir.path(), c.overlay);
  auto report = VerifyTree(dir.path(), {});
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  std::string all;
  bool found = false;
  for (const VerifyProblem& p : report->problems) {
    all += p.ToString() + "\n";
    found |= p.file == dir.Join(c.file) && p.object == c.object && p.field == c.field &&
             p.message.find(c.message) != std::string::npos;
  }
  EXPECT_TRUE(found) << "want " << c.file << ": " << c.object << ": " << c.field << ": ..."
                     << c.message << "...\ngot:\n"
                     << all;
  EXPECT_EQ(report->problems.size(), c.problems) << all;

  // The command prints the line and exits 1.
  Outcome r = Verify(dir.path());
  EXPECT_EQ(r.code, 1) << r.out << r.err;
  std::string line = dir.Join(c.file) + ": ";
  if (!c.object.empty()) line += c.object + ": ";
  if (!c.field.empty()) line += c.field + ": ";
  EXPECT_NE(r.out.find(line), std::string::npos) << "want a line starting " << line << "\n"
                                                 << r.out;
  EXPECT_NE(r.err.find(std::to_string(c.problems) + " problem(s)"), std::string::npos) << r.err;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, BrokenTreeTest,
    ::testing::Values(
        Case{"missing-release", "clusters/production/pins.yaml", "EnvironmentPin/app-production",
             "spec.version", "no ImageRelease of image app has version 9.9.9 in namespace default",
             1},
        Case{"revoked-release", "clusters/production/pins.yaml", "EnvironmentPin/app-production",
             "spec.version", "is revoked: CVE-2026-9999 in the agent", 2},
        Case{"two-pins-one-environment", "clusters/production/pins.yaml",
             "EnvironmentPin/app-production", "spec.environment",
             "environment production already has an EnvironmentPin of image app", 1},
        Case{"unknown-field", "clusters/production/pins.yaml", "EnvironmentPin/app-production",
             "spec.verison", "unknown field", 2},
        Case{"wrong-type", "releases/db.yml", "ImageRelease/db-2-0-0", "spec.changelog",
             "must be an array, got string", 1},
        Case{"invalid-yaml", "clusters/dev/pins.yaml", "", "", "not valid YAML: line 7", 2},
        Case{"validation-failure", "releases/db.yml", "ImageRelease/db-2-0-0", "spec.build.timeout",
             "\"90 minutes\" is not a duration", 1},
        Case{"gate-without-pin", "clusters/production/pins.yaml", "EnvironmentPin/app-production",
             "spec.promotion.requirePinnedIn[1].environment",
             "no EnvironmentPin of image app for environment qa", 1},
        Case{"gate-cycle", "clusters/dev/pins.yaml", "EnvironmentPin/app-dev",
             "spec.promotion.requirePinnedIn[0].environment",
             "promotion gates form a cycle (dev -> production -> staging -> dev)", 3},
        Case{"range-matches-nothing", "clusters/dev/pins.yaml", "EnvironmentPin/app-dev",
             "spec.track.semver", "\">=2.0.0 <3.0.0\" matches no unrevoked release", 2},
        Case{"duplicate-release-version", "releases/app.yaml", "ImageRelease/app-1-0-0",
             "spec.version", "image app already has version 1.0.0", 1},
        Case{"pin-in-another-namespace", "clusters/team-b/pins.yaml", "EnvironmentPin/app-team-b",
             "spec.version", "in namespace team-b in this tree; there is one in namespace default",
             1},
        Case{"version-cannot-pass-gate", "clusters/production/pins.yaml",
             "EnvironmentPin/app-production", "spec.promotion.requirePinnedIn[0].environment",
             "version 1.1.0 cannot pass this gate: staging pins 1.0.0", 1},
        Case{"unserved-api-version", "clusters/staging/extra.yaml", "EnvironmentPin/app-qa",
             "apiVersion", "\"vmrelease.io/v1\" is not served", 1},
        Case{"missing-name", "clusters/staging/extra.yaml", "EnvironmentPin", "metadata.name",
             "Required value", 1},
        Case{"duplicate-name", "clusters/staging/copy.yaml", "EnvironmentPin/app-production",
             "metadata.name", "is also defined in", 1},
        Case{"gate-on-own-environment", "clusters/staging/pins.yaml", "EnvironmentPin/app-staging",
             "spec", "promotion.requirePinnedIn cannot name the pin's own environment", 1},
        // Only the CRD schema (the API server's text) catches these.
        Case{"schema-max-length", "releases/db.yml", "ImageRelease/db-2-0-0",
             "spec.changelog[0].reference", "Too long: may not be more than 512 bytes", 1},
        Case{"schema-job-image-length", "releases/db.yml", "ImageRelease/db-2-0-0",
             "spec.build.job.template.spec.containers[0].image",
             "Too long: may not be more than 1024 bytes", 1},
        // The C++ checks and the schema both catch these: one problem, the C++ message.
        Case{"pattern-reported-once", "releases/db.yml", "ImageRelease/db-2-0-0",
             "spec.source.platformImage.publisher", "\"Debian!\" is not a publisher name", 1},
        Case{"enum-reported-once", "releases/db.yml", "ImageRelease/db-2-0-0",
             "spec.changelog[0].kind", "unsupported value \"Bugfix\"", 1},
        Case{"minimum-reported-once", "releases/db.yml", "ImageRelease/db-2-0-0",
             "spec.retention.minimumDays", "must be between 0 and 3650", 1}),
    [](const ::testing::TestParamInfo<Case>& info) {
      std::string name = info.param.overlay;
      for (char& ch : name)
        if (ch == '-') ch = '_';
      return name;
    });

// verify needs neither the repository nor a cluster: the CRDs are compiled in, and they
// are the files of crds/ (the build regenerates them when one changes).
TEST(VerifyTest, TheEmbeddedCrdsAreTheRepositorysCrds) {
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(testing::SourceDir() + "/crds"))
    if (e.path().extension() == ".yaml") files.push_back(e.path().filename().string());
  std::sort(files.begin(), files.end());
  ASSERT_EQ(EmbeddedCrds().size(), files.size());
  for (size_t i = 0; i < files.size(); ++i) {
    EXPECT_EQ(EmbeddedCrds()[i].file, files[i]);
    std::ifstream in(testing::SourceDir() + "/crds/" + files[i], std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    EXPECT_EQ(EmbeddedCrds()[i].yaml, text.str()) << files[i];
  }
}

// Every overlay directory has a case above (a new one cannot be forgotten).
TEST(VerifyTest, EveryBrokenTreeHasACase) {
  size_t n = 0;
  for (const auto& e : fs::directory_iterator(TestData("broken"))) n += e.is_directory();
  EXPECT_EQ(n, 22u);
}

// --- against a cluster (World built as LoadWorld would) ----------------------------------

Json ClusterRelease(const std::string& image, const std::string& version, const std::string& phase,
                    Json spec_extra = Json::object(), Json status_extra = Json::object()) {
  std::string name = image + "-" + version;
  for (char& ch : name)
    if (ch == '.') ch = '-';
  Json spec = {{"image", image}, {"version", version}};
  spec.update(spec_extra);
  Json status = {{"phase", phase}};
  status.update(status_extra);
  return {{"apiVersion", "vmrelease.io/v1alpha1"},
          {"kind", "ImageRelease"},
          {"metadata", {{"namespace", "default"}, {"name", name}}},
          {"spec", spec},
          {"status", status}};
}

std::string Problems(const VerifyReport& r) {
  std::string all;
  for (const VerifyProblem& p : r.problems) all += p.ToString() + "\n";
  return all;
}

TEST(VerifyTest, AgainstAClusterPinnedVersionsMustBeReleasedThere) {
  TempDir dir;
  MakeTree(dir.path(), "");
  World cluster;
  cluster.releases = {ClusterRelease("app", "1.0.0", "Released"),
                      ClusterRelease("app", "1.1.0", "Validating"),
                      ClusterRelease("db", "2.0.0", "Released", Json::object(),
                                     {{"endOfLife", "2020-01-01T00:00:00Z"}})};
  auto report = VerifyTree(dir.path(), {.cluster = &cluster});
  ASSERT_TRUE(report.ok());
  const std::string all = Problems(*report);
  const std::string staging = dir.Join("clusters/staging/pins.yaml") +
                              ": EnvironmentPin/app-staging: spec.version: in the cluster "
                              "(namespace default): 1.1.0 (app-1-1-0) is not Released (phase "
                              "Validating)";
  EXPECT_NE(all.find(staging), std::string::npos) << all;
  EXPECT_NE(all.find("EnvironmentPin/db-dev: spec.version: in the cluster (namespace default): "
                     "2.0.0 (db-2-0-0) is past its end of life"),
            std::string::npos)
      << all;
  // dev's range still has 1.0.0, Released.
  EXPECT_EQ(all.find("spec.track.semver"), std::string::npos) << all;

  // Released everywhere, but 1.0.0 revoked in the cluster: dev's range 1.x still has 1.1.0.
  cluster.releases = {
      ClusterRelease("app", "1.0.0", "Revoked", {{"revocation", {{"reason", "x"}}}}),
      ClusterRelease("app", "1.1.0", "Released"), ClusterRelease("db", "2.0.0", "Released")};
  report = VerifyTree(dir.path(), {.cluster = &cluster});
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->problems.empty()) << Problems(*report);
  // Only revoked versions in range: the range matches nothing usable.
  cluster.releases[1] =
      ClusterRelease("app", "1.1.0", "Revoked", {{"revocation", {{"reason", "y"}}}});
  report = VerifyTree(dir.path(), {.cluster = &cluster});
  ASSERT_TRUE(report.ok());
  EXPECT_NE(Problems(*report).find(
                "EnvironmentPin/app-dev: spec.track.semver: \">=1.0.0 <2.0.0\" matches no "
                "Released, unrevoked release in the cluster"),
            std::string::npos)
      << Problems(*report);
  EXPECT_NE(Problems(*report).find("EnvironmentPin/app-production: spec.version: in the cluster "
                                   "(namespace default): 1.1.0 (app-1-1-0) is revoked"),
            std::string::npos)
      << Problems(*report);
}

TEST(VerifyTest, AGateMetInTheClusterHistoryIsNotReported) {
  TempDir dir;
  MakeTree(dir.path(), "version-cannot-pass-gate");
  World cluster;
  cluster.releases = {ClusterRelease("app", "1.0.0", "Released"),
                      ClusterRelease("app", "1.1.0", "Released"),
                      ClusterRelease("db", "2.0.0", "Released")};
  auto report = VerifyTree(dir.path(), {.cluster = &cluster});
  ASSERT_TRUE(report.ok());
  EXPECT_NE(Problems(*report).find("cannot pass this gate"), std::string::npos);
  // Production ran 1.1.0 before (its history): moving back there skips the gates.
  api::EnvironmentPin prod;
  prod.metadata.ns = "default";
  prod.metadata.name = "app-production";
  prod.spec.environment = "production";
  prod.spec.image = "app";
  prod.status.emplace().history.push_back({.version = "1.1.0", .from = "2026-01-01T00:00:00Z"});
  cluster.pins.push_back(prod);
  report = VerifyTree(dir.path(), {.cluster = &cluster});
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->problems.empty()) << Problems(*report);
}

}  // namespace
}  // namespace vmrelease::cli

// kubectl-vmrelease end to end: the built binary, run directly and as a kubectl
// plugin (real kubectl v1.32, the binary's directory on PATH), against the local API
// server with releases and pins made by the real controller: app 1.0.0 and 1.1.0
// Released, 1.2.0 still building; dev tracks 1.x, staging is gated on dev (1h),
// production is an exact pin.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <sstream>

#include "controller/api/manifest.h"
#include "tests/e2e/cli/cli_e2e_util.h"
#include "tests/e2e/pipeline/pipeline_e2e_util.h"

namespace vmrelease::testing {
namespace {

using Json = nlohmann::json;
using namespace std::chrono_literals;

std::string Resolved(const Json& pin) {
  return StatusString(pin, {"status", "resolved", "version"});
}

std::function<bool(const Json&)> ResolvedTo(const std::string& v) {
  return [v](const Json& p) { return Resolved(p) == v; };
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

// The first line that starts with `prefix`, or "".
std::string LineStarting(const std::string& text, const std::string& prefix) {
  for (const std::string& l : Lines(text))
    if (l.rfind(prefix, 0) == 0) return l;
  return "";
}

class CliE2ETest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    stack_ = NewFastStack().release();
    if (!stack_) return;
    PipelineStack& s = *stack_;
    auto release = [&](const std::string& version, Env build_env) {
      std::string name = "app-" + version;
      for (char& c : name) c = c == '.' ? '-' : c;
      Json r =
          s.Release({.name = name, .image = "app", .version = version, .build_env = build_env});
      r["spec"]["changelog"] = {{{"kind", "Security"},
                                 {"summary", "patched in " + version},
                                 {"reference", "CVE-" + version}},
                                {{"kind", "Feature"}, {"summary", "new in " + version}}};
      auto created = s.Create(r);
      EXPECT_TRUE(created.ok()) << name << ": " << created.status().ToString();
    };
    release("1.0.0", {});
    release("1.1.0", {});
    // Stays in flight for the whole test (the stack kills the build at the end).
    release("1.2.0", {{"BUILD_SECONDS", "600"}});
    EXPECT_TRUE(s.CreatePin("app-dev", {{"environment", "dev"},
                                        {"image", "app"},
                                        {"track", {{"semver", ">=1.0.0 <2.0.0"}}}})
                    .ok());
    EXPECT_TRUE(s.CreatePin("app-staging", "staging", "app", "1.0.0").ok());
    EXPECT_TRUE(s.CreatePin("app-production", "production", "app", "1.0.0").ok());
    for (const char* name : {"app-1-0-0", "app-1-1-0"}) {
      std::string why;
      EXPECT_FALSE(s.WaitForPhase(name, "Released", 120s, &why).is_null()) << name << ": " << why;
    }
    EXPECT_FALSE(s.WaitForPhase("app-1-2-0", "Building", 60s).is_null());
    bool ok = false;
    s.WaitForPin("app-dev", ResolvedTo("1.1.0"), 60s, &ok);
    EXPECT_TRUE(ok) << "dev never tracked 1.1.0";
    for (const char* name : {"app-staging", "app-production"}) {
      s.WaitForPin(
          name,
          [](const Json& p) {
            return Resolved(p) == "1.0.0" && p["status"].value("behindBy", -1) == 1;
          },
          60s, &ok);
      EXPECT_TRUE(ok) << name << " never resolved 1.0.0";
    }
    // Staging from now on waits for dev to have run a version for an hour.
    EXPECT_TRUE(
        s.PatchPin("app-staging",
                   {{"spec",
                     {{"promotion",
                       {{"requirePinnedIn", {{{"environment", "dev"}, {"forAtLeast", "1h"}}}}}}}}})
            .ok());
  }
  static void TearDownTestSuite() {
    if (stack_) StopTheBuildInFlight(*stack_);
    delete stack_;
    stack_ = nullptr;
  }
  // 1.2.0's build would run for 10 minutes in its own session (it survives the
  // controller by design): deleting the release makes the controller stop it.
  static void StopTheBuildInFlight(PipelineStack& s) {
    EXPECT_TRUE(s.DeleteRelease("app-1-2-0").ok());
    EXPECT_TRUE(s.WaitGone("app-1-2-0", 60s)) << s.Summary("app-1-2-0");
    auto alive = [](int pid) {
      std::string stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
      const size_t rp = stat.rfind(')');
      return rp != std::string::npos && rp + 2 < stat.size() && stat[rp + 2] != 'Z';
    };
    const std::vector<std::string> starts = FileLines(s.marker_dir() + "/app-1.2.0.starts");
    EXPECT_FALSE(starts.empty()) << "the build of 1.2.0 never started";
    for (const std::string& line : starts) {
      const int pid = std::atoi(line.c_str());
      if (pid <= 0) continue;
      const bool gone = WaitFor([&] { return !alive(pid); }, 30s);
      EXPECT_TRUE(gone) << "the build of 1.2.0 (pid " << pid << ") outlived its release";
      if (!gone) {
        const pid_t group = getpgid(pid);
        if (group > 1) kill(-group, SIGKILL);
      }
    }
  }
  void SetUp() override { ASSERT_NE(stack_, nullptr); }
  PipelineStack& s() { return *stack_; }

  Env BaseEnv() { return {{"KUBECONFIG", s().api().kubeconfig()}}; }
  // The plugin binary itself.
  CommandResult Cli(std::vector<std::string> args) { return RunPlugin(s(), std::move(args)); }
  // `kubectl vmrelease ...`: kubectl finds the plugin on PATH.
  CommandResult Kubectl(std::vector<std::string> args) {
    args.insert(args.begin(), {ToolPath("kubectl"), "vmrelease"});
    Env env = BaseEnv();
    const std::string bin = BinPath("kubectl-vmrelease");
    const char* path = std::getenv("PATH");
    env["PATH"] = bin.substr(0, bin.rfind('/')) + ":" + (path ? path : "/usr/bin:/bin");
    return RunCommand(args, env, "", 60s);
  }
  static PipelineStack* stack_;
};
PipelineStack* CliE2ETest::stack_ = nullptr;

TEST_F(CliE2ETest, StatusTableJsonAndYaml) {
  CommandResult r = Cli({"status"});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  // The matrix: environments in promotion order (staging's gate names dev), one row per image.
  const std::string header = LineStarting(r.out, "IMAGE");
  ASSERT_FALSE(header.empty()) << r.out;
  EXPECT_LT(header.find("DEV"), header.find("STAGING")) << header;
  EXPECT_NE(header.find("PRODUCTION"), std::string::npos) << header;
  const std::string row = LineStarting(r.out, "app ");
  EXPECT_TRUE(Contains(row, "1.1.0")) << r.out;
  EXPECT_TRUE(Contains(row, "1.0.0 behind 1")) << r.out;
  EXPECT_FALSE(Contains(r.out, "\033[")) << "colour without a terminal";
  // The release in flight, with its phase.
  EXPECT_TRUE(Contains(r.out, "RELEASES IN FLIGHT")) << r.out;
  const std::string flight = LineStarting(r.out, "app-1-2-0");
  EXPECT_TRUE(Contains(flight, "1.2.0") && Contains(flight, "Building")) << r.out;

  // The same through kubectl, as JSON.
  r = Kubectl({"status", "-o", "json"});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  Json j = Json::parse(r.out);
  ASSERT_EQ(j["images"].size(), 1u) << j.dump(2);
  const Json& envs = j["images"][0]["environments"];
  EXPECT_EQ(j["images"][0]["image"], "app");
  EXPECT_EQ(envs["dev"]["version"], "1.1.0");
  EXPECT_EQ(envs["dev"]["ready"], true);
  EXPECT_EQ(envs["dev"]["behindBy"], 0);
  EXPECT_EQ(envs["production"]["version"], "1.0.0");
  EXPECT_EQ(envs["production"]["behindBy"], 1);
  EXPECT_EQ(envs["production"]["latestVersion"], "1.1.0");
  EXPECT_EQ(envs["production"]["revoked"], false);
  ASSERT_EQ(j["inFlight"].size(), 1u) << j.dump(2);
  EXPECT_EQ(j["inFlight"][0]["name"], "app-1-2-0");
  EXPECT_EQ(j["inFlight"][0]["phase"], "Building");

  // YAML says the same as JSON; -A adds the namespace.
  CommandResult y = Cli({"status", "-o", "yaml"});
  ASSERT_EQ(y.exit_code, 0) << Show(y);
  auto parsed = api::ParseYamlDocument(y.out);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString() << y.out;
  EXPECT_EQ((*parsed)["images"], j["images"]);
  r = Cli({"status", "-A"});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  EXPECT_TRUE(Contains(LineStarting(r.out, "NAMESPACE"), "IMAGE")) << r.out;
  EXPECT_TRUE(Contains(LineStarting(r.out, "default "), "app")) << r.out;
}

TEST_F(CliE2ETest, FlagsLikeKubectlAndColourOnlyOnATerminal) {
  const std::string kc = s().api().kubeconfig();
  // --kubeconfig and --context win over $KUBECONFIG.
  CommandResult r = RunCommand({BinPath("kubectl-vmrelease"), "--kubeconfig", kc, "--context",
                                "vmrelease-local", "status", "-n", "default", "-o", "json"},
                               {{"KUBECONFIG", "/nonexistent/kubeconfig"}}, "", 60s);
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  EXPECT_EQ(Json::parse(r.out)["images"][0]["image"], "app");
  r = Cli({"--context", "no-such-context", "status"});
  EXPECT_EQ(r.exit_code, 1) << Show(r);
  EXPECT_TRUE(Contains(r.err, "no-such-context")) << r.err;
  r = Cli({"status", "-n", "elsewhere"});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  EXPECT_TRUE(Contains(r.out, "No EnvironmentPins or ImageReleases found in namespace elsewhere"))
      << r.out;
  r = Cli({"history", "production", "-A"});
  EXPECT_EQ(r.exit_code, 2) << Show(r);

  // On a terminal (script(1) gives it one) the table has colour, unless NO_COLOR is set.
  const std::string cmd = "'" + BinPath("kubectl-vmrelease") + "' status";
  r = RunCommand({"script", "-qec", cmd, "/dev/null"}, BaseEnv(), "", 60s);
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  EXPECT_TRUE(Contains(r.out, "\033[32m1.1.0")) << r.out;
  Env no_colour = BaseEnv();
  no_colour["NO_COLOR"] = "1";
  r = RunCommand({"script", "-qec", cmd, "/dev/null"}, no_colour, "", 60s);
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  EXPECT_TRUE(Contains(r.out, "1.1.0")) << r.out;
  EXPECT_FALSE(Contains(r.out, "\033[")) << r.out;
}

TEST_F(CliE2ETest, DiffListsTheChangelogBetweenTwoEnvironments) {
  CommandResult r = Kubectl({"diff", "dev", "production"});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  EXPECT_TRUE(Contains(r.out, "dev 1.1.0 -> production 1.0.0")) << r.out;
  EXPECT_TRUE(Contains(r.out, "backward")) << r.out;
  EXPECT_TRUE(Contains(r.out, "patched in 1.1.0") && Contains(r.out, "new in 1.1.0")) << r.out;
  EXPECT_TRUE(Contains(r.out, "CVE-1.1.0")) << r.out;
  EXPECT_FALSE(Contains(r.out, "in 1.0.0")) << "1.0.0 runs on both sides:\n" << r.out;

  r = Cli({"diff", "production", "dev", "-o", "json"});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  Json j = Json::parse(r.out);
  ASSERT_EQ(j.size(), 1u);
  EXPECT_EQ(j[0]["a"]["version"], "1.0.0");
  EXPECT_EQ(j[0]["b"]["version"], "1.1.0");
  EXPECT_EQ(j[0]["direction"], "forward");
  ASSERT_EQ(j[0]["changes"].size(), 2u) << j.dump(2);
  EXPECT_EQ(j[0]["changes"][0]["version"], "1.1.0");
  EXPECT_EQ(j[0]["changes"][0]["kind"], "Security");
  EXPECT_EQ(j[0]["changes"][0]["direction"], "forward");
  EXPECT_EQ(j[0]["changes"][1]["summary"], "new in 1.1.0");

  r = Cli({"diff", "staging", "production"});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  EXPECT_TRUE(Contains(r.out, "same version")) << r.out;
  r = Cli({"diff", "dev", "qa"});
  EXPECT_EQ(r.exit_code, 1) << Show(r);
  EXPECT_TRUE(Contains(r.err, "no EnvironmentPin for environment qa")) << r.err;
}

TEST_F(CliE2ETest, PromoteWithGitopsEditsOnlyTheVersionLine) {
  TempDir dir;
  const std::string file = dir.Join("pins.yaml");
  const std::string original =
      "# Production pins: reviewed by the platform team.\n"
      "apiVersion: v1\n"
      "kind: ConfigMap\n"
      "metadata: {name: unrelated}\n"
      "data:\n"
      "  version: \"0.0.1\"   # not a pin\n"
      "---\n"
      "apiVersion: vmrelease.io/v1alpha1\n"
      "kind: EnvironmentPin\n"
      "metadata:\n"
      "  name: app-production   # the one\n"
      "spec:\n"
      "  environment: production\n"
      "  image: app\n"
      "  export:\n"
      "    configMap:\n"
      "      name: version   # a key named like the field\n"
      "  version: \"1.0.0\"   # bump through kubectl vmrelease promote\n"
      "\n"
      "---\n"
      "apiVersion: vmrelease.io/v1alpha1\n"
      "kind: EnvironmentPin\n"
      "metadata:\n"
      "  name: app-staging\n"
      "spec:\n"
      "  environment: staging\n"
      "  image: app\n"
      "  version: 1.0.0\n";
  WriteFile(file, original);
  CommandResult r = Kubectl({"promote", "--from", "dev", "--to", "production", "--gitops", file});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  EXPECT_TRUE(Contains(r.out, "1.0.0 -> 1.1.0")) << r.out;
  EXPECT_TRUE(Contains(r.out, "new in 1.1.0")) << "the changelog it brings:\n" << r.out;
  const std::string edited = ReadFile(file);
  const auto a = Lines(original), b = Lines(edited);
  ASSERT_EQ(a.size(), b.size()) << edited;
  std::vector<size_t> changed;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i] != b[i]) changed.push_back(i);
  ASSERT_EQ(changed.size(), 1u) << edited;
  EXPECT_EQ(a[changed[0]], "  version: \"1.0.0\"   # bump through kubectl vmrelease promote");
  EXPECT_EQ(b[changed[0]], "  version: \"1.1.0\"   # bump through kubectl vmrelease promote");
  EXPECT_EQ(edited.back(), '\n');
  // The file still means what it meant, with the new version.
  auto docs = api::ParseYamlDocuments(edited);
  ASSERT_TRUE(docs.ok()) << docs.status().ToString();
  EXPECT_EQ((*docs)[1]["spec"]["version"], "1.1.0");
  // The cluster was left alone.
  EXPECT_EQ((*s().GetPin("app-production"))["spec"]["version"], "1.0.0");

  // Rolling the file back restores it byte for byte.
  r = Cli({"rollback", "production", "--to", "1.0.0", "--gitops", file});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  EXPECT_EQ(ReadFile(file), original);
  EXPECT_EQ((*s().GetPin("app-production"))["spec"]["version"], "1.0.0");

  // A file without that pin: an error naming what is missing, the file untouched.
  const std::string other = dir.Join("other.yaml");
  WriteFile(other, "kind: ConfigMap\napiVersion: v1\nmetadata: {name: x}\n");
  r = Cli({"promote", "--from", "dev", "--to", "production", "--gitops", other});
  EXPECT_EQ(r.exit_code, 1) << Show(r);
  EXPECT_TRUE(Contains(r.err, "no EnvironmentPin for environment production")) << r.err;
  EXPECT_EQ(ReadFile(other), "kind: ConfigMap\napiVersion: v1\nmetadata: {name: x}\n");
}

TEST_F(CliE2ETest, PromoteRespectsGatesAndWhyExplainsThem) {
  // Staging is gated on dev having run the version for an hour: the spec moves, the
  // resolution waits, and `why` says which gate and how long.
  CommandResult r = Cli({"promote", "--from", "dev", "--to", "staging", "--image", "app"});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  EXPECT_TRUE(Contains(r.out, "held: promotion to 1.1.0 waits: dev must run 1.1.0 for 1h0m0s"))
      << "promote did not say the gate holds it:\n"
      << r.out;
  EXPECT_TRUE(Contains(r.out, "the pin keeps 1.0.0 until then")) << r.out;
  bool ok = false;
  Json staging = s().WaitForPin(
      "app-staging",
      [](const Json& p) {
        return ConditionOf(p, "Ready").value("reason", "") == "PromotionBlocked";
      },
      30s, &ok);
  ASSERT_TRUE(ok) << staging.dump(2);
  EXPECT_EQ(Resolved(staging), "1.0.0");
  r = Kubectl({"why", "staging"});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  EXPECT_TRUE(Contains(r.out, "PromotionBlocked")) << r.out;
  EXPECT_TRUE(Contains(r.out, "pinned in dev for at least 1h0m0s for 1.1.0: closed")) << r.out;
  EXPECT_TRUE(Contains(r.out, "left)")) << r.out;
  r = Cli({"why", "staging", "--image", "app", "-o", "json"});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  Json j = Json::parse(r.out);
  ASSERT_EQ(j.size(), 1u);
  EXPECT_EQ(j[0]["reason"], "PromotionBlocked");
  EXPECT_EQ(j[0]["version"], "1.0.0");
  EXPECT_EQ(j[0]["candidate"], "1.1.0");
  ASSERT_EQ(j[0]["gates"].size(), 1u);
  EXPECT_EQ(j[0]["gates"][0]["environment"], "dev");
  EXPECT_EQ(j[0]["gates"][0]["open"], false);
  const int64_t left = j[0]["gates"][0].value("leftSeconds", int64_t{-1});
  EXPECT_GT(left, 3000) << j.dump(2);
  EXPECT_LE(left, 3600) << j.dump(2);
  // A Ready pin says so.
  r = Cli({"why", "production"});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  EXPECT_TRUE(Contains(r.out, "Ready:   True, Resolved")) << r.out;
  EXPECT_TRUE(Contains(r.out, "behind:  1")) << r.out;
}

TEST_F(CliE2ETest, PromoteAndRollbackMovePins) {
  CommandResult r = Kubectl({"promote", "--from", "dev", "--to", "production"});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  EXPECT_TRUE(Contains(r.out, "production / app: promote 1.0.0 -> 1.1.0")) << r.out;
  EXPECT_FALSE(Contains(r.out, "held:")) << r.out;
  EXPECT_TRUE(Contains(r.out, "patched in 1.1.0")) << r.out;
  bool ok = false;
  Json prod = s().WaitForPin("app-production", ResolvedTo("1.1.0"), 30s, &ok);
  ASSERT_TRUE(ok) << prod.dump(2);
  EXPECT_EQ(prod["status"]["history"][0]["reason"], "Pinned");

  // Back to the previous history entry by default.
  r = Cli({"rollback", "production"});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  EXPECT_TRUE(Contains(r.out, "roll back 1.1.0 -> 1.0.0")) << r.out;
  EXPECT_TRUE(Contains(r.out, "undoes:")) << r.out;
  prod = s().WaitForPin("app-production", ResolvedTo("1.0.0"), 30s, &ok);
  ASSERT_TRUE(ok) << prod.dump(2);
  EXPECT_EQ(prod["status"]["history"][0]["reason"], "RolledBack");

  // The history, with durations and reasons.
  r = Kubectl({"history", "production"});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  const auto lines = Lines(r.out);
  ASSERT_GE(lines.size(), 5u) << r.out;
  EXPECT_TRUE(Contains(lines[0], "production / app")) << r.out;
  EXPECT_TRUE(Contains(lines[2], "1.0.0") && Contains(lines[2], "RolledBack") &&
              Contains(lines[2], "(current)"))
      << r.out;
  EXPECT_TRUE(Contains(lines[3], "1.1.0") && Contains(lines[3], "Pinned")) << r.out;
  EXPECT_TRUE(Contains(lines[4], "1.0.0") && Contains(lines[4], "Pinned")) << r.out;
  r = Cli({"history", "production", "-o", "json"});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  Json h = Json::parse(r.out)[0]["history"];
  ASSERT_EQ(h.size(), 3u) << h.dump(2);
  EXPECT_EQ(h[0]["current"], true);
  EXPECT_TRUE(h[0]["to"].is_null());
  EXPECT_EQ(h[1]["to"], h[0]["from"]);
  EXPECT_GE(h[1]["durationSeconds"].get<int64_t>(), 0);
}

TEST_F(CliE2ETest, RefusesUnreleasedMissingAndRevokedTargets) {
  const int64_t generation = (*s().GetPin("app-production"))["metadata"]["generation"];
  CommandResult r = Cli({"rollback", "production", "--to", "1.2.0"});
  EXPECT_EQ(r.exit_code, 1) << Show(r);
  EXPECT_TRUE(Contains(r.err, "1.2.0 (app-1-2-0) is not Released (phase Building)")) << r.err;
  r = Kubectl({"rollback", "production", "--to", "9.9.9"});
  EXPECT_EQ(r.exit_code, 1) << Show(r);
  EXPECT_TRUE(Contains(r.err, "no ImageRelease has version 9.9.9")) << r.err;

  // Revoke 1.1.0 (which dev runs): promoting it and rolling onto it are refused.
  ASSERT_TRUE(
      s().PatchRelease("app-1-1-0", {{"spec", {{"revocation", {{"reason", "CVE-2026-1"}}}}}}).ok());
  r = Kubectl({"promote", "--from", "dev", "--to", "production"});
  EXPECT_EQ(r.exit_code, 1) << Show(r);
  EXPECT_TRUE(Contains(r.err, "refusing to promote app 1.1.0 from dev to production")) << r.err;
  EXPECT_TRUE(Contains(r.err, "is revoked: CVE-2026-1")) << r.err;
  r = Cli({"rollback", "production", "--to", "1.1.0"});
  EXPECT_EQ(r.exit_code, 1) << Show(r);
  EXPECT_TRUE(Contains(r.err, "is revoked")) << r.err;
  // Nothing was written (the controller may still update the pin's status: behindBy).
  EXPECT_EQ((*s().GetPin("app-production"))["metadata"]["generation"], generation);
  EXPECT_EQ((*s().GetPin("app-production"))["spec"]["version"], "1.0.0");

  // status marks what dev runs as revoked.
  r = Cli({"status", "-o", "json"});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  EXPECT_EQ(Json::parse(r.out)["images"][0]["environments"]["dev"]["revoked"], true) << r.out;
  r = Cli({"status"});
  EXPECT_TRUE(Contains(LineStarting(r.out, "app "), "1.1.0 REVOKED")) << r.out;

  // Usage errors are not refusals.
  r = Cli({"promote", "--from", "dev"});
  EXPECT_EQ(r.exit_code, 2) << Show(r);
}

TEST_F(CliE2ETest, HelpHasAnExamplePerCommand) {
  for (const char* cmd : {"status", "history", "why", "diff", "promote", "rollback", "revoke",
                          "verify", "completion"}) {
    CommandResult r = Cli({cmd, "--help"});
    EXPECT_EQ(r.exit_code, 0) << cmd << Show(r);
    const size_t examples = r.out.find("Examples:");
    EXPECT_NE(examples, std::string::npos) << cmd << r.out;
    if (examples == std::string::npos) continue;
    // At least one example line that runs this very command.
    const std::string after = r.out.substr(examples);
    EXPECT_TRUE(Contains(after, std::string("kubectl vmrelease ") + cmd + " ") ||
                Contains(after, std::string("kubectl-vmrelease ") + cmd + " "))
        << cmd << r.out;
  }
  CommandResult r = Kubectl({"diff", "--help"});
  EXPECT_TRUE(Contains(r.out, "package-level")) << Show(r);
  // The top-level help lists every command.
  r = Cli({"--help"});
  EXPECT_EQ(r.exit_code, 0) << Show(r);
  for (const char* cmd : {"revoke", "verify", "completion"}) EXPECT_TRUE(Contains(r.out, cmd));
}

// verify --cluster: exact pins must be Released and unrevoked in the cluster, ranges must
// match such a release; the tree holds only pins (its releases were merged long ago).
TEST_F(CliE2ETest, VerifyAgainstTheCluster) {
  TempDir dir;
  const std::string pins = dir.Join("pins.yaml");
  auto pin = [](const std::string& name, const std::string& env, const std::string& version_line) {
    return "apiVersion: vmrelease.io/v1alpha1\nkind: EnvironmentPin\nmetadata:\n  name: " + name +
           "\nspec:\n  environment: " + env + "\n  image: app\n" + version_line + "\n";
  };
  WriteFile(pins, pin("app-dev", "dev", "  track: {semver: \"~1.0.0\"}") + "---\n" +
                      pin("app-production", "production", "  version: 1.0.0"));
  // Offline, the tree has no releases: every exact pin is missing.
  CommandResult r = Cli({"verify", dir.path()});
  EXPECT_EQ(r.exit_code, 1) << Show(r);
  EXPECT_TRUE(Contains(r.out, pins + ": EnvironmentPin/app-production: spec.version: no "
                                     "ImageRelease of image app has version 1.0.0"))
      << r.out;
  // The cluster has 1.0.0 Released.
  r = Kubectl({"verify", dir.path(), "--cluster"});
  EXPECT_EQ(r.exit_code, 0) << Show(r);
  EXPECT_TRUE(Contains(r.out, "against the cluster: no problems")) << r.out;

  // 1.2.0 is still building, 9.9.9 does not exist, nothing is >=3.0.0.
  WriteFile(pins, pin("app-dev", "dev", "  track: {semver: \">=3.0.0\"}") + "---\n" +
                      pin("app-staging", "staging", "  version: 9.9.9") + "---\n" +
                      pin("app-production", "production", "  version: 1.2.0"));
  r = Cli({"verify", dir.path(), "--cluster", "-o", "json"});
  EXPECT_EQ(r.exit_code, 1) << Show(r);
  Json j = Json::parse(r.out);
  std::map<std::string, std::string> by_object;
  for (const Json& p : j["problems"])
    by_object[p["object"].get<std::string>() + " " + p["field"].get<std::string>()] = p["message"];
  EXPECT_TRUE(Contains(by_object["EnvironmentPin/app-production spec.version"],
                       "1.2.0 (app-1-2-0) is not Released (phase Building)"))
      << j.dump(2);
  EXPECT_TRUE(Contains(by_object["EnvironmentPin/app-staging spec.version"],
                       "no ImageRelease has version 9.9.9"))
      << j.dump(2);
  EXPECT_TRUE(Contains(by_object["EnvironmentPin/app-dev spec.track.semver"],
                       "matches no Released, unrevoked release in the cluster"))
      << j.dump(2);
  // A cluster that cannot be reached is a failure (1), not a pass.
  r = RunCommand({BinPath("kubectl-vmrelease"), "verify", dir.path(), "--cluster"},
                 {{"KUBECONFIG", "/nonexistent/kubeconfig"}}, "", 60s);
  EXPECT_EQ(r.exit_code, 1) << Show(r);
  // Not a directory: a usage error.
  r = Cli({"verify", dir.Join("nope")});
  EXPECT_EQ(r.exit_code, 2) << Show(r);
}

TEST_F(CliE2ETest, CompletionScripts) {
  const std::string bin = BinPath("kubectl-vmrelease");
  const std::string dir = bin.substr(0, bin.rfind('/'));
  Env env = BaseEnv();
  const char* path = std::getenv("PATH");
  env["PATH"] = dir + ":" + (path ? path : "/usr/bin:/bin");
  // Loaded the documented way, the function is registered and completes commands and flags.
  CommandResult r =
      RunCommand({"bash", "-c",
                  "source <(kubectl-vmrelease completion bash) && complete -p kubectl-vmrelease && "
                  "COMP_WORDS=(kubectl-vmrelease ver); COMP_CWORD=1; _kubectl_vmrelease; "
                  "echo \"words: ${COMPREPLY[*]}\"; "
                  "COMP_WORDS=(kubectl-vmrelease revoke --re); COMP_CWORD=2; _kubectl_vmrelease; "
                  "echo \"flags: ${COMPREPLY[*]}\"; "
                  "COMP_WORDS=(kubectl-vmrelease status -o y); COMP_CWORD=3; _kubectl_vmrelease; "
                  "echo \"formats: ${COMPREPLY[*]}\""},
                 env, "", 60s);
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  EXPECT_TRUE(Contains(r.out, "complete -o default -F _kubectl_vmrelease kubectl-vmrelease"))
      << r.out;
  EXPECT_TRUE(Contains(r.out, "words: verify\n")) << r.out;
  EXPECT_TRUE(Contains(r.out, "flags: --reason --reference\n")) << r.out;
  EXPECT_TRUE(Contains(r.out, "formats: yaml\n")) << r.out;
  r = Cli({"completion", "zsh"});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  EXPECT_EQ(r.out.rfind("#compdef kubectl-vmrelease\n", 0), 0u) << r.out;
  for (const char* cmd : {"status", "verify", "revoke", "rollback"})
    EXPECT_TRUE(Contains(r.out, std::string("'") + cmd + ":")) << cmd << r.out;
  // And in a real zsh: an interactive shell on a pty (zpty) loads it as docs/cli.md says, with
  // compinit; TAB is pressed after each line, and compadd, wrapped, prints what it was offered.
  // Each line is typed only once the line editor shows its prompt: zsh flushes what was typed
  // ahead when it sets the terminal up.
  TempDir zdot;
  WriteFile(zdot.Join(".zshrc"), R"(PS1="<p""rompt> "
autoload -U compinit; compinit -u -D
source <(kubectl-vmrelease completion zsh)
compadd() {
  if [[ ${@[1,(i)(-|--)]} == *-(O|A|D)* ]]; then builtin compadd "$@"; return; fi
  local -a m; builtin compadd -A m "$@"
  (( $#m )) && print -rl -- "<m""atch>"${^m}
  builtin compadd "$@"
}
)");
  WriteFile(zdot.Join("drive.zsh"), R"(zmodload zsh/zpty
zpty z "ZDOTDIR=$1 zsh -i"
zpty -w z "print '<re''ady>'"
zpty -r z out '*<ready>*<prompt> *'
complete() {
  zpty -w -n z "$1"$'\t'
  zpty -w z $'\C-u'"print '<e''nd>'"
  local out; zpty -r z out '*<end>*<prompt> *'
  print -rn -- "$1|"
  print -r -- "$out" | tr -d '\r' | grep -ao '<match>[^[:space:]<]*' | cut -c8- | sort -u | tr '\n' ' '
  print
}
complete 'kubectl-vmrelease ver'
complete 'kubectl-vmrelease revoke --re'
complete 'kubectl-vmrelease status -o y'
complete 'kubectl-vmrelease completion '
complete 'kubectl-vmrelease promote --f'
complete 'kubectl-vmrelease hi'
zpty -d z
)");
  r = RunCommand({"timeout", "60", "zsh", "-f", zdot.Join("drive.zsh"), zdot.path()}, env, "", 90s);
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  EXPECT_TRUE(Contains(r.out, "kubectl-vmrelease ver|verify \n")) << r.out;
  EXPECT_TRUE(Contains(r.out, "kubectl-vmrelease revoke --re|--reason --reference \n")) << r.out;
  EXPECT_TRUE(Contains(r.out, "kubectl-vmrelease status -o y|yaml \n")) << r.out;
  EXPECT_TRUE(Contains(r.out, "kubectl-vmrelease completion |bash zsh \n")) << r.out;
  EXPECT_TRUE(Contains(r.out, "kubectl-vmrelease promote --f|--from \n")) << r.out;
  EXPECT_TRUE(Contains(r.out, "kubectl-vmrelease hi|history \n")) << r.out;
  r = Cli({"completion", "fish"});
  EXPECT_EQ(r.exit_code, 2) << Show(r);

  // `kubectl vmrelease <TAB>`: kubectl asks kubectl_complete-vmrelease (next to the binary).
  r = RunCommand({ToolPath("kubectl"), "__complete", "vmrelease", "ver"}, env, "", 60s);
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  EXPECT_TRUE(Contains(r.out, "verify\n:4\n")) << Show(r);
  r = RunCommand({ToolPath("kubectl"), "__complete", "vmrelease", "promote", "--f"}, env, "", 60s);
  EXPECT_TRUE(Contains(r.out, "--from\n:4\n")) << Show(r);
  r = RunCommand({ToolPath("kubectl"), "__complete", "vmrelease", "verify", ""}, env, "", 60s);
  EXPECT_TRUE(Contains(r.out, ":16\n")) << "directories after verify\n" << Show(r);
}

// Last: it revokes 1.0.0, which production runs.
TEST_F(CliE2ETest, ZRevokeTurnsThePinsOnThatVersionNotReady) {
  CommandResult r = Cli({"revoke", "7.7.7", "--reason", "nothing"});
  EXPECT_EQ(r.exit_code, 1) << Show(r);
  EXPECT_TRUE(Contains(r.err, "no ImageRelease has version 7.7.7 in namespace default")) << r.err;
  r = Cli({"revoke", "1.0.0"});
  EXPECT_EQ(r.exit_code, 2) << "--reason is required\n" << Show(r);

  r = Kubectl({"revoke", "1.0.0", "--image", "app", "--reason", "CVE-2026-7", "--reference",
               "https://tracker.example/7"});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  EXPECT_TRUE(Contains(r.out, "app 1.0.0: ImageRelease app-1-0-0 revoked (CVE-2026-7)")) << r.out;
  EXPECT_TRUE(Contains(r.out, "still running it: ") && Contains(r.out, "production")) << r.out;
  auto release = s().GetRelease("app-1-0-0");
  ASSERT_TRUE(release.ok()) << release.status().ToString();
  EXPECT_EQ((*release)["spec"]["revocation"]["reason"], "CVE-2026-7");
  EXPECT_EQ((*release)["spec"]["revocation"]["reference"], "https://tracker.example/7");
  // The pin reconciler tells production, which keeps running it.
  bool ok = false;
  Json prod = s().WaitForPin(
      "app-production",
      [](const Json& p) {
        const Json ready = ConditionOf(p, "Ready");
        return ready.value("status", "") == "False" &&
               ready.value("reason", "") == "ReleaseRevoked";
      },
      60s, &ok);
  ASSERT_TRUE(ok) << prod.dump(2);
  EXPECT_EQ(Resolved(prod), "1.0.0");
  // Again with the same reason: nothing to change, still 0; -o json says so.
  r = Cli({"revoke", "1.0.0", "--reason", "CVE-2026-7", "--reference", "https://tracker.example/7",
           "-o", "json"});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  Json j = Json::parse(r.out);
  EXPECT_EQ(j["revoked"][0]["changed"], false) << j.dump(2);
  // status shows it; rolling staging (which asks for 1.1.0, held) onto it is refused.
  r = Cli({"status", "-o", "json"});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  const Json cell = Json::parse(r.out)["images"][0]["environments"]["production"];
  EXPECT_EQ(cell["revoked"], true) << cell.dump(2);
  EXPECT_EQ(cell["reason"], "ReleaseRevoked") << cell.dump(2);
  r = Cli({"rollback", "staging", "--to", "1.0.0"});
  EXPECT_EQ(r.exit_code, 1) << Show(r);
  EXPECT_TRUE(Contains(r.err, "is revoked: CVE-2026-7")) << r.err;
}

}  // namespace
}  // namespace vmrelease::testing

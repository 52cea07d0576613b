// No secret leaves the controller — through logs, Events, status or conditions —
// even when every path carries one: the build and the check print the storage
// account key, the client secret, a bearer token and a SAS URL; the fake ARM
// quotes each request's Authorization header and body in its error answers (and
// is told to fail some calls); the controller logs every HTTP exchange with its
// headers and body at debug level.
//
// The scan alone would prove nothing if the secrets never reached those paths,
// so the same scenario runs a second time with redaction switched off
// (VMRELEASE_TESTING_DISABLE_REDACTION=1, a test-only switch the controller
// warns about) and must then find every secret in the places it went through.
//
// Failures name a secret and a place by index only: printing either would put
// the secret into the test output.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "controller/azure/client_secret_credential.h"
#include "tests/e2e/pipeline/pipeline_e2e_util.h"

namespace vmrelease::testing {
namespace {

using Json = nlohmann::json;
using std::chrono::seconds;

struct Secret {
  std::string label;  // for failure messages: says what, never the value
  std::string value;
};

struct ScenarioRun {
  std::vector<Secret> secrets;
  // Where secrets could leak, by name: "controller log", "events", "status", ...
  std::map<std::string, std::string> places;
  std::string why;  // empty when the release was Released
};

// The part of a release that is not its spec: status with every condition, plus metadata.
std::string StatusText(const Json& release) {
  Json j = release;
  j.erase("spec");
  return j.dump();
}

ScenarioRun RunScenario(bool redaction_off) {
  ScenarioRun out;
  PipelineStack::Options o;
  o.arm.lro_polls = 2;
  o.arm.retry_after_seconds = 1;
  o.arm.echo_requests_in_errors = true;
  o.log_level = "debug";
  if (redaction_off) o.controller_env["VMRELEASE_TESTING_DISABLE_REDACTION"] = "1";
  auto started = PipelineStack::Start(std::move(o));
  if (!started.ok()) {
    out.why = started.status().ToString();
    return out;
  }
  PipelineStack& s = **started;

  // A bearer token the fake identity really issued, and a SAS the account key really signs.
  azure::ClientSecretCredential credential(
      {.tenant_id = kTenant, .client_id = kClientId, .client_secret = kClientSecret},
      {.authority_host = s.arm().base_url() + "/", .imds_endpoint = s.arm().base_url()});
  auto token = credential.GetToken("https://management.azure.com/.default");
  if (!token.ok()) {
    out.why = "no token: " + token.status().ToString();
    return out;
  }
  auto sas =
      s.blobs().GenerateSasUrl({"images", "app/secret.vhd"},
                               {.permissions = "rw",
                                .expiry = std::chrono::system_clock::now() + std::chrono::hours(1),
                                .protocol = ""});
  if (!sas.ok()) {
    out.why = "no SAS: " + sas.status().ToString();
    return out;
  }
  const std::string sig = sas->substr(sas->find("sig=") + 4);
  out.secrets = {{"storage account key", kAzuriteKey},
                 {"client secret", kClientSecret},
                 {"bearer token", token->token},
                 {"SAS signature", sig.substr(0, sig.find('&'))}};

  // What the build and the check print: each secret the way a careless script would.
  const std::string dir = s.work_dir() + "/secrets";
  std::filesystem::create_directories(dir);
  const std::string file = dir + "/printed-secrets.txt";
  {
    std::ofstream f(file);
    if (!f) {
      out.why = "cannot write " + file;
      return out;
    }
    f << "AccountKey " << kAzuriteKey << "\n"
      << "client secret: " << kClientSecret << "\n"
      << "Authorization: Bearer " << token->token << "\n"
      << "uploading to " << *sas
      << "\n"
      // Short enough to be the check's last line in its Event (notes keep 120 characters).
      << "signed with sig=" << out.secrets[3].value << "\n";
  }
  // Two failed gallery calls: their echoed requests reach the controller's retry paths.
  s.arm().InjectFault(fake_arm::FaultKind::kServerError500, 2, "galleries");

  ReleaseSpecOptions r{.name = "app-1-0-0", .image = "app", .version = "1.0.0"};
  r.gallery = true;
  r.build_env = {{"BUILD_PRINT_FILE", file}};
  // The check's last line (the SAS) also goes into its Event.
  r.checks = {{"prints-secrets", "echo checking; cat " + file}};
  if (auto c = s.Create(s.Release(r)); !c.ok()) {
    out.why = c.status().ToString();
    return out;
  }
  std::string why;
  Json released = s.WaitForPhase("app-1-0-0", "Released", seconds(150), &why);
  // With redaction off the status holds the secrets: it must not reach the test output.
  if (released.empty())
    out.why = "not Released: " + (redaction_off ? std::string("(status withheld: redaction is off)")
                                                : why + "\n" + s.Summary("app-1-0-0"));

  // The controller's own tokens travelled in every ARM request.
  for (const std::string& t : s.arm().IssuedTokens())
    if (t != token->token) out.secrets.push_back({"a token the controller used", t});

  Json events = Json::array();
  for (const Json& e : s.Events("app-1-0-0")) events.push_back(e);
  auto obj = s.GetRelease("app-1-0-0");
  out.places["controller log"] = s.ControllerLogs();
  out.places["events"] = events.dump();
  out.places["status"] = obj.ok() ? StatusText(*obj) : "";
  if (obj.ok()) {
    out.places["build output in status"] = StatusString(*obj, {"status", "build", "outputTail"});
    std::string checks;
    if (const Json* results = kube::Find(*obj, {"status", "validation", "results"}))
      checks = results->dump();
    out.places["check output in status"] = checks;
  }
  return out;
}

std::string Where(const ScenarioRun& run, const Secret& secret) {
  std::string found;
  for (const auto& [place, text] : run.places)
    if (text.find(secret.value) != std::string::npos) found += (found.empty() ? "" : ", ") + place;
  return found;
}

TEST(SecretsE2E, NoSecretLeavesTheControllerThroughAnyPath) {
  const ScenarioRun run = RunScenario(/*redaction_off=*/false);
  ASSERT_TRUE(run.why.empty()) << run.why;
  ASSERT_GE(run.secrets.size(), 5u) << "the controller used no ARM token?";
  int scanned = 0;
  for (const auto& [place, text] : run.places) scanned += !text.empty();
  EXPECT_GE(scanned, 5) << "some place was empty: nothing was scanned there";
  for (const Secret& secret : run.secrets) {
    const std::string where = Where(run, secret);
    EXPECT_TRUE(where.empty()) << "the " << secret.label << " leaked into: " << where;
  }
  // What stood in for them is still there, so the scan looked at the right text.
  EXPECT_NE(run.places.at("build output in status").find("Bearer REDACTED"), std::string::npos);
  EXPECT_NE(run.places.at("check output in status").find("sig=REDACTED"), std::string::npos);
  std::printf("scanned %zu secrets in %d places: no leak\n", run.secrets.size(), scanned);
}

// The control run: with redaction off, each secret shows up where the scan looks.
TEST(SecretsE2E, ControlRunWithoutRedactionFindsEverySecretInThePathsItTook) {
  const ScenarioRun run = RunScenario(/*redaction_off=*/true);
  ASSERT_TRUE(run.why.empty()) << run.why;
  const std::set<std::string> printed = {"storage account key", "client secret", "bearer token",
                                         "SAS signature"};
  for (const Secret& secret : run.secrets) {
    const std::string where = Where(run, secret);
    if (printed.count(secret.label)) {
      for (const char* place : {"build output in status", "check output in status"}) {
        EXPECT_NE(run.places.at(place).find(secret.value), std::string::npos)
            << "the " << secret.label << " never reached the " << place
            << ": the leak test would prove nothing there";
      }
    }
    if (secret.label == "SAS signature") {
      EXPECT_NE(run.places.at("events").find(secret.value), std::string::npos)
          << "the SAS never reached the check's Event";
    }
    EXPECT_NE(run.places.at("controller log").find(secret.value), std::string::npos)
        << "the " << secret.label << " never reached the controller log";
    std::printf("control run: the %s reached %s\n", secret.label.c_str(), where.c_str());
  }
  EXPECT_NE(run.places.at("controller log").find("secret redaction is OFF"), std::string::npos)
      << "the controller must warn when redaction is off";
}

}  // namespace
}  // namespace vmrelease::testing

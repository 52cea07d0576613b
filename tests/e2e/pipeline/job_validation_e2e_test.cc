// The `job` validation backend end to end: the controller creates one
// Kubernetes Job per check from spec.validation.job.template, the job runner
// (tests/support/jobrunner) plays Job controller and kubelet and runs the
// container's command here (job-check: the check's script with /bin/sh, its
// output to the termination message), and the scripts read the staged VHD
// through VMRELEASE_IMAGE_URL, a read-only SAS, with curl against Azurite. One
// stack, four releases at once: one passes, one fails a check, one is deleted
// while its check runs, one's check hangs past its timeout.
#include <gtest/gtest.h>

#include <fstream>

#include "controller/common/crypto.h"
#include "tests/e2e/pipeline/pipeline_e2e_util.h"

namespace vmrelease::testing {
namespace {

using Json = nlohmann::json;
using namespace std::chrono_literals;

bool HaveTools() { return RunCommand({"sh", "-c", "command -v curl"}).exit_code == 0; }

// Reads the VHD footer (the last 512 bytes) of the staged image through the SAS.
constexpr char kFooterScript[] = R"sh(set -e
h='x-ms-version: 2021-12-02'
size=$(curl -sSf -I -H "$h" "$VMRELEASE_IMAGE_URL" | tr -d '\r' |
  awk 'tolower($1) == "content-length:" {print $2}')
cookie=$(curl -sSf -H "$h" -H "x-ms-range: bytes=$((size - 512))-$((size - 1))" \
  "$VMRELEASE_IMAGE_URL" | head -c 8)
echo "footer $cookie, $size bytes")sh";

// Tries to overwrite the staged image with the same SAS: must be refused.
constexpr char kReadOnlyScript[] = R"sh(code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT \
  -H 'x-ms-version: 2021-12-02' -H 'x-ms-blob-type: BlockBlob' --data-binary overwritten \
  "$VMRELEASE_IMAGE_URL")
echo "write with the image SAS: HTTP $code"
test "$code" = 403)sh";

constexpr char kFailingOutput[] = "found 2 partitions, expected 3";

// HTTP status of a Put Blob with this URL (never printed: it holds a SAS).
int PutBlob(const std::string& url) {
  const CommandResult out =
      RunCommand({"curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "PUT", "-H",
                  "x-ms-version: 2021-12-02", "-H", "x-ms-blob-type: BlockBlob", "--data-binary",
                  "overwritten", url});
  return out.exit_code == 0 ? std::atoi(out.out.c_str()) : -1;
}

// Whether the process exists and is not a zombie.
bool Running(int pid) {
  std::ifstream st("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(st, line)) return false;
  const size_t rp = line.rfind(')');
  return rp == std::string::npos || rp + 2 >= line.size() || line[rp + 2] != 'Z';
}

TEST(JobValidationE2ETest, ChecksInJobsReadTheStagedVhdPassFailTimeOutOrAreDeletedLeavingNothing) {
  if (!HaveTools()) GTEST_SKIP() << "needs curl";
  const auto t0 = std::chrono::steady_clock::now();
  PipelineStack::Options so;
  so.job_runner = true;
  auto stack = NewFastStack(std::move(so));
  ASSERT_NE(stack, nullptr);
  PipelineStack& s = *stack;

  // Passing: staged in the gallery too; three checks, each in its own Job.
  const std::string url_file = s.marker_dir() + "/../image-url";
  ReleaseSpecOptions good{.name = "app-1-0-0", .image = "app", .version = "1.0.0"};
  good.validation = "job";
  good.gallery = true;
  good.check_env = {{"SAVE_IMAGE_URL_TO", url_file}};
  good.checks = {{"vhd-footer", kFooterScript},
                 {"read-only", kReadOnlyScript},
                 {"gallery-version", "echo \"$VMRELEASE_GALLERY_IMAGE_VERSION_ID\""}};
  Json good_obj = s.Release(good);
  Json& good_checks = good_obj["spec"]["validation"]["checks"];
  good_checks[0]["expect"] = {{"outputMatches", "^footer conectix, 2097664 bytes$"}};
  good_checks[2]["expect"] = {{"outputMatches", "/galleries/releases/images/app/versions/1.0.0$"}};
  // Failing: the second of three checks fails; the third never runs.
  ReleaseSpecOptions bad{.name = "app-2-0-0", .image = "app", .version = "2.0.0"};
  bad.validation = "job";
  bad.checks = {{"hello", "echo hello"},
                {"partitions", std::string("echo '") + kFailingOutput + "'; exit 4"},
                {"never", "echo never"}};
  // Deleted while its check runs: the Job, its Pod (and process) and its Secret go with it.
  ReleaseSpecOptions doomed{.name = "app-3-0-0", .image = "app", .version = "3.0.0"};
  doomed.validation = "job";
  const std::string pid_file = s.marker_dir() + "/../slow-check.pid";
  doomed.check_env = {{"PID_FILE", pid_file}};
  doomed.checks = {{"slow", "echo $$ >\"$PID_FILE\"; sleep 120"}};
  // A check that hangs is stopped at its timeout (10 s, the API's minimum).
  ReleaseSpecOptions hangs{.name = "app-4-0-0", .image = "app", .version = "4.0.0"};
  hangs.validation = "job";
  hangs.checks = {{"hangs", "sleep 300"}};
  Json hangs_obj = s.Release(hangs);
  hangs_obj["spec"]["validation"]["checks"][0]["timeout"] = "10s";
  ASSERT_TRUE(s.Create(good_obj).ok());
  ASSERT_TRUE(s.Create(s.Release(bad)).ok());
  ASSERT_TRUE(s.Create(s.Release(doomed)).ok());
  ASSERT_TRUE(s.Create(hangs_obj).ok());
  ASSERT_TRUE(
      WaitFor([&] { return !EventsWithReason(s, "app-3-0-0", "CheckStarted").empty(); }, 90s))
      << s.Summary("app-3-0-0");
  int slow_pid = 0;
  ASSERT_TRUE(WaitFor(
      [&] {
        slow_pid = std::atoi(ReadFile(pid_file).c_str());
        return slow_pid > 0;
      },
      30s))
      << "the slow check never started";
  ASSERT_TRUE(Running(slow_pid));
  ASSERT_TRUE(s.DeleteRelease("app-3-0-0").ok());

  std::string why;
  const Json released = s.WaitForPhase("app-1-0-0", "Released", 90s, &why);
  ASSERT_FALSE(released.is_null()) << why << "\n" << s.ControllerLogs() << s.job_runner()->log();
  for (const std::string check : {"vhd-footer", "read-only", "gallery-version"}) {
    const Json* r = ResultOf(released, check);
    ASSERT_NE(r, nullptr) << check << ": " << released["status"].dump(2);
    EXPECT_EQ((*r)["passed"], true) << r->dump();
    EXPECT_EQ(r->value("exitCode", -1), 0) << r->dump();
  }
  EXPECT_TRUE(Contains(ResultOf(released, "vhd-footer")->value("outputTail", ""),
                       "footer conectix, 2097664 bytes"));
  EXPECT_TRUE(Contains(ResultOf(released, "read-only")->value("outputTail", ""),
                       "write with the image SAS: HTTP 403"));
  EXPECT_EQ(ConditionOf(released, "Validated").value("reason", ""), "ChecksPassed");
  EXPECT_EQ(StatusString(released, {"status", "validation", "vm"})
                .rfind("vmr-check-app-1-0-0-gallery-version-", 0),
            0u)
      << "status.validation.vm is not the last check's Job";
  EXPECT_EQ(EventsWithReason(s, "app-1-0-0", "CheckStarted").size(), 3u);
  EXPECT_EQ(EventsWithReason(s, "app-1-0-0", "CheckPassed").size(), 3u);
  // What was published is what the build staged: the checks' writes were refused.
  auto blob = s.blobs().GetBlob({"images", "app/1.0.0.vhd"});
  ASSERT_TRUE(blob.ok()) << blob.status().ToString();
  EXPECT_EQ(Sha256Hex(*blob), released["status"]["artifact"]["sha256"]);

  const Json failed = s.WaitForPhase("app-2-0-0", "Failed", 60s, &why);
  ASSERT_FALSE(failed.is_null()) << why << "\n" << s.ControllerLogs();
  EXPECT_EQ(StatusString(failed, {"status", "failedStep"}), "Validate") << failed["status"].dump(2);
  const Json ready = ConditionOf(failed, "Ready");
  EXPECT_EQ(ready.value("reason", ""), "CheckFailed") << ready.dump();
  EXPECT_TRUE(Contains(ready.value("message", ""), "check partitions: exit code 4"))
      << ready.dump();
  const Json* partitions = ResultOf(failed, "partitions");
  ASSERT_NE(partitions, nullptr) << failed["status"].dump(2);
  EXPECT_EQ((*partitions)["passed"], false);
  EXPECT_EQ(partitions->value("exitCode", -1), 4);
  EXPECT_TRUE(Contains(partitions->value("outputTail", ""), kFailingOutput)) << partitions->dump();
  EXPECT_EQ(ResultOf(failed, "never"), nullptr) << "a check ran after a failed one";
  EXPECT_EQ(EventsWithReason(s, "app-2-0-0", "CheckStarted").size(), 2u);
  EXPECT_EQ(EventsWithReason(s, "app-2-0-0", "CheckFailed").size(), 1u);

  const Json timed_out = s.WaitForPhase("app-4-0-0", "Failed", 90s, &why);
  ASSERT_FALSE(timed_out.is_null()) << why << "\n" << s.job_runner()->log();
  const Json* hung = ResultOf(timed_out, "hangs");
  ASSERT_NE(hung, nullptr) << timed_out["status"].dump(2);
  EXPECT_EQ((*hung)["passed"], false);
  EXPECT_EQ(hung->value("message", ""), "timed out after 10s (the check's timeout)")
      << hung->dump();
  EXPECT_FALSE(hung->contains("exitCode")) << hung->dump();

  EXPECT_TRUE(s.WaitGone("app-3-0-0", 60s)) << s.Summary("app-3-0-0");
  EXPECT_FALSE(Running(slow_pid)) << "the deleted release's check still runs";

  // No Job, Pod or Secret (nor a check process) of any release remains.
  LeakReport leaks;
  EXPECT_TRUE(WaitFor(
      [&] {
        leaks = s.Leaks();
        return leaks.jobs.empty() && leaks.pods.empty() && leaks.secrets.empty() &&
               leaks.processes.empty();
      },
      30s))
      << leaks.ToString();

  // The image SAS: read-only (Azurite refuses a write with it) and never visible.
  const std::string url = ReadFile(url_file);
  ASSERT_NE(url.find("sig="), std::string::npos);
  EXPECT_NE(url.find("sp=r&"), std::string::npos) << "not a read-only SAS";
  EXPECT_EQ(PutBlob(url), 403) << "the image SAS can write";
  const std::string sig = url.substr(url.find("sig=") + 4, 20);
  std::string visible =
      s.Summary("app-1-0-0") + s.Summary("app-2-0-0") + s.ControllerLogs() + s.job_runner()->log();
  for (const std::string name : {"app-1-0-0", "app-2-0-0", "app-3-0-0", "app-4-0-0"})
    for (const Json& e : s.Events(name)) visible += e.dump();
  EXPECT_FALSE(Contains(visible, sig)) << "the image SAS leaked";
  std::printf("job validation e2e: %.1f s\n",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
}

}  // namespace
}  // namespace vmrelease::testing

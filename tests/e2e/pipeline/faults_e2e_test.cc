// Faults end to end: with 20 % of ARM calls answered 429 or 500 and Azurite
// restarted while a build's VHD is being uploaded, every release (local build,
// vm validation, gallery + blob) still reaches Released with the content it
// built; and every ARM call gave up or succeeded within the controller's
// attempt limit (5, ReconcilerRetryPolicy in controller/app/wiring.cc).
#include <gtest/gtest.h>

#include <map>

#include "controller/common/crypto.h"
#include "tests/e2e/pipeline/pipeline_e2e_util.h"

namespace vmrelease::testing {
namespace {

using Json = nlohmann::json;
using namespace std::chrono_literals;

constexpr int kArmMaxAttempts = 5;  // ReconcilerRetryPolicy().max_attempts

struct LogCount {
  int lines = 0;
  int max_attempt = 0;
};
LogCount CountLog(PipelineStack& s, const std::string& msg) {
  LogCount c;
  std::istringstream in(s.ControllerLogs());
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] != '{') continue;
    try {
      const Json j = Json::parse(line);
      if (j.value("msg", "") != msg) continue;
      ++c.lines;
      if (j.contains("attempt") && j["attempt"].is_number_integer())
        c.max_attempt = std::max(c.max_attempt, j["attempt"].get<int>());
    } catch (const Json::exception&) {
    }
  }
  return c;
}

TEST(FaultsE2ETest, ReleasesReachReleasedThroughArmFaultsAndAnAzuriteRestartMidUpload) {
  const auto t0 = std::chrono::steady_clock::now();
  PipelineStack::Options options;
  options.arm.throttle_retry_after_seconds = 1;
  auto stack = NewFastStack(options);
  ASSERT_NE(stack, nullptr);
  PipelineStack& s = *stack;
  s.arm().SetRandomFaults(
      0.2, {fake_arm::FaultKind::kThrottle429, fake_arm::FaultKind::kServerError500});

  std::vector<std::string> names;
  for (const char* version : {"6.0.0", "6.1.0", "6.2.0"}) {
    ReleaseSpecOptions o{.name = std::string("app-") + version, .image = "app", .version = version};
    for (char& c : o.name) c = c == '.' ? '-' : c;
    o.validation = "vm";
    o.gallery = true;
    o.regions = {"westeurope", "northeurope"};
    o.checks = {{"hello", "echo hello"}, {"disk", "df -h /"}};
    if (names.empty()) o.build_env = {{"DISK_MIB", "98"}, {"DISK_FILL_MIB", "96"}};
    ASSERT_TRUE(s.Create(s.Release(o)).ok()) << o.name;
    names.push_back(o.name);
  }

  // Azurite goes away while the big disk is being uploaded, and comes back on the
  // same port with the same data.
  auto big = s.GetRelease(names[0]);
  ASSERT_TRUE(big.ok());
  const azure::BlobRef staged{
      "vmrelease-staging",
      "default/" + names[0] + "/" + (*big)["metadata"]["uid"].get<std::string>() + ".vhd"};
  ASSERT_TRUE(WaitFor(
      [&] {
        auto p = s.blobs().GetProperties(staged);
        return p.ok() && p->metadata["vmrelease_upload_state"] == "uploading";
      },
      60s))
      << s.Summary(names[0]);
  const auto down = std::chrono::steady_clock::now();
  ASSERT_TRUE(s.azurite().Restart().ok());
  const double downtime =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - down).count();

  for (const std::string& name : names) {
    std::string why;
    const Json r = s.WaitForPhase(name, "Released", 240s, &why);
    ASSERT_FALSE(r.is_null()) << why << "\n" << s.ControllerLogs();
    // What was built is what was published, the interrupted upload included.
    auto blob =
        s.blobs().GetBlob({"images", "app/" + r["spec"]["version"].get<std::string>() + ".vhd"});
    ASSERT_TRUE(blob.ok()) << blob.status().ToString();
    EXPECT_EQ(Sha256Hex(*blob), StatusString(r, {"status", "artifact", "sha256"})) << name;
  }
  EXPECT_EQ(FileLines(s.marker_dir() + "/app-6.0.0.starts").size(), 1u)
      << "the Azurite restart made the build run again";
  const LeakReport leaks = s.Leaks();
  EXPECT_TRUE(leaks.clean()) << leaks.ToString();
  EXPECT_EQ(leaks.gallery_versions, 3);

  // Retries are bounded: no ARM call made more attempts than the controller allows.
  std::map<int, int> histogram;  // attempts → calls
  std::map<std::string, int> worst;
  int calls = 0, over = 0;
  for (const auto& [id, call] : s.arm().AttemptsByClientRequestId()) {
    ++calls;
    ++histogram[call.attempts];
    worst[call.route] = std::max(worst[call.route], call.attempts);
    if (call.attempts > kArmMaxAttempts) {
      ++over;
      ADD_FAILURE() << call.route << " made " << call.attempts << " attempts (request id " << id
                    << ")";
    }
  }
  const LogCount blob_retries = CountLog(s, "blob request failed; retrying");
  const LogCount transient = CountLog(s, "transient failure");
  std::printf("faults e2e: %d ARM requests, %d faults injected (429/500), %d retried requests\n",
              s.arm().TotalRequests(), s.arm().FaultsInjected(), s.arm().RetriesSeen());
  std::printf("faults e2e: %d ARM calls by attempts:", calls);
  for (const auto& [attempts, n] : histogram) std::printf(" %d×%d", n, attempts);
  std::printf(" (limit %d, over the limit: %d)\n", kArmMaxAttempts, over);
  std::printf("faults e2e: most attempts per route:");
  for (const auto& [route, n] : worst) std::printf(" [%s: %d]", route.c_str(), n);
  std::printf(
      "\nfaults e2e: Azurite down for %.1f s; blob retries logged %d (max attempt %d); "
      "reconciles failed transiently %d (max in a row %d)\n",
      downtime, blob_retries.lines, blob_retries.max_attempt, transient.lines,
      transient.max_attempt);
  std::printf("faults e2e: %.1f s\n",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  EXPECT_GT(s.arm().FaultsInjected(), 10) << "the faults did not happen";
  EXPECT_GT(s.arm().RetriesSeen(), 0);
  EXPECT_GT(blob_retries.lines, 0) << "the Azurite restart went unnoticed: not during the upload?";
}

}  // namespace
}  // namespace vmrelease::testing

// The `job` build backend end to end: the controller creates a Kubernetes Job
// from the release's Pod template, the job runner (tests/support/jobrunner)
// plays Job controller and kubelet and runs the container's command here
// (job-build-disk: a raw disk made a fixed VHD with qemu-img, uploaded with
// curl to VMRELEASE_OUTPUT_URL), and the release goes on from the staged VHD.
#include <gtest/gtest.h>

#include <thread>

#include "controller/azure/sas.h"
#include "controller/common/crypto.h"
#include "controller/release/jobs.h"
#include "controller/release/names.h"
#include "tests/e2e/pipeline/pipeline_e2e_util.h"

namespace vmrelease::testing {
namespace {

using Json = nlohmann::json;
using namespace std::chrono_literals;

bool HaveTools() {
  return RunCommand({"sh", "-c", "command -v qemu-img && command -v curl"}).exit_code == 0;
}

std::unique_ptr<PipelineStack> NewJobStack() {
  PipelineStack::Options o;
  o.job_runner = true;
  return NewFastStack(std::move(o));
}

// HTTP status of `curl` with these arguments (never printed: the URL holds a SAS).
int CurlStatus(std::vector<std::string> args) {
  std::vector<std::string> argv = {"curl", "-s",           "-o", "/dev/null",
                                   "-w",   "%{http_code}", "-H", "x-ms-version: 2021-12-02"};
  argv.insert(argv.end(), args.begin(), args.end());
  const CommandResult out = RunCommand(argv);
  if (out.exit_code != 0) return -1;
  return std::atoi(out.out.c_str());
}

int PutPageBlob(const std::string& url) {
  return CurlStatus({"-X", "PUT", "-H", "x-ms-blob-type: PageBlob", "-H",
                     "x-ms-blob-content-length: 1024", "-H", "Content-Length: 0", url});
}

// The URL of another blob in the same container, with the same query (SAS).
std::string OtherBlob(const std::string& url) {
  const size_t q = url.find('?');
  const std::string path = url.substr(0, q);
  return path.substr(0, path.rfind('/')) + "/someone-else.vhd" + url.substr(q);
}

// Everything a user or an operator can see: status, Events, controller and runner logs.
std::string Visible(PipelineStack& s, const std::string& name) {
  std::string out = s.Summary(name);
  for (const Json& e : s.Events(name)) out += e.dump();
  out += s.ControllerLogs();
  if (s.job_runner()) out += s.job_runner()->log();
  return out;
}

TEST(JobBuildE2ETest, JobBuildReachesReleasedAndLeavesNothing) {
  if (!HaveTools()) GTEST_SKIP() << "needs qemu-img and curl";
  auto stack = NewJobStack();
  ASSERT_NE(stack, nullptr);
  PipelineStack& s = *stack;
  const std::string url_file = s.marker_dir() + "/../output-url";
  ReleaseSpecOptions o{.name = "app-2-0-0", .image = "app", .version = "2.0.0"};
  o.build = "job";
  const std::string inventory_url_file = s.marker_dir() + "/../inventory-url";
  o.build_env = {{"SAVE_OUTPUT_URL_TO", url_file},
                 {"SAVE_INVENTORY_URL_TO", inventory_url_file},
                 {"DISK_MIB", "5"}};
  ASSERT_TRUE(s.Create(s.Release(o)).ok());
  std::string why;
  Json r = s.WaitForPhase("app-2-0-0", "Released", 180s, &why);
  ASSERT_FALSE(r.is_null()) << why << "\n" << s.ControllerLogs() << s.job_runner()->log();

  const Json& st = r["status"];
  EXPECT_EQ(StatusString(r, {"status", "build", "name"}).rfind("vmr-build-app-2-0-0-", 0), 0u)
      << st["build"].dump();
  EXPECT_EQ(st["build"].value("exitCode", -1), 0);
  // (On success the kubelet gives no log tail: FallbackToLogsOnError applies to failures.)
  // The published blob is the VHD the Job uploaded, verified and hashed by the controller.
  auto blob = s.blobs().GetBlob({"images", "app/2.0.0.vhd"});
  ASSERT_TRUE(blob.ok()) << blob.status().ToString();
  EXPECT_EQ(static_cast<int64_t>(blob->size()), 5 * 1024 * 1024 + 512);
  EXPECT_EQ(Sha256Hex(*blob), st["artifact"]["sha256"]);
  EXPECT_EQ(blob->substr(0, 19), "vmrelease-test-disk");
  EXPECT_EQ(EventsWithReason(s, "app-2-0-0", "BuildStarted").size(), 1u);
  // The inventory the Job uploaded beside the VHD is recorded in the release's ConfigMap.
  EXPECT_EQ(StatusString(r, {"status", "inventory", "configMap"}), "app-2-0-0-inventory")
      << st.dump(2);
  EXPECT_EQ(StatusString(r, {"status", "inventory", "sha256"}).size(), 64u) << st.dump(2);
  auto cm = s.client().Get(kube::ConfigMapResource(), {"default", "app-2-0-0-inventory"});
  ASSERT_TRUE(cm.ok()) << cm.status().ToString();
  EXPECT_EQ((*cm)["metadata"]["ownerReferences"][0].value("uid", ""),
            StatusString(r, {"metadata", "uid"}));

  // The Job, its Pod and its Secret are gone once the release moved on, and
  // the staging blobs (VHD and inventory) with them.
  EXPECT_TRUE(NothingLeaks(s, 30s));

  // The SAS the build got: never visible; it cannot read its blob nor write another one.
  const std::string url = ReadFile(url_file);
  ASSERT_NE(url.find("sig="), std::string::npos);
  const std::string sig = url.substr(url.find("sig=") + 4, 20);
  EXPECT_FALSE(Contains(Visible(s, "app-2-0-0"), sig)) << "the SAS leaked";
  EXPECT_EQ(CurlStatus({url}), 403) << "the build's SAS can read";
  EXPECT_EQ(PutPageBlob(OtherBlob(url)), 403) << "the build's SAS can write another blob";
  EXPECT_FALSE(s.blobs().GetProperties({"vmrelease-staging", "default/someone-else.vhd"}).ok());
  // The inventory's SAS likewise: write-only, for exactly its blob, never visible.
  const std::string inv_url = ReadFile(inventory_url_file);
  ASSERT_NE(inv_url.find("sig="), std::string::npos);
  ASSERT_NE(inv_url.find(".inventory.json?"), std::string::npos);
  EXPECT_FALSE(Contains(Visible(s, "app-2-0-0"), inv_url.substr(inv_url.find("sig=") + 4, 20)))
      << "the inventory SAS leaked";
  EXPECT_EQ(CurlStatus({inv_url}), 403) << "the inventory SAS can read";
  EXPECT_EQ(PutPageBlob(OtherBlob(inv_url)), 403) << "the inventory SAS can write another blob";
}

TEST(JobBuildE2ETest, FailingJobBuildFailsAtBuildingWithThePodsMessage) {
  if (!HaveTools()) GTEST_SKIP() << "needs qemu-img and curl";
  auto stack = NewJobStack();
  ASSERT_NE(stack, nullptr);
  PipelineStack& s = *stack;
  ReleaseSpecOptions o{.name = "app-3-0-0", .image = "app", .version = "3.0.0"};
  o.build = "job";
  o.build_env = {{"BUILD_FAIL", "7"},
                 {"BUILD_FAIL_MESSAGE", "packer: provisioner shell: apt-get exited 100"}};
  ASSERT_TRUE(s.Create(s.Release(o)).ok());
  std::string why;
  Json r = s.WaitForPhase("app-3-0-0", "Failed", 120s, &why);
  ASSERT_FALSE(r.is_null()) << why << "\n" << s.ControllerLogs();
  const Json ready = ConditionOf(r, "Ready");
  EXPECT_EQ(ready.value("reason", ""), "BuildFailed") << ready.dump();
  EXPECT_TRUE(Contains(ready.value("message", ""), "apt-get exited 100")) << ready.dump();
  EXPECT_TRUE(Contains(ready.value("message", ""), "exited with code 7")) << ready.dump();
  EXPECT_EQ(r["status"]["build"].value("exitCode", 0), 7);
  EXPECT_EQ(StatusString(r, {"status", "failedStep"}), "Build") << r["status"].dump();
  EXPECT_TRUE(NothingLeaks(s, 60s));
}

// The SAS shape the build gets ("cw" on exactly the staging blob), against Azurite:
// it writes that blob; it cannot read it, write another blob, or be used after expiry.
TEST(JobBuildSasTest, OutputSasWritesExactlyTheStagingBlobUntilItExpires) {
  if (!HaveTools()) GTEST_SKIP() << "needs curl";
  auto azurite = Azurite::Start();
  ASSERT_TRUE(azurite.ok()) << azurite.status().ToString();
  auto signer = azure::SharedKeySigner::Create(kAzuriteAccount, kAzuriteKey);
  ASSERT_TRUE(signer.ok());
  auto blobs = azure::BlobClient::Create({.account_url = (*azurite)->account_url()},
                                         azure::SharedKeyAuth(std::move(*signer)));
  ASSERT_TRUE(blobs.ok());
  ASSERT_TRUE((*blobs)->CreateContainer("vmrelease-staging").ok());
  const azure::BlobRef ref{"vmrelease-staging", "default/app-1/uid-1.vhd"};
  const WallTime now = RealClock().WallNow();
  auto url = (*blobs)->GenerateSasUrl(
      ref, {.permissions = "cw", .start = now - 5min, .expiry = now + 4s, .protocol = ""});
  ASSERT_TRUE(url.ok()) << url.status().ToString();

  EXPECT_EQ(PutPageBlob(*url), 201);
  TempDir dir;
  WriteFile(dir.Join("page"), std::string(512, 'x'));
  EXPECT_EQ(
      CurlStatus({"-X", "PUT", "-H", "x-ms-page-write: update", "-H", "x-ms-range: bytes=0-511",
                  "--data-binary", "@" + dir.Join("page"), *url + "&comp=page"}),
      201);
  EXPECT_EQ(CurlStatus({*url}), 403) << "read with a write-only SAS";
  EXPECT_EQ(PutPageBlob(OtherBlob(*url)), 403) << "wrote another blob";
  EXPECT_TRUE((*blobs)->GetProperties(ref).ok());
  std::this_thread::sleep_until(std::chrono::system_clock::now() + 6s);
  EXPECT_EQ(PutPageBlob(*url), 403) << "used after expiry";
}

// A Job of someone else's under the build Job's name: the release stalls in Build with a
// Warning that says so, and goes on by itself once the Job is gone (nothing watches Jobs: the
// stalled step is looked at again after a while, 15 s in this stack).
TEST(JobBuildE2ETest, SomeoneElsesJobInTheWayStallsWithAWarningAndTheReleaseGoesOnOnceGone) {
  PipelineStack::Options so;
  so.job_runner = true;
  auto stack = NewFastStack(std::move(so));
  ASSERT_NE(stack, nullptr);
  PipelineStack& s = *stack;
  ReleaseSpecOptions o{.name = "app-5-0-0", .image = "app", .version = "5.0.0"};
  o.build = "job";
  Json obj = s.Release(o);
  // Paused until the other Job is in place: its name derives from the release's uid.
  obj["metadata"]["annotations"]["vmrelease.io/reconcile"] = "disabled";
  ASSERT_TRUE(s.Create(obj).ok());
  auto created = s.GetRelease("app-5-0-0");
  ASSERT_TRUE(created.ok());
  const std::string job_name =
      release::ReleaseNames::For("default", "app-5-0-0", kube::Uid(*created)).job;
  Json foreign = Json::parse(R"({"apiVersion": "batch/v1", "kind": "Job",
      "metadata": {"namespace": "default"},
      "spec": {"template": {"spec": {"restartPolicy": "Never",
        "containers": [{"name": "other", "image": "busybox", "command": ["true"]}]}}}})");
  foreign["metadata"]["name"] = job_name;
  ASSERT_TRUE(s.client().Create(release::jobs::JobResource(), foreign).ok());
  ASSERT_TRUE(
      s.PatchRelease("app-5-0-0",
                     {{"metadata", {{"annotations", {{"vmrelease.io/reconcile", nullptr}}}}}})
          .ok());

  bool ok = false;
  const Json stalled = WaitForRelease(
      s, "app-5-0-0",
      [](const Json& r) { return ConditionOf(r, "Stalled").value("status", "") == "True"; }, 90s,
      &ok);
  ASSERT_TRUE(ok) << stalled.dump(2) << s.ControllerLogs();
  EXPECT_EQ(StatusString(stalled, {"status", "phase"}), "Building") << stalled["status"].dump(2);
  EXPECT_TRUE(Contains(ConditionOf(stalled, "Stalled").value("message", ""),
                       "a Job named " + job_name + " exists and does not belong to this release"))
      << stalled.dump(2);
  std::vector<Json> warnings;
  ASSERT_TRUE(WaitFor(
      [&] {
        warnings = EventsWithReason(s, "app-5-0-0", "BuildFailed");
        return !warnings.empty();
      },
      30s))
      << "no Warning Event for the stall";
  EXPECT_EQ(warnings[0].value("type", ""), "Warning");
  EXPECT_TRUE(Contains(warnings[0].value("note", ""), "does not belong")) << warnings[0].dump();

  ASSERT_TRUE(s.client()
                  .Delete(release::jobs::JobResource(), {"default", job_name},
                          {.propagation_policy = "Background"})
                  .ok());
  std::string why;
  const Json released = s.WaitForPhase("app-5-0-0", "Released", 90s, &why);
  ASSERT_FALSE(released.is_null()) << why << "\n" << s.ControllerLogs();
  EXPECT_EQ(ConditionOf(released, "Stalled").value("status", "False"), "False");
  const LeakReport leaks = s.Leaks();
  EXPECT_TRUE(leaks.clean()) << leaks.ToString();
}

}  // namespace
}  // namespace vmrelease::testing

// The release pipeline end to end, as a platform engineer sees it: apply an
// ImageRelease, watch it reach Released, then look at what Azure (the fake ARM)
// and Blob Storage (Azurite) hold, and at what kubectl shows.
#include <gtest/gtest.h>

#include <fstream>

#include "controller/common/crypto.h"
#include "tests/support/stack/pipeline_stack.h"

namespace vmrelease::testing {
namespace {

using Json = nlohmann::json;
using namespace std::chrono_literals;

std::unique_ptr<PipelineStack> NewStack(PipelineStack::Options o = {}) {
  o.arm.lro_polls = 2;
  o.arm.retry_after_seconds = 1;
  o.arm.run_command_polls = 1;
  auto s = PipelineStack::Start(std::move(o));
  if (!s.ok()) {
    ADD_FAILURE() << s.status().ToString();
    return nullptr;
  }
  return std::move(*s);
}

std::vector<std::string> EventReasons(PipelineStack& s, const std::string& name) {
  std::vector<std::string> out;
  for (const Json& e : s.Events(name)) out.push_back(e.value("reason", ""));
  return out;
}

int Count(const std::vector<std::string>& v, const std::string& x) {
  return static_cast<int>(std::count(v.begin(), v.end(), x));
}

TEST(PipelineE2ETest, LocalBuildVmValidationReleasesToGalleryAndBlob) {
  auto stack = NewStack();
  ASSERT_NE(stack, nullptr);
  PipelineStack& s = *stack;
  ReleaseSpecOptions o{.name = "app-1-0-0", .image = "app", .version = "1.0.0"};
  o.validation = "vm";
  o.gallery = true;
  o.regions = {"westeurope", "northeurope"};
  o.replicas = 2;
  o.retention_days = 30;
  o.checks = {{"hello", "echo hello"}, {"disk", "df -h /"}};
  ASSERT_TRUE(s.Create(s.Release(o)).ok());
  std::string why;
  Json r = s.WaitForPhase("app-1-0-0", "Released", 120s, &why);
  ASSERT_FALSE(r.is_null()) << why << "\n" << s.ControllerLogs();

  // Status: the artifact and what happened at each step.
  const Json& st = r["status"];
  const std::string sha = st["artifact"].value("sha256", "");
  ASSERT_EQ(sha.size(), 64u);
  EXPECT_EQ(st["artifact"]["galleryImageVersionId"],
            std::string("/subscriptions/") + kSubscription + "/resourceGroups/" + kGalleryGroup +
                "/providers/Microsoft.Compute/galleries/" + kGallery +
                "/images/app/versions/1.0.0");
  EXPECT_EQ(st["validation"]["results"].size(), 2u);
  for (const Json& c : st["validation"]["results"]) EXPECT_TRUE(c["passed"]) << c.dump();
  EXPECT_EQ(st["publish"]["replication"], "Completed");
  EXPECT_EQ(st["observedGeneration"], r["metadata"]["generation"]);
  EXPECT_TRUE(st.contains("endOfLife"));

  // The published blob is a valid fixed VHD whose SHA-256 is the recorded one.
  auto blob = s.blobs().GetBlob({"images", "app/1.0.0.vhd"});
  ASSERT_TRUE(blob.ok()) << blob.status().ToString();
  EXPECT_EQ(Sha256Hex(*blob), sha);
  EXPECT_EQ(static_cast<int64_t>(blob->size()), st["artifact"].value("sizeBytes", int64_t{0}));
  TempDir dir;
  const std::string path = dir.Join("published.vhd");
  {
    std::ofstream out(path, std::ios::binary);
    out.write(blob->data(), static_cast<std::streamsize>(blob->size()));
  }
  CommandResult info = RunCommand({"qemu-img", "info", "-f", "vpc", "--output=json", path});
  ASSERT_EQ(info.exit_code, 0) << info.err;
  const Json qi = Json::parse(info.out);
  EXPECT_EQ(qi["virtual-size"], static_cast<int64_t>(blob->size()) - 512);

  // The gallery holds one version with the asked regions, replicas and end of life.
  const auto version = s.arm().Resource(st["artifact"]["galleryImageVersionId"]);
  ASSERT_TRUE(version.has_value());
  const Json& pub = (*version)["properties"]["publishingProfile"];
  ASSERT_EQ(pub["targetRegions"].size(), 2u);
  for (const Json& region : pub["targetRegions"]) EXPECT_EQ(region["regionalReplicaCount"], 2);
  EXPECT_EQ(pub["excludeFromLatest"], false);
  EXPECT_EQ(pub.value("endOfLifeDate", std::string()).substr(0, 10),
            st.value("endOfLife", std::string()).substr(0, 10));
  EXPECT_EQ((*version)["properties"]["safetyProfile"]["blockDeletionBeforeEndOfLife"], true);
  const LeakReport leaks = s.Leaks();
  EXPECT_EQ(leaks.gallery_versions, 1);
  EXPECT_TRUE(leaks.clean()) << leaks.ToString();

  // kubectl shows the phase, and one Event per phase.
  CommandResult get = s.api().Kubectl({"get", "ir", "app-1-0-0"});
  EXPECT_NE(get.out.find("Released"), std::string::npos) << get.out << get.err;
  ASSERT_TRUE(WaitFor([&] { return Count(EventReasons(s, "app-1-0-0"), "Released") == 1; }, 20s));
  const auto reasons = EventReasons(s, "app-1-0-0");
  for (const char* phase :
       {"Pending", "Building", "Staging", "Validating", "Publishing", "Released"})
    EXPECT_EQ(Count(reasons, phase), 1) << phase;
  CommandResult describe = s.api().Kubectl({"describe", "ir", "app-1-0-0"});
  EXPECT_NE(describe.out.find("Validating"), std::string::npos) << describe.out;
}

TEST(PipelineE2ETest, LocalBuildAndLocalValidationReleaseToBlob) {
  auto stack = NewStack();
  ASSERT_NE(stack, nullptr);
  PipelineStack& s = *stack;
  ReleaseSpecOptions o{.name = "app-2-0-0", .image = "app", .version = "2.0.0"};
  o.checks = {{"reads-disk", "head -c 19 \"$VMRELEASE_IMAGE_PATH\""}};
  ASSERT_TRUE(s.Create(s.Release(o)).ok());
  std::string why;
  Json r = s.WaitForPhase("app-2-0-0", "Released", 90s, &why);
  ASSERT_FALSE(r.is_null()) << why << "\n" << s.ControllerLogs();
  const Json& result = r["status"]["validation"]["results"][0];
  EXPECT_EQ(result["exitCode"], 0);
  EXPECT_NE(result.value("outputTail", "").find("vmrelease-test-disk"), std::string::npos)
      << result.dump();
  auto blob = s.blobs().GetBlob({"images", "app/2.0.0.vhd"});
  ASSERT_TRUE(blob.ok()) << blob.status().ToString();
  EXPECT_EQ(Sha256Hex(*blob), r["status"]["artifact"]["sha256"]);
  EXPECT_TRUE(s.Leaks().clean()) << s.Leaks().ToString();
}

}  // namespace
}  // namespace vmrelease::testing

// The `imageBuilder` build backend end to end: the controller creates an image
// template in the fake ARM, runs it, follows lastRunStatus, copies the run's VHD
// output (a real fixed VHD in Azurite, behind a read SAS) into staging, and the
// release goes on from there; a run that ends Failed fails the release with
// Azure's error code and message; a release deleted mid-build has its run
// cancelled. Whatever happened, no template and no staging blob remain.
#include <gtest/gtest.h>

#include "controller/common/crypto.h"
#include "tests/e2e/pipeline/pipeline_e2e_util.h"

namespace vmrelease::testing {
namespace {

using Json = nlohmann::json;
using namespace std::chrono_literals;

TEST(ImageBuilderE2ETest, ReleasedFailedAndDeletedBuildsShowAzureAndLeaveNothing) {
  PipelineStack::Options so;
  so.arm.image_builder_run_duration = 3s;
  auto stack = NewFastStack(std::move(so));
  ASSERT_NE(stack, nullptr);
  PipelineStack& s = *stack;
  // Runs of the failing release's template end Failed with an Azure error.
  s.arm().FailImageBuilderRuns("vmr-bad-", "CustomizerFailed",
                               "Customizer 'hello' failed: script exited with code 3");
  ReleaseSpecOptions good{.name = "app-5-0-0", .image = "app", .version = "5.0.0"};
  good.build = "imageBuilder";
  ReleaseSpecOptions bad{.name = "bad-5-1-0", .image = "app", .version = "5.1.0"};
  bad.build = "imageBuilder";
  ASSERT_TRUE(s.Create(s.Release(good)).ok());
  ASSERT_TRUE(s.Create(s.Release(bad)).ok());

  std::string why;
  Json r = s.WaitForPhase("app-5-0-0", "Released", 60s, &why);
  ASSERT_FALSE(r.is_null()) << why << "\n" << s.ControllerLogs();
  const std::string tmpl = StatusString(r, {"status", "build", "name"});
  EXPECT_EQ(tmpl.rfind("vmr-app-5-0-0-", 0), 0u) << r["status"].dump();
  EXPECT_EQ(r["status"]["build"].value("exitCode", -1), 0);
  // The published VHD is the run's output, copied into staging and verified there.
  auto blob = s.blobs().GetBlob({"images", "app/5.0.0.vhd"});
  ASSERT_TRUE(blob.ok()) << blob.status().ToString();
  EXPECT_EQ(*blob, s.image_builder_vhd_content());
  EXPECT_EQ(Sha256Hex(*blob), r["status"]["artifact"]["sha256"]);
  EXPECT_EQ(s.arm().ImageBuilderRuns()[tmpl], 1);
  EXPECT_EQ(EventsWithReason(s, "app-5-0-0", "BuildStarted").size(), 1u);

  Json f = s.WaitForPhase("bad-5-1-0", "Failed", 60s, &why);
  ASSERT_FALSE(f.is_null()) << why << "\n" << s.ControllerLogs();
  const Json ready = ConditionOf(f, "Ready");
  EXPECT_EQ(ready.value("reason", ""), "BuildFailed") << ready.dump();
  EXPECT_TRUE(Contains(ready.value("message", ""), "CustomizerFailed")) << ready.dump();
  EXPECT_TRUE(Contains(ready.value("message", ""), "script exited with code 3")) << ready.dump();
  EXPECT_EQ(StatusString(f, {"status", "failedStep"}), "Build") << f["status"].dump();
  EXPECT_TRUE(Contains(StatusString(f, {"status", "build", "outputTail"}), "exited with code 3"))
      << f["status"].dump();

  // A release deleted while Image Builder builds it: the run is cancelled, the template
  // deleted, and only then does the release go.
  s.arm().SetImageBuilderRunDuration(1h);
  ReleaseSpecOptions gone{.name = "gone-5-2-0", .image = "app", .version = "5.2.0"};
  gone.build = "imageBuilder";
  ASSERT_TRUE(s.Create(s.Release(gone)).ok());
  std::string gone_template;
  ASSERT_TRUE(WaitFor(
      [&] {
        auto g = s.GetRelease("gone-5-2-0");
        if (!g.ok()) return false;
        gone_template = StatusString(*g, {"status", "build", "name"});
        return !gone_template.empty() && s.arm().ImageBuilderRuns()[gone_template] == 1;
      },
      60s))
      << s.Summary("gone-5-2-0");
  ASSERT_TRUE(s.DeleteRelease("gone-5-2-0").ok());
  EXPECT_TRUE(s.WaitGone("gone-5-2-0", 60s)) << s.Summary("gone-5-2-0");
  EXPECT_EQ(s.arm().RequestCount("POST Microsoft.VirtualMachineImages/imageTemplates/cancel"), 1);

  // Nothing left: the templates deleted, no staging blob; the output's SAS never shown.
  EXPECT_TRUE(NothingLeaks(s, 30s));
  std::string visible = s.Summary("app-5-0-0") + s.Summary("bad-5-1-0") + s.ControllerLogs();
  for (const Json& e : s.Events("app-5-0-0")) visible += e.dump();
  const std::string& url = s.image_builder_vhd_url();
  ASSERT_NE(url.find("sig="), std::string::npos);
  EXPECT_FALSE(Contains(visible, url.substr(url.find("sig=") + 4, 20))) << "the SAS leaked";
}

// An Image Builder build hands no inventory over; the inventory check does: its Run
// Command writes the script's whole stdout (far more than the instance view keeps) to
// the blob beside the staging VHD through outputBlobUri, and the controller records it
// like a build's, then deletes the blob.
TEST(ImageBuilderE2ETest, TheInventoryCheckRecordsTheImagesInventoryThroughRunCommandOutput) {
  PipelineStack::Options so;
  so.arm.image_builder_run_duration = 1s;
  auto stack = NewFastStack(std::move(so));
  ASSERT_NE(stack, nullptr);
  PipelineStack& s = *stack;
  Json packages = Json::array(), files = Json::array();
  for (int i = 0; i < 2000; ++i) {
    const std::string name = "pkg-" + std::to_string(10000 + i);
    packages.push_back({{"name", name}, {"version", "2." + std::to_string(i) + "-1"}});
  }
  files.push_back({{"path", "/etc/app/release"}, {"sha256", Sha256Hex("5.3.0")}, {"size", 6}});
  const std::string inventory = Json{
      {"schemaVersion", 1},
      {"image", "app"},
      {"version", "5.3.0"},
      {"packages", packages},
      {"files", files}}.dump();
  ASSERT_GT(inventory.size(), 64u * 1024) << "more than any instance view keeps";
  s.arm().AddRunCommandRule({.contains = "dpkg-query", .exit_code = 0, .stdout_text = inventory});

  ReleaseSpecOptions o{.name = "app-5-3-0", .image = "app", .version = "5.3.0"};
  o.build = "imageBuilder";
  o.validation = "vm";
  o.checks = {{"smoke", "echo ok"}, {"packages", "dpkg-query -W | to-inventory-json"}};
  Json release = s.Release(o);
  release["spec"]["validation"]["checks"][1]["inventory"] = true;
  ASSERT_TRUE(s.Create(release).ok());

  std::string why;
  Json r = s.WaitForPhase("app-5-3-0", "Released", 90s, &why);
  ASSERT_FALSE(r.is_null()) << why << "\n" << s.ControllerLogs();
  const Json& st = r["status"];
  EXPECT_EQ(StatusString(r, {"status", "inventory", "configMap"}), "app-5-3-0-inventory")
      << st.dump(2);
  EXPECT_EQ(st["inventory"].value("packages", 0), 2000) << st.dump(2);
  EXPECT_EQ(st["inventory"].value("files", 0), 1) << st.dump(2);
  EXPECT_FALSE(st["inventory"].contains("message")) << st.dump(2);
  auto cm = s.client().Get(kube::ConfigMapResource(), {"default", "app-5-3-0-inventory"});
  ASSERT_TRUE(cm.ok()) << cm.status().ToString();
  EXPECT_EQ((*cm)["metadata"]["annotations"]["vmrelease.io/inventory-sha256"],
            st["inventory"]["sha256"]);
  EXPECT_EQ((*cm)["metadata"]["ownerReferences"][0]["uid"], r["metadata"]["uid"]);

  // Exactly one run command wrote to a blob: the inventory check's, through a SAS for
  // exactly the blob beside the staging VHD, never visible.
  const std::vector<std::string> uris = s.arm().OutputBlobUris();
  ASSERT_EQ(uris.size(), 1u);
  EXPECT_NE(uris[0].find(".inventory.json?"), std::string::npos) << "a SAS for that blob only";
  EXPECT_NE(uris[0].find("sp=racw"), std::string::npos);
  ASSERT_NE(uris[0].find("sig="), std::string::npos);
  std::string visible = s.Summary("app-5-3-0") + s.ControllerLogs();
  for (const Json& e : s.Events("app-5-3-0")) visible += e.dump();
  EXPECT_FALSE(Contains(visible, uris[0].substr(uris[0].find("sig=") + 4, 20)))
      << "the outputBlobUri SAS leaked";

  // Nothing left: no template, no VM, no staging blob (the inventory's included).
  EXPECT_TRUE(NothingLeaks(s, 30s));
}

}  // namespace
}  // namespace vmrelease::testing

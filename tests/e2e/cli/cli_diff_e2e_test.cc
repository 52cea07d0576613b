// `kubectl vmrelease diff` down to packages, end to end: releases built by the real
// controller — `app` 1.0.0 and 1.1.0 with the real local recipe (images/build-demo-image,
// whose inventory lists the host's Debian packages and every file of the disk), `big`
// 1.0.0 and 1.1.0 whose builds leave synthetic 5,000-package inventories, and `odd`
// whose 1.0.0 leaves no inventory and whose 1.1.0 leaves an invalid one — each stored by
// the pipeline in a ConfigMap on the local API server (which enforces a real server's
// 1 MiB ConfigMap and 1.5 MiB object limits), pinned as dev (1.1.0) and prod (1.0.0).
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "controller/common/crypto.h"
#include "controller/kube/resource.h"
#include "tests/e2e/cli/cli_e2e_util.h"
#include "tests/e2e/pipeline/pipeline_e2e_util.h"

namespace vmrelease::testing {
namespace {

using Json = nlohmann::json;
using namespace std::chrono_literals;

constexpr int kBigPackages = 5000;

// The synthetic inventory of `big` at `version`: 5,000 packages and one file each.
// 1.1.0 bumps pkg-00000..pkg-00009, drops pkg-04998 and pkg-04999, adds extra-1..3.
std::string BigInventory(const std::string& version) {
  const bool newer = version == "1.1.0";
  Json packages = Json::array(), files = Json::array();
  auto add = [&](const std::string& name, const std::string& v) {
    packages.push_back({{"name", name}, {"version", v}});
    files.push_back({{"path", "/usr/share/doc/" + name + "/copyright"},
                     {"sha256", Sha256Hex(name + v)},
                     {"size", 100 + static_cast<int>(name.size())},
                     {"mode", "0644"}});
  };
  for (int i = 0; i < kBigPackages; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "pkg-%05d", i);
    if (newer && i >= kBigPackages - 2) continue;
    add(name, (newer && i < 10 ? "2." : "1.") + std::to_string(i % 13) + "-1");
  }
  if (newer)
    for (int i = 1; i <= 3; ++i) add("extra-" + std::to_string(i), "0.1");
  return Json{{"schemaVersion", 1},
              {"image", "big"},
              {"version", version},
              {"packages", packages},
              {"files", files}}
      .dump();
}

class CliDiffE2ETest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    stack_ = NewFastStack().release();
    if (!stack_) return;
    dir_ = new TempDir();
    PipelineStack& s = *stack_;
    auto create = [&](const std::string& image, const std::string& version, Json command,
                      Env build_env) {
      std::string name = image + "-" + version;
      for (char& c : name) c = c == '.' ? '-' : c;
      Json r =
          s.Release({.name = name, .image = image, .version = version, .build_env = build_env});
      r["spec"]["build"]["local"]["command"] = std::move(command);
      r["spec"]["changelog"] = {{{"kind", "Security"},
                                 {"summary", "patched in " + version},
                                 {"reference", "CVE-" + version}}};
      auto created = s.Create(r);
      EXPECT_TRUE(created.ok()) << name << ": " << created.status().ToString();
      names_.push_back(name);
    };
    // The real recipe, with the inputs docs/local-images.md describes for 1.0.0 and 1.1.0.
    create("app", "1.0.0", {"build-demo-image"},
           {{"DEMO_GREETING", "Hello from 1.0"}, {"DEMO_FEATURES", "metrics"}});
    create("app", "1.1.0", {"build-demo-image"},
           {{"DEMO_GREETING", "Hello from 1.1"}, {"DEMO_FEATURES", "tracing,metrics"}});
    for (const std::string v : {"1.0.0", "1.1.0"}) {
      const std::string path = dir_->Join("big-" + v + ".json");
      std::ofstream(path) << BigInventory(v);
      create("big", v,
             {"/bin/sh", "-c", "build-disk && cp \"$INVENTORY_SRC\" \"$VMRELEASE_INVENTORY\""},
             {{"INVENTORY_SRC", path}});
    }
    create("odd", "1.0.0", {"/bin/sh", "-c", "build-disk && rm -f \"$VMRELEASE_INVENTORY\""}, {});
    create(
        "odd", "1.1.0",
        {"/bin/sh", "-c", "build-disk && echo '{\"schemaVersion\": 7}' >\"$VMRELEASE_INVENTORY\""},
        {});
    for (const std::string image : {"app", "big", "odd"}) {
      EXPECT_TRUE(s.CreatePin(image + "-dev", "dev", image, "1.1.0").ok());
      EXPECT_TRUE(s.CreatePin(image + "-prod", "prod", image, "1.0.0").ok());
    }
    for (const std::string& name : names_) {
      std::string why;
      EXPECT_FALSE(s.WaitForPhase(name, "Released", 240s, &why).is_null()) << name << ": " << why;
    }
    for (const std::string image : {"app", "big", "odd"}) {
      for (const auto& [env, version] : {std::pair{"dev", "1.1.0"}, {"prod", "1.0.0"}}) {
        bool ok = false;
        s.WaitForPin(
            image + "-" + env,
            [v = std::string(version)](const Json& p) {
              return StatusString(p, {"status", "resolved", "version"}) == v;
            },
            60s, &ok);
        EXPECT_TRUE(ok) << image << "-" << env << " never resolved " << version;
      }
    }
  }
  static void TearDownTestSuite() {
    delete stack_;
    stack_ = nullptr;
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(stack_, nullptr); }
  PipelineStack& s() { return *stack_; }

  CommandResult Cli(std::vector<std::string> args) { return RunPlugin(s(), std::move(args)); }
  static Json Paths(const Json& list) {
    Json out = Json::array();
    for (const Json& f : list) out.push_back(f["path"]);
    return out;
  }

  static PipelineStack* stack_;
  static TempDir* dir_;
  static std::vector<std::string> names_;
};
PipelineStack* CliDiffE2ETest::stack_ = nullptr;
TempDir* CliDiffE2ETest::dir_ = nullptr;
std::vector<std::string> CliDiffE2ETest::names_;

TEST_F(CliDiffE2ETest, TheLocalRecipesInventoryIsRecordedInAConfigMapOwnedByTheRelease) {
  auto rel = s().GetRelease("app-1-0-0");
  ASSERT_TRUE(rel.ok());
  const Json& inv = (*rel)["status"]["inventory"];
  ASSERT_TRUE(inv.is_object()) << s().Summary("app-1-0-0");
  EXPECT_EQ(inv["configMap"], "app-1-0-0-inventory");
  EXPECT_GE(inv["packages"].get<int>(), 3);  // kernel, busybox, qemu-ga at least
  EXPECT_GE(inv["files"].get<int>(), 10);
  EXPECT_EQ(inv["sha256"].get<std::string>().size(), 64u);
  EXPECT_FALSE(inv.contains("message"));
  auto cm = s().client().Get(kube::ConfigMapResource(), {"default", "app-1-0-0-inventory"});
  ASSERT_TRUE(cm.ok()) << cm.status().ToString();
  EXPECT_EQ((*cm)["metadata"]["ownerReferences"][0]["uid"], (*rel)["metadata"]["uid"]);
  EXPECT_EQ((*cm)["metadata"]["labels"]["vmrelease.io/image"], "app");
  EXPECT_EQ((*cm)["metadata"]["labels"]["vmrelease.io/version"], "1.0.0");
  EXPECT_EQ((*cm)["metadata"]["annotations"]["vmrelease.io/inventory-sha256"], inv["sha256"]);
  EXPECT_TRUE((*cm)["binaryData"].contains("inventory.json.gz"));
}

TEST_F(CliDiffE2ETest, DiffDevProdListsTheChangelogAndThePackageAndFileChanges) {
  CommandResult r = Cli({"diff", "dev", "prod", "--image", "app"});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  // The changelog between them (prod lacks 1.1.0's entries)...
  EXPECT_TRUE(Contains(r.out, "app: dev 1.1.0 -> prod 1.0.0")) << r.out;
  EXPECT_TRUE(Contains(r.out, "patched in 1.1.0")) << r.out;
  EXPECT_TRUE(Contains(r.out, "CVE-1.1.0")) << r.out;
  // ...and the inventories': the same host packages, the files the inputs feed.
  EXPECT_TRUE(Contains(r.out, "0 added, 0 removed, 0 changed")) << r.out;
  EXPECT_TRUE(Contains(r.out, "0 added, 1 removed, 3 changed")) << r.out;
  EXPECT_TRUE(Contains(r.out, "- /etc/demo/features.d/tracing.conf")) << r.out;
  EXPECT_TRUE(Contains(r.out, "~ /etc/demo/greeting (sha256 ")) << r.out;

  r = Cli({"diff", "dev", "prod", "--image", "app", "-o", "json"});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  Json j = Json::parse(r.out);
  ASSERT_EQ(j.size(), 1u) << j.dump(2);
  ASSERT_EQ(j[0]["changes"].size(), 1u) << j.dump(2);
  EXPECT_EQ(j[0]["changes"][0]["version"], "1.1.0");
  const Json& inv = j[0]["inventory"];
  ASSERT_EQ(inv["available"], true) << inv.dump(2);
  EXPECT_EQ(inv["a"]["release"], "app-1-1-0");
  EXPECT_EQ(inv["b"]["release"], "app-1-0-0");
  EXPECT_EQ(inv["packages"]["changed"], Json::array());
  EXPECT_EQ(inv["packages"]["added"], Json::array());
  EXPECT_EQ(Paths(inv["files"]["removed"]), Json({"/etc/demo/features.d/tracing.conf"}));
  EXPECT_EQ(inv["files"]["added"], Json::array());
  EXPECT_EQ(Paths(inv["files"]["changed"]),
            Json({"/etc/demo/greeting", "/etc/vmrelease-release", "/srv/www/index.html"}));

  // The other way round, the file is added.
  r = Cli({"diff", "prod", "dev", "--image", "app", "-o", "json"});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  j = Json::parse(r.out);
  EXPECT_EQ(Paths(j[0]["inventory"]["files"]["added"]),
            Json({"/etc/demo/features.d/tracing.conf"}));
}

TEST_F(CliDiffE2ETest, FiveThousandPackagesAreStoredDiffedAndKeepTheReleaseSmall) {
  for (const char* name : {"big-1-0-0", "big-1-1-0"}) {
    auto rel = s().GetRelease(name);
    ASSERT_TRUE(rel.ok());
    const Json& inv = (*rel)["status"]["inventory"];
    EXPECT_EQ(inv.value("packages", 0), std::string(name) == "big-1-0-0" ? 5000 : 5001)
        << s().Summary(name);
    // The release carries the reference, never the list: far below the 1.5 MiB limit.
    EXPECT_LT(rel->dump().size(), 64u * 1024) << name;
    auto cm = s().client().Get(kube::ConfigMapResource(), {"default", inv.value("configMap", "")});
    ASSERT_TRUE(cm.ok()) << cm.status().ToString();
    EXPECT_LT(cm->dump().size(), 1024u * 1024);
  }
  CommandResult r = Cli({"diff", "prod", "dev", "--image", "big", "-o", "json"});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  Json j = Json::parse(r.out);
  const Json& inv = j[0]["inventory"];
  ASSERT_EQ(inv["available"], true) << inv.dump().substr(0, 2000);
  EXPECT_EQ(inv["a"]["packages"], 5000);
  EXPECT_EQ(inv["b"]["packages"], 5001);
  Json added = Json::array(), removed = Json::array();
  for (const Json& p : inv["packages"]["added"]) added.push_back(p["name"]);
  for (const Json& p : inv["packages"]["removed"]) removed.push_back(p["name"]);
  EXPECT_EQ(added, Json({"extra-1", "extra-2", "extra-3"}));
  EXPECT_EQ(removed, Json({"pkg-04998", "pkg-04999"}));
  ASSERT_EQ(inv["packages"]["changed"].size(), 10u);
  EXPECT_EQ(inv["packages"]["changed"][0],
            (Json{{"name", "pkg-00000"}, {"from", "1.0-1"}, {"to", "2.0-1"}}));
  EXPECT_EQ(inv["files"]["changed"].size(), 10u);
  EXPECT_EQ(inv["files"]["added"].size(), 3u);
  EXPECT_EQ(inv["files"]["removed"].size(), 2u);

  r = Cli({"diff", "prod", "dev", "--image", "big"});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  EXPECT_TRUE(Contains(r.out, "packages (prod 5000 -> dev 5001): 3 added, 2 removed, 10 changed"))
      << r.out.substr(0, 3000);
  EXPECT_TRUE(Contains(r.out, "~ pkg-00009 1.9-1 -> 2.9-1")) << r.out.substr(0, 3000);
}

TEST_F(CliDiffE2ETest, ASideWithoutAnInventorySaysSoAndARefusedOneDoesNotFailTheRelease) {
  // 1.1.0's inventory was invalid: not recorded, said so, and the release still Released.
  auto rel = s().GetRelease("odd-1-1-0");
  ASSERT_TRUE(rel.ok());
  EXPECT_EQ(StatusString(*rel, {"status", "phase"}), "Released");
  const std::string message = StatusString(*rel, {"status", "inventory", "message"});
  EXPECT_TRUE(Contains(message, "not recorded") && Contains(message, "schemaVersion: must be 1"))
      << rel->dump(2);
  bool warned = false;
  for (const Json& e : s().Events("odd-1-1-0"))
    warned |= e.value("reason", "") == "InventoryRefused" && e.value("type", "") == "Warning";
  EXPECT_TRUE(warned) << "no InventoryRefused Warning Event";
  // 1.0.0 left none at all.
  rel = s().GetRelease("odd-1-0-0");
  ASSERT_TRUE(rel.ok());
  EXPECT_FALSE((*rel)["status"].contains("inventory")) << rel->dump(2);

  CommandResult r = Cli({"diff", "dev", "prod", "--image", "odd"});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  EXPECT_TRUE(Contains(r.out, "patched in 1.1.0")) << r.out;
  EXPECT_TRUE(Contains(r.out, "packages and files: not compared: dev (odd-1-1-0)")) << r.out;
  EXPECT_TRUE(Contains(r.out, "schemaVersion: must be 1")) << r.out;
  r = Cli({"diff", "prod", "dev", "--image", "odd", "-o", "json"});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  Json j = Json::parse(r.out);
  EXPECT_EQ(j[0]["inventory"]["available"], false);
  EXPECT_EQ(j[0]["inventory"]["a"]["missing"], "ImageRelease odd-1-0-0 has no inventory");
  // Same version on both sides: nothing to compare.
  r = Cli({"diff", "dev", "dev", "--image", "app", "-o", "json"});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  EXPECT_FALSE(Json::parse(r.out)[0].contains("inventory")) << r.out;
}

}  // namespace
}  // namespace vmrelease::testing

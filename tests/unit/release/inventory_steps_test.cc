// The image's inventory in the release steps: what a build left (a file or a
// blob beside the staging VHD) and what the inventory check handed over, each
// recorded (a ConfigMap owned by the release, status.inventory) or refused with
// a message, and never failing the release.
#include <fstream>
#include <string>

#include "controller/common/crypto.h"
#include "tests/unit/release/steps_fixture.h"

namespace vmrelease::release {
namespace {

using namespace steps_testing;

// --- Build: the inventory the build left ---------------------------------------------------

// An inventory of web `version` with `packages` packages and as many files.
std::string InventoryText(const std::string& version, int packages) {
  Json p = Json::array(), f = Json::array();
  for (int i = 0; i < packages; ++i) {
    const std::string name = "pkg-" + std::to_string(100000 + i);
    p.push_back({{"name", name}, {"version", "1." + std::to_string(i)}});
    f.push_back({{"path", "/usr/share/" + name}, {"sha256", Sha256Hex(name)}, {"size", i}});
  }
  return Json{
      {"schemaVersion", 1}, {"image", "web"}, {"version", version}, {"packages", p}, {"files", f}}
      .dump();
}

struct InventoryCase {
  std::string name;
  std::string text;        // what the build left ("" : nothing)
  bool foreign_configmap;  // a ConfigMap of that name exists, not the release's
  std::string message;     // expected in status.inventory.message ("" : recorded)
};

// Each case as a local build leaves it (a file) and as a job build does (a blob
// beside the staging VHD, read with the controller's credentials).
class InventoryTest : public StepsTest,
                      public ::testing::WithParamInterface<std::tuple<InventoryCase, bool>> {
 protected:
  InventoryTest() { env_.kube = &kube_; }
  kube::testing::MemoryClient kube_;
};

TEST_P(InventoryTest, RecordedOrRefusedAndTheReleaseGoesOn) {
  const auto& [c, from_blob] = GetParam();
  status_.phase = ReleasePhase::kBuilding;
  StageVhd(FixedVhd(1024 * 1024));
  build_.next = [](ReleaseContext&) { return StepResult::Done(); };
  if (from_blob) {
    build_.inventory.blob = azure::BlobRef{"staging", names_.staging_inventory};
    if (!c.text.empty()) {
      ASSERT_TRUE(blobs_.PutBlockBlob(*build_.inventory.blob, c.text, {}).ok());
    }
  } else {
    build_.inventory.file = ::testing::TempDir() + "/inventory-" + c.name + ".json";
    std::remove(build_.inventory.file.c_str());
    if (!c.text.empty()) std::ofstream(build_.inventory.file, std::ios::trunc) << c.text;
  }
  if (c.foreign_configmap)
    kube_.Put(kube::ConfigMapResource(),
              {{"apiVersion", "v1"},
               {"kind", "ConfigMap"},
               {"metadata", {{"namespace", "default"}, {"name", "web-1-0-0-inventory"}}},
               {"data", {{"theirs", "yes"}}}});
  StepResult r = RunPastTasks(&Steps::Build);
  // Whatever happened to the inventory, the build is done and the release moves on.
  ASSERT_EQ(r.kind(), Kind::kDone) << r.message();
  EXPECT_EQ(status_.phase, ReleasePhase::kStaging);
  EXPECT_EQ(Cond(api::kConditionBuilt)->status, ConditionStatus::kTrue);
  auto cm = kube_.Get(kube::ConfigMapResource(), {"default", "web-1-0-0-inventory"});
  if (c.text.empty()) {
    EXPECT_FALSE(status_.inventory.has_value());
    EXPECT_FALSE(cm.ok());
    return;
  }
  ASSERT_TRUE(status_.inventory.has_value());
  if (!c.message.empty()) {
    EXPECT_THAT(status_.inventory->message.value_or(""), HasSubstr(c.message));
    EXPECT_THAT(status_.inventory->message.value_or(""),
                HasSubstr("the build's inventory was not recorded"));
    EXPECT_FALSE(status_.inventory->config_map.has_value());
    EXPECT_TRUE(HasEvent("InventoryRefused"));
    if (c.foreign_configmap) {
      EXPECT_EQ((*cm)["data"]["theirs"], "yes") << "never touched";
    }
    return;
  }
  EXPECT_FALSE(status_.inventory->message.has_value());
  EXPECT_EQ(status_.inventory->config_map, "web-1-0-0-inventory");
  EXPECT_EQ(status_.inventory->packages, 3);
  EXPECT_EQ(status_.inventory->files, 3);
  ASSERT_TRUE(cm.ok());
  EXPECT_EQ((*cm)["metadata"]["annotations"]["vmrelease.io/inventory-sha256"],
            *status_.inventory->sha256);
  EXPECT_EQ((*cm)["metadata"]["ownerReferences"][0]["uid"], "uid-web-1-0-0");
  EXPECT_FALSE(HasEvent("InventoryRefused"));

  // A controller killed after the ConfigMap was created, before the status was
  // written: the next reconcile adopts it (same digest), nothing is created twice.
  const std::string sha = *status_.inventory->sha256;
  const std::string rv = (*cm)["metadata"]["resourceVersion"];
  status_.inventory.reset();
  status_.phase = ReleasePhase::kBuilding;
  r = RunPastTasks(&Steps::Build);
  ASSERT_EQ(r.kind(), Kind::kDone) << r.message();
  ASSERT_TRUE(status_.inventory.has_value());
  EXPECT_EQ(status_.inventory->sha256, sha);
  auto again = kube_.Get(kube::ConfigMapResource(), {"default", "web-1-0-0-inventory"});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)["metadata"]["resourceVersion"], rv) << "adopted, not rewritten";
}

INSTANTIATE_TEST_SUITE_P(
    Steps, InventoryTest,
    ::testing::Combine(
        ::testing::Values(
            InventoryCase{"none", "", false, ""},
            InventoryCase{"recorded", InventoryText("1.0.0", 3), false, ""},
            InventoryCase{"other_version", InventoryText("9.9.9", 3), false,
                          "it describes web 9.9.9, not web 1.0.0"},
            InventoryCase{"not_json", "{\"schemaVersion\": 1, ", false, "not valid JSON"},
            InventoryCase{"schema", "{\"schemaVersion\": 2}", false, "schemaVersion: must be 1"},
            // Distinct hashes do not compress: over the 1,000,000-byte budget.
            InventoryCase{"too_large", InventoryText("1.0.0", 30000), false,
                          "a ConfigMap holds at most 1000000"},
            InventoryCase{"foreign", InventoryText("1.0.0", 3), true,
                          "is not owned by this release"}),
        ::testing::Bool()),
    [](const auto& info) {
      return std::get<0>(info.param).name + (std::get<1>(info.param) ? "_blob" : "_file");
    });

TEST_F(StepsTest, AnInventoryBlobThatCannotBeReadIsRetriedOrRefusedNeverFailsTheRelease) {
  kube::testing::MemoryClient kube;
  env_.kube = &kube;
  status_.phase = ReleasePhase::kBuilding;
  StageVhd(FixedVhd(1024 * 1024));
  build_.next = [](ReleaseContext&) { return StepResult::Done(); };
  build_.inventory.blob = azure::BlobRef{"staging", names_.staging_inventory};
  ASSERT_TRUE(blobs_.PutBlockBlob(*build_.inventory.blob, InventoryText("1.0.0", 3), {}).ok());
  Status answer = UnavailableError("connection reset");
  blobs_.SetFault([&](const vmrelease::testing::FakeBlobStore::Op& op) {
    return op.ref.name == names_.staging_inventory ? answer : Status::Ok();
  });
  auto run_until_settled = [&] {
    StepResult r = RunPastTasks(&Steps::Build);
    for (int i = 0; i < 500 && r.kind() == Kind::kWait && r.message() == "reading the inventory";
         ++i)
      r = RunPastTasks(&Steps::Build);
    return r;
  };
  // Unavailable: tried again later, nothing recorded yet.
  StepResult r = run_until_settled();
  EXPECT_EQ(r.kind(), Kind::kError) << r.message();
  EXPECT_FALSE(status_.inventory.has_value());
  // Forbidden: it would fail the same way again; refused, and the build is done.
  answer = PermissionDeniedError("AuthorizationPermissionMismatch: not authorized");
  r = run_until_settled();
  ASSERT_EQ(r.kind(), Kind::kDone) << r.message();
  ASSERT_TRUE(status_.inventory.has_value());
  EXPECT_THAT(status_.inventory->message.value_or(""), HasSubstr("not authorized"));
  EXPECT_TRUE(HasEvent("InventoryRefused"));
  EXPECT_EQ(status_.phase, ReleasePhase::kStaging);
}

// --- Validate: the inventory check's output ----------------------------------------------

// A release whose second check is the inventory check.
Json WithInventoryCheck(Json j) {
  j["spec"]["validation"]["checks"].push_back(
      {{"name", "packages"}, {"script", "list-packages"}, {"inventory", true}});
  return j;
}

api::CheckResult Passed(const std::string& name) {
  api::CheckResult c;
  c.name = name;
  c.passed = true;
  c.exit_code = 0;
  return c;
}

class CheckInventoryTest : public StepsTest, public ::testing::WithParamInterface<bool> {
 protected:
  CheckInventoryTest() {
    env_.kube = &kube_;
    SetRelease(WithInventoryCheck(ReleaseJson("web-1-0-0", "1.0.0")));
    status_.phase = ReleasePhase::kValidating;
    validation_.results = {Passed("boots"), Passed("packages")};
    if (GetParam()) {  // vm and job backends: the blob beside the staging VHD
      validation_.inventory.blob = azure::BlobRef{"staging", names_.staging_inventory};
    } else {  // local: a file the command wrote
      validation_.inventory.file = ::testing::TempDir() + "/check-inventory.json";
      std::remove(validation_.inventory.file.c_str());
    }
  }
  void LeaveInventory(const std::string& text) {
    if (validation_.inventory.blob) {
      ASSERT_TRUE(blobs_.PutBlockBlob(*validation_.inventory.blob, text, {}).ok());
    } else {
      std::ofstream(validation_.inventory.file, std::ios::trunc) << text;
    }
  }
  // Runs Validate until its outcome is recorded (past the inventory read), then once more
  // (cleanup).
  StepResult ValidateAndCleanUp() {
    StepResult r = RunPastTasks(&Steps::Validate);
    EXPECT_EQ(r.kind(), Kind::kWait) << r.message();
    EXPECT_EQ(r.message(), "cleaning up the validation");
    return Run(&Steps::Validate);
  }
  kube::testing::MemoryClient kube_;
};

TEST_P(CheckInventoryTest, RecordedWhenTheBuildLeftNoneAndTheStagingCopyGoes) {
  LeaveInventory(InventoryText("1.0.0", 4));
  StepResult r = ValidateAndCleanUp();
  ASSERT_EQ(r.kind(), Kind::kDone) << r.message();
  EXPECT_EQ(status_.phase, ReleasePhase::kPublishing);
  ASSERT_TRUE(status_.inventory.has_value());
  EXPECT_FALSE(status_.inventory->message.has_value());
  EXPECT_EQ(status_.inventory->config_map, "web-1-0-0-inventory");
  EXPECT_EQ(status_.inventory->packages, 4);
  auto cm = kube_.Get(kube::ConfigMapResource(), {"default", "web-1-0-0-inventory"});
  ASSERT_TRUE(cm.ok());
  EXPECT_EQ((*cm)["metadata"]["annotations"]["vmrelease.io/inventory-sha256"],
            *status_.inventory->sha256);
  // Nothing of it stays in staging.
  EXPECT_FALSE(blobs_.GetProperties({"staging", names_.staging_inventory}).ok());
}

TEST_P(CheckInventoryTest, TheBuildsInventoryStandsAndTheChecksIsNotRead) {
  LeaveInventory(InventoryText("1.0.0", 4));
  status_.inventory = api::InventoryRef{.config_map = "web-1-0-0-inventory",
                                        .sha256 = std::string(64, 'a'),
                                        .packages = 9,
                                        .files = 9};
  StepResult r = ValidateAndCleanUp();
  ASSERT_EQ(r.kind(), Kind::kDone) << r.message();
  EXPECT_EQ(status_.inventory->packages, 9);
  EXPECT_FALSE(kube_.Get(kube::ConfigMapResource(), {"default", "web-1-0-0-inventory"}).ok());
}

TEST_P(CheckInventoryTest, AnInvalidOutputIsRefusedWithAMessageAndTheReleaseGoesOn) {
  LeaveInventory("dpkg-query: command not found\n");
  StepResult r = ValidateAndCleanUp();
  ASSERT_EQ(r.kind(), Kind::kDone) << r.message();
  EXPECT_EQ(status_.phase, ReleasePhase::kPublishing);
  ASSERT_TRUE(status_.inventory.has_value());
  EXPECT_THAT(status_.inventory->message.value_or(""),
              HasSubstr("the inventory check's output was not recorded"));
  EXPECT_THAT(status_.inventory->message.value_or(""), HasSubstr("not valid JSON"));
  EXPECT_TRUE(HasEvent("InventoryRefused"));
}

TEST_P(CheckInventoryTest, ACheckThatHandedNoneOverIsToldAndTheReleaseGoesOn) {
  StepResult r = ValidateAndCleanUp();
  ASSERT_EQ(r.kind(), Kind::kDone) << r.message();
  EXPECT_EQ(status_.phase, ReleasePhase::kPublishing);
  ASSERT_TRUE(status_.inventory.has_value());
  EXPECT_THAT(status_.inventory->message.value_or(""), HasSubstr("it handed none over"));
  EXPECT_TRUE(HasEvent("InventoryRefused"));
}

TEST_P(CheckInventoryTest, NothingIsRecordedWhenAChecklistFails) {
  LeaveInventory(InventoryText("1.0.0", 4));
  validation_.results = {Passed("boots"), Passed("packages")};
  validation_.results[0].passed = false;
  validation_.results[0].exit_code = 1;
  StepResult r = ValidateAndCleanUp();
  EXPECT_EQ(r.kind(), Kind::kFailed) << r.message();
  EXPECT_FALSE(status_.inventory.has_value());
  EXPECT_FALSE(kube_.Get(kube::ConfigMapResource(), {"default", "web-1-0-0-inventory"}).ok());
  EXPECT_FALSE(blobs_.GetProperties({"staging", names_.staging_inventory}).ok());
}

INSTANTIATE_TEST_SUITE_P(Steps, CheckInventoryTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "blob" : "file"; });

}  // namespace
}  // namespace vmrelease::release

// Table-driven tests of the release pipeline's steps, one step at a time, on a
// ManualClock: for each situation, the Action the step returns (Done / Wait /
// Failed / Stalled / Error), the reason, the conditions it leaves and the phase.
// The backends are scripted; the staging and published blobs live in a
// FakeBlobStore, so what Build verifies and Publish copies is real VHD content.
#include "controller/release/steps.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "controller/api/image_release.h"
#include "controller/common/clock.h"
#include "controller/common/crypto.h"
#include "controller/image/vhd_footer.h"
#include "controller/kube/resource.h"
#include "tests/support/azurite/fake_blob_store.h"
#include "tests/unit/kube/fake_client.h"

namespace vmrelease::release {
namespace {

using api::ConditionStatus;
using api::ReleasePhase;
using ::testing::HasSubstr;
using Kind = StepResult::Kind;
using Json = nlohmann::json;

// A build backend whose every call answers with `next`.
class ScriptedBuild final : public BuildBackend {
 public:
  std::string_view Name() const override { return "local"; }
  StepResult Build(ReleaseContext& ctx) override {
    ++builds;
    return next(ctx);
  }
  StepResult Cleanup(ReleaseContext&) override {
    ++cleanups;
    return StepResult::Done();
  }
  InventorySource Inventory(const ReleaseContext&) const override { return inventory; }
  InventorySource inventory;  // empty: the build leaves no inventory
  std::function<StepResult(ReleaseContext&)> next = [](ReleaseContext&) {
    return StepResult::Wait(std::chrono::seconds(2), "building");
  };
  int builds = 0, cleanups = 0;
};

// A validation backend that appends the scripted results and reports Done, or answers `next`.
class ScriptedValidation final : public ValidationBackend {
 public:
  std::string_view Name() const override { return "local"; }
  StepResult Validate(ReleaseContext& ctx) override {
    ++validates;
    if (next) return next(ctx);
    for (const auto& r : results) ctx.status.validation->results.push_back(r);
    return StepResult::Done();
  }
  StepResult Cleanup(ReleaseContext&, bool keep) override {
    ++cleanups;
    kept = keep;
    return StepResult::Done();
  }
  std::function<StepResult(ReleaseContext&)> next;
  std::vector<api::CheckResult> results;
  int validates = 0, cleanups = 0;
  bool kept = false;
};

class OnePublisher final : public PublisherFactory {
 public:
  explicit OnePublisher(azure::BlobStore* blob) : blob_(blob) {}
  StatusOr<PublishClients> For(const api::ImageRelease&) override {
    if (error) return *error;
    return PublishClients{.gallery = nullptr, .blob = blob_};
  }
  std::optional<Status> error;

 private:
  azure::BlobStore* blob_;
};

// A valid fixed VHD of `size` bytes of data (plus the footer).
std::string FixedVhd(int64_t size, char fill = 'x') {
  std::string data(static_cast<size_t>(size), fill);
  const auto footer = image::EncodeFooter(image::NewFixedFooter(size, WallTime{}));
  data.append(reinterpret_cast<const char*>(footer.data()), footer.size());
  return data;
}

Json ReleaseJson(const std::string& name, const std::string& version,
                 const std::string& created = "2026-01-01T00:00:00Z") {
  return {
      {"apiVersion", "vmrelease.io/v1alpha1"},
      {"kind", "ImageRelease"},
      {"metadata",
       {{"name", name},
        {"namespace", "default"},
        {"uid", "uid-" + name},
        {"generation", 1},
        {"creationTimestamp", created}}},
      {"spec",
       {{"image", "web"},
        {"version", version},
        {"changelog", {{{"kind", "Feature"}, {"summary", "version " + version}}}},
        {"source",
         {{"platformImage",
           {{"publisher", "Debian"},
            {"offer", "debian-12"},
            {"sku", "12"},
            {"version", "latest"}}}}},
        {"build", {{"local", {{"command", {"build"}}}}, {"timeout", "10m"}}},
        {"validation",
         {{"local", {{"command", {"check"}}}},
          {"checks", {{{"name", "boots"}, {"script", "true"}}}},
          {"timeout", "10m"}}},
        {"publish",
         {{"blob", {{"accountUrl", "https://fake.blob.example/acct"}, {"container", "images"}}}}},
        {"retention", {{"deletionPolicy", "Delete"}}}}}};
}

class StepsTest : public ::testing::Test {
 public:
  StepsTest() : publishers_(&blobs_) {
    env_.clock = &clock_;
    env_.staging = &blobs_;
    env_.staging_container = "staging";
    env_.publishers = &publishers_;
    env_.tasks = &tasks_;
    env_.metrics = &NullPipelineMetrics();
    env_.allow_local_builds = true;
    env_.work_root = ::testing::TempDir();
    EXPECT_TRUE(blobs_.CreateContainer("staging").ok());
    releases_.AddIndex(kImageIndex, ReleaseImageIndex);
    SetRelease(ReleaseJson("web-1-0-0", "1.0.0"));
  }

  void SetRelease(Json j) {
    json_ = std::move(j);
    auto parsed = api::ParseImageRelease(json_);
    ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
    release_ = std::move(*parsed);
    api::SetDefaults(release_);
    names_ = ReleaseNames::For(release_);
    releases_.Apply(std::make_shared<const Json>(json_));
  }
  void AddOther(const Json& j) { releases_.Apply(std::make_shared<const Json>(j)); }

  Steps MakeSteps() {
    Backends b;
    b.build["local"] = &build_;
    b.validation["local"] = &validation_;
    return Steps(env_, std::move(b), releases_);
  }

  // Runs one step once and keeps the Events it queued.
  StepResult Run(StepResult (Steps::*step)(ReleaseContext&)) {
    Steps steps = MakeSteps();
    ReleaseContext ctx{release_, status_, names_, env_, clock_.WallNow(), {}, {}};
    StepResult r = (steps.*step)(ctx);
    for (auto& e : ctx.events) events_.push_back(e.reason);
    return r;
  }
  // Runs a step until it stops waiting on a background task (VerifyStaged's hashing).
  StepResult RunPastTasks(StepResult (Steps::*step)(ReleaseContext&)) {
    StepResult r = Run(step);
    for (int i = 0;
         i < 500 && r.kind() == Kind::kWait &&
         (r.message() == "verifying the staged VHD" || r.message() == "reading the inventory");
         ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      r = Run(step);
    }
    return r;
  }

  void StageVhd(const std::string& content) {
    // A VHD is staged as a page blob, as the uploader writes it.
    const azure::BlobRef ref{"staging", names_.staging_blob};
    auto c = blobs_.CreatePageBlob(ref, static_cast<int64_t>(content.size()), {});
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    auto w = blobs_.PutPages(ref, 0, content, {});
    ASSERT_TRUE(w.ok()) << w.status().ToString();
  }
  const api::Condition* Cond(const char* type) const {
    return api::FindCondition(status_.conditions, type);
  }
  bool HasEvent(const std::string& reason) const {
    return std::find(events_.begin(), events_.end(), reason) != events_.end();
  }

  ManualClock clock_;
  testing::FakeBlobStore blobs_{"https://fake.blob.example/acct"};
  OnePublisher publishers_;
  TaskRunner tasks_{1};
  Environment env_;
  kube::Store releases_;
  ScriptedBuild build_;
  ScriptedValidation validation_;
  Json json_;
  api::ImageRelease release_;
  ReleaseNames names_;
  api::ImageReleaseStatus status_;
  std::vector<std::string> events_;
};

// --- CheckSpec -----------------------------------------------------------------------------

struct CheckSpecCase {
  std::string name;
  std::function<void(StepsTest&, Json&)> setup;
  Kind kind;
  std::string reason;       // Stalled reason ("" for none)
  std::string message_has;  // substring of the message
  ReleasePhase phase;       // phase afterwards
};

class CheckSpecTest : public StepsTest, public ::testing::WithParamInterface<CheckSpecCase> {};

TEST_P(CheckSpecTest, Table) {
  const CheckSpecCase& c = GetParam();
  Json j = ReleaseJson("web-1-0-0", "1.0.0");
  c.setup(*this, j);
  SetRelease(j);
  StepResult r = Run(&Steps::CheckSpec);
  EXPECT_EQ(r.kind(), c.kind) << r.message();
  EXPECT_EQ(r.reason(), c.reason);
  EXPECT_THAT(r.message(), HasSubstr(c.message_has));
  EXPECT_EQ(status_.phase.value_or(ReleasePhase::kPending), c.phase);
  if (c.kind == Kind::kStalled) {
    EXPECT_TRUE(HasEvent(c.reason)) << "a Warning Event says why";
  }
}

INSTANTIATE_TEST_SUITE_P(
    Steps, CheckSpecTest,
    ::testing::Values(
        CheckSpecCase{"FirstSeenShowsPending", [](StepsTest&, Json&) {}, Kind::kWait, "",
                      "accepted", ReleasePhase::kPending},
        CheckSpecCase{"InvalidVersionNamesTheField",
                      [](StepsTest&, Json& j) { j["spec"]["version"] = "1.0"; }, Kind::kStalled,
                      "InvalidSpec", "spec.version", ReleasePhase::kPending},
        CheckSpecCase{
            "EmptyChecklistNamesTheField",
            [](StepsTest&, Json& j) { j["spec"]["validation"]["checks"] = Json::array(); },
            Kind::kStalled, "InvalidSpec", "spec.validation.checks", ReleasePhase::kPending},
        CheckSpecCase{"LocalBuildsRefusedWithoutTheFlag",
                      [](StepsTest& t, Json&) { t.env_.allow_local_builds = false; },
                      Kind::kStalled, "LocalBuildsDisabled", "--allow-local-builds",
                      ReleasePhase::kPending},
        CheckSpecCase{"YoungerDuplicateVersionStalls",
                      [](StepsTest& t, Json& j) {
                        j["metadata"]["creationTimestamp"] = "2026-02-01T00:00:00Z";
                        t.AddOther(ReleaseJson("web-older", "1.0.0", "2026-01-01T00:00:00Z"));
                      },
                      Kind::kStalled, "DuplicateVersion", "web-older", ReleasePhase::kPending},
        CheckSpecCase{"OlderDuplicateGoesOn",
                      [](StepsTest& t, Json& j) {
                        j["metadata"]["creationTimestamp"] = "2026-01-01T00:00:00Z";
                        t.AddOther(ReleaseJson("web-newer", "1.0.0", "2026-02-01T00:00:00Z"));
                      },
                      Kind::kWait, "", "accepted", ReleasePhase::kPending}),
    [](const auto& info) { return info.param.name; });

TEST_F(StepsTest, CheckSpecMovesToBuildingAndRecordsThePreviousVersion) {
  AddOther(ReleaseJson("web-0-9-0", "0.9.0"));
  AddOther(ReleaseJson("web-0-8-0", "0.8.0"));
  AddOther(ReleaseJson("web-2-0-0", "2.0.0"));
  status_.phase = ReleasePhase::kPending;
  StepResult r = Run(&Steps::CheckSpec);
  EXPECT_EQ(r.kind(), Kind::kDone);
  EXPECT_EQ(status_.phase, ReleasePhase::kBuilding);
  EXPECT_EQ(status_.previous_version, "0.9.0");
}

// --- Build ---------------------------------------------------------------------------------

TEST_F(StepsTest, BuildWaitsWhileTheBackendRuns) {
  status_.phase = ReleasePhase::kBuilding;
  StepResult r = Run(&Steps::Build);
  EXPECT_EQ(r.kind(), Kind::kWait);
  EXPECT_EQ(status_.phase, ReleasePhase::kBuilding);
  EXPECT_EQ(Cond(api::kConditionBuilt), nullptr);
}

TEST_F(StepsTest, BuildFailureIsReportedAsIs) {
  status_.phase = ReleasePhase::kBuilding;
  build_.next = [](ReleaseContext&) {
    return StepResult::Failed(reason::kBuildFailed, "exit code 3: no space left");
  };
  StepResult r = Run(&Steps::Build);
  EXPECT_EQ(r.kind(), Kind::kFailed);
  EXPECT_EQ(r.reason(), "BuildFailed");
  EXPECT_EQ(status_.phase, ReleasePhase::kBuilding);
}

TEST_F(StepsTest, BuiltVhdIsVerifiedHashedAndRecorded) {
  status_.phase = ReleasePhase::kBuilding;
  const std::string vhd = FixedVhd(1024 * 1024);
  StageVhd(vhd);
  build_.next = [](ReleaseContext&) { return StepResult::Done(); };
  StepResult r = RunPastTasks(&Steps::Build);
  ASSERT_EQ(r.kind(), Kind::kDone) << r.message();
  EXPECT_EQ(status_.phase, ReleasePhase::kStaging);
  ASSERT_TRUE(status_.artifact);
  EXPECT_EQ(status_.artifact->sha256, Sha256Hex(vhd));
  EXPECT_EQ(status_.artifact->size_bytes, static_cast<int64_t>(vhd.size()));
  ASSERT_NE(Cond(api::kConditionBuilt), nullptr);
  EXPECT_EQ(Cond(api::kConditionBuilt)->status, ConditionStatus::kTrue);
  EXPECT_TRUE(HasEvent("BuildSucceeded"));
}

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

struct BadStagedCase {
  std::string name;
  std::function<std::string()> content;  // "" = nothing staged
  std::string backend_sha;               // what the backend claims ("" = none)
  std::string message_has;
};
class BadStagedTest : public StepsTest, public ::testing::WithParamInterface<BadStagedCase> {};

TEST_P(BadStagedTest, FailsWithArtifactInvalid) {
  const BadStagedCase& c = GetParam();
  status_.phase = ReleasePhase::kBuilding;
  if (const std::string content = c.content(); !content.empty()) StageVhd(content);
  build_.next = [&c](ReleaseContext& ctx) {
    if (!c.backend_sha.empty()) {
      ctx.status.artifact.emplace();
      ctx.status.artifact->sha256 = c.backend_sha;
    }
    return StepResult::Done();
  };
  StepResult r = RunPastTasks(&Steps::Build);
  EXPECT_EQ(r.kind(), Kind::kFailed) << r.message();
  EXPECT_EQ(r.reason(), "ArtifactInvalid");
  EXPECT_THAT(r.message(), HasSubstr(c.message_has));
  EXPECT_EQ(status_.phase, ReleasePhase::kBuilding);
  EXPECT_EQ(Cond(api::kConditionBuilt), nullptr);
}

INSTANTIATE_TEST_SUITE_P(
    Steps, BadStagedTest,
    ::testing::Values(BadStagedCase{"NothingStaged", [] { return std::string(); }, "",
                                    "is not a valid fixed VHD"},
                      BadStagedCase{"NoFooter", [] { return std::string(4096, 'x'); }, "",
                                    "is not a valid fixed VHD"},
                      BadStagedCase{"DigestDiffersFromTheBackends", [] { return FixedVhd(1024); },
                                    std::string(64, 'a'), "is not a valid fixed VHD"}),
    [](const auto& info) { return info.param.name; });

// --- Validate ------------------------------------------------------------------------------

api::CheckResult Check(std::string name, bool passed, std::string message = "") {
  api::CheckResult c;
  c.name = std::move(name);
  c.passed = passed;
  c.exit_code = passed ? 0 : 1;
  if (!message.empty()) c.message = std::move(message);
  return c;
}

struct ValidateCase {
  std::string name;
  std::vector<api::CheckResult> results;
  Duration elapsed;  // since validation started, on the fake clock
  bool keep_vm = false;
  Kind final_kind;  // after the cleanup
  std::string final_reason;
  ConditionStatus validated;
  ReleasePhase phase;  // afterwards (Failed is set by the reconciler, not the step)
};
class ValidateTest : public StepsTest, public ::testing::WithParamInterface<ValidateCase> {};

TEST_P(ValidateTest, RecordsTheOutcomeBeforeCleaningUp) {
  const ValidateCase& c = GetParam();
  status_.phase = ReleasePhase::kValidating;
  validation_.results = c.results;
  // First reconcile: validation starts.
  validation_.next = [](ReleaseContext&) { return StepResult::Wait(std::chrono::seconds(2)); };
  ASSERT_EQ(Run(&Steps::Validate).kind(), Kind::kWait);
  EXPECT_TRUE(HasEvent("ValidationStarted"));
  validation_.next = nullptr;
  clock_.Advance(c.elapsed);
  // The outcome is recorded first, nothing removed yet.
  StepResult r = Run(&Steps::Validate);
  ASSERT_EQ(r.kind(), Kind::kWait) << r.message();
  EXPECT_EQ(validation_.cleanups, 0);
  ASSERT_NE(Cond(api::kConditionValidated), nullptr);
  EXPECT_EQ(Cond(api::kConditionValidated)->status, c.validated);
  EXPECT_EQ(status_.validation->state, api::ValidationState::kCleaningUp);
  // Then the cleanup, whatever happened.
  r = Run(&Steps::Validate);
  EXPECT_EQ(r.kind(), c.final_kind) << r.message();
  EXPECT_EQ(r.reason(), c.final_reason);
  EXPECT_EQ(validation_.cleanups, 1);
  EXPECT_EQ(status_.phase, c.phase);
  EXPECT_TRUE(status_.validation->completed_at.has_value());
}

INSTANTIATE_TEST_SUITE_P(
    Steps, ValidateTest,
    ::testing::Values(ValidateCase{"AllPass",
                                   {Check("boots", true), Check("service", true)},
                                   std::chrono::minutes(1),
                                   false,
                                   Kind::kDone,
                                   "",
                                   ConditionStatus::kTrue,
                                   ReleasePhase::kPublishing},
                      ValidateCase{"OneCheckFails",
                                   {Check("boots", true), Check("service", false, "exit code 1")},
                                   std::chrono::minutes(1),
                                   false,
                                   Kind::kFailed,
                                   "CheckFailed",
                                   ConditionStatus::kFalse,
                                   ReleasePhase::kValidating},
                      ValidateCase{
                          "BootFailure",
                          {Check("boots", false, "boot failed: no guest agent after 180s")},
                          std::chrono::minutes(4),
                          false,
                          Kind::kFailed,
                          "BootFailed",
                          ConditionStatus::kFalse,
                          ReleasePhase::kValidating},
                      ValidateCase{"WholeValidationTimesOut",
                                   {Check("boots", true)},
                                   std::chrono::minutes(11),
                                   false,
                                   Kind::kFailed,
                                   "ValidationTimedOut",
                                   ConditionStatus::kFalse,
                                   ReleasePhase::kValidating}),
    [](const auto& info) { return info.param.name; });

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

TEST_F(StepsTest, ValidateRetriesTransientErrorsWithoutCleaningUp) {
  status_.phase = ReleasePhase::kValidating;
  validation_.next = [](ReleaseContext&) {
    return StepResult::Error(UnavailableError("connection reset"));
  };
  StepResult r = Run(&Steps::Validate);
  EXPECT_EQ(r.kind(), Kind::kError);
  EXPECT_EQ(validation_.cleanups, 0);
  EXPECT_EQ(Cond(api::kConditionValidated), nullptr);
}

// --- Stage + Publish (blob only) -----------------------------------------------------------

TEST_F(StepsTest, PublishCopiesTheBlobTagsItThenRemovesStaging) {
  const std::string vhd = FixedVhd(2048);
  StageVhd(vhd);
  status_.phase = ReleasePhase::kPublishing;
  status_.artifact.emplace();
  status_.artifact->sha256 = Sha256Hex(vhd);
  status_.artifact->size_bytes = static_cast<int64_t>(vhd.size());
  StepResult r = Run(&Steps::Publish);
  ASSERT_EQ(r.kind(), Kind::kWait) << r.message();  // copy started
  EXPECT_TRUE(HasEvent("BlobCopyStarted"));
  r = Run(&Steps::Publish);
  ASSERT_EQ(r.kind(), Kind::kWait) << r.message();  // published, recorded before cleanup
  EXPECT_EQ(status_.publish->state, api::PublishState::kCleaningUp);
  EXPECT_TRUE(blobs_.Exists({"staging", names_.staging_blob}));
  r = Run(&Steps::Publish);
  ASSERT_EQ(r.kind(), Kind::kDone) << r.message();
  EXPECT_EQ(status_.phase, ReleasePhase::kReleased);
  EXPECT_EQ(blobs_.Content({"images", "web/1.0.0.vhd"}), vhd);
  EXPECT_FALSE(blobs_.Exists({"staging", names_.staging_blob}));
  auto tags = blobs_.GetTags({"images", "web/1.0.0.vhd"});
  ASSERT_TRUE(tags.ok());
  EXPECT_EQ((*tags)["sha256"], Sha256Hex(vhd));
  ASSERT_NE(Cond(api::kConditionPublished), nullptr);
  EXPECT_EQ(Cond(api::kConditionPublished)->status, ConditionStatus::kTrue);
}

TEST_F(StepsTest, PublishNeverOverwritesABlobWithOtherContent) {
  const std::string vhd = FixedVhd(2048);
  StageVhd(vhd);
  ASSERT_TRUE(blobs_.CreateContainer("images").ok());
  const std::string other = FixedVhd(2048, 'y');
  ASSERT_TRUE(
      blobs_.PutBlockBlob({"images", "web/1.0.0.vhd"}, other, {.metadata = {{"sha256", "other"}}})
          .ok());
  status_.phase = ReleasePhase::kPublishing;
  status_.artifact.emplace();
  status_.artifact->sha256 = Sha256Hex(vhd);
  StepResult r = Run(&Steps::Publish);
  EXPECT_EQ(r.kind(), Kind::kFailed);
  EXPECT_EQ(r.reason(), "BlobConflict");
  EXPECT_EQ(Sha256Hex(blobs_.Content({"images", "web/1.0.0.vhd"})), Sha256Hex(other))
      << "the other blob was overwritten";
}

TEST_F(StepsTest, PublishWithAnUnusableSecretFailsWithTheMessage) {
  status_.phase = ReleasePhase::kPublishing;
  status_.artifact.emplace();
  publishers_.error = FailedPreconditionError("Secret default/azure-creds has no key clientSecret");
  StepResult r = Run(&Steps::Publish);
  EXPECT_EQ(r.kind(), Kind::kFailed);
  EXPECT_EQ(r.reason(), "PublishFailed");
  EXPECT_THAT(r.message(), HasSubstr("clientSecret"));
}

TEST_F(StepsTest, PublishSetsEndOfLifeFromRetentionOnTheFakeClock) {
  Json j = ReleaseJson("web-1-0-0", "1.0.0");
  j["spec"]["retention"]["minimumDays"] = 30;
  SetRelease(j);
  status_.phase = ReleasePhase::kPublishing;
  status_.artifact.emplace();
  (void)Run(&Steps::Publish);
  ASSERT_TRUE(status_.end_of_life);
  EXPECT_EQ(*status_.end_of_life, api::FormatTime(clock_.WallNow() + std::chrono::hours(24 * 30)));
}

// --- Revoke --------------------------------------------------------------------------------

TEST_F(StepsTest, RevocationTagsTheBlobAndIsUndone) {
  ASSERT_TRUE(blobs_.CreateContainer("images").ok());
  ASSERT_TRUE(blobs_.PutBlockBlob({"images", "web/1.0.0.vhd"}, FixedVhd(512), {}).ok());
  status_.phase = ReleasePhase::kReleased;
  status_.publish.emplace();
  status_.publish->blob_uri = blobs_.BlobUrl({"images", "web/1.0.0.vhd"});
  Json j = json_;
  j["spec"]["revocation"] = {{"reason", "CVE-2026-1234 in openssl"}};
  SetRelease(j);
  StepResult r = Run(&Steps::Revoke);
  EXPECT_EQ(r.kind(), Kind::kDone);
  EXPECT_EQ(status_.phase, ReleasePhase::kRevoked);
  EXPECT_TRUE(status_.revoked_at);
  EXPECT_TRUE(HasEvent("ReleaseRevoked"));
  EXPECT_EQ((*blobs_.GetTags({"images", "web/1.0.0.vhd"}))["revoked"], "true");
  j["spec"].erase("revocation");
  SetRelease(j);
  r = Run(&Steps::Revoke);
  EXPECT_EQ(r.kind(), Kind::kDone);
  EXPECT_EQ(status_.phase, ReleasePhase::kReleased);
  EXPECT_FALSE(status_.revoked_at);
  EXPECT_EQ(blobs_.GetTags({"images", "web/1.0.0.vhd"})->count("revoked"), 0u);
}

// --- Retry ---------------------------------------------------------------------------------

struct RetryCase {
  std::string name;
  api::ReleaseStep failed_step;
  ReleasePhase resumes_at;
  bool keeps_artifact;
};
class RetryTest : public StepsTest, public ::testing::WithParamInterface<RetryCase> {};

TEST_P(RetryTest, ReRunsFromTheFailedStepOnce) {
  const RetryCase& c = GetParam();
  status_.phase = ReleasePhase::kFailed;
  status_.failed_step = c.failed_step;
  status_.artifact.emplace();
  status_.artifact->sha256 = "abc";
  api::SetCondition(
      status_.conditions,
      {.type = api::kConditionStalled, .status = ConditionStatus::kTrue, .reason = "CheckFailed"},
      clock_.WallNow());
  Json j = json_;
  j["metadata"]["annotations"] = {{api::kRetryAnnotation, "fixed-the-rule"}};
  SetRelease(j);
  Steps steps = MakeSteps();
  ReleaseContext ctx{release_, status_, names_, env_, clock_.WallNow(), {}, {}};
  EXPECT_TRUE(steps.HandleRetry(ctx));
  EXPECT_EQ(status_.phase, c.resumes_at);
  EXPECT_FALSE(status_.failed_step);
  EXPECT_EQ(status_.artifact.has_value(), c.keeps_artifact);
  EXPECT_EQ(Cond(api::kConditionStalled), nullptr);
  EXPECT_EQ(status_.last_handled_retry, "fixed-the-rule");
  // The same annotation value is handled once.
  EXPECT_FALSE(steps.HandleRetry(ctx));
}

INSTANTIATE_TEST_SUITE_P(Steps, RetryTest,
                         ::testing::Values(RetryCase{"Build", api::ReleaseStep::kBuild,
                                                     ReleasePhase::kBuilding, false},
                                           RetryCase{"Validate", api::ReleaseStep::kValidate,
                                                     ReleasePhase::kValidating, true},
                                           RetryCase{"Publish", api::ReleaseStep::kPublish,
                                                     ReleasePhase::kPublishing, true}),
                         [](const auto& info) { return info.param.name; });

// --- Delete --------------------------------------------------------------------------------

TEST_F(StepsTest, DeletionWaitsForRetentionOnTheClockThenRemovesWhatIsOurs) {
  ASSERT_TRUE(blobs_.CreateContainer("images").ok());
  ASSERT_TRUE(blobs_
                  .PutBlockBlob({"images", "web/1.0.0.vhd"}, FixedVhd(512),
                                {.metadata = {{"vmrelease_release_uid", "uid-web-1-0-0"}}})
                  .ok());
  status_.phase = ReleasePhase::kReleased;
  status_.released_at = api::FormatTime(clock_.WallNow());
  status_.end_of_life = api::FormatTime(clock_.WallNow() + std::chrono::hours(48));
  status_.publish.emplace();
  status_.publish->blob_uri = blobs_.BlobUrl({"images", "web/1.0.0.vhd"});
  api::SetCondition(
      status_.conditions,
      {.type = api::kConditionPublished, .status = ConditionStatus::kTrue, .reason = "Published"},
      clock_.WallNow());
  StepResult r = Run(&Steps::Delete);
  EXPECT_EQ(r.kind(), Kind::kWait);
  EXPECT_LE(r.requeue(), std::chrono::hours(1));
  ASSERT_NE(Cond(api::kConditionDeletionBlocked), nullptr);
  EXPECT_EQ(Cond(api::kConditionDeletionBlocked)->reason, "RetentionNotExpired");
  EXPECT_TRUE(blobs_.Exists({"images", "web/1.0.0.vhd"}));
  clock_.Advance(std::chrono::hours(49));
  r = Run(&Steps::Delete);
  EXPECT_EQ(r.kind(), Kind::kDone) << r.message();
  EXPECT_EQ(Cond(api::kConditionDeletionBlocked), nullptr);
  EXPECT_TRUE(HasEvent("DeletionUnblocked"));
  EXPECT_FALSE(blobs_.Exists({"images", "web/1.0.0.vhd"}));
}

TEST_F(StepsTest, DeletionNeverRemovesABlobAnotherReleaseOwns) {
  ASSERT_TRUE(blobs_.CreateContainer("images").ok());
  ASSERT_TRUE(blobs_
                  .PutBlockBlob({"images", "web/1.0.0.vhd"}, FixedVhd(512),
                                {.metadata = {{"vmrelease_release_uid", "someone-else"}}})
                  .ok());
  status_.phase = ReleasePhase::kReleased;
  status_.publish.emplace();
  status_.publish->blob_uri = blobs_.BlobUrl({"images", "web/1.0.0.vhd"});
  EXPECT_EQ(Run(&Steps::Delete).kind(), Kind::kDone);
  EXPECT_TRUE(blobs_.Exists({"images", "web/1.0.0.vhd"}));
}

TEST_F(StepsTest, RetainKeepsThePublishedBlob) {
  Json j = json_;
  j["spec"]["retention"]["deletionPolicy"] = "Retain";
  SetRelease(j);
  ASSERT_TRUE(blobs_.CreateContainer("images").ok());
  ASSERT_TRUE(blobs_
                  .PutBlockBlob({"images", "web/1.0.0.vhd"}, FixedVhd(512),
                                {.metadata = {{"vmrelease_release_uid", "uid-web-1-0-0"}}})
                  .ok());
  StageVhd(FixedVhd(512));
  status_.phase = ReleasePhase::kReleased;
  status_.publish.emplace();
  status_.publish->blob_uri = blobs_.BlobUrl({"images", "web/1.0.0.vhd"});
  EXPECT_EQ(Run(&Steps::Delete).kind(), Kind::kDone);
  EXPECT_TRUE(blobs_.Exists({"images", "web/1.0.0.vhd"}));
  EXPECT_FALSE(blobs_.Exists({"staging", names_.staging_blob})) << "staging always goes";
  EXPECT_EQ(build_.cleanups, 1);
}

}  // namespace
}  // namespace vmrelease::release

// The fixture of the release steps' unit tests (steps_test.cc, inventory_steps_test.cc):
// scripted build and validation backends, a FakeBlobStore for staging and
// publishing, a ManualClock, and helpers that run one step once. In a named
// namespace, so every TU's TEST_F(StepsTest, ...) shares one fixture type.
#pragma once

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
#include "controller/release/steps.h"
#include "tests/support/azurite/fake_blob_store.h"
#include "tests/unit/kube/fake_client.h"

namespace vmrelease::release::steps_testing {

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
  InventorySource Inventory(const ReleaseContext&, const api::Check&) const override {
    return inventory;
  }
  std::function<StepResult(ReleaseContext&)> next;
  std::vector<api::CheckResult> results;
  InventorySource inventory;  // where the inventory check left its output
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
inline std::string FixedVhd(int64_t size, char fill = 'x') {
  std::string data(static_cast<size_t>(size), fill);
  const auto footer = image::EncodeFooter(image::NewFixedFooter(size, WallTime{}));
  data.append(reinterpret_cast<const char*>(footer.data()), footer.size());
  return data;
}

inline Json ReleaseJson(const std::string& name, const std::string& version,
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

}  // namespace vmrelease::release::steps_testing

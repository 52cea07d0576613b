// Table-driven tests of the release pipeline's steps, one step at a time, on a
// ManualClock: for each situation, the Action the step returns (Done / Wait /
// Failed / Stalled / Error), the reason, the conditions it leaves and the phase.
// The backends are scripted; the staging and published blobs live in a
// FakeBlobStore, so what Build verifies and Publish copies is real VHD content.
#include "controller/release/steps.h"

#include "tests/unit/release/steps_fixture.h"

namespace vmrelease::release {
namespace {

using namespace steps_testing;

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
        CheckSpecCase{"NoStagingAccountStallsWithTheFlagToSet",
                      [](StepsTest& t, Json&) { t.env_.staging = nullptr; }, Kind::kStalled,
                      "StagingNotConfigured", "--staging-account-url", ReleasePhase::kPending},
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

// Another namespace's release (or a person) published this version already: the build would
// only fail at Publish. It does not start; the release stalls saying whose it is, and builds
// once it is gone.
TEST_F(StepsTest, AVersionSomeoneElsePublishedStallsTheBuildBeforeItStarts) {
  ASSERT_TRUE(blobs_.CreateContainer("images").ok());
  ASSERT_TRUE(blobs_
                  .PutBlockBlob({"images", "web/1.0.0.vhd"}, FixedVhd(1024),
                                {.metadata = {{"vmrelease_release_uid", "someone-else"}}})
                  .ok());
  status_.phase = ReleasePhase::kBuilding;
  StepResult r = Run(&Steps::Build);
  ASSERT_EQ(r.kind(), Kind::kStalled) << r.message();
  EXPECT_EQ(r.reason(), "BlobConflict");
  EXPECT_NE(r.message().find("belongs to another ImageRelease (uid someone-else)"),
            std::string::npos)
      << r.message();
  EXPECT_EQ(build_.builds, 0) << "built although the version cannot be published";
  ASSERT_TRUE(blobs_.Delete({"images", "web/1.0.0.vhd"}).ok());
  EXPECT_EQ(Run(&Steps::Build).kind(), Kind::kWait);
  EXPECT_EQ(build_.builds, 1);
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

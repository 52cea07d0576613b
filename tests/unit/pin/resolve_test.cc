// Resolution and promotion gates of EnvironmentPins (controller/pin/resolve.h),
// table-driven on a fixed clock: every reason of docs/api.md, ranges, gates,
// rollbacks, revocation, history and changes.
#include "controller/pin/resolve.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace vmrelease::pin {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

const WallTime kNow = WallTime(std::chrono::seconds(1767225600)) + 24h;  // 2026-01-02T00:00:00Z

std::string At(Duration ago) { return api::FormatTime(kNow - ago); }

ReleaseView Rel(const std::string& version, const std::string& phase = "Released") {
  kube::Json j = {
      {"apiVersion", "vmrelease.io/v1alpha1"},
      {"kind", "ImageRelease"},
      {"metadata",
       {{"name", "app-" + version}, {"namespace", "default"}, {"creationTimestamp", At(48h)}}},
      {"spec",
       {{"image", "app"},
        {"version", version},
        {"changelog",
         {{{"kind", "Fix"}, {"summary", "fix in " + version}},
          {{"kind", "Security"}, {"summary", "cve in " + version}}}}}},
      {"status",
       {{"phase", phase},
        {"artifact", {{"sha256", std::string(64, 'a')}}},
        {"publish", {{"blobUri", "http://blob/app/" + version + ".vhd"}}}}}};
  return *ViewOfRelease(j);
}
ReleaseView Revoked(const std::string& version) {
  ReleaseView r = Rel(version, "Revoked");
  r.revoked = true;
  return r;
}
ReleaseView Deleting(const std::string& version) {
  ReleaseView r = Rel(version);
  r.deleting = true;
  return r;
}

struct PinSpec {
  std::string name = "prod";
  std::string environment = "production";
  std::optional<std::string> version;
  std::optional<std::string> track;
  std::vector<std::pair<std::string, std::string>> gates;  // environment, forAtLeast ("" unset)
  std::optional<std::string> resolved;                     // current version
  Duration since = 1h;                                     // how long it has been resolved
  std::vector<std::pair<std::string, std::pair<Duration, Duration>>>
      history;  // version, from/to ago
  std::string created = At(72h);
};

api::EnvironmentPin MakePin(const PinSpec& s) {
  api::EnvironmentPin p;
  p.api_version = "vmrelease.io/v1alpha1";
  p.kind = "EnvironmentPin";
  p.metadata.name = s.name;
  p.metadata.ns = "default";
  p.metadata.generation = 1;
  p.metadata.creation_timestamp = s.created;
  p.spec.environment = s.environment;
  p.spec.image = "app";
  p.spec.version = s.version;
  if (s.track) p.spec.track = api::VersionTrack{.semver = *s.track};
  if (!s.gates.empty()) {
    p.spec.promotion.emplace();
    for (const auto& [env, d] : s.gates)
      p.spec.promotion->require_pinned_in.push_back(
          {.environment = env,
           .for_at_least = d.empty() ? std::nullopt : std::optional<std::string>(d)});
  }
  if (s.resolved || !s.history.empty()) {
    p.status.emplace();
    if (s.resolved) {
      p.status->resolved = api::ResolvedRelease{
          .version = *s.resolved, .release = "app-" + *s.resolved, .since = At(s.since)};
      p.status->history.push_back(
          {.version = *s.resolved, .release = "app-" + *s.resolved, .from = At(s.since)});
    }
    for (const auto& [v, span] : s.history)
      p.status->history.push_back({.version = v,
                                   .release = "app-" + v,
                                   .from = At(span.first),
                                   .to = At(span.second),
                                   .reason = "Pinned"});
  }
  return p;
}

struct Case {
  std::string name;
  PinSpec pin;
  std::vector<ReleaseView> releases;
  std::vector<PinSpec> others;
  // Expected.
  bool ready = false;
  std::string reason;
  std::optional<std::string> resolves_to;  // target version ("" = none)
  std::optional<std::string> moves;        // move reason, unset: no move
  std::string message_has;
  std::optional<Duration> requeue;
  bool stalled = false;
  bool revoked = false;
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

class ResolveTest : public ::testing::TestWithParam<Case> {};

TEST_P(ResolveTest, Decides) {
  const Case& c = GetParam();
  std::vector<api::EnvironmentPin> others;
  for (const PinSpec& o : c.others) others.push_back(MakePin(o));
  const Decision d = Resolve(MakePin(c.pin), c.releases, others, kNow);
  EXPECT_EQ(d.stalled, c.stalled) << d.message;
  EXPECT_EQ(d.ready, c.ready) << d.reason << ": " << d.message;
  EXPECT_EQ(d.reason, c.reason) << d.message;
  if (c.resolves_to) {
    if (c.resolves_to->empty()) {
      EXPECT_FALSE(d.target) << d.target->version;
    } else {
      ASSERT_TRUE(d.target);
      EXPECT_EQ(d.target->version, *c.resolves_to);
    }
  }
  EXPECT_EQ(d.move_reason, c.moves) << d.message;
  EXPECT_THAT(d.message, HasSubstr(c.message_has));
  EXPECT_EQ(d.requeue_after, c.requeue);
  EXPECT_EQ(d.revoked, c.revoked);
  // The stable part is a prefix of the message (what lets steady state write nothing).
  EXPECT_EQ(d.message.rfind(d.stable_message, 0), 0u) << d.message << " / " << d.stable_message;
}

PinSpec Exact(const std::string& v, std::optional<std::string> resolved = std::nullopt) {
  PinSpec p;
  p.version = v;
  p.resolved = std::move(resolved);
  return p;
}
PinSpec Track(const std::string& range, std::optional<std::string> resolved = std::nullopt) {
  PinSpec p;
  p.name = "dev";
  p.environment = "dev";
  p.track = range;
  p.resolved = std::move(resolved);
  return p;
}
PinSpec Gated(const std::string& v, std::optional<std::string> resolved,
              const std::string& for_at_least = "10m") {
  PinSpec p = Exact(v, std::move(resolved));
  p.gates = {{"dev", for_at_least}};
  return p;
}
PinSpec Dev(std::optional<std::string> resolved, Duration since,
            std::vector<std::pair<std::string, std::pair<Duration, Duration>>> history = {}) {
  PinSpec p = Track(">=1.0.0 <2.0.0", std::move(resolved));
  p.since = since;
  p.history = std::move(history);
  return p;
}

INSTANTIATE_TEST_SUITE_P(
    Reasons, ResolveTest,
    ::testing::Values(Case{.name = "ExactReleased",
                           .pin = Exact("1.0.0"),
                           .releases = {Rel("1.0.0"), Rel("1.1.0")},
                           .ready = true,
                           .reason = "Resolved",
                           .resolves_to = "1.0.0",
                           .moves = "Pinned",
                           .message_has = "production runs app 1.0.0"},
                      Case{.name = "ExactMissing",
                           .pin = Exact("1.2.0"),
                           .releases = {Rel("1.0.0")},
                           .reason = "ReleaseNotFound",
                           .resolves_to = "",
                           .message_has = "no ImageRelease has version 1.2.0"},
                      Case{.name = "ExactStillBuilding",
                           .pin = Exact("1.2.0"),
                           .releases = {Rel("1.2.0", "Building")},
                           .reason = "ReleaseNotReady",
                           .resolves_to = "",
                           .message_has = "phase Building"},
                      Case{.name = "ExactFailed",
                           .pin = Exact("1.2.0"),
                           .releases = {Rel("1.2.0", "Failed")},
                           .reason = "ReleaseFailed",
                           .resolves_to = "",
                           .message_has = "failed"},
                      Case{.name = "ExactRevokedNeverNewlyPinned",
                           .pin = Exact("1.2.0"),
                           .releases = {Revoked("1.2.0")},
                           .reason = "ReleaseRevoked",
                           .resolves_to = "",
                           .message_has = "revoked"},
                      Case{.name = "NotReadyKeepsTheLastGoodResolution",
                           .pin = Exact("1.1.0", "1.0.0"),
                           .releases = {Rel("1.0.0"), Rel("1.1.0", "Validating")},
                           .reason = "ReleaseNotReady",
                           .resolves_to = "1.0.0",
                           .message_has = "it keeps 1.0.0"},
                      Case{.name = "FailedKeepsTheLastGoodResolution",
                           .pin = Exact("1.1.0", "1.0.0"),
                           .releases = {Rel("1.0.0"), Rel("1.1.0", "Failed")},
                           .reason = "ReleaseFailed",
                           .resolves_to = "1.0.0",
                           .message_has = "it keeps 1.0.0"},
                      Case{.name = "RevokedUnderAnExactPinStays",
                           .pin = Exact("1.0.0", "1.0.0"),
                           .releases = {Revoked("1.0.0"), Rel("0.9.0")},
                           .reason = "ReleaseRevoked",
                           .resolves_to = "1.0.0",
                           .message_has = "revoked",
                           .revoked = true},
                      Case{.name = "ReleaseDeletedUnderThePin",
                           .pin = Exact("1.0.0", "1.0.0"),
                           .releases = {Rel("0.9.0")},
                           .reason = "ReleaseNotFound",
                           .resolves_to = "1.0.0",
                           .message_has = "no longer exists"},
                      Case{.name = "ABeingDeletedReleaseIsNotNewlyResolved",
                           .pin = Exact("1.0.0"),
                           .releases = {Deleting("1.0.0")},
                           .reason = "ReleaseNotFound",
                           .resolves_to = "",
                           .message_has = "being deleted"},
                      Case{.name = "ABeingDeletedReleaseKeepsItsPin",
                           .pin = Exact("1.0.0", "1.0.0"),
                           .releases = {Deleting("1.0.0")},
                           .ready = true,
                           .reason = "Resolved",
                           .resolves_to = "1.0.0"},
                      Case{.name = "SteadyStateDoesNotMove",
                           .pin = Exact("1.0.0", "1.0.0"),
                           .releases = {Rel("1.0.0")},
                           .ready = true,
                           .reason = "Resolved",
                           .resolves_to = "1.0.0"},
                      Case{.name = "InvalidSpecStalls",
                           .pin =
                               [] {
                                 PinSpec p = Exact("1.0.0");
                                 p.track = "^1.0.0";  // both version and track
                                 return p;
                               }(),
                           .releases = {Rel("1.0.0")},
                           .reason = "InvalidSpec",
                           .message_has = "exactly one of version, track",
                           .stalled = true},
                      Case{.name = "DuplicatePinTheYoungerStalls",
                           .pin =
                               [] {
                                 PinSpec p = Exact("1.0.0");
                                 p.name = "prod-2";
                                 p.created = At(1h);
                                 return p;
                               }(),
                           .releases = {Rel("1.0.0")},
                           .others = {Exact("1.0.0")},
                           .reason = "DuplicatePin",
                           .message_has = "EnvironmentPin prod already pins environment production",
                           .stalled = true},
                      Case{.name = "DuplicatePinTheOlderResolves",
                           .pin = Exact("1.0.0"),
                           .releases = {Rel("1.0.0")},
                           .others = {[] {
                             PinSpec p = Exact("1.0.0");
                             p.name = "prod-2";
                             p.created = At(1h);
                             return p;
                           }()},
                           .ready = true,
                           .reason = "Resolved",
                           .resolves_to = "1.0.0",
                           .moves = "Pinned"}),
    [](const auto& info) { return info.param.name; });

INSTANTIATE_TEST_SUITE_P(
    Ranges, ResolveTest,
    ::testing::Values(Case{.name = "TrackTakesTheNewestReleasedInRange",
                           .pin = Track(">=1.0.0 <2.0.0"),
                           .releases = {Rel("1.0.0"), Rel("1.1.0"), Rel("1.2.0", "Building"),
                                        Rel("2.0.0")},
                           .ready = true,
                           .reason = "Resolved",
                           .resolves_to = "1.1.0",
                           .moves = "Tracked"},
                      Case{.name = "TrackFollowsForward",
                           .pin = Track(">=1.0.0 <2.0.0", "1.0.0"),
                           .releases = {Rel("1.0.0"), Rel("1.1.0")},
                           .ready = true,
                           .reason = "Resolved",
                           .resolves_to = "1.1.0",
                           .moves = "Tracked"},
                      Case{.name = "CaretExcludesTheNextMajor",
                           .pin = Track("^1.0.0"),
                           .releases = {Rel("1.0.0"), Rel("1.9.3"), Rel("2.0.0")},
                           .ready = true,
                           .reason = "Resolved",
                           .resolves_to = "1.9.3",
                           .moves = "Tracked"},
                      Case{.name = "PrereleaseRangeMatchesNoRelease",
                           .pin = Track(">=2.0.0-rc.1 <2.0.0"),
                           .releases = {Rel("1.9.0"), Rel("2.0.0")},
                           .reason = "ReleaseNotFound",
                           .resolves_to = "",
                           .message_has = "no ImageRelease of app in range"},
                      Case{.name = "TrackNothingReleasedYet",
                           .pin = Track("~1.2"),
                           .releases = {Rel("1.2.0", "Building"), Rel("1.3.0")},
                           .reason = "ReleaseNotReady",
                           .resolves_to = "",
                           .message_has = "phase Building"},
                      Case{.name = "TrackOnlyFailedInRange",
                           .pin = Track("~1.2"),
                           .releases = {Rel("1.2.0", "Failed")},
                           .reason = "ReleaseFailed",
                           .resolves_to = ""},
                      Case{.name = "TrackDoesNotFallBackFromARevokedVersion",
                           .pin = Track(">=1.0.0 <2.0.0", "1.1.0"),
                           .releases = {Rel("1.0.0"), Revoked("1.1.0")},
                           .reason = "ReleaseRevoked",
                           .resolves_to = "1.1.0",
                           .message_has = "does not move on its own",
                           .revoked = true},
                      Case{.name = "TrackMovesForwardPastARevokedVersion",
                           .pin = Track(">=1.0.0 <2.0.0", "1.1.0"),
                           .releases = {Rel("1.0.0"), Revoked("1.1.0"), Rel("1.1.1")},
                           .ready = true,
                           .reason = "Resolved",
                           .resolves_to = "1.1.1",
                           .moves = "Tracked"},
                      Case{.name = "TrackNeverGoesBackOnItsOwn",
                           .pin = Track(">=1.0.0 <2.0.0", "1.1.0"),
                           .releases = {Rel("1.0.0"), Deleting("1.1.0")},
                           .ready = true,
                           .reason = "Resolved",
                           .resolves_to = "1.1.0"},
                      Case{.name = "ANarrowedRangeMovesBackAsARollback",
                           .pin =
                               [] {
                                 PinSpec p = Track("<1.1.0", "1.1.0");
                                 p.history = {{"1.0.0", {3h, 1h}}};
                                 return p;
                               }(),
                           .releases = {Rel("1.0.0"), Rel("1.1.0")},
                           .ready = true,
                           .reason = "Resolved",
                           .resolves_to = "1.0.0",
                           .moves = "RolledBack"}),
    [](const auto& info) { return info.param.name; });

INSTANTIATE_TEST_SUITE_P(
    Gates, ResolveTest,
    ::testing::Values(Case{.name = "BlockedUntilTheSoakTimePasses",
                           .pin = Gated("1.1.0", "1.0.0"),
                           .releases = {Rel("1.0.0"), Rel("1.1.0")},
                           .others = {Dev("1.1.0", 3min)},
                           .reason = "PromotionBlocked",
                           .resolves_to = "1.0.0",
                           .message_has = "dev must run 1.1.0 for 10m0s",
                           .requeue = 7min},
                      Case{.name = "BlockedSaysHowLongIsLeft",
                           .pin = Gated("1.1.0", "1.0.0"),
                           .releases = {Rel("1.0.0"), Rel("1.1.0")},
                           .others = {Dev("1.1.0", 3min)},
                           .reason = "PromotionBlocked",
                           .resolves_to = "1.0.0",
                           .message_has = "(7m0s left)",
                           .requeue = 7min},
                      Case{.name = "OpenOnceTheSoakTimePassed",
                           .pin = Gated("1.1.0", "1.0.0"),
                           .releases = {Rel("1.0.0"), Rel("1.1.0")},
                           .others = {Dev("1.1.0", 10min)},
                           .ready = true,
                           .reason = "Resolved",
                           .resolves_to = "1.1.0",
                           .moves = "Pinned"},
                      Case{.name = "BlockedWhileTheOtherEnvironmentRunsSomethingElse",
                           .pin = Gated("1.1.0", "1.0.0"),
                           .releases = {Rel("1.0.0"), Rel("1.1.0")},
                           .others = {Dev("1.0.0", 5h)},
                           .reason = "PromotionBlocked",
                           .resolves_to = "1.0.0",
                           .message_has = "dev does not run 1.1.0 (it runs 1.0.0)"},
                      Case{.name = "APastPeriodLongEnoughOpensTheGate",
                           .pin = Gated("1.1.0", "1.0.0"),
                           .releases = {Rel("1.0.0"), Rel("1.1.0"), Rel("1.2.0")},
                           .others = {Dev("1.2.0", 1min, {{"1.1.0", {40min, 1min}}})},
                           .ready = true,
                           .reason = "Resolved",
                           .resolves_to = "1.1.0",
                           .moves = "Pinned"},
                      Case{.name = "APastPeriodTooShortDoesNot",
                           .pin = Gated("1.1.0", "1.0.0"),
                           .releases = {Rel("1.0.0"), Rel("1.1.0"), Rel("1.2.0")},
                           .others = {Dev("1.2.0", 1min, {{"1.1.0", {6min, 1min}}})},
                           .reason = "PromotionBlocked",
                           .resolves_to = "1.0.0",
                           .message_has = "dev does not run 1.1.0"},
                      Case{.name = "NoPinForTheEnvironment",
                           .pin = Gated("1.1.0", "1.0.0"),
                           .releases = {Rel("1.0.0"), Rel("1.1.0")},
                           .reason = "PromotionBlocked",
                           .resolves_to = "1.0.0",
                           .message_has = "no EnvironmentPin of app for environment dev"},
                      Case{.name = "UnsetForAtLeastNeedsOnlyTheCurrentResolution",
                           .pin = Gated("1.1.0", "1.0.0", ""),
                           .releases = {Rel("1.0.0"), Rel("1.1.0")},
                           .others = {Dev("1.1.0", 1s)},
                           .ready = true,
                           .reason = "Resolved",
                           .resolves_to = "1.1.0",
                           .moves = "Pinned"},
                      Case{.name = "ARollbackSkipsTheGate",
                           .pin =
                               [] {
                                 PinSpec p = Gated("1.0.0", "1.1.0");
                                 p.history = {{"1.0.0", {5h, 1h}}};
                                 return p;
                               }(),
                           .releases = {Rel("1.0.0"), Rel("1.1.0")},
                           .others = {Dev("1.1.0", 2h)},
                           .ready = true,
                           .reason = "Resolved",
                           .resolves_to = "1.0.0",
                           .moves = "RolledBack"},
                      Case{.name = "TrackGatesFilterTheCandidates",
                           .pin =
                               [] {
                                 PinSpec p = Track(">=1.0.0 <2.0.0");
                                 p.name = "staging";
                                 p.environment = "staging";
                                 p.gates = {{"dev", "10m"}};
                                 return p;
                               }(),
                           .releases = {Rel("1.0.0"), Rel("1.1.0")},
                           .others = {Dev("1.1.0", 4min, {{"1.0.0", {2h, 4min}}})},
                           .ready = true,
                           .reason = "Resolved",
                           .resolves_to = "1.0.0",
                           .moves = "Tracked",
                           .message_has = "promotion to 1.1.0 waits",
                           .requeue = 6min},
                      Case{.name = "TrackAllCandidatesBlocked",
                           .pin =
                               [] {
                                 PinSpec p = Track(">=1.0.0 <2.0.0");
                                 p.name = "staging";
                                 p.environment = "staging";
                                 p.gates = {{"dev", "10m"}};
                                 return p;
                               }(),
                           .releases = {Rel("1.1.0")},
                           .others = {Dev("1.1.0", 4min)},
                           .reason = "PromotionBlocked",
                           .resolves_to = "",
                           .requeue = 6min}),
    [](const auto& info) { return info.param.name; });

TEST(ResolveSequence, AVersionStillBuildingThenFailing) {
  PinSpec spec = Exact("1.1.0", "1.0.0");
  Decision d = Resolve(MakePin(spec), {Rel("1.0.0"), Rel("1.1.0", "Building")}, {}, kNow);
  EXPECT_EQ(d.reason, api::kReasonReleaseNotReady);
  d = Resolve(MakePin(spec), {Rel("1.0.0"), Rel("1.1.0", "Validating")}, {}, kNow);
  EXPECT_EQ(d.reason, api::kReasonReleaseNotReady);
  d = Resolve(MakePin(spec), {Rel("1.0.0"), Rel("1.1.0", "Failed")}, {}, kNow);
  EXPECT_EQ(d.reason, api::kReasonReleaseFailed);
  ASSERT_TRUE(d.target);
  EXPECT_EQ(d.target->version, "1.0.0");
  EXPECT_FALSE(d.move_reason);
}

TEST(ResolveSequence, BlockedMessageIsStableWhileTimePasses) {
  const std::vector<ReleaseView> rels = {Rel("1.0.0"), Rel("1.1.0")};
  std::vector<api::EnvironmentPin> others = {MakePin(Dev("1.1.0", 3min))};
  Decision a = Resolve(MakePin(Gated("1.1.0", "1.0.0")), rels, others, kNow);
  Decision b = Resolve(MakePin(Gated("1.1.0", "1.0.0")), rels, others, kNow + 2min);
  EXPECT_EQ(a.stable_message, b.stable_message);
  EXPECT_NE(a.message, b.message);
  EXPECT_EQ(b.requeue_after, 5min);
}

TEST(Move, HistoryIsNewestFirstAndBoundedAt50) {
  api::EnvironmentPinStatus status;
  std::vector<ReleaseView> rels;
  for (int i = 0; i < 60; ++i) rels.push_back(Rel("1." + std::to_string(i) + ".0"));
  for (int i = 0; i < 60; ++i)
    Move(status, rels[i], "Tracked", rels, kNow + std::chrono::minutes(i));
  ASSERT_EQ(status.history.size(), api::kMaxPinHistory);
  EXPECT_EQ(status.history.front().version, "1.59.0");
  EXPECT_FALSE(status.history.front().to);
  EXPECT_EQ(status.history[1].version, "1.58.0");
  EXPECT_EQ(status.history[1].to, api::FormatTime(kNow + 59min));
  EXPECT_EQ(status.history.back().version, "1.10.0");
  EXPECT_EQ(status.resolved->version, "1.59.0");
  EXPECT_EQ(status.resolved->since, api::FormatTime(kNow + 59min));
  EXPECT_EQ(status.resolved->vhd_uri, "http://blob/app/1.59.0.vhd");
  EXPECT_EQ(status.resolved->sha256, std::string(64, 'a'));
}

std::vector<std::string> Summaries(const std::vector<api::ChangeRecord>& changes) {
  std::vector<std::string> out;
  for (const auto& c : changes) out.push_back(c.version + ":" + c.summary);
  return out;
}

TEST(Move, ChangesForwardOverSeveralVersionsNewestFirst) {
  const std::vector<ReleaseView> rels = {Rel("1.0.0"), Rel("1.1.0"), Rel("1.2.0", "Failed"),
                                         Rel("1.3.0"), Rel("1.4.0"), Rel("2.0.0")};
  api::EnvironmentPinStatus status;
  Move(status, rels[0], "Pinned", rels, kNow);
  EXPECT_THAT(Summaries(status.changes),
              ::testing::ElementsAre("1.0.0:fix in 1.0.0", "1.0.0:cve in 1.0.0"));
  Move(status, rels[4], "Pinned", rels, kNow + 1h);
  EXPECT_THAT(
      Summaries(status.changes),
      ::testing::ElementsAre("1.4.0:fix in 1.4.0", "1.4.0:cve in 1.4.0", "1.3.0:fix in 1.3.0",
                             "1.3.0:cve in 1.3.0", "1.1.0:fix in 1.1.0", "1.1.0:cve in 1.1.0"));
  EXPECT_EQ(status.changes[1].kind, api::ChangeKind::kSecurity);
  // Backwards: what is undone, newest first.
  Move(status, rels[1], "RolledBack", rels, kNow + 2h);
  EXPECT_THAT(Summaries(status.changes),
              ::testing::ElementsAre("1.4.0:fix in 1.4.0", "1.4.0:cve in 1.4.0",
                                     "1.3.0:fix in 1.3.0", "1.3.0:cve in 1.3.0"));
  EXPECT_EQ(status.history[0].reason, "RolledBack");
  EXPECT_EQ(status.history[1].version, "1.4.0");
  EXPECT_EQ(status.history[1].to, api::FormatTime(kNow + 2h));
}

}  // namespace
}  // namespace vmrelease::pin

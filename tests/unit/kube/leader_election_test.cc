// Leader election logic (client-go semantics) with ManualClock against a fake
// lease store, plus KubeLeaseLock against an in-memory client.
#include "controller/kube/leader_election.h"

#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <thread>

#include "controller/kube/errors.h"
#include "tests/support/testing/process.h"
#include "tests/unit/kube/fake_client.h"

namespace vmrelease::kube {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::KubeError;
using ::vmrelease::testing::WaitFor;

// The "API server" side: one record, a version bumped on every write.
struct FakeLeaseServer {
  std::mutex mu;
  std::optional<LeaderElectionRecord> record;
  int version = 0;
  LeaderElectionRecord Get() {
    std::lock_guard g(mu);
    return record.value_or(LeaderElectionRecord{});
  }
};

// One candidate's view: writes are conditional on the version it last saw.
class FakeLock final : public LeaseLock {
 public:
  explicit FakeLock(FakeLeaseServer& s) : s_(s) {}
  std::atomic<bool> fail{false};
  std::atomic<int> ops{0};
  // When set, every request runs this instead (after counting it).
  std::function<Status()> on_request;

  StatusOr<LeaderElectionRecord> Get() override {
    ++ops;
    if (on_request) return on_request();
    if (fail) return UnavailableError("apiserver unreachable");
    std::lock_guard g(s_.mu);
    if (!s_.record) return KubeError(404, "NotFound", "lease not found");
    seen_ = s_.version;
    return *s_.record;
  }
  Status Create(const LeaderElectionRecord& r) override {
    ++ops;
    if (on_request) return on_request();
    if (fail) return UnavailableError("apiserver unreachable");
    std::lock_guard g(s_.mu);
    if (s_.record) return KubeError(409, "AlreadyExists", "lease exists");
    s_.record = r;
    seen_ = ++s_.version;
    return Status::Ok();
  }
  Status Update(const LeaderElectionRecord& r) override {
    ++ops;
    if (on_request) return on_request();
    if (fail) return UnavailableError("apiserver unreachable");
    std::lock_guard g(s_.mu);
    if (!s_.record) return KubeError(404, "NotFound", "lease not found");
    if (seen_ != s_.version) return KubeError(409, "Conflict", "the object has been modified");
    s_.record = r;
    seen_ = ++s_.version;
    return Status::Ok();
  }
  std::string Describe() const override { return "test/lease"; }

 private:
  FakeLeaseServer& s_;
  int seen_ = -1;  // guarded by s_.mu
};

// A candidate running LeaderElector::Run on its own thread.
struct Candidate {
  Candidate(FakeLeaseServer& server, ManualClock& clock, std::string id, bool release = true)
      : lock(server) {
    LeaderElectionConfig c;
    c.lock = &lock;
    c.identity = std::move(id);
    c.clock = &clock;
    c.release_on_cancel = release;
    c.on_started_leading = [this] { ++started; };
    c.on_stopped_leading = [this, &server] {
      // Record what the lease said when we were told to stop.
      holder_at_stop = server.Get().holder_identity;
      ++stopped;
    };
    elector = std::move(*LeaderElector::Create(std::move(c)));
  }
  ~Candidate() { Stop(); }
  void Start() {
    thread = std::thread([this] {
      elector->Run();
      returned = true;
    });
  }
  void Stop() {
    elector->Stop();
    if (thread.joinable()) thread.join();
  }

  FakeLock lock;
  std::unique_ptr<LeaderElector> elector;
  std::atomic<int> started{0}, stopped{0};
  std::atomic<bool> returned{false};
  std::string holder_at_stop;
  std::thread thread;
};

TEST(LeaderElectionTest, ValidatesDurationsLikeClientGo) {
  FakeLeaseServer server;
  FakeLock lock(server);
  auto make = [&](Duration lease, Duration renew, Duration retry) {
    return LeaderElector::Create({.lock = &lock,
                                  .identity = "a",
                                  .lease_duration = lease,
                                  .renew_deadline = renew,
                                  .retry_period = retry})
        .status();
  };
  EXPECT_TRUE(make(seconds(15), seconds(10), seconds(2)).ok());
  EXPECT_FALSE(make(seconds(10), seconds(10), seconds(2)).ok());  // lease must exceed renew
  EXPECT_FALSE(make(seconds(15), seconds(2), seconds(2)).ok());   // renew > 1.2 × retry
  EXPECT_FALSE(make(milliseconds(500), milliseconds(400), milliseconds(100)).ok());
  EXPECT_FALSE(LeaderElector::Create({.lock = &lock, .identity = ""}).ok());
  EXPECT_FALSE(LeaderElector::Create({.identity = "a"}).ok());
}

TEST(LeaderElectionTest, AcquiresAFreshLeaseAndRenewsEveryRetryPeriod) {
  ManualClock clock;
  FakeLeaseServer server;
  Candidate a(server, clock, "a");
  a.Start();
  ASSERT_TRUE(WaitFor([&] { return a.started == 1 && a.lock.ops == 3; }, seconds(10)));
  EXPECT_TRUE(a.elector->IsLeader());
  LeaderElectionRecord r = server.Get();
  EXPECT_EQ(r.holder_identity, "a");
  EXPECT_EQ(r.lease_duration_seconds, 15);
  EXPECT_EQ(r.leader_transitions, 0);
  EXPECT_EQ(r.acquire_time, FormatRfc3339(clock.WallNow(), true));
  const std::string acquired = r.acquire_time;
  clock.AwaitWaiters(1);
  clock.Advance(seconds(2));
  ASSERT_TRUE(WaitFor([&] { return server.Get().renew_time != acquired; }, seconds(10)));
  r = server.Get();
  EXPECT_EQ(r.renew_time, FormatRfc3339(clock.WallNow(), true));
  EXPECT_EQ(r.acquire_time, acquired);  // a renew keeps the acquire time
  EXPECT_EQ(r.leader_transitions, 0);
  a.Stop();
}

TEST(LeaderElectionTest, TakesOverOnlyAfterTheRecordWasUnchangedForTheLeaseDuration) {
  ManualClock clock;
  FakeLeaseServer server;
  {
    Candidate old_leader(server, clock, "old", /*release=*/false);
    old_leader.Start();
    ASSERT_TRUE(WaitFor([&] { return old_leader.started == 1; }, seconds(10)));
    old_leader.Stop();  // dies without releasing (like kill -9)
  }
  ASSERT_EQ(server.Get().holder_identity, "old");
  // The record's renewTime is in the past by our wall clock, but expiry is
  // measured locally from when *we* first saw the record, like client-go.
  clock.Advance(seconds(3600));
  Candidate b(server, clock, "b");
  b.Start();
  ASSERT_TRUE(WaitFor([&] { return b.lock.ops >= 1; }, seconds(10)));
  clock.AwaitWaiters(1);
  for (int i = 0; i < 14; ++i) {
    clock.Advance(seconds(1));
    EXPECT_FALSE(b.elector->IsLeader()) << "took over after only " << i + 1 << "s";
  }
  EXPECT_EQ(b.started, 0);
  EXPECT_EQ(b.elector->GetLeader(), "old");
  // Past 15s plus at most one (jittered) retry period.
  clock.Advance(seconds(1));
  clock.Advance(milliseconds(2400));
  ASSERT_TRUE(WaitFor([&] { return b.started == 1; }, seconds(10)));
  LeaderElectionRecord r = server.Get();
  EXPECT_EQ(r.holder_identity, "b");
  EXPECT_EQ(r.leader_transitions, 1);
  b.Stop();
}

TEST(LeaderElectionTest, CleanStopStopsWorkFirstThenReleasesSoOthersTakeOverAtOnce) {
  ManualClock clock;
  FakeLeaseServer server;
  Candidate a(server, clock, "a");
  a.Start();
  ASSERT_TRUE(WaitFor([&] { return a.started == 1; }, seconds(10)));
  Candidate b(server, clock, "b");
  b.Start();
  ASSERT_TRUE(WaitFor([&] { return b.lock.ops >= 1; }, seconds(10)));
  a.Stop();
  EXPECT_EQ(a.stopped, 1);
  EXPECT_EQ(a.holder_at_stop, "a");  // on_stopped_leading ran before the release
  LeaderElectionRecord released = server.Get();
  EXPECT_EQ(released.holder_identity, "");
  EXPECT_EQ(released.lease_duration_seconds, 1);
  EXPECT_FALSE(a.elector->lost());
  // b needs no expiry wait: the next attempt (≤ 1.2 × retry period) takes it.
  clock.AwaitWaiters(1);
  clock.Advance(milliseconds(2400));
  ASSERT_TRUE(WaitFor([&] { return b.started == 1; }, seconds(10)));
  EXPECT_EQ(server.Get().holder_identity, "b");
  EXPECT_EQ(server.Get().leader_transitions, 1);
}

TEST(LeaderElectionTest, GivesUpWhenItCannotRenewWithinTheRenewDeadline) {
  ManualClock clock;
  FakeLeaseServer server;
  Candidate a(server, clock, "a");
  a.Start();
  // Get + Create to acquire, then the first renew (an optimistic Update).
  ASSERT_TRUE(WaitFor([&] { return a.lock.ops == 3; }, seconds(10)));
  clock.AwaitWaiters(1);
  a.lock.fail = true;
  // Renew attempts at +2s .. +10s fail (one optimistic Update each: an
  // unreachable server is not worth a re-read); still leading.
  for (int k = 1; k <= 5; ++k) {
    clock.Advance(seconds(2));
    ASSERT_TRUE(WaitFor([&] { return a.lock.ops == 3 + k; }, seconds(10))) << k;
    clock.AwaitWaiters(1);
    EXPECT_TRUE(a.elector->IsLeader());
    EXPECT_EQ(a.stopped, 0);
  }
  // +12s: the round that began at +2s passed its 10s deadline.
  clock.Advance(seconds(2));
  ASSERT_TRUE(WaitFor([&] { return a.returned.load(); }, seconds(10)));
  EXPECT_TRUE(a.elector->lost());
  EXPECT_FALSE(a.elector->IsLeader());
  EXPECT_EQ(a.stopped, 1);
}

TEST(LeaderElectionTest, ASlowFailingRenewStopsLeadingAtTheDeadlineWithoutAnotherRetry) {
  ManualClock clock;
  FakeLeaseServer server;
  Candidate a(server, clock, "a");
  a.Start();
  ASSERT_TRUE(WaitFor([&] { return a.lock.ops == 3; }, seconds(10)));
  clock.AwaitWaiters(1);
  // From now on every request hangs for 6 s (the clock moves while it runs)
  // and then fails, as against an unresponsive API server.
  a.lock.on_request = [&] {
    clock.Advance(seconds(6));
    return UnavailableError("request timed out");
  };
  // The round starts at +2s (deadline +12s): the attempt fails at +8s, the
  // next one starts at +10s and fails at +16s, past the deadline. Other
  // candidates may take the lease from +15s, so the leader must stop now, not
  // after one more retry period (nor after a re-read that hangs as well).
  clock.Advance(seconds(2));
  ASSERT_TRUE(WaitFor([&] { return a.lock.ops == 4; }, seconds(10)));
  clock.AwaitWaiters(1);
  EXPECT_TRUE(a.elector->IsLeader());
  clock.Advance(seconds(2));
  ASSERT_TRUE(WaitFor([&] { return a.returned.load(); }, seconds(10)))
      << "still leading at +16s, ops=" << a.lock.ops;
  EXPECT_EQ(a.lock.ops, 5);
  EXPECT_TRUE(a.elector->lost());
  EXPECT_EQ(a.stopped, 1);
}

TEST(LeaderElectionTest, TwoCandidatesOneLeaderWhileItKeepsRenewing) {
  ManualClock clock;
  FakeLeaseServer server;
  Candidate a(server, clock, "a");
  Candidate b(server, clock, "b");
  a.Start();
  b.Start();
  // Both race to create the lease: exactly one wins.
  ASSERT_TRUE(
      WaitFor([&] { return a.started + b.started == 1 && a.lock.ops >= 1 && b.lock.ops >= 1; },
              seconds(10)));
  Candidate& leader = a.started == 1 ? a : b;
  Candidate& follower = a.started == 1 ? b : a;
  // 30s of renewals (twice the lease duration): the follower always sees a
  // fresh record, so it never takes over.
  for (int i = 0; i < 15; ++i) {
    int version;
    {
      std::lock_guard g(server.mu);
      version = server.version;
    }
    clock.AwaitWaiters(2);
    clock.Advance(seconds(2));
    ASSERT_TRUE(WaitFor(
        [&] {
          std::lock_guard g(server.mu);
          return server.version > version;
        },
        seconds(10)));
    EXPECT_FALSE(follower.elector->IsLeader());
  }
  EXPECT_EQ(follower.started, 0);
  EXPECT_EQ(leader.started, 1);
  EXPECT_TRUE(leader.elector->IsLeader());
  EXPECT_EQ(follower.elector->GetLeader(), leader.elector->GetLeader());
}

TEST(KubeLeaseLockTest, ReadsCreatesAndConditionallyUpdatesALease) {
  testing::MemoryClient client;
  KubeLeaseLock lock(client, "ns", "ctl");
  EXPECT_TRUE(IsNotFound(lock.Get().status()));
  LeaderElectionRecord r{.holder_identity = "me",
                         .lease_duration_seconds = 15,
                         .acquire_time = "2026-01-01T00:00:00.000000Z",
                         .renew_time = "2026-01-01T00:00:00.000000Z",
                         .leader_transitions = 0};
  ASSERT_TRUE(lock.Create(r).ok());
  EXPECT_TRUE(IsAlreadyExists(lock.Create(r)));
  auto lease = client.Peek(LeaseResource(), {"ns", "ctl"});
  ASSERT_TRUE(lease.has_value());
  EXPECT_EQ((*lease)["apiVersion"], "coordination.k8s.io/v1");
  EXPECT_EQ((*lease)["spec"]["holderIdentity"], "me");
  EXPECT_EQ((*lease)["spec"]["leaseDurationSeconds"], 15);
  EXPECT_EQ((*lease)["spec"]["renewTime"], "2026-01-01T00:00:00.000000Z");
  auto got = lock.Get();
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, r);
  r.renew_time = "2026-01-01T00:00:02.000000Z";
  ASSERT_TRUE(lock.Update(r).ok());
  // Someone else writes the lease: our next update is stale and conflicts.
  Json other = *client.Peek(LeaseResource(), {"ns", "ctl"});
  other["spec"]["holderIdentity"] = "other";
  client.Put(LeaseResource(), other);
  EXPECT_TRUE(IsConflict(lock.Update(r)));
  ASSERT_TRUE(lock.Get().ok());
  EXPECT_EQ(lock.Get()->holder_identity, "other");
}

}  // namespace
}  // namespace vmrelease::kube

// CachingCredential: refresh before expiry on a ManualClock, per-scope entries,
// one shared fetch for concurrent callers, fallback on a failed refresh, and
// redaction bookkeeping of superseded tokens.
#include "controller/azure/credential_cache.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <thread>

#include "controller/common/log.h"

namespace vmrelease::azure {
namespace {

using namespace std::chrono_literals;

class TestCredential final : public CachingCredential {
 public:
  TestCredential(Clock* clock, Duration lifetime)
      : CachingCredential(clock, 5min), lifetime_(lifetime) {}
  std::string Describe() const override { return "test"; }

  std::atomic<int> in_fetch{0};
  std::atomic<bool> fail{false};
  // When set, Fetch waits until release() is called.
  void hold() { held_ = true; }
  void release() {
    std::lock_guard g(mu_);
    held_ = false;
    cv_.notify_all();
  }

 private:
  StatusOr<AccessToken> Fetch(const std::string& scope) override {
    ++in_fetch;
    {
      std::unique_lock l(mu_);
      cv_.wait(l, [&] { return !held_; });
    }
    if (fail) return UnavailableError("token endpoint down");
    return AccessToken{.token = "token-" + scope + "-" + std::to_string(++n_),
                       .expires_on = clock().WallNow() + lifetime_};
  }
  Duration lifetime_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool held_ = false;
  int n_ = 0;
};

TEST(CredentialCacheTest, ServesCachedTokenUntilFiveMinutesBeforeExpiry) {
  ManualClock clock;
  TestCredential cred(&clock, 60min);
  auto t1 = cred.GetToken("arm");
  ASSERT_TRUE(t1.ok());
  clock.Advance(54min + 59s);
  EXPECT_EQ(cred.GetToken("arm")->token, t1->token);
  EXPECT_EQ(cred.fetch_count(), 1);
  clock.Advance(1s);  // exactly 5 minutes left
  auto t2 = cred.GetToken("arm");
  ASSERT_TRUE(t2.ok());
  EXPECT_NE(t2->token, t1->token);
  EXPECT_EQ(cred.fetch_count(), 2);
}

TEST(CredentialCacheTest, ShortLivedTokensRefreshHalfway) {
  ManualClock clock;
  TestCredential cred(&clock, 4min);
  ASSERT_TRUE(cred.GetToken("arm").ok());
  clock.Advance(119s);
  ASSERT_TRUE(cred.GetToken("arm").ok());
  EXPECT_EQ(cred.fetch_count(), 1);
  clock.Advance(1s);
  ASSERT_TRUE(cred.GetToken("arm").ok());
  EXPECT_EQ(cred.fetch_count(), 2);
}

TEST(CredentialCacheTest, ScopesAreCachedSeparatelyAndInvalidatedSeparately) {
  ManualClock clock;
  TestCredential cred(&clock, 60min);
  auto arm = cred.GetToken(kArmScope);
  auto storage = cred.GetToken(kStorageScope);
  ASSERT_TRUE(arm.ok() && storage.ok());
  EXPECT_NE(arm->token, storage->token);
  EXPECT_EQ(cred.fetch_count(), 2);
  cred.Invalidate(kArmScope);
  EXPECT_NE(cred.GetToken(kArmScope)->token, arm->token);
  EXPECT_EQ(cred.GetToken(kStorageScope)->token, storage->token);
  EXPECT_EQ(cred.fetch_count(), 3);
}

TEST(CredentialCacheTest, ConcurrentCallersShareOneFetch) {
  ManualClock clock;
  TestCredential cred(&clock, 60min);
  cred.hold();
  constexpr int kThreads = 8;
  std::vector<std::string> got(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i)
    threads.emplace_back([&, i] {
      auto t = cred.GetToken("arm");
      got[i] = t.ok() ? t->token : t.status().ToString();
    });
  // Whatever order the threads arrive in (during the fetch or after it), none
  // may start a second fetch.
  while (cred.in_fetch.load() == 0) std::this_thread::yield();
  std::this_thread::sleep_for(50ms);  // let the other callers reach the wait
  cred.release();
  for (auto& t : threads) t.join();
  EXPECT_EQ(cred.fetch_count(), 1);
  EXPECT_EQ(cred.in_fetch.load(), 1);
  for (const auto& g : got) EXPECT_EQ(g, got[0]);
  EXPECT_EQ(got[0].rfind("token-arm-", 0), 0u);
}

TEST(CredentialCacheTest, ConcurrentCallersShareAFailedFetch) {
  ManualClock clock;
  TestCredential cred(&clock, 60min);
  cred.fail = true;
  cred.hold();
  std::atomic<int> errors{0};
  std::thread first([&] { errors += !cred.GetToken("arm").ok(); });
  while (cred.in_fetch.load() == 0) std::this_thread::yield();
  std::vector<std::thread> waiters;
  for (int i = 0; i < 4; ++i) waiters.emplace_back([&] { errors += !cred.GetToken("arm").ok(); });
  // All four are blocked on the one fetch before it fails.
  while (cred.waiting() < 4) std::this_thread::yield();
  cred.release();
  first.join();
  for (auto& t : waiters) t.join();
  EXPECT_EQ(errors.load(), 5);
  // They took its error rather than each fetching again.
  EXPECT_EQ(cred.fetch_count(), 1);
  EXPECT_EQ(cred.waiting(), 0);
}

TEST(CredentialCacheTest, FailedRefreshKeepsUsingAStillValidToken) {
  ManualClock clock;
  TestCredential cred(&clock, 60min);
  auto t1 = cred.GetToken("arm");
  ASSERT_TRUE(t1.ok());
  clock.Advance(56min);
  cred.fail = true;
  auto t2 = cred.GetToken("arm");
  ASSERT_TRUE(t2.ok());
  EXPECT_EQ(t2->token, t1->token);
  clock.Advance(4min);  // now expired
  auto t3 = cred.GetToken("arm");
  ASSERT_FALSE(t3.ok());
  EXPECT_EQ(t3.status().code(), StatusCode::kUnavailable);
  cred.fail = false;
  EXPECT_TRUE(cred.GetToken("arm").ok());
}

TEST(CredentialCacheTest, TokensAreRedactedUntilTheyExpire) {
  ManualClock clock;
  TestCredential cred(&clock, 60min);
  const std::string t1 = cred.GetToken("redact-scope")->token;
  EXPECT_EQ(log::Redact("x " + t1), "x REDACTED");
  clock.Advance(56min);
  const std::string t2 = cred.GetToken("redact-scope")->token;
  ASSERT_NE(t1, t2);
  EXPECT_EQ(log::Redact(t1), "REDACTED");  // superseded but still valid
  clock.Advance(5min);                     // t1 has expired
  ASSERT_TRUE(cred.GetToken("redact-scope").ok());
  EXPECT_EQ(log::Redact(t1), t1);
  EXPECT_EQ(log::Redact(t2), "REDACTED");
}

TEST(CredentialHelpersTest, ScopeToResourceAndShortId) {
  EXPECT_EQ(ScopeToResource("https://management.azure.com/.default"),
            "https://management.azure.com/");
  EXPECT_EQ(ScopeToResource("https://storage.azure.com/.default"), "https://storage.azure.com/");
  EXPECT_EQ(ScopeToResource("https://x/"), "https://x/");
  EXPECT_EQ(ShortId("12345678-aaaa"), "12345678…");
  EXPECT_EQ(ShortId("abc"), "abc");
}

}  // namespace
}  // namespace vmrelease::azure

// WaitForCopy polls x-ms-copy-status on the destination until the copy leaves
// "pending" (Azurite always copies synchronously, so the pending path is
// exercised with FakeBlobStore and a ManualClock).
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "controller/azure/blob_store.h"
#include "tests/support/azurite/fake_blob_store.h"

namespace vmrelease::azure {
namespace {

using namespace std::chrono_literals;

// Runs `fn` on a thread and moves `clock` forward by `step` once per poll
// (each GetProperties call is followed by one sleep), until `fn` returns.
template <typename Fn>
void RunAdvancing(testing::FakeBlobStore& store, ManualClock& clock, Duration step, Fn fn) {
  std::atomic<bool> done{false};
  std::thread t([&] {
    fn();
    done = true;
  });
  int advanced_for = 0;
  while (!done.load()) {
    const auto counts = store.op_counts();
    const int polls = counts.count("GetProperties") ? counts.at("GetProperties") : 0;
    if (polls > advanced_for && clock.Waiters() > 0) {
      advanced_for = polls;
      clock.Advance(step);
    } else {
      std::this_thread::yield();
    }
  }
  t.join();
}

class BlobCopyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(store_.CreateContainer("staging").ok());
    ASSERT_TRUE(store_.CreateContainer("images").ok());
    ASSERT_TRUE(store_.PutBlockBlob(src_, "vhd", {}).ok());
  }
  testing::FakeBlobStore store_;
  const BlobRef src_{"staging", "build.vhd"};
  const BlobRef dest_{"images", "app/1.0.0.vhd"};
};

TEST_F(BlobCopyTest, PollsUntilTheCopySucceeds) {
  store_.set_copy_pending_polls(3);
  auto sas = store_.GenerateSasUrl(src_, {.permissions = "r", .expiry = WallTime::max()});
  ASSERT_TRUE(sas.ok());
  auto started = store_.StartCopyFromUrl(dest_, *sas, {});
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  EXPECT_EQ(started->state, CopyState::kPending);
  ManualClock clock;
  StatusOr<CopyStatus> result = InternalError("not run");
  const TimePoint start = clock.Now();
  RunAdvancing(store_, clock, 2s, [&] { result = WaitForCopy(store_, dest_, clock, 2s, 1min); });
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->state, CopyState::kSuccess);
  EXPECT_EQ(store_.op_counts().at("GetProperties"), 4);  // three pending answers, then success
  EXPECT_EQ(clock.Now() - start, 6s);
  EXPECT_EQ(*store_.GetBlob(dest_), "vhd");
  // Publishing the same version again is refused.
  EXPECT_EQ(store_.StartCopyFromUrl(dest_, *sas, {}).status().code(), StatusCode::kAlreadyExists);
}

TEST_F(BlobCopyTest, GivesUpAtTheDeadline) {
  store_.set_copy_pending_polls(1000);
  ASSERT_TRUE(store_.StartCopyFromUrl(dest_, store_.BlobUrl(src_), {}).ok());
  ManualClock clock;
  StatusOr<CopyStatus> result = InternalError("not run");
  RunAdvancing(store_, clock, 10s, [&] { result = WaitForCopy(store_, dest_, clock, 10s, 25s); });
  EXPECT_EQ(result.status().code(), StatusCode::kDeadlineExceeded) << result.status().ToString();
  EXPECT_EQ(store_.op_counts().at("GetProperties"), 3);  // at 0 s, 10 s and 20 s
}

TEST_F(BlobCopyTest, BlobWithoutCopyIsAnError) {
  ManualClock clock;
  EXPECT_EQ(WaitForCopy(store_, src_, clock).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(WaitForCopy(store_, {"images", "missing"}, clock).status().code(),
            StatusCode::kNotFound);
}

}  // namespace
}  // namespace vmrelease::azure

// The store under concurrent writers, watchers, bookmarks and drops (also run
// under ThreadSanitizer): every watcher sees every event exactly once, in
// resourceVersion order, and nobody blocks on a watcher that stopped reading.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "tests/support/apiserver/store.h"

namespace vmrelease::apiserver {
namespace {

using nlohmann::json;

TEST(StoreConcurrencyTest, WritersAndWatchersAgree) {
  Store store(RealClock::Get(), {.history_size = 100000});
  auto cms = store.Lookup("", "v1", "configmaps");
  const std::string start = std::to_string(store.CurrentRv());
  constexpr int kWriters = 4, kPerWriter = 200, kWatchers = 3;
  std::vector<std::shared_ptr<Watcher>> watchers;
  for (int i = 0; i < kWatchers; ++i) {
    auto w = store.Watch(*cms, "", {.resource_version = start});
    ASSERT_TRUE(w.ok());
    watchers.push_back(*w);
  }
  // A watcher that never reads must not hold anyone up; it gets closed instead.
  auto idle = store.Watch(*cms, "", {.resource_version = start, .max_queue = 50});
  ASSERT_TRUE(idle.ok());

  std::vector<std::vector<int64_t>> seen(kWatchers);
  std::vector<std::thread> readers;
  for (int i = 0; i < kWatchers; ++i) {
    readers.emplace_back([&, i] {
      while (seen[i].size() < static_cast<size_t>(kWriters * kPerWriter * 2)) {
        auto ev = watchers[i]->Next(std::chrono::steady_clock::now() + std::chrono::seconds(30));
        if (!ev) break;
        if (ev->type != "BOOKMARK") seen[i].push_back(ev->rv);
      }
    });
  }
  std::atomic<bool> stop{false};
  std::thread bookmarker([&] {
    while (!stop) {
      for (auto& w : watchers) store.Bookmark(*w);
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });
  std::vector<std::thread> writers;
  for (int t = 0; t < kWriters; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; i < kPerWriter; ++i) {
        const std::string name = "w" + std::to_string(t) + "-" + std::to_string(i);
        auto c = store.Create(*cms, "default", {{"metadata", {{"name", name}}}}, {});
        EXPECT_TRUE(c.ok());
        auto p = store.Patch(*cms, "default", name, PatchType::kMerge, R"({"data":{"a":"b"}})", {});
        EXPECT_TRUE(p.ok());
        auto l = store.List(*cms, "default", {.limit = 5});
        EXPECT_TRUE(l.ok());
      }
    });
  }
  for (auto& w : writers) w.join();
  for (auto& r : readers) r.join();
  stop = true;
  bookmarker.join();
  for (int i = 0; i < kWatchers; ++i) {
    ASSERT_EQ(seen[i].size(), static_cast<size_t>(kWriters * kPerWriter * 2));
    EXPECT_TRUE(std::is_sorted(seen[i].begin(), seen[i].end()));
    EXPECT_EQ(std::adjacent_find(seen[i].begin(), seen[i].end()), seen[i].end())
        << "duplicate event";
    EXPECT_EQ(seen[i], seen[0]);
  }
  EXPECT_TRUE((*idle)->overflowed());
  store.DropWatches();
  EXPECT_EQ(store.WatcherCount(), 0u);
}

}  // namespace
}  // namespace vmrelease::apiserver

// Watcher against a scripted client: list-then-watch, resume, relist on 410,
// backoff (ManualClock), pagination, cancellation.
#include "controller/kube/watcher.h"

#include <gtest/gtest.h>

#include "tests/support/testing/process.h"
#include "tests/unit/kube/fake_client.h"

namespace vmrelease::kube {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::KubeError;
using testing::Obj;
using testing::ScriptedClient;
using testing::WatchScript;
using testing::WatchStep;
using ::vmrelease::testing::WaitFor;

const ResourceType kType{"vmrelease.io", "v1alpha1", "imagereleases", "ImageRelease", true};

ObjectList Page(std::vector<Json> items, std::string rv, std::string cont = "") {
  ObjectList l;
  l.items = std::move(items);
  l.resource_version = std::move(rv);
  l.continue_token = std::move(cont);
  return l;
}

Json Bookmark(const std::string& rv) {
  return {{"kind", "ImageRelease"},
          {"apiVersion", "vmrelease.io/v1alpha1"},
          {"metadata", {{"resourceVersion", rv}}}};
}

WatcherOptions Options(ManualClock& clock) {
  WatcherOptions o;
  o.type = kType;
  o.clock = &clock;
  o.page_size = 2;
  // No jitter: the tests check exact waits.
  o.backoff = {.initial = seconds(1), .max = seconds(8), .factor = 2.0, .jitter = 0};
  return o;
}

std::vector<std::string> Keys(const Store& store) {
  std::vector<std::string> out;
  for (const auto& o : store.List()) out.push_back(KeyOf(*o) + "@" + ResourceVersion(*o));
  return out;
}

TEST(WatcherTest, ListsAllPagesThenWatchesFromTheListVersion) {
  ManualClock clock;
  ScriptedClient client;
  Store store;
  client.PushList(Page({Obj("ns", "a", "5"), Obj("ns", "b", "6")}, "10", "cont-1"));
  client.PushList(Page({Obj("ns", "c", "7")}, "10"));
  client.PushWatch(
      {Status(),
       {WatchStep::Event(WatchEventType::kAdded, Obj("ns", "d", "11")),
        WatchStep::Event(WatchEventType::kModified, Obj("ns", "a", "12")),
        WatchStep::Event(WatchEventType::kDeleted, Obj("ns", "b", "13")), WatchStep::Block()}});
  Watcher watcher(client, store, Options(clock));
  watcher.Start();
  ASSERT_TRUE(WaitFor([&] { return watcher.stats().events == 3; }, seconds(10)));
  EXPECT_TRUE(store.HasSynced());
  EXPECT_EQ(Keys(store), (std::vector<std::string>{"ns/a@12", "ns/c@7", "ns/d@11"}));

  auto lists = client.list_calls();
  ASSERT_EQ(lists.size(), 2u);
  EXPECT_EQ(lists[0].limit, 2);
  EXPECT_EQ(lists[0].continue_token, "");
  EXPECT_EQ(lists[1].continue_token, "cont-1");
  auto watches = client.watch_calls();
  ASSERT_EQ(watches.size(), 1u);
  EXPECT_EQ(watches[0].resource_version, "10");
  EXPECT_TRUE(watches[0].allow_bookmarks);
  EXPECT_GE(watches[0].timeout_seconds, 300);
  EXPECT_LT(watches[0].timeout_seconds, 600);
  EXPECT_EQ(watcher.stats().resource_version, "13");
  watcher.Stop();  // cancels the blocked stream
}

TEST(WatcherTest, ResumesFromTheLastSeenVersionIncludingBookmarksWithoutRelisting) {
  ManualClock clock;
  ScriptedClient client;
  Store store;
  client.PushList(Page({Obj("ns", "a", "5")}, "10"));
  client.PushWatch({Status(),
                    {WatchStep::Event(WatchEventType::kAdded, Obj("ns", "b", "11")),
                     WatchStep::Event(WatchEventType::kBookmark, Bookmark("15")),
                     WatchStep::End()}});  // connection dropped / server timeout
  client.PushWatch({Status(),
                    {WatchStep::Event(WatchEventType::kModified, Obj("ns", "b", "16")),
                     WatchStep::Error(UnavailableError("connection reset"))}});
  client.PushWatch({Status(), {WatchStep::Block()}});
  Watcher watcher(client, store, Options(clock));
  watcher.Start();
  // The first drop resumes at once (the stream was healthy); the transport
  // error backs off 1s first.
  ASSERT_TRUE(WaitFor([&] { return client.watch_calls().size() == 2; }, seconds(10)));
  clock.AwaitWaiters(1);
  EXPECT_EQ(client.watch_calls().size(), 2u);
  clock.Advance(seconds(1));
  ASSERT_TRUE(WaitFor([&] { return client.watch_calls().size() == 3; }, seconds(10)));
  auto watches = client.watch_calls();
  EXPECT_EQ(watches[1].resource_version, "15");  // the bookmark's version
  EXPECT_EQ(watches[2].resource_version, "16");
  EXPECT_EQ(client.list_calls().size(), 1u);  // never relisted
  EXPECT_EQ(Keys(store), (std::vector<std::string>{"ns/a@5", "ns/b@16"}));
  watcher.Stop();
}

TEST(WatcherTest, RelistsOnGoneAndDeletesObjectsThatVanished) {
  ManualClock clock;
  ScriptedClient client;
  Store store;
  std::vector<std::string> deleted;
  std::mutex mu;
  store.AddHandler({.on_delete = [&](const ObjectPtr& o) {
    std::lock_guard g(mu);
    deleted.push_back(KeyOf(*o));
  }});
  client.PushList(Page({Obj("ns", "a", "5"), Obj("ns", "b", "6")}, "10"));
  client.PushWatch(
      {Status(),
       {WatchStep::Event(WatchEventType::kAdded, Obj("ns", "c", "11")),
        WatchStep::Error(KubeError(410, "Expired", "too old resource version: 11 (40)"))}});
  // Meanwhile b was deleted and a changed.
  client.PushList(Page({Obj("ns", "a", "30"), Obj("ns", "c", "11")}, "40"));
  client.PushWatch({Status(), {WatchStep::Block()}});
  Watcher watcher(client, store, Options(clock));
  watcher.Start();
  // The stream had made progress, so the relist happens without a backoff wait.
  ASSERT_TRUE(WaitFor([&] { return client.watch_calls().size() == 2; }, seconds(10)));
  EXPECT_EQ(Keys(store), (std::vector<std::string>{"ns/a@30", "ns/c@11"}));
  {
    std::lock_guard g(mu);
    EXPECT_EQ(deleted, std::vector<std::string>{"ns/b"});
  }
  EXPECT_EQ(client.watch_calls()[1].resource_version, "40");
  EXPECT_EQ(watcher.stats().relists, 1);
  EXPECT_EQ(watcher.stats().lists, 2);
  watcher.Stop();
}

TEST(WatcherTest, GoneRightAfterAListBacksOffInsteadOfLooping) {
  ManualClock clock;
  ScriptedClient client;
  Store store;
  client.PushList(Page({}, "10"));
  client.PushWatch({KubeError(410, "Gone", "gone"), {}});
  client.PushList(Page({}, "20"));
  client.PushWatch({Status(), {WatchStep::Block()}});
  Watcher watcher(client, store, Options(clock));
  watcher.Start();
  clock.AwaitWaiters(1);
  EXPECT_EQ(client.list_calls().size(), 1u);
  clock.Advance(milliseconds(999));
  EXPECT_EQ(client.list_calls().size(), 1u);
  clock.Advance(milliseconds(1));
  ASSERT_TRUE(WaitFor([&] { return client.watch_calls().size() == 2; }, seconds(10)));
  EXPECT_EQ(client.list_calls().size(), 2u);
  EXPECT_EQ(client.watch_calls()[1].resource_version, "20");
  watcher.Stop();
}

TEST(WatcherTest, BackoffGrowsHonoursRetryAfterAndResetsAfterEvents) {
  ManualClock clock;
  ScriptedClient client;
  Store store;
  client.PushList(InternalError("500"));
  client.PushList(InternalError("500"));
  client.PushList(Page({}, "10"));
  client.PushWatch({KubeError(429, "TooManyRequests", "slow down"), {}});
  client.PushWatch({Status(),
                    {WatchStep::Event(WatchEventType::kAdded, Obj("ns", "a", "11")),
                     WatchStep::Error(InternalError("stream broke"))}});
  client.PushWatch({Status(), {WatchStep::Block()}});
  WatcherOptions o = Options(clock);
  Watcher watcher(client, store, o);
  watcher.Start();

  auto expect_wait = [&](Duration d, auto&& done) {
    clock.AwaitWaiters(1);
    clock.Advance(d - milliseconds(1));
    EXPECT_FALSE(done()) << "retried before " << std::chrono::duration_cast<milliseconds>(d).count()
                         << "ms";
    clock.Advance(milliseconds(1));
    ASSERT_TRUE(WaitFor(done, seconds(10)));
  };
  expect_wait(seconds(1), [&] { return client.list_calls().size() == 2; });
  expect_wait(seconds(2), [&] { return client.list_calls().size() == 3; });
  ASSERT_TRUE(WaitFor([&] { return client.watch_calls().size() == 1; }, seconds(10)));
  // This 429 carries no Retry-After: the 4s backoff applies.
  expect_wait(seconds(4), [&] { return client.watch_calls().size() == 2; });
  // That stream delivered an event: the backoff was reset to 1s.
  expect_wait(seconds(1), [&] { return client.watch_calls().size() == 3; });
  EXPECT_EQ(watcher.stats().errors, 4);
  watcher.Stop();
}

TEST(WatcherTest, RetryAfterFromTheServerIsTheMinimumWait) {
  ManualClock clock;
  ScriptedClient client;
  Store store;
  Status throttled(
      StatusCode::kResourceExhausted, "throttled",
      ErrorDetail{.http_status = 429, .reason = "TooManyRequests", .retry_after = seconds(5)});
  client.PushList(throttled);
  client.PushList(Page({}, "10"));
  Watcher watcher(client, store, Options(clock));
  watcher.Start();
  clock.AwaitWaiters(1);
  clock.Advance(milliseconds(4999));
  EXPECT_EQ(client.list_calls().size(), 1u);
  clock.Advance(milliseconds(1));
  ASSERT_TRUE(WaitFor([&] { return client.list_calls().size() == 2; }, seconds(10)));
  watcher.Stop();
}

TEST(WatcherTest, AWatchThatEndsAtOnceWithoutEventsIsNotABusyLoop) {
  ManualClock clock;
  ScriptedClient client;
  Store store;
  client.PushList(Page({}, "10"));
  for (int i = 0; i < 3; ++i) client.PushWatch({Status(), {WatchStep::End()}});
  client.PushWatch({Status(), {WatchStep::Block()}});
  Watcher watcher(client, store, Options(clock));
  watcher.Start();
  // Each empty stream ends in 0s of clock time: 1s, 2s, 4s waits between them.
  for (int i = 1; i <= 3; ++i) {
    ASSERT_TRUE(WaitFor([&] { return client.watch_calls().size() == static_cast<size_t>(i); },
                        seconds(10)));
    clock.AwaitWaiters(1);
    EXPECT_EQ(client.watch_calls().size(), static_cast<size_t>(i));
    clock.Advance(seconds(1 << (i - 1)));
  }
  ASSERT_TRUE(WaitFor([&] { return client.watch_calls().size() == 4; }, seconds(10)));
  EXPECT_EQ(client.list_calls().size(), 1u);
  watcher.Stop();
}

TEST(WatcherTest, ExpiredContinueTokenRestartsTheListFromTheBeginning) {
  ManualClock clock;
  ScriptedClient client;
  Store store;
  client.PushList(Page({Obj("ns", "a", "5"), Obj("ns", "b", "6")}, "10", "cont-1"));
  client.PushList(KubeError(410, "Expired", "continue token expired"));
  client.PushList(Page({Obj("ns", "a", "5"), Obj("ns", "c", "21")}, "21"));
  client.PushWatch({Status(), {WatchStep::Block()}});
  Watcher watcher(client, store, Options(clock));
  watcher.Start();
  ASSERT_TRUE(WaitFor([&] { return client.watch_calls().size() == 1; }, seconds(10)));
  auto lists = client.list_calls();
  ASSERT_EQ(lists.size(), 3u);
  EXPECT_EQ(lists[1].continue_token, "cont-1");
  EXPECT_EQ(lists[2].continue_token, "");
  EXPECT_EQ(Keys(store), (std::vector<std::string>{"ns/a@5", "ns/c@21"}));
  EXPECT_EQ(client.watch_calls()[0].resource_version, "21");
  watcher.Stop();
}

TEST(WatcherTest, StopInterruptsABackoffWait) {
  ManualClock clock;
  ScriptedClient client;
  Store store;
  client.PushList(InternalError("down"));
  Watcher watcher(client, store, Options(clock));
  watcher.Start();
  clock.AwaitWaiters(1);
  watcher.Stop();  // returns without the clock moving
  EXPECT_EQ(client.list_calls().size(), 1u);
  EXPECT_FALSE(store.HasSynced());
}

TEST(WatcherTest, InformerCombinesStoreAndWatcher) {
  ManualClock clock;
  ScriptedClient client;
  client.PushList(Page({Obj("ns", "a", "5")}, "10"));
  Informer informer(client, Options(clock));
  informer.Start();
  ASSERT_TRUE(informer.store().WaitForSync(std::chrono::seconds(10)));
  EXPECT_TRUE(informer.HasSynced());
  EXPECT_NE(informer.store().Get({"ns", "a"}), nullptr);
  informer.Stop();
}

}  // namespace
}  // namespace vmrelease::kube

// Store (informer cache): snapshots, Replace semantics, handlers, indexes, threads.
#include "controller/kube/store.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "tests/unit/kube/fake_client.h"

namespace vmrelease::kube {
namespace {

using testing::Obj;

ObjectPtr P(Json j) { return std::make_shared<const Json>(std::move(j)); }

struct Recorded {
  std::mutex mu;
  std::vector<std::string> events;  // "add ns/a 1", "update ns/a 1->2", "delete ns/a 2"
  EventHandler Handler() {
    return {.on_add =
                [this](const ObjectPtr& o) {
                  std::lock_guard g(mu);
                  events.push_back("add " + KeyOf(*o) + " " + ResourceVersion(*o));
                },
            .on_update =
                [this](const ObjectPtr& a, const ObjectPtr& b) {
                  std::lock_guard g(mu);
                  events.push_back("update " + KeyOf(*b) + " " + ResourceVersion(*a) + "->" +
                                   ResourceVersion(*b));
                },
            .on_delete =
                [this](const ObjectPtr& o) {
                  std::lock_guard g(mu);
                  events.push_back("delete " + KeyOf(*o) + " " + ResourceVersion(*o));
                }};
  }
};

TEST(StoreTest, GetAndListBySnapshot) {
  Store store;
  store.Apply(P(Obj("ns1", "b", "1")));
  store.Apply(P(Obj("ns1", "a", "2")));
  store.Apply(P(Obj("ns2", "a", "3")));
  ASSERT_NE(store.Get({"ns1", "a"}), nullptr);
  EXPECT_EQ(store.GetByKey("ns2/a")->at("metadata").at("resourceVersion"), "3");
  EXPECT_EQ(store.Get({"ns3", "a"}), nullptr);
  EXPECT_EQ(store.Size(), 3u);
  auto all = store.List();
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(KeyOf(*all[0]), "ns1/a");  // key order
  EXPECT_EQ(store.List("ns1").size(), 2u);
  EXPECT_EQ(store.List("ns").size(), 0u);  // a prefix of a namespace is not that namespace

  // A snapshot handed out earlier does not change when the store moves on.
  ObjectPtr before = store.Get({"ns1", "a"});
  store.Apply(P(Obj("ns1", "a", "9", {{"x", 1}})));
  EXPECT_EQ(ResourceVersion(*before), "2");
  EXPECT_EQ(ResourceVersion(*store.Get({"ns1", "a"})), "9");
}

TEST(StoreTest, ReplaceMakesContentsExactAndReportsDifferences) {
  Store store;
  Recorded rec;
  store.AddHandler(rec.Handler());
  EXPECT_FALSE(store.HasSynced());
  EXPECT_FALSE(store.WaitForSync(std::chrono::milliseconds(1)));
  store.Replace({P(Obj("ns", "a", "1")), P(Obj("ns", "b", "2")), P(Obj("ns", "c", "3"))});
  EXPECT_TRUE(store.HasSynced());
  EXPECT_TRUE(store.WaitForSync(std::chrono::milliseconds(1)));
  // Relist: b vanished, c unchanged, a changed, d is new.
  store.Replace({P(Obj("ns", "a", "5")), P(Obj("ns", "c", "3")), P(Obj("ns", "d", "6"))});
  EXPECT_EQ(store.Size(), 3u);
  EXPECT_EQ(store.Get({"ns", "b"}), nullptr);
  EXPECT_EQ(rec.events,
            (std::vector<std::string>{"add ns/a 1", "add ns/b 2", "add ns/c 3", "delete ns/b 2",
                                      "update ns/a 1->5", "add ns/d 6"}));
}

TEST(StoreTest, ApplyAndDeleteNotifyHandlersThatMayReadTheStore) {
  Store store;
  std::vector<std::string> seen;
  store.AddHandler(
      {.on_add =
           [&](const ObjectPtr& o) {
             // Reading the store from a handler sees the new state (no deadlock).
             seen.push_back("add:" + std::to_string(store.Size()) + ":" +
                            ResourceVersion(*store.GetByKey(KeyOf(*o))));
           },
       .on_update = [&](const ObjectPtr&,
                        const ObjectPtr& o) { seen.push_back("update:" + ResourceVersion(*o)); },
       .on_delete =
           [&](const ObjectPtr& o) {
             seen.push_back("delete:" + std::to_string(store.Size()) + ":" + ResourceVersion(*o));
           }});
  store.Apply(P(Obj("ns", "a", "1")));
  store.Apply(P(Obj("ns", "a", "2")));
  store.Delete(P(Obj("ns", "a", "3")));
  store.Delete(P(Obj("ns", "never-seen", "4")));  // not reported
  EXPECT_EQ(seen, (std::vector<std::string>{"add:1:1", "update:2", "delete:0:3"}));
}

TEST(StoreTest, IndexesFollowAddsUpdatesAndDeletes) {
  Store store;
  store.Apply(P(Obj("ns", "pre", "1", {{"image", "sql"}})));
  store.AddIndex("image", [](const Json& o) {
    const Json* img = Find(o, {"spec", "image"});
    return img != nullptr && img->is_string() ? std::vector<std::string>{img->get<std::string>()}
                                              : std::vector<std::string>{};
  });
  EXPECT_EQ(store.ByIndex("image", "sql").size(), 1u);  // existing objects are indexed
  store.Apply(P(Obj("ns", "a", "2", {{"image", "sql"}})));
  store.Apply(P(Obj("ns", "b", "3", {{"image", "web"}})));
  EXPECT_EQ(store.ByIndex("image", "sql").size(), 2u);
  store.Apply(P(Obj("ns", "a", "4", {{"image", "web"}})));  // moves between values
  EXPECT_EQ(store.ByIndex("image", "sql").size(), 1u);
  EXPECT_EQ(store.ByIndex("image", "web").size(), 2u);
  store.Delete(P(Obj("ns", "b", "5")));
  EXPECT_EQ(store.ByIndex("image", "web").size(), 1u);
  store.Replace({P(Obj("ns", "z", "6", {{"image", "sql"}}))});
  EXPECT_EQ(store.ByIndex("image", "sql").size(), 1u);
  EXPECT_EQ(KeyOf(*store.ByIndex("image", "sql")[0]), "ns/z");
  EXPECT_TRUE(store.ByIndex("image", "web").empty());
  EXPECT_TRUE(store.ByIndex("missing-index", "x").empty());
}

TEST(StoreTest, ConcurrentReadersAndWriter) {
  Store store;
  std::atomic<bool> done{false};
  std::atomic<int64_t> reads{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 3; ++r) {
    readers.emplace_back([&] {
      while (!done) {
        for (const ObjectPtr& o : store.List()) {
          // Snapshots are immutable: reading them needs no lock.
          EXPECT_FALSE(ResourceVersion(*o).empty());
        }
        store.Get({"ns", "k7"});
        ++reads;
      }
    });
  }
  std::atomic<int> handled{0};
  store.AddHandler({.on_add = [&](const ObjectPtr&) { ++handled; },
                    .on_update = [&](const ObjectPtr&, const ObjectPtr&) { ++handled; },
                    .on_delete = [&](const ObjectPtr&) { ++handled; }});
  for (int i = 0; i < 3000; ++i) {
    const std::string name = "k" + std::to_string(i % 50);
    if (i % 7 == 0) {
      store.Delete(P(Obj("ns", name, std::to_string(i))));
    } else {
      store.Apply(P(Obj("ns", name, std::to_string(i))));
    }
    if (i % 1000 == 999) store.Replace({P(Obj("ns", "k1", std::to_string(i)))});
  }
  done = true;
  for (auto& t : readers) t.join();
  EXPECT_GT(reads, 0);
  EXPECT_GT(handled, 0);
}

}  // namespace
}  // namespace vmrelease::kube

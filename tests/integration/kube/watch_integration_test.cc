// Watcher + store + controller against the local API server: resume after
// dropped watches, relist after compaction, and watch resilience under faults.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "controller/common/log.h"
#include "controller/kube/controller.h"
#include "controller/kube/errors.h"
#include "controller/kube/watcher.h"
#include "tests/integration/kube/kube_test_util.h"

namespace vmrelease::kube {
namespace {

using itest::ClientFor;
using itest::Gadget;
using itest::kGadgets;
using itest::StartServer;
using std::chrono::milliseconds;
using std::chrono::seconds;
using ::vmrelease::testing::WaitFor;

// name → whole object, for comparing the store with the server.
std::map<std::string, Json> Snapshot(const Store& store) {
  std::map<std::string, Json> out;
  for (const ObjectPtr& o : store.List()) out[KeyOf(*o)] = *o;
  return out;
}

StatusOr<std::map<std::string, Json>> ServerState(KubeClient& client) {
  ASSIGN_OR_RETURN(ObjectList list, ListAll(client, kGadgets, {.limit = 500}));
  std::map<std::string, Json> out;
  for (Json& o : list.items) {
    const std::string key = KeyOf(o);  // before `o` is moved from
    out[key] = std::move(o);
  }
  return out;
}

// Describes the first difference, or "" when equal.
std::string Diff(const std::map<std::string, Json>& want, const std::map<std::string, Json>& got) {
  for (const auto& [k, v] : want) {
    auto it = got.find(k);
    if (it == got.end()) return "store lacks " + k;
    if (it->second != v)
      return k + " differs: server rv " + ResourceVersion(v) + ", store rv " +
             ResourceVersion(it->second);
  }
  for (const auto& [k, v] : got) {
    if (want.count(k) == 0) return "store has extra " + k;
  }
  return "";
}

WatcherOptions FastOptions() {
  WatcherOptions o;
  o.type = kGadgets;
  o.backoff = {.initial = milliseconds(100), .max = seconds(2), .factor = 2.0, .jitter = 0.2};
  return o;
}

TEST(WatchIntegrationTest, ResumesFromLastVersionAfterDroppedWatchesWithoutRelisting) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  auto client = ClientFor(*server);
  for (int i = 0; i < 5; ++i)
    ASSERT_TRUE(client->Create(kGadgets, Gadget("default", "a" + std::to_string(i))).ok());
  Informer informer(*client, FastOptions());
  informer.Start();
  ASSERT_TRUE(informer.store().WaitForSync(std::chrono::seconds(30)));
  EXPECT_EQ(informer.store().Size(), 5u);

  for (int round = 0; round < 3; ++round) {
    const int64_t watches = informer.stats().watches;
    ASSERT_TRUE(server->DropWatches().ok());
    ASSERT_TRUE(client->Create(kGadgets, Gadget("default", "b" + std::to_string(round))).ok());
    ASSERT_TRUE(client->Delete(kGadgets, {"default", "a" + std::to_string(round)}).ok());
    ASSERT_TRUE(WaitFor([&] { return informer.stats().watches > watches; }, seconds(30)));
  }
  auto want = ServerState(*client);
  ASSERT_TRUE(want.ok());
  ASSERT_TRUE(WaitFor([&] { return Diff(*want, Snapshot(informer.store())).empty(); }, seconds(30)))
      << Diff(*want, Snapshot(informer.store()));
  EXPECT_EQ(informer.stats().lists, 1);  // resumed every time, never relisted
  EXPECT_EQ(informer.stats().relists, 0);
  informer.Stop();
}

TEST(WatchIntegrationTest, RelistsAfterCompactionAndDropsObjectsDeletedMeanwhile) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  auto client = ClientFor(*server);
  for (const char* n : {"a", "b", "c"})
    ASSERT_TRUE(client->Create(kGadgets, Gadget("default", n)).ok());
  WatcherOptions o = FastOptions();
  // A long, exact first backoff: the window in which the test changes things behind its back.
  o.backoff = {.initial = seconds(3), .max = seconds(3), .factor = 1.0, .jitter = 0};
  Informer informer(*client, o);
  std::vector<std::string> deleted;
  std::mutex mu;
  informer.store().AddHandler({.on_delete = [&](const ObjectPtr& obj) {
    std::lock_guard g(mu);
    deleted.push_back(Name(*obj));
  }});
  informer.Start();
  ASSERT_TRUE(informer.store().WaitForSync(std::chrono::seconds(30)));

  // The next (re)watch fails once, so the watcher waits 3s holding an old version...
  ASSERT_TRUE(server->SetFaults({{"failNext", 1}, {"failNextCode", 500}}).ok());
  ASSERT_TRUE(server->DropWatches().ok());
  ASSERT_TRUE(WaitFor([&] { return informer.stats().errors >= 1; }, seconds(30)));
  // ...during which objects change and the history is compacted away.
  ASSERT_TRUE(client->Delete(kGadgets, {"default", "b"}).ok());
  ASSERT_TRUE(client->Create(kGadgets, Gadget("default", "d")).ok());
  ASSERT_TRUE(server->Compact().ok());

  ASSERT_TRUE(WaitFor([&] { return informer.stats().relists >= 1; }, seconds(30))) << server->log();
  auto want = ServerState(*client);
  ASSERT_TRUE(want.ok());
  ASSERT_TRUE(WaitFor([&] { return Diff(*want, Snapshot(informer.store())).empty(); }, seconds(30)))
      << Diff(*want, Snapshot(informer.store()));
  EXPECT_EQ(informer.store().Size(), 3u);  // a, c, d
  // Handlers run after the store has changed: wait for the report, and never hold
  // `mu` across Stop(), which waits for a watcher thread that may be inside the handler.
  EXPECT_TRUE(WaitFor(
      [&] {
        std::lock_guard g(mu);
        return !deleted.empty();
      },
      seconds(30)));
  {
    std::lock_guard g(mu);
    EXPECT_EQ(deleted, std::vector<std::string>{"b"});  // reported by the relist's Replace
  }
  informer.Stop();
}

// The reconciler of the resilience test: records overlap of the same key, and
// for every key the state it last reconciled (the store's resourceVersion, or
// "<absent>" for a deleted object), so the test can check that each key with an
// event was reconciled after its last change.
class OverlapDetector final : public Reconciler {
 public:
  explicit OverlapDetector(const Store& store) : store_(store) {}
  ReconcileResult Reconcile(const ObjectRef& ref) override {
    const std::string key = ref.Key();
    const ObjectPtr obj = store_.GetByKey(key);
    {
      std::lock_guard g(mu_);
      if (!in_flight_.insert(key).second) ++overlaps_;
      ++reconciles_;
      last_seen_[key] = obj ? ResourceVersion(*obj) : kAbsent;
    }
    // Some work, so an overlap would have a window to happen in.
    std::this_thread::sleep_for(std::chrono::microseconds(300));
    {
      std::lock_guard g(mu_);
      in_flight_.erase(key);
    }
    return Action::AwaitChange();
  }
  int overlaps() {
    std::lock_guard g(mu_);
    return overlaps_;
  }
  int reconciles() {
    std::lock_guard g(mu_);
    return reconciles_;
  }
  // key → the resourceVersion its last reconcile saw in the store, or kAbsent.
  std::map<std::string, std::string> last_seen() {
    std::lock_guard g(mu_);
    return last_seen_;
  }
  static constexpr const char* kAbsent = "<absent>";

 private:
  const Store& store_;
  std::mutex mu_;
  std::set<std::string> in_flight_;
  std::map<std::string, std::string> last_seen_;
  int overlaps_ = 0;
  int reconciles_ = 0;
};

// The keys the store dispatched an add, update or delete for.
class EventKeys {
 public:
  EventHandler Handler() {
    auto record = [this](const ObjectPtr& obj) {
      std::lock_guard g(mu_);
      keys_.insert(KeyOf(*obj));
    };
    return {.on_add = record,
            .on_update = [record](const ObjectPtr&, const ObjectPtr& obj) { record(obj); },
            .on_delete = record};
  }
  std::set<std::string> keys() {
    std::lock_guard g(mu_);
    return keys_;
  }

 private:
  std::mutex mu_;
  std::set<std::string> keys_;
};

// Holds the watcher thread inside a store handler while armed, so the test can
// make the watcher fall behind on purpose.
class Gate {
 public:
  void Arm() {
    std::lock_guard g(mu_);
    armed_ = true;
  }
  void Release() {
    std::lock_guard g(mu_);
    armed_ = false;
    cv_.notify_all();
  }
  bool blocked() {
    std::lock_guard g(mu_);
    return blocked_;
  }
  void Pass() {
    std::unique_lock lock(mu_);
    if (!armed_) return;
    blocked_ = true;
    cv_.wait(lock, [&] { return !armed_; });
    blocked_ = false;
  }
  EventHandler Handler() {
    return {.on_add = [this](const ObjectPtr&) { Pass(); },
            .on_update = [this](const ObjectPtr&, const ObjectPtr&) { Pass(); },
            .on_delete = [this](const ObjectPtr&) { Pass(); }};
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool armed_ = false, blocked_ = false;
};

// Retries one write of the test's own client until the server processed it
// (injected failures happen before processing; AlreadyExists / NotFound after a
// retry mean an earlier attempt won the race with our view, which is fine).
template <typename F>
void Write(F&& op, int* injected_failures) {
  for (int attempt = 0; attempt < 100; ++attempt) {
    Status s = op();
    if (s.ok() || IsAlreadyExists(s) || IsNotFound(s)) return;
    ASSERT_TRUE(IsTooManyRequests(s) || IsServerError(s)) << s.ToString();
    ++*injected_failures;
  }
  FAIL() << "write kept failing";
}

TEST(WatchIntegrationTest, ResilienceUnderDroppedWatchesErrorsAndCompaction) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  // The writer: its own client, no retries inside (the test retries), so its
  // requests also see the injected failures.
  RestClient::Options wo;
  wo.max_read_attempts = 1;
  auto writer = ClientFor(*server, wo);
  auto reader = ClientFor(*server);

  Informer informer(*reader, FastOptions());
  OverlapDetector detector(informer.store());
  EventKeys event_keys;
  informer.store().AddHandler(event_keys.Handler());
  ControllerOptions co;
  co.name = "resilience";
  co.workers = 4;
  co.store = &informer.store();
  Controller controller(std::move(co), detector);
  informer.store().AddHandler(controller.EnqueueHandler());
  Gate gate;
  informer.store().AddHandler(gate.Handler());
  informer.Start();
  ASSERT_TRUE(informer.store().WaitForSync(std::chrono::seconds(30)));
  controller.Start();

  ASSERT_TRUE(server
                  ->SetFaults({{"dropWatchesEveryMs", 300},
                               {"failRate", 0.1},
                               {"failCodes", Json::array({429, 500})}})
                  .ok());
  std::mt19937 rng(20260101);
  constexpr int kOps = 2000;
  constexpr int kKeys = 150;
  std::set<int> live;
  int creates = 0, updates = 0, deletes = 0, injected = 0;
  const auto started = std::chrono::steady_clock::now();
  for (int op = 0; op < kOps; ++op) {
    // Midway the history is compacted while the watcher is behind, so its
    // next watch gets 410 and it must relist: hold it on an event, drop its
    // stream, keep writing, compact, then let it go.
    if (op == kOps / 2) {
      gate.Arm();
      Write([&] { return writer->Create(kGadgets, Gadget("default", "gate-marker")).status(); },
            &injected);
      ASSERT_TRUE(WaitFor([&] { return gate.blocked(); }, seconds(30)));
      ASSERT_TRUE(server->DropWatches().ok());
    }
    if (op == kOps / 2 + 50) {
      ASSERT_TRUE(server->Compact().ok());
      gate.Release();
    }
    const int k = static_cast<int>(rng() % kKeys);
    const std::string name = "g" + std::to_string(k);
    const int dice = static_cast<int>(rng() % 10);
    if (live.count(k) == 0) {
      Write(
          [&] {
            return writer
                ->Create(kGadgets,
                         Gadget("default", name, {{"op", op}, {"pad", std::string(200, 'x')}}))
                .status();
          },
          &injected);
      live.insert(k);
      ++creates;
    } else if (dice < 7) {
      Write(
          [&] {
            return writer
                ->Patch(kGadgets, {"default", name}, PatchType::kMerge,
                        {{"spec", {{"op", op}, {"step", dice}}}})
                .status();
          },
          &injected);
      ++updates;
    } else {
      Write([&] { return writer->Delete(kGadgets, {"default", name}).status(); }, &injected);
      live.erase(k);
      ++deletes;
    }
  }
  const double write_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  ASSERT_TRUE(server->SetFaults(Json::object()).ok());

  auto want = ServerState(*reader);
  ASSERT_TRUE(want.ok()) << want.status().ToString();
  EXPECT_EQ(want->size(), live.size() + 1);  // + gate-marker
  std::string last_diff;
  const bool converged = WaitFor(
      [&] {
        last_diff = Diff(*want, Snapshot(informer.store()));
        return last_diff.empty();
      },
      seconds(60));
  EXPECT_TRUE(converged) << last_diff;
  // Every key that had an event was reconciled, and its last reconcile saw its
  // final state: the server's resourceVersion, or gone for a deleted object.
  // Handlers (and so the enqueue) run just after the store changed, so this is
  // awaited rather than read once the queue looks empty.
  auto unreconciled = [&] {
    std::vector<std::string> problems;
    const std::map<std::string, std::string> last_seen = detector.last_seen();
    for (const std::string& key : event_keys.keys()) {
      auto on_server = want->find(key);
      const std::string final_state =
          on_server == want->end() ? OverlapDetector::kAbsent : ResourceVersion(on_server->second);
      auto it = last_seen.find(key);
      if (it == last_seen.end()) {
        problems.push_back(key + " had events but was never reconciled");
      } else if (it->second != final_state) {
        problems.push_back(key + " was last reconciled at " + it->second + ", its final state is " +
                           final_state);
      }
    }
    return problems;
  };
  WaitFor([&] { return unreconciled().empty(); }, seconds(30));
  ASSERT_TRUE(WaitFor(
      [&] { return controller.queue().Len() == 0 && controller.queue().NumProcessing() == 0; },
      seconds(60)));
  controller.Stop();
  informer.Stop();
  EXPECT_EQ(detector.overlaps(), 0);  // never twice at once
  const std::vector<std::string> problems = unreconciled();
  for (size_t i = 0; i < std::min<size_t>(problems.size(), 5); ++i) ADD_FAILURE() << problems[i];
  EXPECT_EQ(problems.size(), 0u);
  const std::set<std::string> had_event = event_keys.keys();
  for (const auto& [key, object] : *want) {
    EXPECT_TRUE(had_event.contains(key)) << key << " is on the server but had no event";
  }
  EXPECT_GE(had_event.size(), static_cast<size_t>(kKeys));  // g0..g149 and gate-marker

  const Watcher::Stats st = informer.stats();
  std::printf(
      "resilience: %d ops (%d creates, %d updates, %d deletes) in %.1fs, %d injected write "
      "failures; final objects %zu; watcher: %lld lists (%lld after 410), %lld watches, %lld "
      "events, %lld backoffs; %d reconciles of %zu keys with events, %d overlaps\n",
      kOps, creates, updates, deletes, write_seconds, injected, want->size(),
      static_cast<long long>(st.lists), static_cast<long long>(st.relists),
      static_cast<long long>(st.watches), static_cast<long long>(st.events),
      static_cast<long long>(st.errors), detector.reconciles(), had_event.size(),
      detector.overlaps());
  EXPECT_GT(st.watches, 5);  // watches really were dropped and resumed
  EXPECT_GE(st.relists, 1);  // and the compaction forced a relist
  EXPECT_GT(injected, 0);    // and failures really were injected
}

}  // namespace
}  // namespace vmrelease::kube

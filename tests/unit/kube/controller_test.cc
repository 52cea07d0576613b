// Controller runner: how each Action and error kind is requeued, exceptions,
// the pause annotation, metrics and graceful shutdown. Timing via ManualClock.
#include "controller/kube/controller.h"

#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <map>
#include <regex>
#include <set>

#include "controller/common/log.h"
#include "tests/support/testing/process.h"

namespace vmrelease::kube {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::WaitFor;

// A reconciler driven by a function; counts calls per key.
class FuncReconciler final : public Reconciler {
 public:
  explicit FuncReconciler(std::function<ReconcileResult(const ObjectRef&)> fn)
      : fn_(std::move(fn)) {}
  ReconcileResult Reconcile(const ObjectRef& ref) override {
    {
      std::lock_guard g(mu_);
      ++calls_[ref.Key()];
    }
    return fn_(ref);
  }
  int calls(const std::string& key) {
    std::lock_guard g(mu_);
    return calls_[key];
  }

 private:
  std::function<ReconcileResult(const ObjectRef&)> fn_;
  std::mutex mu_;
  std::map<std::string, int> calls_;
};

class CountingMetrics final : public MetricsProvider {
 public:
  struct Rec final : ReconcileMetrics {
    std::mutex mu;
    std::map<std::string, int> results;
    int errors = 0, terminal = 0, observed = 0;
    int64_t max_concurrent = 0;
    void IncResult(std::string_view r) override {
      std::lock_guard g(mu);
      ++results[std::string(r)];
    }
    void IncErrors() override {
      std::lock_guard g(mu);
      ++errors;
    }
    void IncTerminalErrors() override {
      std::lock_guard g(mu);
      ++terminal;
    }
    void ObserveReconcileTime(double) override {
      std::lock_guard g(mu);
      ++observed;
    }
    void SetActiveWorkers(int64_t) override {}
    void SetMaxConcurrentReconciles(int64_t n) override {
      std::lock_guard g(mu);
      max_concurrent = n;
    }
  };
  Rec* rec = nullptr;
  std::unique_ptr<WorkQueueMetrics> NewWorkQueueMetrics(const std::string& n) override {
    return NullMetrics().NewWorkQueueMetrics(n);
  }
  std::unique_ptr<ReconcileMetrics> NewReconcileMetrics(const std::string&) override {
    auto r = std::make_unique<Rec>();
    rec = r.get();
    return r;
  }
  std::unique_ptr<LeaderElectionMetrics> NewLeaderElectionMetrics(const std::string& n) override {
    return NullMetrics().NewLeaderElectionMetrics(n);
  }
};

// One row: what Reconcile returns the first time, and what the runner must do.
struct ResultCase {
  std::string name;
  std::function<ReconcileResult()> first;
  // Expected: when the key comes back (nullopt: never, without a change).
  std::optional<Duration> requeued_after;
  std::string metric_result;
  int errors;    // controller_runtime_reconcile_errors_total
  int terminal;  // controller_runtime_terminal_reconcile_errors_total
};

class ControllerResultTest : public ::testing::TestWithParam<ResultCase> {};

TEST_P(ControllerResultTest, RequeuesAsTheResultSays) {
  const ResultCase& tc = GetParam();
  ManualClock clock;
  CountingMetrics metrics;
  std::atomic<int> n{0};
  FuncReconciler rec([&](const ObjectRef&) -> ReconcileResult {
    if (n++ == 0) return tc.first();
    return Action::AwaitChange();
  });
  ControllerOptions o;
  o.name = "t";
  o.clock = &clock;
  o.metrics = &metrics;
  // Per-item backoff only (no token bucket), so transient delays are exactly 5ms, 10ms, ...
  o.rate_limiter = std::make_unique<ItemExponentialRateLimiter>(milliseconds(5), seconds(1000));
  Controller ctl(std::move(o), rec);
  ctl.Start();
  ctl.Enqueue({"ns", "obj"});
  ASSERT_TRUE(WaitFor([&] { return rec.calls("ns/obj") == 1 && ctl.queue().NumProcessing() == 0; },
                      seconds(10)));
  {
    std::lock_guard g(metrics.rec->mu);
    EXPECT_EQ(metrics.rec->results[tc.metric_result], 1) << tc.metric_result;
    EXPECT_EQ(metrics.rec->errors, tc.errors);
    EXPECT_EQ(metrics.rec->terminal, tc.terminal);
    EXPECT_EQ(metrics.rec->observed, 1);
  }
  if (!tc.requeued_after) {
    EXPECT_EQ(ctl.queue().NumWaiting(), 0u);
    clock.Advance(seconds(3600));
    EXPECT_EQ(ctl.queue().Len(), 0u);
    EXPECT_EQ(rec.calls("ns/obj"), 1);
  } else {
    EXPECT_EQ(ctl.queue().NumWaiting(), 1u);
    clock.AwaitWaiters(1);
    clock.Advance(*tc.requeued_after - milliseconds(1));
    EXPECT_EQ(rec.calls("ns/obj"), 1) << "requeued too early";
    clock.Advance(milliseconds(1));
    ASSERT_TRUE(WaitFor([&] { return rec.calls("ns/obj") == 2; }, seconds(10)));
  }
  ctl.Stop();
}

ReconcileResult Throw() { throw std::runtime_error("boom"); }

INSTANTIATE_TEST_SUITE_P(
    Results, ControllerResultTest,
    ::testing::Values(
        ResultCase{"AwaitChange", [] { return Action::AwaitChange(); }, std::nullopt, "success", 0,
                   0},
        ResultCase{"RequeueAfter", [] { return Action::RequeueAfter(seconds(30)); }, seconds(30),
                   "requeue_after", 0, 0},
        ResultCase{"Transient",
                   [] { return ReconcileError::Transient(UnavailableError("azure 503")); },
                   milliseconds(5), "error", 1, 0},
        ResultCase{"PlainStatusIsTransient", [] { return ReconcileResult(AbortedError("409")); },
                   milliseconds(5), "error", 1, 0},
        ResultCase{"TransientHonoursRetryAfter",
                   [] {
                     Status s(StatusCode::kResourceExhausted, "throttled",
                              ErrorDetail{.http_status = 429, .retry_after = seconds(7)});
                     return ReconcileError::Transient(s);
                   },
                   seconds(7), "error", 1, 0},
        ResultCase{
            "Waiting",
            [] { return ReconcileError::Waiting(UnavailableError("replicating"), seconds(20)); },
            seconds(20), "requeue_after", 0, 0},
        ResultCase{"Stalled",
                   [] { return ReconcileError::Stalled(InvalidArgumentError("bad spec")); },
                   std::nullopt, "error", 1, 1},
        ResultCase{"ExceptionIsTransient", [] { return Throw(); }, milliseconds(5), "error", 1, 0}),
    [](const ::testing::TestParamInfo<ResultCase>& info) { return info.param.name; });

TEST(ControllerTest, TransientErrorsBackOffExponentiallyAndSuccessForgets) {
  ManualClock clock;
  std::atomic<int> n{0};
  FuncReconciler rec([&](const ObjectRef&) -> ReconcileResult {
    if (++n <= 3) return UnavailableError("not yet");
    return Action::AwaitChange();
  });
  ControllerOptions o;
  o.name = "t";
  o.clock = &clock;
  o.rate_limiter = std::make_unique<ItemExponentialRateLimiter>(milliseconds(5), seconds(1000));
  Controller ctl(std::move(o), rec);
  ctl.Start();
  ctl.Enqueue({"ns", "a"});
  for (int i = 1; i <= 3; ++i) {
    const milliseconds d(5 << (i - 1));  // 5, 10, 20
    ASSERT_TRUE(WaitFor([&] { return rec.calls("ns/a") == i && ctl.queue().NumWaiting() == 1; },
                        seconds(10)));
    EXPECT_EQ(ctl.queue().NumRequeues("ns/a"), i);
    clock.AwaitWaiters(1);
    clock.Advance(d - milliseconds(1));
    EXPECT_EQ(rec.calls("ns/a"), i);
    clock.Advance(milliseconds(1));
  }
  ASSERT_TRUE(WaitFor([&] { return rec.calls("ns/a") == 4 && ctl.queue().NumProcessing() == 0; },
                      seconds(10)));
  EXPECT_EQ(ctl.queue().NumRequeues("ns/a"), 0);  // success forgot the backoff
  ctl.Stop();
}

TEST(ControllerTest, KeyChangedDuringReconcileRunsAgainAfterwardsNeverConcurrently) {
  ManualClock clock;
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  std::atomic<int> in_flight{0}, max_in_flight{0};
  FuncReconciler rec([&](const ObjectRef&) -> ReconcileResult {
    int now = ++in_flight;
    int prev = max_in_flight.load();
    while (now > prev && !max_in_flight.compare_exchange_weak(prev, now)) {
    }
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return release; });
    --in_flight;
    return Action::AwaitChange();
  });
  ControllerOptions o;
  o.name = "t";
  o.clock = &clock;
  o.workers = 4;
  Controller ctl(std::move(o), rec);
  ctl.Start();
  ctl.Enqueue({"ns", "a"});
  ASSERT_TRUE(WaitFor([&] { return rec.calls("ns/a") == 1; }, seconds(10)));
  // Three changes while the first reconcile runs, with three idle workers.
  for (int i = 0; i < 3; ++i) ctl.Enqueue({"ns", "a"});
  EXPECT_EQ(rec.calls("ns/a"), 1);
  {
    std::lock_guard g(mu);
    release = true;
  }
  cv.notify_all();
  ASSERT_TRUE(WaitFor([&] { return rec.calls("ns/a") == 2 && ctl.queue().NumProcessing() == 0; },
                      seconds(10)));
  EXPECT_EQ(max_in_flight, 1);
  EXPECT_EQ(rec.calls("ns/a"), 2);  // once more, not three times
  ctl.Stop();
}

TEST(ControllerTest, PausedObjectsAreSkippedWithALogLine) {
  ManualClock clock;
  Store store;
  store.Replace({std::make_shared<const Json>(
                     Json{{"metadata",
                           {{"name", "paused"},
                            {"namespace", "ns"},
                            {"annotations", {{"vmrelease.io/reconcile", "disabled"}}}}}}),
                 std::make_shared<const Json>(
                     Json{{"metadata",
                           {{"name", "active"},
                            {"namespace", "ns"},
                            {"annotations", {{"vmrelease.io/reconcile", "enabled"}}}}}})});
  std::vector<std::string> lines;
  std::mutex lines_mu;
  log::SetCaptureForTesting([&](const std::string& l) {
    std::lock_guard g(lines_mu);
    lines.push_back(l);
  });
  FuncReconciler rec([](const ObjectRef&) { return Action::AwaitChange(); });
  ControllerOptions o;
  o.name = "t";
  o.clock = &clock;
  o.store = &store;
  Controller ctl(std::move(o), rec);
  ctl.Start();
  ctl.Enqueue({"ns", "paused"});
  ctl.Enqueue({"ns", "active"});
  ASSERT_TRUE(WaitFor(
      [&] {
        return rec.calls("ns/active") == 1 && ctl.queue().Len() == 0 &&
               ctl.queue().NumProcessing() == 0;
      },
      seconds(10)));
  ctl.Stop();
  log::SetCaptureForTesting(nullptr);
  EXPECT_EQ(rec.calls("ns/paused"), 0);
  bool logged = false;
  std::lock_guard g(lines_mu);
  for (const auto& l : lines) {
    if (l.find("paused") != std::string::npos && l.find("ns/paused") != std::string::npos)
      logged = true;
  }
  EXPECT_TRUE(logged);
}

// Every line of a reconcile — the runner's and the reconciler's own — names the
// controller, the object and the attempt: one UUID per reconcile, a new one for the
// next, and none on lines written outside a reconcile (controller-runtime's reconcileID).
TEST(ControllerTest, ReconcileLogLinesCarryTheObjectAndAReconcileId) {
  std::vector<Json> lines;
  std::mutex lines_mu;
  log::Init(log::Format::kJson, log::Level::kInfo);
  log::SetCaptureForTesting([&](const std::string& l) {
    std::lock_guard g(lines_mu);
    lines.push_back(Json::parse(l));
  });
  std::atomic<int> calls{0};
  FuncReconciler rec([&](const ObjectRef& ref) -> ReconcileResult {
    log::Info("test.reconciler", "step one", {{"step", 1}});
    log::Info("test.reconciler", "step two", {{"name", "explicit"}});
    if (++calls == 1) return ReconcileError::Stalled(InvalidArgumentError("bad " + ref.name));
    return Action::AwaitChange();
  });
  ControllerOptions o;
  o.name = "widget";
  Controller ctl(std::move(o), rec);
  ctl.Start();
  ctl.Enqueue({"ns", "w1"});
  ASSERT_TRUE(WaitFor([&] { return calls == 1 && ctl.queue().NumProcessing() == 0; }, seconds(10)));
  ctl.Enqueue({"ns", "w1"});
  ASSERT_TRUE(WaitFor([&] { return calls == 2 && ctl.queue().NumProcessing() == 0; }, seconds(10)));
  ctl.Stop();
  log::Info("test.reconciler", "after");
  log::SetCaptureForTesting(nullptr);

  std::lock_guard g(lines_mu);
  std::vector<std::string> ids;  // of each "step one" line
  std::string stalled_id;
  for (const Json& l : lines) {
    const std::string msg = l.value("msg", "");
    if (msg == "after") {
      EXPECT_FALSE(l.contains("reconcileID")) << l.dump();
      continue;
    }
    if (msg != "step one" && msg != "step two" && msg != "reconcile stalled; waiting for a change")
      continue;
    EXPECT_EQ(l.value("controller", ""), "widget") << l.dump();
    EXPECT_EQ(l.value("namespace", ""), "ns") << l.dump();
    // A field the line sets itself wins over the reconcile's.
    EXPECT_EQ(l.value("name", ""), msg == "step two" ? "explicit" : "w1") << l.dump();
    const std::string id = l.value("reconcileID", "");
    EXPECT_TRUE(std::regex_match(
        id, std::regex("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")))
        << l.dump();
    if (msg == "step one") ids.push_back(id);
    if (msg == "reconcile stalled; waiting for a change") stalled_id = id;
  }
  ASSERT_EQ(ids.size(), 2u);
  EXPECT_NE(ids[0], ids[1]) << "each reconcile gets its own id";
  EXPECT_EQ(stalled_id, ids[0]) << "the runner's line of the first reconcile shares its id";
}

TEST(ControllerTest, StoreHandlerEnqueuesAddsUpdatesAndDeletes) {
  ManualClock clock;
  Store store;
  FuncReconciler rec([](const ObjectRef&) { return Action::AwaitChange(); });
  ControllerOptions o;
  o.name = "t";
  o.clock = &clock;
  Controller ctl(std::move(o), rec);
  store.AddHandler(ctl.EnqueueHandler());
  auto obj = [](const std::string& rv) {
    return std::make_shared<const Json>(
        Json{{"metadata", {{"name", "a"}, {"namespace", "ns"}, {"resourceVersion", rv}}}});
  };
  store.Replace({obj("1")});
  EXPECT_EQ(ctl.queue().Get(), "ns/a");
  ctl.queue().Done("ns/a");
  store.Apply(obj("2"));
  EXPECT_EQ(ctl.queue().Get(), "ns/a");
  ctl.queue().Done("ns/a");
  store.Delete(obj("3"));
  EXPECT_EQ(ctl.queue().Get(), "ns/a");
  ctl.queue().Done("ns/a");
}

TEST(ControllerTest, ResyncReconcilesEveryCachedObjectOncePerPeriod) {
  ManualClock clock;
  Store store;
  FuncReconciler rec([](const ObjectRef&) { return Action::AwaitChange(); });
  ControllerOptions o;
  o.name = "t";
  o.clock = &clock;
  o.store = &store;
  o.resync_period = std::chrono::minutes(10);
  Controller ctl(std::move(o), rec);
  store.AddHandler(ctl.EnqueueHandler());
  auto obj = [](const std::string& name) {
    return std::make_shared<const Json>(
        Json{{"metadata", {{"name", name}, {"namespace", "ns"}, {"resourceVersion", "1"}}}});
  };
  store.Replace({obj("a"), obj("b")});
  ctl.Start();
  ASSERT_TRUE(
      WaitFor([&] { return rec.calls("ns/a") == 1 && rec.calls("ns/b") == 1; }, seconds(10)));
  clock.AwaitWaiters(1);  // the resync timer
  clock.Advance(std::chrono::minutes(9));
  std::this_thread::sleep_for(milliseconds(50));
  EXPECT_EQ(rec.calls("ns/a"), 1) << "no resync before the period";
  clock.Advance(std::chrono::minutes(1));
  ASSERT_TRUE(
      WaitFor([&] { return rec.calls("ns/a") == 2 && rec.calls("ns/b") == 2; }, seconds(10)));
  clock.AwaitWaiters(1);
  clock.Advance(std::chrono::minutes(10));
  ASSERT_TRUE(
      WaitFor([&] { return rec.calls("ns/a") == 3 && rec.calls("ns/b") == 3; }, seconds(10)));
  EXPECT_TRUE(ctl.Stop());
}

TEST(ControllerTest, StopFinishesInFlightAndTakesNoNewWork) {
  ManualClock clock;
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  FuncReconciler rec([&](const ObjectRef& ref) -> ReconcileResult {
    if (ref.name == "slow") {
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return release; });
    }
    return Action::AwaitChange();
  });
  ControllerOptions o;
  o.name = "t";
  o.clock = &clock;
  o.workers = 1;
  o.shutdown_timeout = seconds(30);
  Controller ctl(std::move(o), rec);
  ctl.Start();
  ctl.Enqueue({"ns", "slow"});
  ASSERT_TRUE(WaitFor([&] { return rec.calls("ns/slow") == 1; }, seconds(10)));
  ctl.Enqueue({"ns", "queued"});
  std::atomic<int> stop_result{-1};
  std::thread stopper([&] { stop_result = ctl.Stop() ? 1 : 0; });
  clock.AwaitWaiters(1);  // Stop() is waiting for the in-flight reconcile
  EXPECT_EQ(stop_result, -1);
  {
    std::lock_guard g(mu);
    release = true;
  }
  cv.notify_all();
  stopper.join();
  EXPECT_EQ(stop_result, 1);
  EXPECT_EQ(rec.calls("ns/queued"), 0);  // queued work was not started after Stop()
}

TEST(ControllerTest, StopIsBoundedByTheShutdownTimeout) {
  ManualClock clock;
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  FuncReconciler rec([&](const ObjectRef&) -> ReconcileResult {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return release; });
    return Action::AwaitChange();
  });
  ControllerOptions o;
  o.name = "t";
  o.clock = &clock;
  o.shutdown_timeout = seconds(5);
  auto ctl = std::make_unique<Controller>(std::move(o), rec);
  ctl->Start();
  ctl->Enqueue({"ns", "stuck"});
  ASSERT_TRUE(WaitFor([&] { return rec.calls("ns/stuck") == 1; }, seconds(10)));
  std::atomic<int> stop_result{-1};
  std::thread stopper([&] { stop_result = ctl->Stop() ? 1 : 0; });
  clock.AwaitWaiters(1);
  clock.Advance(seconds(5));
  stopper.join();
  EXPECT_EQ(stop_result, 0);  // gave up waiting
  {
    std::lock_guard g(mu);
    release = true;
  }
  cv.notify_all();
  ctl.reset();  // the destructor waits for the stuck reconcile
}

TEST(ControllerTest, ReportsMaxConcurrentReconciles) {
  CountingMetrics metrics;
  FuncReconciler rec([](const ObjectRef&) { return Action::AwaitChange(); });
  ControllerOptions o;
  o.name = "t";
  o.workers = 3;
  o.metrics = &metrics;
  Controller ctl(std::move(o), rec);
  std::lock_guard g(metrics.rec->mu);
  EXPECT_EQ(metrics.rec->max_concurrent, 3);
}

}  // namespace
}  // namespace vmrelease::kube

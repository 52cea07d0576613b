#include "controller/kube/controller.h"

#include <exception>

#include "controller/common/crypto.h"
#include "controller/common/log.h"

namespace vmrelease::kube {
namespace {

constexpr char kLogger[] = "kube.controller";

int64_t Millis(Duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

}  // namespace

const char* ErrorKindName(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kTransient:
      return "transient";
    case ErrorKind::kWaiting:
      return "waiting";
    case ErrorKind::kStalled:
      return "stalled";
  }
  return "unknown";
}

ReconcileResult::ReconcileResult(Status status)
    : v_(ReconcileError::Transient(
          status.ok() ? InternalError("ReconcileResult built from an OK status") : status)) {}

RetryDecision DefaultErrorPolicy(const ObjectRef&, const ReconcileError& error) {
  switch (error.kind()) {
    case ErrorKind::kTransient: {
      RetryDecision d{RetryDecision::Kind::kRateLimited, Duration::zero()};
      if (error.status().detail().retry_after) d.after = *error.status().detail().retry_after;
      return d;
    }
    case ErrorKind::kWaiting:
      return {RetryDecision::Kind::kAfter, error.requeue_after()};
    case ErrorKind::kStalled:
      return {RetryDecision::Kind::kNever, Duration::zero()};
  }
  return {};
}

Controller::Controller(ControllerOptions options, Reconciler& reconciler)
    : options_(std::move(options)),
      reconciler_(reconciler),
      clock_(options_.clock != nullptr ? *options_.clock : RealClock::Get()),
      queue_(WorkQueue::Options{.name = options_.name,
                                .clock = &clock_,
                                .rate_limiter = std::move(options_.rate_limiter),
                                .metrics = options_.metrics}),
      metrics_(options_.metrics != nullptr ? options_.metrics->NewReconcileMetrics(options_.name)
                                           : nullptr) {
  if (options_.workers < 1) options_.workers = 1;
  if (!options_.error_policy) options_.error_policy = DefaultErrorPolicy;
  if (metrics_) {
    metrics_->SetMaxConcurrentReconciles(options_.workers);
    metrics_->SetActiveWorkers(0);
  }
}

Controller::~Controller() {
  {
    std::lock_guard g(mu_);
    stopping_ = true;
  }
  resync_cv_.notify_all();
  queue_.ShutDown();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  if (resync_thread_.joinable()) resync_thread_.join();
}

EventHandler Controller::EnqueueHandler() {
  auto enqueue = [this](const ObjectPtr& obj) { queue_.Add(KeyOf(*obj)); };
  return EventHandler{
      .on_add = enqueue,
      .on_update = [this](const ObjectPtr&, const ObjectPtr& obj) { queue_.Add(KeyOf(*obj)); },
      .on_delete = enqueue,
  };
}

void Controller::Start() {
  std::lock_guard g(mu_);
  if (started_) return;
  started_ = true;
  running_workers_ = options_.workers;
  for (int i = 0; i < options_.workers; ++i) threads_.emplace_back([this] { Worker(); });
  if (options_.resync_period > Duration::zero() && options_.store)
    resync_thread_ = std::thread([this] { Resync(); });
  log::Info(kLogger, "starting workers",
            {{"controller", options_.name},
             {"workers", options_.workers},
             {"resync_ms", Millis(options_.resync_period)}});
}

void Controller::Resync() {
  std::unique_lock lock(mu_);
  TimePoint next = clock_.Now() + options_.resync_period;
  while (!stopping_) {
    if (clock_.Now() < next) {
      clock_.WaitUntil(lock, resync_cv_, next);
      continue;
    }
    next = clock_.Now() + options_.resync_period;
    lock.unlock();
    size_t n = 0;
    for (const ObjectPtr& obj : options_.store->List()) {
      queue_.AddLowPriority(KeyOf(*obj));  // never ahead of what a watch event asked for
      ++n;
    }
    log::Debug(kLogger, "resync", {{"controller", options_.name}, {"objects", n}});
    lock.lock();
  }
}

bool Controller::Stop() {
  {
    std::lock_guard g(mu_);
    stopping_ = true;
  }
  resync_cv_.notify_all();
  queue_.ShutDown();
  std::unique_lock lock(mu_);
  const TimePoint deadline = clock_.Now() + options_.shutdown_timeout;
  while (running_workers_ > 0 && clock_.Now() < deadline) {
    clock_.WaitUntil(lock, idle_cv_, deadline);
  }
  if (running_workers_ > 0) {
    log::Error(kLogger, "shutdown timeout: reconciles still running",
               {{"controller", options_.name},
                {"running", running_workers_},
                {"timeout_ms", Millis(options_.shutdown_timeout)}});
    return false;
  }
  lock.unlock();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  if (resync_thread_.joinable()) resync_thread_.join();
  log::Info(kLogger, "stopped", {{"controller", options_.name}});
  return true;
}

void Controller::Worker() {
  while (std::optional<std::string> key = queue_.Get()) {
    // After Stop() the queue still hands out what it holds: drop it unprocessed.
    if (!stopping_) ProcessItem(*key);
    queue_.Done(*key);
  }
  std::lock_guard g(mu_);
  --running_workers_;
  idle_cv_.notify_all();
}

void Controller::ProcessItem(const std::string& key) {
  const ObjectRef ref = ObjectRef::FromKey(key);
  // Every line this worker writes until the item is done, the reconciler's included,
  // names the object and this attempt (controller-runtime's reconcileID).
  const log::ScopedFields scope({{"controller", options_.name},
                                 {"namespace", ref.ns},
                                 {"name", ref.name},
                                 {"reconcileID", RandomUuid()}});
  if (options_.store != nullptr) {
    ObjectPtr obj = options_.store->Get(ref);
    if (obj && IsReconcilePaused(*obj)) {
      log::Info(kLogger, "reconcile paused by annotation; skipping",
                {{"controller", options_.name},
                 {"key", key},
                 {"annotation", std::string(kReconcileAnnotation)}});
      queue_.Forget(key);
      return;
    }
    if (log::Enabled(log::Level::kDebug)) {
      // What the reconcile is about to see (controller-runtime logs "Reconciling" at V(1)).
      log::Debug(kLogger, "reconcile started",
                 {{"controller", options_.name},
                  {"namespace", ref.ns},
                  {"name", ref.name},
                  {"resourceVersion", obj ? ResourceVersion(*obj) : ""},
                  {"generation", obj ? Generation(*obj) : 0}});
    }
  }

  const int64_t active = ++active_;
  if (metrics_) metrics_->SetActiveWorkers(active);
  const TimePoint start = clock_.Now();
  std::optional<ReconcileResult> result;
  try {
    result.emplace(reconciler_.Reconcile(ref));
  } catch (const std::exception& e) {
    result.emplace(ReconcileError::Transient(
        InternalError(std::string("reconcile threw an exception: ") + e.what())));
  } catch (...) {
    result.emplace(
        ReconcileError::Transient(InternalError("reconcile threw a non-standard exception")));
  }
  const Duration took = clock_.Now() - start;
  const int64_t still_active = --active_;
  if (metrics_) metrics_->SetActiveWorkers(still_active);
  if (metrics_) metrics_->ObserveReconcileTime(std::chrono::duration<double>(took).count());

  if (result->ok()) {
    queue_.Forget(key);
    const auto& after = result->action().requeue_after();
    if (after) {
      if (metrics_) metrics_->IncResult("requeue_after");
      queue_.AddAfter(key, *after);
    } else if (metrics_) {
      metrics_->IncResult("success");
    }
    log::Debug(kLogger, "reconciled",
               {{"controller", options_.name},
                {"key", key},
                {"duration_ms", Millis(took)},
                {"requeue_after_ms", after ? Millis(*after) : -1}});
    return;
  }

  const ReconcileError& err = result->error();
  const RetryDecision decision = options_.error_policy(ref, err);
  switch (err.kind()) {
    case ErrorKind::kTransient:
      if (metrics_) {
        metrics_->IncResult("error");
        metrics_->IncErrors();
      }
      log::Warn(kLogger, "reconcile failed; will retry",
                {{"controller", options_.name},
                 {"key", key},
                 {"error", err.status().ToString()},
                 {"requeues", queue_.NumRequeues(key)}});
      break;
    case ErrorKind::kWaiting:
      if (metrics_) metrics_->IncResult("requeue_after");
      log::Info(kLogger, "reconcile waiting",
                {{"controller", options_.name},
                 {"key", key},
                 {"reason", err.status().message()},
                 {"requeue_after_ms", Millis(err.requeue_after())}});
      break;
    case ErrorKind::kStalled:
      if (metrics_) {
        metrics_->IncResult("error");
        metrics_->IncErrors();
        metrics_->IncTerminalErrors();
      }
      log::Warn(kLogger, "reconcile stalled; waiting for a change",
                {{"controller", options_.name}, {"key", key}, {"error", err.status().ToString()}});
      break;
  }
  switch (decision.kind) {
    case RetryDecision::Kind::kRateLimited:
      queue_.AddRateLimited(key, decision.after);
      break;
    case RetryDecision::Kind::kAfter:
      queue_.Forget(key);
      queue_.AddAfter(key, decision.after);
      break;
    case RetryDecision::Kind::kNever:
      queue_.Forget(key);
      break;
  }
}

}  // namespace vmrelease::kube

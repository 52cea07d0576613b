// What a reconcile returns: a tiny Action on success, or an error with a kind
// that tells the runner how to retry (kube-rs `Action` + an error policy).
//
//   ReconcileResult Reconcile(const ObjectRef& ref) override {
//     ObjectPtr obj = store_.Get(ref);
//     if (!obj) return Action::AwaitChange();                 // gone: nothing to do
//     RETURN_IF_ERROR(client_.Patch(...));                    // a Status → transient error
//     if (waiting_on_azure) return ReconcileError::Waiting(
//         UnavailableError("replication in progress"), std::chrono::seconds(30));
//     if (bad_spec) return ReconcileError::Stalled(InvalidArgumentError("..."));
//     return Action::RequeueAfter(std::chrono::minutes(10));
//   }
//
// Kinds:
//   kTransient – something failed that may work next time: retried with the
//                queue's rate limiter (5 ms doubling to 1000 s, at least any
//                Retry-After the server sent).
//   kWaiting   – not a failure, a wait (an Azure operation is running): requeued
//                after the given delay, and the per-item backoff is reset.
//   kStalled   – the user must act: no automatic retry. The reconciler has
//                recorded a Stalled condition; a change to the object brings it back.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>

#include "controller/common/clock.h"
#include "controller/common/status.h"

namespace vmrelease::kube {

class Action {
 public:
  static Action RequeueAfter(Duration d) { return Action(d); }
  // Done until the object (or something mapped to it) changes.
  static Action AwaitChange() { return Action(std::nullopt); }
  const std::optional<Duration>& requeue_after() const { return requeue_after_; }

 private:
  explicit Action(std::optional<Duration> d) : requeue_after_(d) {}
  std::optional<Duration> requeue_after_;
};

enum class ErrorKind { kTransient, kWaiting, kStalled };
const char* ErrorKindName(ErrorKind kind);

class ReconcileError {
 public:
  static ReconcileError Transient(Status status) {
    return ReconcileError(ErrorKind::kTransient, std::move(status), Duration::zero());
  }
  static ReconcileError Waiting(Status status, Duration requeue_after) {
    return ReconcileError(ErrorKind::kWaiting, std::move(status), requeue_after);
  }
  static ReconcileError Stalled(Status status) {
    return ReconcileError(ErrorKind::kStalled, std::move(status), Duration::zero());
  }
  ErrorKind kind() const { return kind_; }
  const Status& status() const { return status_; }
  Duration requeue_after() const { return requeue_after_; }

 private:
  ReconcileError(ErrorKind kind, Status status, Duration after)
      : kind_(kind), status_(std::move(status)), requeue_after_(after) {}
  ErrorKind kind_;
  Status status_;
  Duration requeue_after_;
};

// Action or ReconcileError. A non-ok Status converts to a transient error, so
// RETURN_IF_ERROR / ASSIGN_OR_RETURN work inside Reconcile().
class [[nodiscard]] ReconcileResult {
 public:
  // NOLINTNEXTLINE(google-explicit-constructor)
  ReconcileResult(Action action) : v_(std::move(action)) {}
  // NOLINTNEXTLINE(google-explicit-constructor)
  ReconcileResult(ReconcileError error) : v_(std::move(error)) {}
  // NOLINTNEXTLINE(google-explicit-constructor)
  ReconcileResult(Status status);

  bool ok() const { return std::holds_alternative<Action>(v_); }
  const Action& action() const { return std::get<Action>(v_); }
  const ReconcileError& error() const { return std::get<ReconcileError>(v_); }

 private:
  std::variant<Action, ReconcileError> v_;
};

}  // namespace vmrelease::kube

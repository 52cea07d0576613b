// The ImageRelease reconciler: drives one release through
// Pending → Building → Staging → Validating → Publishing → Released (or
// Failed), survives a kill -9 at any point, and costs nothing once Released.
//
//   release::Reconciler reconciler({.client = client, .releases = informer.store(),
//                                   .pins = &pin_store, .env = env, .backends = backends,
//                                   .publish_event = [&](kube::Event e) { recorder.Publish(e); }});
//   kube::Controller controller({.name = "imagerelease", ...}, reconciler);
//
// Reading top to bottom (Flux style), Reconcile():
//   1. fetch from the store; gone → done; a store that has not caught up with
//      our own last status write → requeue (never act on a status we replaced);
//   2. refuse what cannot be handled safely (nested too deep, unparsable) with
//      Stalled/InvalidSpec;
//   3. deleting → the Delete step (what holds it, what deletionPolicy removes),
//      then the finalizer goes; nothing else runs;
//   4. ensure the finalizer;
//   5. the vmrelease.io/retry annotation;
//   6. the ordered steps (steps.h), each returning at once when its work is done;
//   7. one exit: conditions summarised into Ready / Reconciling / Stalled with
//      observedGeneration, status patched only if it changed (a merge patch with
//      a resourceVersion precondition), then the Events for what changed.
// Guarantees: every remote side effect uses a name derived from the release or
// is recorded in status before the controller waits on it, so running Reconcile
// again after a crash at any line gives the same result. Transient failures are
// retried with backoff and, after kMaxTransientFailures in a row, fail the step.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <string>

#include "controller/kube/controller.h"
#include "controller/kube/events.h"
#include "controller/kube/own_writes.h"
#include "controller/kube/store.h"
#include "controller/release/steps.h"

namespace vmrelease::release {

inline constexpr char kFinalizer[] = "vmrelease.io/release";
inline constexpr int kMaxTransientFailures = 10;
// How often a release stalled inside a step (not by its spec) is looked at again: 15 Azure
// poll intervals, at most this.
inline constexpr Duration kStepStallRecheck = std::chrono::minutes(5);

struct ReconcilerOptions {
  kube::KubeClient& client;
  const kube::Store& releases;
  const kube::Store* pins = nullptr;
  Environment& env;
  Backends backends;
  kube::ResourceType type;                         // imagereleases.vmrelease.io/v1alpha1
  std::function<void(kube::Event)> publish_event;  // null: Events are dropped
};

class Reconciler final : public kube::Reconciler {
 public:
  explicit Reconciler(ReconcilerOptions options);
  kube::ReconcileResult Reconcile(const kube::ObjectRef& ref) override;

 private:
  kube::ReconcileResult StallRaw(const kube::Json& obj, const std::string& message);
  kube::ReconcileResult Finish(ReleaseContext& ctx, const kube::Json& obj,
                               const api::ImageReleaseStatus& before, StepResult result,
                               std::optional<api::ReleaseStep> step);
  void Summarize(ReleaseContext& ctx, const StepResult& result);
  void ObservePhaseChange(ReleaseContext& ctx, api::ReleasePhase from, api::ReleasePhase to);

  ReconcilerOptions o_;
  Steps steps_;
  std::mutex mu_;
  std::map<std::string, int> transient_;           // uid → consecutive transient failures
  std::map<std::string, WallTime> phase_started_;  // uid → when the current phase began
  // The informer cache lags our own writes. After a write based on resourceVersion
  // R, a reconcile that still sees R would act on a status we already replaced (and
  // repeat or undo side effects before its own write is refused): it waits instead.
  kube::OwnWrites own_writes_;
};

}  // namespace vmrelease::release

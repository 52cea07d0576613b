// JobController: the job runner's stand-in for kube-controller-manager's Job
// controller (../shared/reference/kubernetes/jobs.md §2-6), for NonIndexed Jobs.
//
//   JobController jobs(client, job_store, pod_store, &events, clock,
//                      {.interim_conditions = true});   // Kubernetes 1.31+ conditions
//   kube::Controller ctl({.name = "job", .store = &job_store}, jobs);
//
// Reconcile(job), top to bottom:
//   1. gone, not ours (spec.managedBy), Indexed -> nothing;
//   2. finished or being deleted -> let its Pods go (job-tracking finalizers);
//   3. suspend / resume (Suspended condition, active Pods deleted, startTime
//      reset on resume); startTime on the first sync;
//   4. newly finished Pods are recorded in status.uncountedTerminatedPods,
//      then their finalizers are removed, then they move to succeeded/failed
//      (the controller's two-phase counting, two status PUTs);
//   5. the outcome: activeDeadlineSeconds -> DeadlineExceeded; failed >
//      backoffLimit (Never) or container restarts >= backoffLimit (OnFailure)
//      -> BackoffLimitExceeded; enough successes -> CompletionsReached. With
//      interim conditions (1.31+) FailureTarget / SuccessCriteriaMet come first,
//      remaining Pods are deleted, and Failed / Complete (+ completionTime)
//      follow once no Pod is left running; without (<= 1.30) Failed / Complete
//      come at once, Complete with an empty reason;
//   6. otherwise Pods are created up to parallelism (and the completions
//      left), after the failure back-off (10 s doubling, at most 10 min).
// Status is written with PUT to /status against the cached resourceVersion; a
// conflict (the cache behind a write) is a 200 ms wait, then the next pass
// works from fresher state; other API errors are transient.
// Events: SuccessfulCreate, SuccessfulDelete, Completed, the failure reason,
// Suspended, Resumed.
#pragma once

#include <map>
#include <mutex>
#include <set>
#include <string>

#include "controller/common/clock.h"
#include "controller/kube/controller.h"
#include "controller/kube/events.h"
#include "controller/kube/store.h"

namespace vmrelease::jobrunner {

// Store index of Pods by the uid of their controlling owner.
inline constexpr char kPodOwnerIndex[] = "owner";
// The index function behind kPodOwnerIndex.
std::vector<std::string> ControllerOwnerUid(const kube::Json& pod);

struct JobControllerOptions {
  // Jobs whose spec.managedBy equals this; empty: Jobs without managedBy or
  // with kubernetes.io/job-controller (those the built-in controller takes).
  std::string managed_by;
  bool interim_conditions = true;                           // Kubernetes 1.31+ condition sequence
  Duration pod_failure_backoff = std::chrono::seconds(10);  // 0: replace at once
  Duration max_pod_failure_backoff = std::chrono::minutes(10);
  std::string scheduling_gate;  // added to created Pods when non-empty
};

class JobController final : public kube::Reconciler {
 public:
  JobController(kube::KubeClient& client, const kube::Store& jobs, const kube::Store& pods,
                kube::EventRecorder* events, Clock& clock, JobControllerOptions options);

  kube::ReconcileResult Reconcile(const kube::ObjectRef& ref) override;

  static bool Manages(const kube::Json& job, const std::string& managed_by);
  // The Pod the controller creates for `job` (without a name: generateName).
  static kube::Json PodFor(const kube::Json& job, const std::string& scheduling_gate);

 private:
  kube::ReconcileResult LetPodsGo(const kube::Json& job, const std::vector<kube::ObjectPtr>& pods);
  Status CreatePod(const kube::Json& job);
  // Whether the server lists a Pod of `job` that `cached` lacks or has at
  // another resourceVersion.
  StatusOr<bool> CacheLagsBehindServer(const kube::Json& job,
                                       const std::vector<kube::ObjectPtr>& cached);
  Status DeletePod(const kube::Json& job, const kube::Json& pod, bool remove_finalizer);
  Status RemoveFinalizer(const kube::Json& pod);
  // Pods created but not yet in the cache (so they are not created twice).
  int PendingCreates(const std::string& job_uid, const std::vector<kube::ObjectPtr>& pods);
  void Event(const kube::Json& job, bool warning, const std::string& reason,
             const std::string& note);

  kube::KubeClient& client_;
  const kube::Store& jobs_;
  const kube::Store& pods_;
  kube::EventRecorder* events_;
  Clock& clock_;
  JobControllerOptions options_;

  std::mutex mu_;
  std::map<std::string, std::map<std::string, TimePoint>> expected_;  // job uid -> pod names
  std::set<std::string> warned_indexed_;
  // Finished Pods already counted whose finalizer removal the Pod cache may not show yet
  // (the Job controller's finalizer-removal expectations): never counted twice.
  std::map<std::string, std::set<std::string>> counted_;  // job uid -> pod uids
};

}  // namespace vmrelease::jobrunner

// Kubelet: the job runner's node agent. Reconciles the Pods the runner created
// (annotation vmrelease.io/job-runner): runs the first container as a local
// process (ProcessTable), writes Pod status the way the kubelet does
// (pod_status.h), restarts OnFailure containers in place, enforces the Pod's
// own activeDeadlineSeconds, kills the process when the Pod is deleted, and
// ships the output for `kubectl logs` (LogShipper).
//
//   Kubelet kubelet(client, pods, jobs, table, shipper, &events, clock, {});
//   kube::Controller ctl({.name = "kubelet", .store = &pods}, kubelet);
//
// Reconcile(pod), top to bottom:
//   1. gone -> nothing (OnPodDeleted already killed its process);
//   2. the job-tracking finalizer of a Pod whose Job is gone (orphaned, or
//      deleted in the background) is removed, as the Job controller does;
//   3. terminal phase -> nothing;
//   4. deleting -> SIGTERM to the process group, SIGKILL after the grace
//      period, then the terminal phase (Failed, or Succeeded if it exited 0);
//   5. never launched here -> start it (unless its status says it ran
//      somewhere: then Failed, ContainerStatusUnknown; never started twice);
//   6. running -> status Running; the Pod's activeDeadlineSeconds;
//   7. exited -> logs flushed, then terminated status (exit code, reason,
//      termination message); OnFailure restarts after 0 s, 10 s, 20 s ...
//      (--restart-backoff doubling, at most 300 s).
// Errors are transient (API writes) and retried by the controller.
#pragma once

#include <map>
#include <mutex>
#include <set>
#include <string>

#include "controller/common/clock.h"
#include "controller/kube/controller.h"
#include "controller/kube/events.h"
#include "controller/kube/store.h"
#include "tests/support/jobrunner/log_shipper.h"
#include "tests/support/jobrunner/processes.h"

namespace vmrelease::jobrunner {

inline constexpr char kRunnerAnnotation[] = "vmrelease.io/job-runner";
inline constexpr char kJobTrackingFinalizer[] = "batch.kubernetes.io/job-tracking";
// Store index of Pods by uid.
inline constexpr char kPodUidIndex[] = "uid";

struct KubeletOptions {
  Duration restart_backoff = std::chrono::seconds(10);  // OnFailure: first restart at once
  Duration max_restart_backoff = std::chrono::seconds(300);
  Duration config_retry = std::chrono::seconds(2);  // CreateContainerConfigError
  std::string path_env;                             // PATH for containers that set none
};

class Kubelet final : public kube::Reconciler {
 public:
  Kubelet(kube::KubeClient& client, const kube::Store& pods, const kube::Store& jobs,
          ProcessTable& table, LogShipper& shipper, kube::EventRecorder* events, Clock& clock,
          KubeletOptions options);

  kube::ReconcileResult Reconcile(const kube::ObjectRef& ref) override;

  // A Pod vanished from the API: kill its process (grace: the Pod's
  // deletionGracePeriodSeconds) and forget it once it has ended.
  void OnPodDeleted(const kube::ObjectPtr& last);
  // Called by the runner's monitor when processes ended: the keys to requeue,
  // and Pods whose directories may now be removed.
  std::vector<kube::ObjectRef> OnProcessesEnded(const std::vector<std::string>& uids);
  // Processes of Pods that no longer exist are killed and forgotten: at
  // start-up once the caches synced, then periodically as a safety net.
  void SweepOrphans();

 private:
  kube::ReconcileResult Start(const kube::Json& pod, int attempt,
                              const std::optional<kube::Json>& last_terminated);
  kube::ReconcileResult Finished(const kube::Json& pod, const ContainerProcess& proc);
  Status WriteStatus(const kube::Json& pod, const kube::Json& status);
  Status RemoveTrackingFinalizerIfOrphaned(const kube::Json& pod);
  void Event(const kube::Json& pod, bool warning, const std::string& reason,
             const std::string& note);
  Duration GracePeriod(const kube::Json& pod) const;

  kube::KubeClient& client_;
  const kube::Store& pods_;
  const kube::Store& jobs_;
  ProcessTable& table_;
  LogShipper& shipper_;
  kube::EventRecorder* events_;
  Clock& clock_;
  KubeletOptions options_;

  std::mutex mu_;
  std::set<std::string> forget_when_ended_;  // uids of Pods deleted from the API
  // Pods seen deleted, for a Start() that raced with the deletion.
  std::set<std::string> deleted_;
};

// The first container of a Pod spec (what the runner runs).
const kube::Json& FirstContainer(const kube::Json& pod);
bool IsRunnerPod(const kube::Json& pod);

}  // namespace vmrelease::jobrunner

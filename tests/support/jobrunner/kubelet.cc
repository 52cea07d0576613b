#include "tests/support/jobrunner/kubelet.h"

#include <algorithm>

#include "controller/common/log.h"
#include "controller/kube/errors.h"
#include "tests/support/jobrunner/container.h"
#include "tests/support/jobrunner/pod_status.h"
#include "tests/support/jobrunner/resources.h"

namespace vmrelease::jobrunner {
namespace {

using kube::Action;
using kube::Json;
using kube::ReconcileResult;

// The kill reason that makes a Pod's terminal status say DeadlineExceeded.
constexpr char kPodDeadlineReason[] = "DeadlineExceeded";

std::string ContainerId(const std::string& uid, int attempt) {
  return "vmrelease-job-runner://" + uid + "/" + std::to_string(attempt);
}

bool HasFinalizer(const Json& obj, const std::string& f) {
  const Json* fs = kube::Find(obj, {"metadata", "finalizers"});
  if (fs == nullptr || !fs->is_array()) return false;
  return std::find(fs->begin(), fs->end(), Json(f)) != fs->end();
}

// The Job that controls a Pod: (name, uid), or empty when none.
std::pair<std::string, std::string> ControllerJob(const Json& pod) {
  const Json* refs = kube::Find(pod, {"metadata", "ownerReferences"});
  if (refs != nullptr && refs->is_array())
    for (const auto& r : *refs)
      if (r.is_object() && r.value("controller", false) && r.value("kind", "") == "Job")
        return {r.value("name", ""), r.value("uid", "")};
  return {};
}

// The Pod's status says a container ran (here or under another work dir).
bool StartedBefore(const Json& status) {
  for (const auto& cs : status.value("containerStatuses", Json::array())) {
    const Json state = cs.value("state", Json::object());
    if (state.contains("running") || state.contains("terminated") ||
        cs.value("restartCount", 0) > 0)
      return true;
  }
  return false;
}

std::optional<Json> LastTerminated(const Json& pod) {
  const Json* cs = kube::Find(pod, {"status", "containerStatuses"});
  if (cs == nullptr || !cs->is_array() || cs->empty()) return std::nullopt;
  const Json* t = kube::Find((*cs)[0], {"lastState", "terminated"});
  if (t == nullptr || !t->is_object()) return std::nullopt;
  return *t;
}

}  // namespace

const Json& FirstContainer(const Json& pod) {
  static const Json empty = Json::object();
  const Json* cs = kube::Find(pod, {"spec", "containers"});
  if (cs == nullptr || !cs->is_array() || cs->empty() || !(*cs)[0].is_object()) return empty;
  return (*cs)[0];
}

bool IsRunnerPod(const Json& pod) { return kube::Annotation(pod, kRunnerAnnotation).has_value(); }

Kubelet::Kubelet(kube::KubeClient& client, const kube::Store& pods, const kube::Store& jobs,
                 ProcessTable& table, LogShipper& shipper, kube::EventRecorder* events,
                 Clock& clock, KubeletOptions options)
    : client_(client),
      pods_(pods),
      jobs_(jobs),
      table_(table),
      shipper_(shipper),
      events_(events),
      clock_(clock),
      options_(std::move(options)) {}

void Kubelet::Event(const Json& pod, bool warning, const std::string& reason,
                    const std::string& note) {
  if (events_ == nullptr) return;
  events_->Publish({.regarding = kube::ObjectReference::To(pod),
                    .type = warning ? kube::EventType::kWarning : kube::EventType::kNormal,
                    .reason = reason,
                    .action = reason,
                    .note = note});
}

Duration Kubelet::GracePeriod(const Json& pod) const {
  const Json* d = kube::Find(pod, {"metadata", "deletionGracePeriodSeconds"});
  if (d != nullptr && d->is_number_integer()) return std::chrono::seconds(d->get<int64_t>());
  const Json* t = kube::Find(pod, {"spec", "terminationGracePeriodSeconds"});
  if (t != nullptr && t->is_number_integer()) return std::chrono::seconds(t->get<int64_t>());
  return std::chrono::seconds(30);
}

Status Kubelet::WriteStatus(const Json& pod, const Json& status) {
  const Json old = pod.value("status", Json::object());
  if (old == status) return Status::Ok();
  Json patch = status;
  for (auto it = old.begin(); it != old.end(); ++it)
    if (!status.contains(it.key())) patch[it.key()] = nullptr;  // merge patch: remove
  auto r = client_.PatchStatus(PodResource(), kube::ObjectRef::FromObject(pod),
                               kube::PatchType::kMerge, {{"status", patch}});
  if (!r.ok() && kube::IsNotFound(r.status())) return Status::Ok();  // deleted meanwhile
  return r.ok() ? Status::Ok() : r.status().WithContext("writing pod status");
}

Status Kubelet::RemoveTrackingFinalizerIfOrphaned(const Json& pod) {
  if (!HasFinalizer(pod, kJobTrackingFinalizer)) return Status::Ok();
  const auto [job_name, job_uid] = ControllerJob(pod);
  if (!job_uid.empty()) {
    kube::ObjectPtr job = jobs_.Get({kube::Namespace(pod), job_name});
    if (job && kube::Uid(*job) == job_uid) return Status::Ok();
    // Not in the cache: make sure before letting the Pod go.
    auto live = client_.Get(JobResource(), {kube::Namespace(pod), job_name});
    if (live.ok() && kube::Uid(*live) == job_uid) return Status::Ok();
    if (!live.ok() && !kube::IsNotFound(live.status())) return live.status();
  }
  // An orphan (its Job was deleted or let it go): nobody will count it, so the
  // finalizer goes now, as the Job controller's orphan handling does.
  auto r = client_.Patch(
      PodResource(), kube::ObjectRef::FromObject(pod), kube::PatchType::kStrategicMerge,
      {{"metadata", {{"$deleteFromPrimitiveList/finalizers", {kJobTrackingFinalizer}}}}});
  if (!r.ok() && !kube::IsNotFound(r.status()))
    return r.status().WithContext("removing the job-tracking finalizer of an orphaned pod");
  return Status::Ok();
}

ReconcileResult Kubelet::Reconcile(const kube::ObjectRef& ref) {
  kube::ObjectPtr obj = pods_.Get(ref);
  if (!obj || !IsRunnerPod(*obj)) return Action::AwaitChange();
  const Json& pod = *obj;
  RETURN_IF_ERROR(RemoveTrackingFinalizerIfOrphaned(pod));
  const std::string uid = kube::Uid(pod);
  const Json status = pod.value("status", Json::object());
  const std::string phase = status.value("phase", "");
  std::optional<ContainerProcess> proc = table_.Get(uid);
  const bool running = proc && proc->state == ContainerProcess::State::kRunning;

  if (phase == "Succeeded" || phase == "Failed") {
    if (running) table_.Kill(uid, "the Pod is already " + phase, Duration::zero());
    return Action::AwaitChange();
  }
  const Json& container = FirstContainer(pod);
  if (kube::IsDeleting(pod)) {
    if (running) {
      if (proc->kill_reason.empty())
        Event(pod, false, "Killing", "Stopping container " + container.value("name", ""));
      table_.Kill(uid, "the Pod was deleted", GracePeriod(pod));
      return Action::AwaitChange();  // the monitor requeues once it has ended
    }
    if (proc) return Finished(pod, *proc);
    // Never started: nothing to stop; the Pod ends Failed (kubelet 1.27+).
    ContainerView c{.name = container.value("name", ""), .image = container.value("image", "")};
    RETURN_IF_ERROR(WriteStatus(pod, BuildPodStatus(pod, "Failed", c, clock_.WallNow())));
    return Action::AwaitChange();
  }
  if (!proc) {
    if (StartedBefore(status)) {
      ContainerView c{.name = container.value("name", ""),
                      .image = container.value("image", ""),
                      .state = ContainerView::State::kTerminated,
                      .reason = "ContainerStatusUnknown",
                      .message =
                          "The container could not be located: the job runner has no "
                          "record of it in its work dir (was it restarted with another "
                          "--work-dir?); it is not started again",
                      .started_at = clock_.WallNow(),
                      .finished_at = clock_.WallNow(),
                      .exit_code = 137};
      RETURN_IF_ERROR(WriteStatus(pod, BuildPodStatus(pod, "Failed", c, clock_.WallNow())));
      return Action::AwaitChange();
    }
    return Start(pod, 0, std::nullopt);
  }
  if (!running) return Finished(pod, *proc);

  // Running: the status says so (again, after an adoption or a lost write).
  const WallTime now = clock_.WallNow();
  ContainerView c{.name = container.value("name", ""),
                  .image = container.value("image", ""),
                  .container_id = ContainerId(uid, proc->attempt),
                  .restart_count = proc->attempt,
                  .state = ContainerView::State::kRunning,
                  .started_at = proc->started_at,
                  .last_terminated = LastTerminated(pod)};
  if (proc->attempt == 0) c.last_terminated.reset();
  const Json want = BuildPodStatus(pod, "Running", c, now);
  RETURN_IF_ERROR(WriteStatus(pod, want));
  shipper_.Track({.ns = kube::Namespace(pod),  // adopted after a restart: ship from the start
                  .pod = kube::Name(pod),
                  .uid = uid,
                  .container = c.name,
                  .attempt = proc->attempt,
                  .path = proc->log_path()});
  // The Pod's own activeDeadlineSeconds, counted from status.startTime.
  const Json* ads = kube::Find(pod, {"spec", "activeDeadlineSeconds"});
  if (ads != nullptr && ads->is_number_integer()) {
    WallTime start = proc->started_at;
    ParseRfc3339(want.value("startTime", ""), &start);
    const WallTime deadline = start + std::chrono::seconds(ads->get<int64_t>());
    if (now >= deadline) {
      Event(pod, true, "DeadlineExceeded",
            "Pod was active on the node longer than the specified deadline");
      table_.Kill(uid, kPodDeadlineReason, GracePeriod(pod));
      return Action::AwaitChange();
    }
    return Action::RequeueAfter(deadline - now);
  }
  return Action::AwaitChange();
}

ReconcileResult Kubelet::Start(const Json& pod, int attempt,
                               const std::optional<Json>& last_terminated) {
  const std::string uid = kube::Uid(pod);
  const Json& container = FirstContainer(pod);
  const std::string name = container.value("name", "");
  ASSIGN_OR_RETURN(std::string dir, table_.PrepareAttempt(uid, attempt));
  ContainerPlan plan = PlanContainer(client_, pod, container,
                                     {.attempt_dir = dir,
                                      .termination_path = dir + "/termination-log",
                                      .path = options_.path_env});
  ContainerView c{.name = name,
                  .image = container.value("image", ""),
                  .restart_count = attempt,
                  .last_terminated = last_terminated};
  if (!plan.ok() && plan.error->reason == "CreateContainerConfigError") {
    c.state = ContainerView::State::kWaiting;
    c.reason = plan.error->reason;
    c.message = log::Redact(plan.error->message);
    Event(pod, true, "Failed", "Error: " + c.message);
    RETURN_IF_ERROR(WriteStatus(
        pod, BuildPodStatus(pod, attempt == 0 ? "Pending" : "Running", c, clock_.WallNow())));
    return Action::RequeueAfter(options_.config_retry);  // the kubelet keeps retrying
  }
  if (!plan.ok()) {
    Event(pod, true, "Failed", "Error: " + plan.error->message);
    auto proc = table_.RecordStartError(uid, attempt, plan.error->message);
    if (!proc.ok()) return Action::RequeueAfter(std::chrono::milliseconds(100));
    return Finished(pod, *proc);
  }
  for (const auto& v : plan.secret_values) log::RegisterSecret(v);
  LaunchSpec spec{
      .pod_uid = uid, .attempt = attempt, .argv = plan.argv, .working_dir = plan.working_dir};
  for (const auto& [k, v] : plan.env) spec.env.push_back(k + "=" + v);
  if (attempt == 0 && kube::Find(pod, {"spec", "containers"})->size() > 1)
    Event(pod, true, "OnlyFirstContainer",
          "the job runner runs only the first container of a Pod; the others are ignored");
  auto proc = table_.Start(spec);
  if (!proc.ok()) {
    // Launched before (a lost status write) or could not spawn (recorded as
    // lost): either way the next pass works from the table.
    log::Warn("jobrunner.kubelet", "container not started",
              {{"pod", kube::KeyOf(pod)}, {"error", proc.status().message()}});
    return Action::RequeueAfter(std::chrono::milliseconds(100));
  }
  {
    std::lock_guard lock(mu_);
    if (deleted_.count(uid) > 0) {
      // The Pod was deleted while this process was being started.
      forget_when_ended_.insert(uid);
      table_.Kill(uid, "the Pod was deleted", Duration::zero());
      return Action::AwaitChange();
    }
  }
  log::Info(
      "jobrunner.kubelet", "container started",
      {{"pod", kube::KeyOf(pod)}, {"container", name}, {"attempt", attempt}, {"pid", proc->pid}});
  shipper_.Track({.ns = kube::Namespace(pod),
                  .pod = kube::Name(pod),
                  .uid = uid,
                  .container = name,
                  .attempt = attempt,
                  .path = proc->log_path()});
  Event(pod, false, "Started", "Started container " + name);
  c.container_id = ContainerId(uid, attempt);
  c.state = ContainerView::State::kRunning;
  c.started_at = proc->started_at;
  RETURN_IF_ERROR(WriteStatus(pod, BuildPodStatus(pod, "Running", c, clock_.WallNow())));
  return Action::AwaitChange();
}

ReconcileResult Kubelet::Finished(const Json& pod, const ContainerProcess& proc) {
  const std::string uid = kube::Uid(pod);
  const Json& container = FirstContainer(pod);
  if (Status s = shipper_.Flush(uid, true); !s.ok())
    log::Warn("jobrunner.kubelet", "final log upload failed",
              {{"pod", kube::KeyOf(pod)}, {"error", s.message()}});
  const bool lost = proc.state == ContainerProcess::State::kLost;
  ContainerView c{.name = container.value("name", ""),
                  .image = container.value("image", ""),
                  .container_id = ContainerId(uid, proc.attempt),
                  .restart_count = proc.attempt,
                  .state = ContainerView::State::kTerminated,
                  .started_at = proc.started_at,
                  .finished_at = proc.finished_at,
                  .exit_code = lost ? 137 : proc.exit_code,
                  .last_terminated = proc.attempt > 0 ? LastTerminated(pod) : std::nullopt};
  if (!proc.start_error.empty()) {
    c.reason = "StartError";
    c.message = proc.start_error;
  } else if (lost) {
    c.reason = "ContainerStatusUnknown";
    c.message = proc.lost_reason;
  } else {
    c.reason = proc.exit_code == 0 ? "Completed" : "Error";
    const Json* containers = kube::Find(pod, {"spec", "containers"});
    c.message = TerminationMessage(proc.termination_path(), proc.log_path(),
                                   container.value("terminationMessagePolicy", "File"),
                                   proc.exit_code, containers ? containers->size() : 1);
  }
  // What leaves the process is redacted (a failing command may print the SAS URL it was given).
  c.message = log::Redact(c.message);
  const bool pod_deadline = proc.kill_reason == kPodDeadlineReason;
  const bool failed = lost || proc.exit_code != 0;
  const std::string policy = kube::Find(pod, {"spec", "restartPolicy"})
                                 ? pod["spec"].value("restartPolicy", "Always")
                                 : "Always";
  const WallTime now = clock_.WallNow();
  if (failed && policy != "Never" && !kube::IsDeleting(pod) && !pod_deadline &&
      proc.kill_reason.empty()) {
    // Restart in place: at once after the first failure, then back off.
    Duration delay = Duration::zero();
    if (proc.attempt > 0) {
      delay = options_.restart_backoff;
      for (int i = 1; i < proc.attempt && delay < options_.max_restart_backoff; ++i) delay *= 2;
      delay = std::min(delay, options_.max_restart_backoff);
    }
    const WallTime restart_at =
        proc.finished_at + std::chrono::duration_cast<WallTime::duration>(delay);
    const Json terminated = TerminatedState(c);
    if (now < restart_at) {
      const auto secs = std::chrono::duration_cast<std::chrono::seconds>(delay).count();
      ContainerView w{.name = c.name,
                      .image = c.image,
                      .restart_count = proc.attempt,
                      .state = ContainerView::State::kWaiting,
                      .reason = "CrashLoopBackOff",
                      .message = "back-off " + std::to_string(secs) +
                                 "s restarting failed container=" + c.name + " pod=" +
                                 kube::Name(pod) + "_" + kube::Namespace(pod) + "(" + uid + ")",
                      .last_terminated = terminated};
      RETURN_IF_ERROR(WriteStatus(pod, BuildPodStatus(pod, "Running", w, now)));
      return Action::RequeueAfter(restart_at - now);
    }
    return Start(pod, proc.attempt + 1, terminated);
  }
  const std::string phase = failed || pod_deadline ? "Failed" : "Succeeded";
  Json status = pod_deadline ? BuildPodStatus(pod, phase, c, now, "DeadlineExceeded",
                                              "Pod was active on the node longer than the "
                                              "specified deadline")
                             : BuildPodStatus(pod, phase, c, now);
  RETURN_IF_ERROR(WriteStatus(pod, status));
  log::Info("jobrunner.kubelet", "container ended",
            {{"pod", kube::KeyOf(pod)},
             {"phase", phase},
             {"exitCode", c.exit_code},
             {"reason", c.reason}});
  return Action::AwaitChange();
}

void Kubelet::OnPodDeleted(const kube::ObjectPtr& last) {
  if (!last || !IsRunnerPod(*last)) return;
  const std::string uid = kube::Uid(*last);
  {
    std::lock_guard lock(mu_);
    if (deleted_.size() > 10000) deleted_.clear();  // only recent deletions matter
    deleted_.insert(uid);
  }
  auto proc = table_.Get(uid);
  if (proc && proc->state == ContainerProcess::State::kRunning) {
    {
      std::lock_guard lock(mu_);
      forget_when_ended_.insert(uid);
    }
    table_.Kill(uid, "the Pod was deleted", GracePeriod(*last));
    return;
  }
  shipper_.Untrack(uid);
  table_.Forget(uid);
}

std::vector<kube::ObjectRef> Kubelet::OnProcessesEnded(const std::vector<std::string>& uids) {
  std::vector<kube::ObjectRef> refs;
  for (const auto& uid : uids) {
    bool forget = false;
    {
      std::lock_guard lock(mu_);
      forget = forget_when_ended_.erase(uid) > 0;
    }
    if (forget) {
      shipper_.Untrack(uid);
      table_.Forget(uid);
      continue;
    }
    for (const auto& p : pods_.ByIndex(kPodUidIndex, uid))
      refs.push_back(kube::ObjectRef::FromObject(*p));
  }
  return refs;
}

void Kubelet::SweepOrphans() {
  for (const auto& uid : table_.KnownPods()) {
    if (!pods_.ByIndex(kPodUidIndex, uid).empty()) continue;
    {
      std::lock_guard lock(mu_);
      if (forget_when_ended_.count(uid) > 0) continue;  // being stopped gracefully
    }
    log::Info("jobrunner.kubelet", "forgetting the container of a pod that no longer exists",
              {{"pod_uid", uid}});
    shipper_.Untrack(uid);
    table_.Forget(uid);
  }
}

}  // namespace vmrelease::jobrunner

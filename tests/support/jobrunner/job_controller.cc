#include "tests/support/jobrunner/job_controller.h"

#include <algorithm>
#include <map>

#include "controller/common/log.h"
#include "controller/kube/errors.h"
#include "tests/support/jobrunner/kubelet.h"
#include "tests/support/jobrunner/pod_status.h"
#include "tests/support/jobrunner/resources.h"

namespace vmrelease::jobrunner {
namespace {

using kube::Action;
using kube::Json;
using kube::ReconcileResult;

constexpr char kBackoffReason[] = "BackoffLimitExceeded";
constexpr char kBackoffMessage[] = "Job has reached the specified backoff limit";
constexpr char kDeadlineReason[] = "DeadlineExceeded";
constexpr char kDeadlineMessage[] = "Job was active longer than specified deadline";
constexpr char kCompletionsReason[] = "CompletionsReached";
constexpr char kCompletionsMessage[] = "Reached expected number of succeeded pods";

// obj[key] when it is an object, else an empty object (never throws on odd input).
const Json& Sub(const Json& obj, const char* key) {
  static const Json empty = Json::object();
  if (!obj.is_object()) return empty;
  auto it = obj.find(key);
  return it != obj.end() && it->is_object() ? *it : empty;
}

// Typed reads that fall back on absent or mistyped fields (the local API
// server does not type-check built-in kinds).
std::string Str(const Json& obj, const char* key, const std::string& fallback = "") {
  if (!obj.is_object()) return fallback;
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : fallback;
}
bool Bool(const Json& obj, const char* key, bool fallback = false) {
  if (!obj.is_object()) return fallback;
  auto it = obj.find(key);
  return it != obj.end() && it->is_boolean() ? it->get<bool>() : fallback;
}

struct Outcome {
  bool failed = false;  // Failed, else Complete
  std::string reason;
  std::string message;
};

const Json* FindCondition(const Json& conds, const std::string& type) {
  if (!conds.is_array()) return nullptr;
  for (const auto& c : conds)
    if (Str(c, "type") == type) return &c;
  return nullptr;
}

bool ConditionTrue(const Json& conds, const std::string& type) {
  const Json* c = FindCondition(conds, type);
  return c != nullptr && Str(*c, "status") == "True";
}

// Adds or updates a JobCondition; times move only when the status changes.
// Returns true when the list changed.
bool SetCondition(Json& conds, const std::string& type, bool status, const std::string& reason,
                  const std::string& message, const std::string& now) {
  if (!conds.is_array()) conds = Json::array();
  const std::string s = status ? "True" : "False";
  Json c = {{"type", type}, {"status", s}, {"lastProbeTime", now}, {"lastTransitionTime", now}};
  if (!reason.empty()) c["reason"] = reason;
  if (!message.empty()) c["message"] = message;
  for (auto& old : conds) {
    if (Str(old, "type") != type) continue;
    if (Str(old, "status") == s && Str(old, "reason") == reason && Str(old, "message") == message)
      return false;
    old = c;
    return true;
  }
  conds.push_back(c);
  return true;
}

int64_t Int(const Json& obj, const char* key, int64_t fallback) {
  auto it = obj.find(key);
  return it != obj.end() && it->is_number_integer() ? it->get<int64_t>() : fallback;
}

bool HasFinalizer(const Json& pod) {
  const Json* fs = kube::Find(pod, {"metadata", "finalizers"});
  return fs != nullptr && fs->is_array() &&
         std::find(fs->begin(), fs->end(), Json(kJobTrackingFinalizer)) != fs->end();
}

bool PodReady(const Json& pod) {
  const Json* conds = kube::Find(pod, {"status", "conditions"});
  return conds != nullptr && ConditionTrue(*conds, "Ready");
}

std::string Phase(const Json& pod) {
  const Json* p = kube::Find(pod, {"status", "phase"});
  return p != nullptr && p->is_string() ? p->get<std::string>() : "";
}

int RestartCount(const Json& pod) {
  int n = 0;
  for (const char* list : {"initContainerStatuses", "containerStatuses"}) {
    const Json* cs = kube::Find(pod, {"status", list});
    if (cs != nullptr && cs->is_array())
      for (const auto& c : *cs) n += static_cast<int>(Int(c, "restartCount", 0));
  }
  return n;
}

// When a failed Pod's container finished (for the replacement back-off).
std::optional<WallTime> FinishedAt(const Json& pod) {
  const Json* cs = kube::Find(pod, {"status", "containerStatuses"});
  if (cs == nullptr || !cs->is_array()) return std::nullopt;
  std::optional<WallTime> latest;
  for (const auto& c : *cs) {
    const Json* f = kube::Find(c, {"state", "terminated", "finishedAt"});
    WallTime t;
    if (f != nullptr && f->is_string() && ParseRfc3339(f->get<std::string>(), &t) &&
        (!latest || t > *latest))
      latest = t;
  }
  return latest;
}

std::set<std::string> UidSet(const Json& status, const char* list) {
  std::set<std::string> out;
  const Json* u = kube::Find(status, {"uncountedTerminatedPods", list});
  if (u != nullptr && u->is_array())
    for (const auto& x : *u)
      if (x.is_string()) out.insert(x.get<std::string>());
  return out;
}

Json UncountedJson(const std::set<std::string>& succeeded, const std::set<std::string>& failed) {
  Json u = Json::object();
  if (!succeeded.empty())
    u["succeeded"] = Json(std::vector<std::string>(succeeded.begin(), succeeded.end()));
  if (!failed.empty()) u["failed"] = Json(std::vector<std::string>(failed.begin(), failed.end()));
  return u;
}

}  // namespace

std::vector<std::string> ControllerOwnerUid(const Json& pod) {
  const Json* refs = kube::Find(pod, {"metadata", "ownerReferences"});
  if (refs != nullptr && refs->is_array())
    for (const auto& r : *refs)
      if (Bool(r, "controller")) return {Str(r, "uid")};
  return {};
}

JobController::JobController(kube::KubeClient& client, const kube::Store& jobs,
                             const kube::Store& pods, kube::EventRecorder* events, Clock& clock,
                             JobControllerOptions options)
    : client_(client),
      jobs_(jobs),
      pods_(pods),
      events_(events),
      clock_(clock),
      options_(std::move(options)) {}

bool JobController::Manages(const Json& job, const std::string& managed_by) {
  const Json* mb = kube::Find(job, {"spec", "managedBy"});
  const std::string v = mb != nullptr && mb->is_string() ? mb->get<std::string>() : "";
  if (managed_by.empty()) return v.empty() || v == "kubernetes.io/job-controller";
  return v == managed_by;
}

Json JobController::PodFor(const Json& job, const std::string& scheduling_gate) {
  const Json& tmpl = Sub(Sub(job, "spec"), "template");
  const Json& tmeta = Sub(tmpl, "metadata");
  Json labels = Sub(tmeta, "labels");
  const std::string name = kube::Name(job);
  const std::string uid = kube::Uid(job);
  if (!Bool(Sub(job, "spec"), "manualSelector")) {
    // What the API server's Job strategy put on the template; added here too
    // for servers that did not (the Pods must be selectable either way).
    for (const char* k : {"batch.kubernetes.io/job-name", "job-name"})
      if (!labels.contains(k)) labels[k] = name;
    for (const char* k : {"batch.kubernetes.io/controller-uid", "controller-uid"})
      if (!labels.contains(k)) labels[k] = uid;
  }
  Json annotations = Sub(tmeta, "annotations");
  annotations[kRunnerAnnotation] = "true";
  Json pod = {{"apiVersion", "v1"},
              {"kind", "Pod"},
              {"metadata",
               {{"generateName", name + "-"},
                {"namespace", kube::Namespace(job)},
                {"labels", labels},
                {"annotations", annotations},
                {"ownerReferences",
                 {{{"apiVersion", "batch/v1"},
                   {"kind", "Job"},
                   {"name", name},
                   {"uid", uid},
                   {"controller", true},
                   {"blockOwnerDeletion", true}}}},
                {"finalizers", {kJobTrackingFinalizer}}}},
              {"spec", Sub(tmpl, "spec")}};
  if (!scheduling_gate.empty())
    pod["spec"]["schedulingGates"].push_back({{"name", scheduling_gate}});
  return pod;
}

void JobController::Event(const Json& job, bool warning, const std::string& reason,
                          const std::string& note) {
  if (events_ == nullptr) return;
  events_->Publish({.regarding = kube::ObjectReference::To(job),
                    .type = warning ? kube::EventType::kWarning : kube::EventType::kNormal,
                    .reason = reason,
                    .action = reason,
                    .note = note});
}

int JobController::PendingCreates(const std::string& job_uid,
                                  const std::vector<kube::ObjectPtr>& pods) {
  std::lock_guard lock(mu_);
  auto it = expected_.find(job_uid);
  if (it == expected_.end()) return 0;
  const TimePoint now = clock_.Now();
  for (const auto& p : pods) it->second.erase(kube::Name(*p));
  for (auto e = it->second.begin(); e != it->second.end();) {
    // A create the cache never showed (deleted at once?) stops counting after a minute.
    if (now - e->second > std::chrono::minutes(1))
      e = it->second.erase(e);
    else
      ++e;
  }
  const int n = static_cast<int>(it->second.size());
  if (n == 0) expected_.erase(it);
  return n;
}

StatusOr<bool> JobController::CacheLagsBehindServer(const Json& job,
                                                    const std::vector<kube::ObjectPtr>& cached) {
  const std::string uid = kube::Uid(job);
  auto live = client_.List(
      PodResource(),
      {.ns = kube::Namespace(job), .label_selector = "batch.kubernetes.io/controller-uid=" + uid});
  if (!live.ok()) return live.status().WithContext("listing the pods of job " + kube::KeyOf(job));
  std::map<std::string, std::string> known;  // uid -> resourceVersion, as the cache has them
  for (const auto& p : cached) known[kube::Uid(*p)] = kube::ResourceVersion(*p);
  for (const Json& pod : live->items) {
    const auto owners = ControllerOwnerUid(pod);
    if (owners.empty() || owners[0] != uid) continue;
    auto it = known.find(kube::Uid(pod));
    if (it == known.end() || it->second != kube::ResourceVersion(pod)) return true;
  }
  return false;
}

Status JobController::CreatePod(const Json& job) {
  auto created = client_.Create(PodResource(), PodFor(job, options_.scheduling_gate));
  if (!created.ok()) {
    Event(job, true, "FailedCreate", "Error creating: " + created.status().message());
    return created.status().WithContext("creating a pod for job " + kube::KeyOf(job));
  }
  {
    std::lock_guard lock(mu_);
    expected_[kube::Uid(job)][kube::Name(*created)] = clock_.Now();
  }
  Event(job, false, "SuccessfulCreate", "Created pod: " + kube::Name(*created));
  log::Info("jobrunner.job", "created pod",
            {{"job", kube::KeyOf(job)}, {"pod", kube::Name(*created)}});
  return Status::Ok();
}

Status JobController::RemoveFinalizer(const Json& pod) {
  if (!HasFinalizer(pod)) return Status::Ok();
  auto r = client_.Patch(
      PodResource(), kube::ObjectRef::FromObject(pod), kube::PatchType::kStrategicMerge,
      {{"metadata", {{"$deleteFromPrimitiveList/finalizers", {kJobTrackingFinalizer}}}}});
  if (!r.ok() && !kube::IsNotFound(r.status()))
    return r.status().WithContext("removing the job-tracking finalizer of pod " + kube::KeyOf(pod));
  return Status::Ok();
}

Status JobController::DeletePod(const Json& job, const Json& pod, bool remove_finalizer) {
  if (remove_finalizer) RETURN_IF_ERROR(RemoveFinalizer(pod));
  auto r = client_.Delete(PodResource(), kube::ObjectRef::FromObject(pod), {.uid = kube::Uid(pod)});
  if (!r.ok() && !kube::IsNotFound(r.status()) && !kube::IsConflict(r.status())) {
    Event(job, true, "FailedDelete", "Error deleting: " + r.status().message());
    return r.status().WithContext("deleting pod " + kube::KeyOf(pod));
  }
  Event(job, false, "SuccessfulDelete", "Deleted pod: " + kube::Name(pod));
  return Status::Ok();
}

ReconcileResult JobController::LetPodsGo(const Json& job,
                                         const std::vector<kube::ObjectPtr>& pods) {
  const bool deleting = kube::IsDeleting(job);
  {
    std::lock_guard lock(mu_);
    counted_.erase(kube::Uid(job));
  }
  for (const auto& p : pods) {
    const std::string phase = Phase(*p);
    const bool terminal = phase == "Succeeded" || phase == "Failed";
    if (deleting || terminal || kube::IsDeleting(*p)) {
      RETURN_IF_ERROR(RemoveFinalizer(*p));
    } else {
      RETURN_IF_ERROR(DeletePod(job, *p, false));  // a finished Job keeps nothing running
    }
  }
  return Action::AwaitChange();
}

ReconcileResult JobController::Reconcile(const kube::ObjectRef& ref) {
  kube::ObjectPtr obj = jobs_.Get(ref);
  if (!obj || !Manages(*obj, options_.managed_by)) return Action::AwaitChange();
  const Json& job = *obj;
  const std::string uid = kube::Uid(job);
  const Json& spec = Sub(job, "spec");
  if (Str(spec, "completionMode", "NonIndexed") == "Indexed") {
    std::lock_guard lock(mu_);
    if (warned_indexed_.insert(uid).second) {
      log::Warn("jobrunner.job", "Indexed Jobs are not supported; ignoring",
                {{"job", kube::KeyOf(job)}});
      Event(job, true, "NotSupported", "the job runner runs only NonIndexed Jobs");
    }
    return Action::AwaitChange();
  }
  const std::vector<kube::ObjectPtr> pods = pods_.ByIndex(kPodOwnerIndex, uid);
  const Json& status = Sub(job, "status");
  const Json conds0 = status.contains("conditions") ? status["conditions"] : Json::array();
  if (ConditionTrue(conds0, "Complete") || ConditionTrue(conds0, "Failed") || kube::IsDeleting(job))
    return LetPodsGo(job, pods);

  const WallTime now_wall = clock_.WallNow();
  const std::string now = KubeTime(now_wall);
  Json next = status;
  Json& conds = next["conditions"];
  if (!conds.is_array()) conds = Json::array();
  const bool suspended = Bool(spec, "suspend");
  const std::string restart_policy =
      Str(Sub(Sub(spec, "template"), "spec"), "restartPolicy", "Never");
  const int64_t backoff_limit = Int(spec, "backoffLimit", 6);

  // --- what the Pods say
  std::set<std::string> unc_ok = UidSet(status, "succeeded");
  std::set<std::string> unc_fail = UidSet(status, "failed");
  std::set<std::string> counted;
  {
    std::lock_guard lock(mu_);
    if (auto it = counted_.find(uid); it != counted_.end()) counted = it->second;
  }
  std::vector<kube::ObjectPtr> active, terminating;
  int ready = 0, restarts = 0;
  std::optional<WallTime> last_failure;
  for (const auto& p : pods) {
    const std::string phase = Phase(*p);
    const std::string puid = kube::Uid(*p);
    if (phase == "Succeeded" || phase == "Failed") {
      if (HasFinalizer(*p) && !unc_ok.count(puid) && !unc_fail.count(puid) && !counted.count(puid))
        (phase == "Succeeded" ? unc_ok : unc_fail).insert(puid);
      if (phase == "Failed") {
        auto t = FinishedAt(*p);
        if (t && (!last_failure || *t > *last_failure)) last_failure = t;
      }
    } else if (kube::IsDeleting(*p)) {
      terminating.push_back(p);
    } else {
      active.push_back(p);
      ready += PodReady(*p) ? 1 : 0;
      restarts += RestartCount(*p);
    }
  }
  const int pending = PendingCreates(uid, pods);
  int active_count = static_cast<int>(active.size()) + pending;
  const int64_t succeeded = Int(status, "succeeded", 0) + static_cast<int64_t>(unc_ok.size());
  const int64_t failed = Int(status, "failed", 0) + static_cast<int64_t>(unc_fail.size());

  // --- suspend / resume, start time
  if (suspended) {
    if (SetCondition(conds, "Suspended", true, "JobSuspended", "Job suspended", now))
      Event(job, false, "Suspended", "Job suspended");
    // Suspension is not a failure: the Pods go without being counted.
    for (const auto& p : active) RETURN_IF_ERROR(DeletePod(job, *p, true));
    active.clear();
    active_count = 0;
    ready = 0;
  } else {
    if (ConditionTrue(conds, "Suspended")) {
      SetCondition(conds, "Suspended", false, "JobResumed", "Job resumed", now);
      next["startTime"] = now;  // the deadline counts from the resume
      Event(job, false, "Resumed", "Job resumed");
    }
    if (!next.contains("startTime") || !next["startTime"].is_string()) next["startTime"] = now;
  }

  // --- the outcome
  std::optional<Outcome> outcome;
  if (const Json* ft = FindCondition(conds, "FailureTarget");
      ft && ft->value("status", "") == "True")
    outcome = Outcome{true, ft->value("reason", ""), ft->value("message", "")};
  else if (const Json* sc = FindCondition(conds, "SuccessCriteriaMet");
           sc && sc->value("status", "") == "True")
    outcome = Outcome{false, sc->value("reason", ""), sc->value("message", "")};
  std::optional<Duration> requeue;
  if (!outcome && !suspended) {
    WallTime start = now_wall;
    ParseRfc3339(Str(next, "startTime"), &start);
    const Json* ads = kube::Find(spec, {"activeDeadlineSeconds"});
    std::optional<WallTime> deadline;
    if (ads != nullptr && ads->is_number_integer())
      deadline = start + std::chrono::seconds(ads->get<int64_t>());
    const Json* completions = kube::Find(spec, {"completions"});
    if (deadline && now_wall >= *deadline) {
      outcome = Outcome{true, kDeadlineReason, kDeadlineMessage};
    } else if (restart_policy == "Never" && failed > backoff_limit) {
      outcome = Outcome{true, kBackoffReason, kBackoffMessage};
    } else if (restart_policy == "OnFailure" &&
               (backoff_limit == 0 ? restarts > 0 : restarts >= backoff_limit)) {
      outcome = Outcome{true, kBackoffReason, kBackoffMessage};
    } else if (completions != nullptr && completions->is_number_integer()
                   ? succeeded >= completions->get<int64_t>()
                   : succeeded > 0 && active_count == 0) {
      outcome = Outcome{false, kCompletionsReason, kCompletionsMessage};
    }
    if (!outcome && deadline)
      requeue = std::chrono::duration_cast<Duration>(*deadline - now_wall) +
                std::chrono::milliseconds(10);
  }

  // --- act on it
  int deleted_now = 0;
  if (outcome) {
    if (options_.interim_conditions)
      SetCondition(conds, outcome->failed ? "FailureTarget" : "SuccessCriteriaMet", true,
                   outcome->reason, outcome->message, now);
    for (const auto& p : active) {
      RETURN_IF_ERROR(DeletePod(job, *p, false));
      ++deleted_now;
    }
    active_count = 0;
    ready = 0;
  } else if (!suspended) {
    int64_t want = Int(spec, "parallelism", 1);
    const Json* completions = kube::Find(spec, {"completions"});
    if (completions != nullptr && completions->is_number_integer())
      want = std::min<int64_t>(want, completions->get<int64_t>() - succeeded);
    else if (succeeded > 0)
      want = 0;
    int64_t missing = std::max<int64_t>(0, want - active_count);
    if (missing > 0 && restart_policy == "Never" && failed > 0 &&
        options_.pod_failure_backoff > Duration::zero()) {
      Duration delay = options_.pod_failure_backoff;
      for (int64_t i = 1; i < failed && delay < options_.max_pod_failure_backoff; ++i) delay *= 2;
      delay = std::min(delay, options_.max_pod_failure_backoff);
      const WallTime since = last_failure.value_or(now_wall);
      if (now_wall < since + std::chrono::duration_cast<WallTime::duration>(delay)) {
        const Duration wait = std::chrono::duration_cast<Duration>(
            since + std::chrono::duration_cast<WallTime::duration>(delay) - now_wall);
        requeue = requeue ? std::min(*requeue, wait) : wait;
        missing = 0;
      }
    }
    if (missing > 0) {
      // The cache may not show yet that the Job was deleted (its Pods going
      // away look like Pods to replace): make sure it still exists.
      auto live = client_.Get(JobResource(), ref);
      if (!live.ok() && kube::IsNotFound(live.status())) return Action::AwaitChange();
      if (!live.ok()) return live.status();
      if (kube::Uid(*live) != uid || kube::IsDeleting(*live)) return Action::AwaitChange();
      // Nor the Job's own last status: a Pod that finished and was counted (its
      // finalizer gone) looks like a Pod to replace next to a stale status, and
      // replacing it would run the container a second time.
      if (kube::ResourceVersion(*live) != kube::ResourceVersion(job))
        return kube::ReconcileError::Waiting(UnavailableError("the Job cache is behind the server"),
                                             std::chrono::milliseconds(200));
      // Nor may it show every Pod yet (just after a restart, or a Pod created
      // by a reconcile whose result has not come back through the watch): the
      // server's list is the truth, and a Pod the cache does not know as the
      // server does means trying again once it has caught up. (The real job
      // controller keeps "expectations" for its own creations; a live list is
      // the simpler, slower equivalent that also covers a restart.)
      if (auto lag = CacheLagsBehindServer(job, pods); !lag.ok())
        return lag.status();
      else if (*lag)
        return kube::ReconcileError::Waiting(UnavailableError("the Pod cache is behind the server"),
                                             std::chrono::milliseconds(200));
    }
    for (int64_t i = 0; i < std::min<int64_t>(missing, 500); ++i) {
      RETURN_IF_ERROR(CreatePod(job));
      ++active_count;
    }
  }
  next["active"] = active_count;
  next["ready"] = ready;
  next["terminating"] = static_cast<int64_t>(terminating.size()) + deleted_now;
  next["uncountedTerminatedPods"] = UncountedJson(unc_ok, unc_fail);
  if (!next.contains("succeeded")) next["succeeded"] = 0;
  if (!next.contains("failed")) next["failed"] = 0;

  // --- write 1: the newly finished Pods are recorded before they are let go
  Json current = job;
  auto write = [&](const Json& st) -> Status {
    if (Sub(current, "status") == st) return Status::Ok();
    Json update = current;
    update["status"] = st;
    auto r = client_.UpdateStatus(JobResource(), update);
    if (!r.ok()) return r.status().WithContext("updating the status of job " + kube::KeyOf(job));
    current = *r;
    return Status::Ok();
  };
  // A conflict means the cache had not caught up with a write (often our
  // own): not a failure, try again shortly from fresher state.
  auto conflict = [](const Status& st) -> std::optional<kube::ReconcileError> {
    if (!kube::IsConflict(st)) return std::nullopt;
    return kube::ReconcileError::Waiting(st, std::chrono::milliseconds(200));
  };
  if (Status st = write(next); !st.ok()) {
    if (auto w = conflict(st)) return *w;
    return st;
  }

  // --- their finalizers go, then they are counted
  if (!unc_ok.empty() || !unc_fail.empty()) {
    for (const auto& p : pods) {
      const std::string puid = kube::Uid(*p);
      if (!unc_ok.count(puid) && !unc_fail.count(puid)) continue;
      RETURN_IF_ERROR(RemoveFinalizer(*p));
      std::lock_guard lock(mu_);
      counted_[uid].insert(puid);
    }
    next["succeeded"] = succeeded;
    next["failed"] = failed;
    next["uncountedTerminatedPods"] = Json::object();
  }
  // --- the terminal condition: with interim conditions only once no Pod runs
  const bool pods_left = !terminating.empty() || deleted_now > 0;
  if (outcome && !(options_.interim_conditions && pods_left)) {
    const bool ok = !outcome->failed;
    const std::string reason = ok && !options_.interim_conditions ? "" : outcome->reason;
    const std::string message = ok && !options_.interim_conditions ? "" : outcome->message;
    SetCondition(conds, ok ? "Complete" : "Failed", true, reason, message, now);
    if (ok) next["completionTime"] = now;
    next["active"] = 0;
    next["ready"] = 0;
    if (ok) {
      Event(job, false, "Completed", "Job completed");
    } else {
      Event(job, true, outcome->reason, outcome->message);
    }
    log::Info("jobrunner.job", ok ? "job complete" : "job failed",
              {{"job", kube::KeyOf(job)},
               {"reason", outcome->reason},
               {"succeeded", succeeded},
               {"failed", failed}});
  }
  if (Status st = write(next); !st.ok()) {
    if (auto w = conflict(st)) return *w;
    return st;
  }
  if (requeue) return Action::RequeueAfter(*requeue);
  return Action::AwaitChange();
}

}  // namespace vmrelease::jobrunner

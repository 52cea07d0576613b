#include "controller/release/jobs.h"

#include <algorithm>

#include "controller/azure/sas.h"
#include "controller/common/crypto.h"
#include "controller/kube/errors.h"

namespace vmrelease::release::jobs {
namespace {

Json OwnerReference(const ReleaseContext& ctx) {
  return {{"apiVersion", "vmrelease.io/v1alpha1"},
          {"kind", api::kImageReleaseKind},
          {"name", ctx.release.metadata.name},
          {"uid", ctx.release.metadata.uid},
          {"controller", true},
          {"blockOwnerDeletion", true}};
}

Json Labels(const ReleaseContext& ctx, const JobRequest& req) {
  Json labels = {{"app.kubernetes.io/managed-by", "vmrelease"},
                 {kLabelRelease, NameFragment(ctx.release.metadata.name, 63)},
                 {kLabelReleaseUid, ctx.release.metadata.uid},
                 {kLabelPurpose, req.purpose}};
  for (const auto& [k, v] : req.labels) labels[k] = v;
  return labels;
}

Json Metadata(const ReleaseContext& ctx, const JobRequest& req) {
  return {{"name", req.name},
          {"namespace", ctx.release.metadata.ns},
          {"labels", Labels(ctx, req)},
          {"ownerReferences", Json::array({OwnerReference(ctx)})}};
}

// The condition `type` with status True, or nullptr.
const Json* TrueCondition(const Json& obj, const std::string& type) {
  const Json* conds = kube::Find(obj, {"status", "conditions"});
  if (!conds || !conds->is_array()) return nullptr;
  for (const Json& c : *conds) {
    if (c.value("type", "") == type && c.value("status", "") == "True") return &c;
  }
  return nullptr;
}

// An env value as Kubernetes passes it on: it expands $(NAME) in `value` and
// turns $$ into $, so every $ is doubled to keep a script such as
// VMRELEASE_CHECK_SCRIPT ("echo $$", "$(date)") as written.
std::string EscapeForEnv(const std::string& value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    out += c;
    if (c == '$') out += '$';
  }
  return out;
}

}  // namespace

kube::ResourceType JobResource() {
  return {.group = "batch", .version = "v1", .plural = "jobs", .kind = "Job", .namespaced = true};
}

kube::ResourceType PodResource() {
  return {.group = "", .version = "v1", .plural = "pods", .kind = "Pod", .namespaced = true};
}

bool Ours(const Json& obj, const std::string& release_uid) {
  return kube::Label(obj, kLabelReleaseUid).value_or("") == release_uid;
}

Json JobObject(const ReleaseContext& ctx, const JobRequest& req) {
  Json tpl = req.pod_template.is_object() ? req.pod_template : Json::object();
  Json& meta = tpl["metadata"];
  if (!meta.is_object()) meta = Json::object();
  Json& tpl_labels = meta["labels"];
  if (!tpl_labels.is_object()) tpl_labels = Json::object();
  const Json labels = Labels(ctx, req);
  for (const auto& [k, v] : labels.items()) tpl_labels[k] = v;
  tpl_labels[kLabelJob] = req.name;
  Json& spec = tpl["spec"];
  if (!spec.is_object()) spec = Json::object();
  const bool on_failure = spec.value("restartPolicy", "") == "OnFailure";
  spec["restartPolicy"] = on_failure ? "OnFailure" : "Never";
  Json& containers = spec["containers"];
  if (!containers.is_array()) containers = Json::array();
  for (Json& c : containers) {
    if (!c.is_object()) continue;
    if (!c.contains("terminationMessagePolicy"))
      c["terminationMessagePolicy"] = "FallbackToLogsOnError";
    Json env = Json::array();
    if (c.contains("env") && c["env"].is_array()) {
      for (const Json& e : c["env"]) {
        const std::string n = e.value("name", "");
        if (req.env.count(n) == 0 && req.secret_env.count(n) == 0) env.push_back(e);
      }
    }
    for (const auto& [k, v] : req.env) env.push_back({{"name", k}, {"value", EscapeForEnv(v)}});
    for (const auto& [k, v] : req.secret_env)
      env.push_back(
          {{"name", k}, {"valueFrom", {{"secretKeyRef", {{"name", req.name}, {"key", k}}}}}});
    c["env"] = std::move(env);
  }
  const int64_t deadline =
      std::max<int64_t>(1, std::chrono::duration_cast<std::chrono::seconds>(
                               req.deadline + std::chrono::seconds(1) - std::chrono::nanoseconds(1))
                               .count());
  Json meta_out = Metadata(ctx, req);
  if (!req.annotations.empty()) {
    Json annotations = Json::object();
    for (const auto& [k, v] : req.annotations) annotations[k] = v;
    meta_out["annotations"] = std::move(annotations);
  }
  return {{"apiVersion", "batch/v1"},
          {"kind", "Job"},
          {"metadata", std::move(meta_out)},
          {"spec",
           {{"backoffLimit", on_failure ? 2 : 0},
            {"activeDeadlineSeconds", deadline},
            {"template", std::move(tpl)}}}};
}

Json SecretObject(const ReleaseContext& ctx, const JobRequest& req) {
  Json data = Json::object();
  for (const auto& [k, v] : req.secret_env) data[k] = Base64Encode(v);
  return {{"apiVersion", "v1"},
          {"kind", "Secret"},
          {"metadata", Metadata(ctx, req)},
          {"type", "Opaque"},
          {"data", std::move(data)}};
}

Status EnsureSecret(kube::KubeClient& kube, const ReleaseContext& ctx, const JobRequest& req) {
  const Json secret = SecretObject(ctx, req);
  StatusOr<Json> created = kube.Create(kube::SecretResource(), secret);
  if (created.ok()) return Status::Ok();
  if (!kube::IsAlreadyExists(created.status())) return created.status();
  StatusOr<Json> existing = kube.Get(kube::SecretResource(), {ctx.release.metadata.ns, req.name});
  if (!existing.ok()) return existing.status();
  if (!Ours(*existing, ctx.release.metadata.uid))
    return FailedPreconditionError("a Secret named " + req.name +
                                   " exists and does not belong to this release");
  Json replacement = secret;
  replacement["metadata"]["resourceVersion"] = kube::ResourceVersion(*existing);
  StatusOr<Json> updated = kube.Update(kube::SecretResource(), replacement);
  return updated.ok() ? Status::Ok() : updated.status();
}

StatusOr<Json> CreateOrGetJob(kube::KubeClient& kube, const ReleaseContext& ctx,
                              const JobRequest& req) {
  StatusOr<Json> created = kube.Create(JobResource(), JobObject(ctx, req));
  if (created.ok() || !kube::IsAlreadyExists(created.status())) return created;
  ASSIGN_OR_RETURN(Json existing, kube.Get(JobResource(), {ctx.release.metadata.ns, req.name}));
  if (!Ours(existing, ctx.release.metadata.uid))
    return FailedPreconditionError("a Job named " + req.name +
                                   " exists and does not belong to this release");
  return existing;
}

StatusOr<JobOutcome> InspectJob(kube::KubeClient& kube, const Json& job) {
  JobOutcome out;
  const Json* complete = TrueCondition(job, "Complete");
  const Json* failed = TrueCondition(job, "Failed");
  if (complete) {
    out.state = JobOutcome::State::kSucceeded;
  } else if (failed) {
    out.state = JobOutcome::State::kFailed;
  }
  if (const Json* c = complete ? complete : failed) {
    out.reason = c->value("reason", "");
    out.message = c->value("message", "");
  }
  ASSIGN_OR_RETURN(
      kube::ObjectList pods,
      kube.List(PodResource(), {.ns = kube::Namespace(job),
                                .label_selector = std::string(kLabelJob) + "=" + kube::Name(job)}));
  // The Pod whose first container terminated last decides; a waiting one explains a wait.
  std::string latest;
  for (const Json& pod : pods.items) {
    if (kube::Label(pod, kLabelJob).value_or("") != kube::Name(job)) continue;
    const Json* statuses = kube::Find(pod, {"status", "containerStatuses"});
    if (!statuses || !statuses->is_array() || statuses->empty()) continue;
    const Json& cs = (*statuses)[0];
    const Json* term = kube::Find(cs, {"state", "terminated"});
    if (!term || !term->is_object()) term = kube::Find(cs, {"lastState", "terminated"});
    if (term && term->is_object()) {
      const std::string finished = term->value("finishedAt", "");
      if (out.pod.empty() || finished >= latest) {
        latest = finished;
        out.pod = kube::Name(pod);
        if (term->contains("exitCode") && (*term)["exitCode"].is_number_integer())
          out.exit_code = (*term)["exitCode"].get<int64_t>();
        out.termination_message = term->value("message", "");
      }
    }
    if (const Json* w = kube::Find(cs, {"state", "waiting"}); w && w->is_object()) {
      out.waiting_reason = w->value("reason", "");
      out.waiting_message = w->value("message", "");
    }
  }
  return out;
}

StepResult RemoveJob(ReleaseContext& ctx, const std::string& name) {
  kube::KubeClient& kube = *ctx.env.kube;
  const std::string& ns = ctx.release.metadata.ns;
  const std::string& uid = ctx.release.metadata.uid;
  StatusOr<Json> job = kube.Get(JobResource(), {ns, name});
  if (job.ok() && Ours(*job, uid) && !kube::IsDeleting(*job)) {
    StatusOr<Json> del = kube.Delete(JobResource(), {ns, name},
                                     {.uid = kube::Uid(*job), .propagation_policy = "Background"});
    if (!del.ok() && !kube::IsNotFound(del.status()) && !kube::IsConflict(del.status()))
      return StepResult::Error(del.status());
  } else if (!job.ok() && !kube::IsNotFound(job.status())) {
    return StepResult::Error(job.status());
  }
  StatusOr<Json> secret = kube.Get(kube::SecretResource(), {ns, name});
  if (secret.ok() && Ours(*secret, uid)) {
    StatusOr<Json> del =
        kube.Delete(kube::SecretResource(), {ns, name}, {.uid = kube::Uid(*secret)});
    if (!del.ok() && !kube::IsNotFound(del.status()) && !kube::IsConflict(del.status()))
      return StepResult::Error(del.status());
  } else if (!secret.ok() && !kube::IsNotFound(secret.status())) {
    return StepResult::Error(secret.status());
  }
  // Done only when nothing of the Job runs any more: a Pod still terminating
  // could otherwise overlap with a new attempt, or upload after a cleanup.
  StatusOr<kube::ObjectList> pods =
      kube.List(PodResource(), {.ns = ns, .label_selector = std::string(kLabelJob) + "=" + name});
  if (!pods.ok()) return StepResult::Error(pods.status());
  size_t left = 0;
  for (const Json& pod : pods->items) {
    if (kube::Label(pod, kLabelJob).value_or("") != name || !Ours(pod, uid)) continue;
    ++left;
    if (!kube::IsDeleting(pod)) {
      // Background propagation deletes them; a Pod orphaned by an earlier
      // delete (another propagation policy) is deleted here.
      StatusOr<Json> del =
          kube.Delete(PodResource(), {ns, kube::Name(pod)}, {.uid = kube::Uid(pod)});
      if (!del.ok() && !kube::IsNotFound(del.status()) && !kube::IsConflict(del.status()))
        return StepResult::Error(del.status());
    }
  }
  const bool job_left = job.ok() && Ours(*job, uid);
  if (job_left || left > 0) {
    StatusOr<Json> again = kube.Get(JobResource(), {ns, name});
    if (left > 0 || (again.ok() && Ours(*again, uid)))
      return StepResult::Wait(ctx.env.local_poll_interval,
                              "waiting for Job " + name + " and its Pods to go");
  }
  return StepResult::Done();
}

std::string UrlForLogs(const std::string& url) { return azure::StripQuery(url); }

}  // namespace vmrelease::release::jobs

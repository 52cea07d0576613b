// Kubernetes Jobs for the `job` build and validation backends: the Job (and
// the Secret holding its SAS) made from a release's Pod template, what came of
// it, and its removal.
//
//   JobRequest req{.name = ctx.names.job, .purpose = "build", .pod_template = tpl,
//                  .env = {{"VMRELEASE_IMAGE", image}},
//                  .secret_env = {{"VMRELEASE_OUTPUT_URL", sas_url}},
//                  .deadline = timeout};
//   RETURN_IF_ERROR(EnsureSecret(*ctx.env.kube, ctx, req));
//   ASSIGN_OR_RETURN(Json job, CreateOrGetJob(*ctx.env.kube, ctx, req));
//   ASSIGN_OR_RETURN(JobOutcome out, InspectJob(*ctx.env.kube, job));
//   StepResult gone = RemoveJob(ctx, req.name);   // Done once no Job, Pod or Secret is left
//
// Guarantees: every object is named by the caller (deterministic names), labelled
// with the release's uid and owned by the release (controller owner reference),
// so a restarted controller recognises its own Job and the garbage collector
// removes what a deleted release left. Secret values go into a Secret and reach
// the containers through secretKeyRef: they never appear in the Job, in status,
// in Events or in logs.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "controller/release/pipeline.h"

namespace vmrelease::release::jobs {

using Json = nlohmann::json;

kube::ResourceType JobResource();  // batch/v1 jobs
kube::ResourceType PodResource();  // v1 pods

inline constexpr char kLabelReleaseUid[] = "vmrelease.io/release-uid";
inline constexpr char kLabelRelease[] = "vmrelease.io/release";
inline constexpr char kLabelPurpose[] = "vmrelease.io/purpose";
inline constexpr char kLabelJob[] = "vmrelease.io/job";  // on the Pods: the Job's name

struct JobRequest {
  std::string name;                                // of the Job and of its Secret
  std::string purpose;                             // "build" or "check"
  Json pod_template;                               // the release's PodTemplateSpec, as written
  std::map<std::string, std::string> env;          // added to every container ($ escaped)
  std::map<std::string, std::string> secret_env;   // added from the Secret `name`
  Duration deadline{0};                            // activeDeadlineSeconds
  std::map<std::string, std::string> labels;       // extra labels (Job and Pods)
  std::map<std::string, std::string> annotations;  // extra annotations (the Job only)
};

// The Job to create: the template with restartPolicy Never unless it says
// OnFailure, terminationMessagePolicy FallbackToLogsOnError unless set, the
// variables (replacing any of the same name), our labels; backoffLimit 0 with
// Never (one Pod: a new attempt would start from scratch anyway), 2 with
// OnFailure (two restarts in place), activeDeadlineSeconds from `deadline`.
Json JobObject(const ReleaseContext& ctx, const JobRequest& req);
Json SecretObject(const ReleaseContext& ctx, const JobRequest& req);

// True when the object carries this release's uid label.
bool Ours(const Json& obj, const std::string& release_uid);

// Creates the Secret, or replaces its data when one of ours exists (a fresh attempt).
// Errors: kFailedPrecondition when a Secret of that name belongs to someone else.
Status EnsureSecret(kube::KubeClient& kube, const ReleaseContext& ctx, const JobRequest& req);
// Creates the Job; an existing one of ours is returned as it is.
// Errors: kFailedPrecondition when a Job of that name belongs to someone else.
StatusOr<Json> CreateOrGetJob(kube::KubeClient& kube, const ReleaseContext& ctx,
                              const JobRequest& req);

struct JobOutcome {
  enum class State { kRunning, kSucceeded, kFailed } state = State::kRunning;
  std::string reason;   // of the Job's Complete/Failed condition (DeadlineExceeded, ...)
  std::string message;  // of that condition
  std::string pod;      // the Pod that decided it (the last one that terminated)
  std::optional<int64_t> exit_code;  // of that Pod's first container
  std::string termination_message;   // that container's (the kubelet's bounded log tail
                                     // with FallbackToLogsOnError)
  std::string waiting_reason;        // a running Pod's container waiting reason, if any
  std::string waiting_message;
};
// Reads the outcome from the Job's conditions and its Pods' container statuses.
StatusOr<JobOutcome> InspectJob(kube::KubeClient& kube, const Json& job);

// Deletes the Job (propagation Background: its Pods go too) and its Secret. Done
// once neither the Job nor any of its Pods remains; Wait while they go.
StepResult RemoveJob(ReleaseContext& ctx, const std::string& name);

// The URL without its query, for logs and Events.
std::string UrlForLogs(const std::string& url);

}  // namespace vmrelease::release::jobs

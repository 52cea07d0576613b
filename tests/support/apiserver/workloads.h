// What kube-apiserver's registry strategies do for batch/v1 Jobs, apps/v1
// Deployments, core/v1 Pods and the rbac.authorization.k8s.io/v1 kinds, as far as clients of the
// local API server can notice: defaults, the Job's generated selector and Pod labels, validation,
// immutable fields, and the columns `kubectl get jobs,pods` prints. See
// ../shared/reference/kubernetes/jobs.md §1 and docs/local-apiserver.md.
//
//   PrepareJobForCreate(job);                 // uid already set: labels + selector
//   std::vector<FieldError> errs = DefaultAndValidateJob(job);
//   errs = ValidateJobUpdate(old_job, job);   // selector / template immutable
//
// Caveats: no admission plugins (service accounts, default tolerations,
// priority), no pod-spec immutability, CEL-free. Only the rules a client of
// Jobs and Pods would trip over are here.
#pragma once

#include <nlohmann/json.hpp>
#include <vector>

#include "tests/support/apiserver/errors.h"
#include "tests/support/apiserver/table.h"

namespace vmrelease::apiserver {

// Label keys the Job strategy adds to the Pod template (and its selector uses).
inline constexpr char kJobNameLabel[] = "batch.kubernetes.io/job-name";
inline constexpr char kLegacyJobNameLabel[] = "job-name";
inline constexpr char kControllerUidLabel[] = "batch.kubernetes.io/controller-uid";
inline constexpr char kLegacyControllerUidLabel[] = "controller-uid";

// SetDefaults_PodSpec / SetDefaults_Container: restartPolicy Always, dnsPolicy,
// schedulerName, terminationGracePeriodSeconds 30, securityContext,
// enableServiceLinks; per container terminationMessagePath
// /dev/termination-log, terminationMessagePolicy File, imagePullPolicy
// (Always for :latest or no tag, else IfNotPresent), resources, port protocol TCP.
void DefaultPodSpec(nlohmann::json& spec);

// A new Pod: spec defaults, status {phase: Pending, qosClass}.
void PreparePodForCreate(nlohmann::json& pod);
// Containers present and named with an image, restartPolicy supported.
std::vector<FieldError> ValidatePod(nlohmann::json& pod);

// SetDefaults_Job (completions/parallelism 1, backoffLimit 6, completionMode
// NonIndexed, suspend false, podReplacementPolicy, labels copied from the
// template) and, unless manualSelector, the four generated template labels and
// the controller-uid selector. Needs metadata.name and metadata.uid.
void PrepareJobForCreate(nlohmann::json& job);
// Defaults (again, as on every decode) and validation: restartPolicy Never or
// OnFailure, containers, selector matching the template, generated labels.
std::vector<FieldError> DefaultAndValidateJob(nlohmann::json& job);
// spec.selector, spec.completionMode and (unless suspended) spec.template are immutable.
std::vector<FieldError> ValidateJobUpdate(const nlohmann::json& old_job, const nlohmann::json& job);

// SetDefaults_Deployment (replicas 1, RollingUpdate 25%/25%, revisionHistoryLimit 10,
// progressDeadlineSeconds 600, the template's pod spec) and validation: a selector that
// selects the template's labels, containers, restartPolicy Always, non-negative counts,
// a strategy type of RollingUpdate or Recreate (no rollingUpdate with Recreate), and
// maxSurge and maxUnavailable not both zero. Nothing runs Deployments here: no
// ReplicaSets, no Pods, no status.
std::vector<FieldError> DefaultAndValidateDeployment(nlohmann::json& deployment);
// spec.selector is immutable (apps/v1).
std::vector<FieldError> ValidateDeploymentUpdate(const nlohmann::json& old_deployment,
                                                 const nlohmann::json& deployment);

// rbac.authorization.k8s.io/v1 as its validation has it: Role and ClusterRole rules need
// verbs, and apiGroups and resources unless they are nonResourceURLs (ClusterRole only);
// bindings need a roleRef to a Role (RoleBinding only) or ClusterRole with a name, and
// subjects of kind ServiceAccount (with a namespace in a ClusterRoleBinding), User or Group.
// Nothing is enforced: the server still has no authorization.
std::vector<FieldError> ValidateRbac(const std::string& kind, const nlohmann::json& obj);
// A binding's roleRef cannot change ("cannot change roleRef").
std::vector<FieldError> ValidateRoleBindingUpdate(const nlohmann::json& old_binding,
                                                  const nlohmann::json& binding);

// kubectl's printers for `get jobs` (Status, Completions, Duration, Age; wide:
// Containers, Images, Selector) and `get pods` (Ready, Status, Restarts, Age;
// wide: IP, Node, Nominated Node, Readiness Gates).
std::vector<PrinterColumn> JobColumns();
std::vector<PrinterColumn> PodColumns();
// `get deployments`: Ready, Up-to-date, Available, Age (wide: Containers, Images, Selector).
std::vector<PrinterColumn> DeploymentColumns();
// The Status cell of a Pod (printPod's reason: Completed, Error, Running,
// ContainerCreating, CrashLoopBackOff, Terminating, ...).
std::string PodStatusReason(const nlohmann::json& pod);

}  // namespace vmrelease::apiserver

// What the kubelet does before it starts a container, for the job runner's
// local processes: the environment (env, envFrom, valueFrom with Secrets and
// ConfigMaps read through the API, fieldRef), `$(VAR)` expansion in env values,
// command and args, the working directory and the executable lookup.
//
//   ContainerPlan plan = PlanContainer(client, pod, pod["spec"]["containers"][0],
//                                      {.attempt_dir = dir, .termination_path = dir + "/..."});
//   if (!plan.ok()) ... plan.error.reason   // CreateContainerConfigError | StartError
//
// Differences from a real container (documented in docs/job-runner.md): no
// image, so a container without `command` runs `args` (the image's entrypoint
// is unknown); the environment starts from PATH (the runner's), HOME (the
// attempt dir) and HOSTNAME (the Pod name) instead of the image's; the
// container's terminationMessagePath (default /dev/termination-log) becomes a
// file in the work dir, exported as VMRELEASE_TERMINATION_MESSAGE_PATH and
// replaced wherever command or args mention the original path; a workingDir
// that does not exist on this machine falls back to the attempt dir.
// Secret values are returned separately so the caller can register them for
// log redaction; nothing here logs an environment value.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "controller/kube/client.h"

namespace vmrelease::jobrunner {

inline constexpr char kTerminationPathEnv[] = "VMRELEASE_TERMINATION_MESSAGE_PATH";

struct PlanOptions {
  std::string attempt_dir;       // default working directory and HOME
  std::string termination_path;  // the file standing in for terminationMessagePath
  std::string path;              // PATH when the container sets none (the runner's)
};

struct ContainerPlan {
  struct Error {
    // CreateContainerConfigError: a referenced Secret/ConfigMap/key is missing
    // (the kubelet keeps the container waiting and retries); StartError: the
    // command cannot be run (the container terminates with exit code 128).
    std::string reason;
    std::string message;
  };
  std::vector<std::string> argv;  // argv[0] absolute
  std::map<std::string, std::string> env;
  std::string working_dir;
  std::vector<std::string> secret_values;  // env values that came from Secrets
  std::optional<Error> error;
  bool ok() const { return !error.has_value(); }
};

ContainerPlan PlanContainer(kube::KubeClient& client, const kube::Json& pod,
                            const kube::Json& container, const PlanOptions& options);

// Kubernetes' `$(VAR)` expansion (third_party/forked/golang/expansion):
// `$(NAME)` becomes the value when NAME is defined, else stays as written;
// `$$` is a literal `$`.
std::string ExpandVars(const std::string& in, const std::map<std::string, std::string>& vars);

}  // namespace vmrelease::jobrunner

// Pod status as the kubelet writes it (../shared/reference/kubernetes/jobs.md
// §8), for the job runner: phase, the five Pod conditions, the container's
// state (waiting / running / terminated with exitCode, reason, message,
// startedAt, finishedAt at 1 s precision), and the termination message with
// the kubelet's limits.
//
//   ContainerView c{.name = "build", .state = ContainerView::State::kRunning, ...};
//   kube::Json status = BuildPodStatus(pod, "Running", c, now);
//   std::string msg = TerminationMessage(term_file, log_file, "FallbackToLogsOnError", 1, 1);
//
// Pure functions (files aside); lastTransitionTime of a condition is kept from
// the Pod's current status while the condition's status does not change.
#pragma once

#include <optional>
#include <string>

#include "controller/common/clock.h"
#include "controller/kube/resource.h"

namespace vmrelease::jobrunner {

// The kubelet's limits (pkg/kubelet/container/runtime.go).
inline constexpr size_t kMaxTerminationMessageBytes = 4096;      // read from the file's end
inline constexpr size_t kMaxTerminationMessageLogBytes = 2048;   // FallbackToLogsOnError
inline constexpr int kMaxTerminationMessageLogLines = 80;        // FallbackToLogsOnError
inline constexpr size_t kMaxPodTerminationMessageBytes = 12288;  // shared by all containers

struct ContainerView {
  enum class State { kWaiting, kRunning, kTerminated };
  std::string name;
  std::string image;
  std::string container_id;  // "vmrelease-job-runner://<pod uid>/<attempt>"
  int restart_count = 0;
  State state = State::kWaiting;
  std::string reason;   // waiting: ContainerCreating, CreateContainerConfigError, CrashLoopBackOff;
                        // terminated: Completed, Error, StartError, ContainerStatusUnknown
  std::string message;  // waiting / terminated message
  WallTime started_at{};
  WallTime finished_at{};
  int exit_code = 0;
  // lastState.terminated after an OnFailure restart.
  std::optional<kube::Json> last_terminated;
};

// The whole status for `phase` (Pending, Running, Succeeded, Failed) with the
// first container in `c` (other containers are not run and not reported).
// `reason`/`message` are the Pod-level ones (e.g. DeadlineExceeded).
kube::Json BuildPodStatus(const kube::Json& pod, const std::string& phase, const ContainerView& c,
                          WallTime now, const std::string& reason = "",
                          const std::string& message = "");

// The `terminated` record of a container view (what lastState keeps).
kube::Json TerminatedState(const ContainerView& c);

// The kubelet's getTerminationMessage: the last 4096 bytes of the file; with
// policy FallbackToLogsOnError, an empty file and a non-zero exit code, the
// log's last 80 lines (at most 2048 bytes from their start); then at most
// 12288/containers bytes (the first ones) as the status manager keeps.
std::string TerminationMessage(const std::string& file_path, const std::string& log_path,
                               const std::string& policy, int exit_code, size_t containers);

// The last `lines` lines of a file, at most `max_bytes` from their start.
std::string LogTail(const std::string& path, int lines, size_t max_bytes);

// `in` with every byte that is not part of valid UTF-8 replaced by U+FFFD
// (JSON needs valid UTF-8; a cut message may end mid-character).
std::string SanitizeUtf8(const std::string& in);

// RFC 3339 with 1 s precision, as the status manager writes times.
std::string KubeTime(WallTime t);

}  // namespace vmrelease::jobrunner

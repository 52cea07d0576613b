// ProcessTable: the job runner's container runtime. It starts a Pod's first
// container as a local process in its own session and process group, keeps
// what it needs to find that process again in the work dir, and reports when
// it ends.
//
//   ProcessTable table(work_dir, clock);
//   RETURN_IF_ERROR(table.Init());
//   ASSIGN_OR_RETURN(ContainerProcess p, table.Start({.pod_uid = uid, .attempt = 0,
//                                                      .argv = {"/bin/sh", "-c", "echo hi"}}));
//   for (const std::string& uid : table.Poll()) ...   // processes that ended
//   table.Kill(uid, "deleted", std::chrono::seconds(30));   // SIGTERM, SIGKILL after grace
//
// Layout: <work>/pods/<pod uid>/<attempt>/ holds `launched` (written before the
// process is started), `pid` ("<pid> <starttime ticks>"), `output.log` (stdout
// and stderr), `termination-log` (the container's terminationMessagePath),
// `exit` (the exit code, written by the shim when the command ends),
// `killed` (why the runner killed it) and `start-error` (why it never ran).
//
// The process is a tiny /bin/sh shim that runs the command in the foreground,
// survives SIGTERM (trap) to record the command's exit code, and exits with it.
// Its pid is the process group id; killing the group kills the command and
// everything it started (unless that left the group). When the shim ends, the
// rest of its group is killed too, as a container's cgroup would be.
//
// Guarantees (what makes the runner restart-safe):
//   - An attempt is started at most once: `launched` is created exclusively
//     before the process exists, and Start() refuses an attempt that has it.
//   - After a runner restart, Recover() finds the attempt's state from the work
//     dir alone: still running (the pid and its start time match, or a shim
//     whose command line names this attempt), exited (with its exit code), or
//     lost (gone without an exit code).
//   - Only the runner's own children are reaped, by pid; never waitpid(-1).
// Thread-safe.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "controller/common/clock.h"
#include "controller/common/status.h"

namespace vmrelease::jobrunner {

struct ContainerProcess {
  enum class State {
    kRunning,
    kExited,  // ended with exit_code (128+signal when killed by one)
    kLost,    // gone, and nothing says how it ended
  };
  std::string pod_uid;
  int attempt = 0;  // the container's restartCount when this run started
  std::string dir;  // <work>/pods/<uid>/<attempt>
  pid_t pid = 0;    // the shim; also the process group id
  bool adopted = false;
  State state = State::kRunning;
  int exit_code = 0;
  WallTime started_at{};
  WallTime finished_at{};
  std::string kill_reason;  // set when the runner killed it
  std::string lost_reason;  // kLost: what is known
  std::string start_error;  // the command could not be started (exit code 128)

  std::string log_path() const { return dir + "/output.log"; }
  std::string termination_path() const { return dir + "/termination-log"; }
};

struct LaunchSpec {
  std::string pod_uid;
  int attempt = 0;
  std::vector<std::string> argv;  // argv[0] an absolute path
  std::vector<std::string> env;   // KEY=VALUE, the whole environment
  std::string working_dir;        // must exist
};

class ProcessTable {
 public:
  ProcessTable(std::string work_dir, Clock& clock);
  ~ProcessTable();
  ProcessTable(const ProcessTable&) = delete;
  ProcessTable& operator=(const ProcessTable&) = delete;

  // Creates <work>/pods. Errors: the directory cannot be created.
  Status Init();

  // <work>/pods/<uid>/<attempt>, created (with an empty termination-log) so a
  // caller can put paths to it into the environment before Start().
  StatusOr<std::string> PrepareAttempt(const std::string& pod_uid, int attempt);
  // Starts the attempt. Errors: kAlreadyExists when this attempt was launched
  // before (never started twice); kUnavailable when the process cannot be
  // spawned (then the attempt is recorded as lost).
  StatusOr<ContainerProcess> Start(const LaunchSpec& spec);

  // The latest attempt of a Pod known in memory or, after a restart, found in
  // the work dir; nullopt when this Pod was never launched here.
  std::optional<ContainerProcess> Get(const std::string& pod_uid);
  // Uids of every Pod with a directory in the work dir.
  std::vector<std::string> KnownPods();

  // Records an attempt whose command could not be started (StartError): it
  // counts as launched and exited with code 128 and `message`.
  StatusOr<ContainerProcess> RecordStartError(const std::string& pod_uid, int attempt,
                                              const std::string& message);
  // Sends SIGTERM to the process group and SIGKILL after `grace` (Poll()
  // escalates). Idempotent; the first reason is kept.
  void Kill(const std::string& pod_uid, const std::string& reason, Duration grace);
  // Checks every running process; returns the uids whose process ended since
  // the last call, and escalates kills whose grace period is over.
  std::vector<std::string> Poll();
  // Kills anything left and removes the Pod's directory (the Pod is gone).
  void Forget(const std::string& pod_uid);

  const std::string& work_dir() const { return work_dir_; }

 private:
  struct Entry {
    ContainerProcess proc;
    uint64_t start_ticks = 0;
    bool own_child = false;
    std::optional<TimePoint> kill_at;  // SIGKILL deadline
  };
  std::string PodDir(const std::string& uid) const;
  // Loads the latest attempt from disk into entries_ (mu_ held).
  std::optional<Entry> RecoverLocked(const std::string& uid);
  // Marks a finished entry: reads its exit file.
  void FinishLocked(Entry& e, std::optional<int> wait_status);

  const std::string work_dir_;
  Clock& clock_;
  std::mutex mu_;
  std::map<std::string, Entry> entries_;  // pod uid -> latest attempt
};

// /proc/<pid>/stat: the process start time in clock ticks since boot, and
// whether it is a zombie; nullopt when there is no such process.
struct ProcStat {
  uint64_t start_ticks = 0;
  bool zombie = false;
};
std::optional<ProcStat> ReadProcStat(pid_t pid);

}  // namespace vmrelease::jobrunner

// LocalProcess: a command on the controller's host that outlives the
// controller, so local builds and local checks survive a `kill -9` of the
// controller and are adopted, never run twice, when it comes back.
//
//   LocalProcessSpec spec{.argv = {"build-demo-image"}, .env = env,
//                         .work_dir = dir + "/work", .state_dir = dir + "/run"};
//   ASSIGN_OR_RETURN(ProcessState s, LocalProcess::Ensure(spec));   // starts or adopts
//   ... later, from any controller process:
//   ProcessState now = LocalProcess::Inspect(spec.state_dir);
//   if (now.phase == ProcessPhase::kExited) use(now.exit_code, LocalProcess::OutputTail(dir,
//   4096));
//
// How: Ensure double-forks a small supervisor (not a child of the controller,
// in its own session and process group) that takes an exclusive flock on
// `state_dir/lock`, writes its pid, runs the command with stdout+stderr to
// `state_dir/output`, and writes the exit status to `state_dir/exit` (atomically)
// when the command ends. The lock is inherited by the command, so it is held
// as long as anything of the run is alive, whoever its parent is.
//
// Guarantees:
//   - At most one run per state_dir at a time: Ensure starts only when no exit
//     file exists and nobody holds the lock (checked under the lock file).
//   - Inspect never blocks and never waits for the process.
//   - Kill sends SIGKILL to the run's whole process group and waits (bounded)
//     until the lock is free.
// Caveats: the state dir must be on a local filesystem (flock); the command's
// own children that call setsid() leave the group and are not killed by Kill().
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "controller/common/clock.h"
#include "controller/common/status.h"

namespace vmrelease::release {

struct LocalProcessSpec {
  std::vector<std::string> argv;           // argv[0]: a path, or a name looked up in env PATH
  std::map<std::string, std::string> env;  // the whole environment of the command
  std::string work_dir;                    // its working directory (created if missing)
  std::string state_dir;                   // lock, pid, output and exit files (created)
};

enum class ProcessPhase {
  kNotStarted,  // no run in this state dir
  kRunning,     // the lock is held
  kExited,      // the exit file exists
  kLost,        // started, but nothing holds the lock and no exit was recorded
};
const char* ProcessPhaseName(ProcessPhase p);

struct ProcessState {
  ProcessPhase phase = ProcessPhase::kNotStarted;
  int pid = 0;  // the supervisor (= process group id), when known
  std::optional<WallTime> started_at;
  int exit_code = -1;         // kExited: the command's exit code, or 128+signal
  std::optional<int> signal;  // kExited by a signal
};

class LocalProcess {
 public:
  // Starts the command unless a run already exists in spec.state_dir; returns
  // the state afterwards (kRunning or, for a very short command, kExited).
  // Errors: kNotFound when argv[0] is not found in the env PATH,
  // kInvalidArgument for an empty argv, kInternal when fork/exec fails.
  static StatusOr<ProcessState> Ensure(const LocalProcessSpec& spec);
  static ProcessState Inspect(const std::string& state_dir);
  // Kills the run's process group (if it runs) and waits up to `wait` for the
  // lock to be released. Returns true when nothing of the run is left.
  static bool Kill(const std::string& state_dir,
                   std::chrono::milliseconds wait = std::chrono::seconds(10));
  // The last `max_bytes` of the run's output (stdout and stderr, interleaved),
  // starting at a line boundary when possible. Not redacted: the caller redacts.
  static std::string OutputTail(const std::string& state_dir, size_t max_bytes);
  // Kills whatever runs and removes the state dir (for a fresh start).
  static Status Reset(const std::string& state_dir);
};

// Resolves `name` against `path` (a PATH value) the way execvp does; a name
// with a '/' is returned unchanged when it exists.
StatusOr<std::string> ResolveExecutable(const std::string& name, const std::string& path);

}  // namespace vmrelease::release

// What a validator keeps in its working directory so that no VM outlives a crashed run.
//
//   ASSIGN_OR_RETURN(auto guard, WorkDirGuard::Acquire(cwd, &notes));
//   RETURN_IF_ERROR(guard->Record(0, run_dir));      // before anything is created
//   ...start qemu...
//   RETURN_IF_ERROR(guard->Record(vm->pid(), run_dir));
//
// Files (in the working directory):
//   vm-validate.lock  flock()ed for the whole run; the kernel drops the lock when the holder
//                     dies, so a held lock means a validator is still running here.
//   vm-validate.pid   "validator <pid>\nqemu <pid>\nrundir <path>\n" of the current run.
//
// Acquire() takes the directory over from an earlier run:
//   1. lock held: the holder named in vm-validate.pid is killed (SIGKILL) once /proc shows it
//      is this program (same executable) with this working directory; then the lock is taken.
//   2. the qemu named in vm-validate.pid is killed when /proc/<pid>/cmdline carries this
//      directory's marker (so a recycled pid is never hit), and waited for.
//   3. the run directory named there is removed when it is one of ours (/…/vmrv-*).
// Caveats: a directory is meant for one validator at a time; a second one started while the
// first runs takes over (the first one's VM is killed).
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "controller/common/status.h"

namespace vmrelease::vmvalidate {

inline constexpr char kLockFile[] = "vm-validate.lock";
inline constexpr char kPidFile[] = "vm-validate.pid";
inline constexpr char kRunDirPrefix[] = "vmrv-";

// "vmrelease-validate-<16 hex of sha256(dir)>": the -name of every qemu started for `dir`.
std::string MarkerFor(const std::string& dir);

class WorkDirGuard {
 public:
  // `dir` must be an absolute, existing directory. Appends what it cleaned up to `notes`.
  static StatusOr<std::unique_ptr<WorkDirGuard>> Acquire(const std::string& dir,
                                                         std::vector<std::string>* notes);
  // Removes the pid file and releases the lock.
  ~WorkDirGuard();
  WorkDirGuard(const WorkDirGuard&) = delete;
  WorkDirGuard& operator=(const WorkDirGuard&) = delete;

  const std::string& marker() const { return marker_; }
  // Rewrites vm-validate.pid (atomically) with this run's qemu pid (0: none yet) and run dir.
  Status Record(pid_t qemu_pid, const std::string& run_dir);

 private:
  WorkDirGuard(std::string dir, int lock_fd)
      : dir_(std::move(dir)), lock_fd_(lock_fd), marker_(MarkerFor(dir_)) {}

  std::string dir_;
  int lock_fd_;
  std::string marker_;
};

// Whether /proc/<pid>/cmdline contains `marker` as one whole argument.
bool CommandLineHas(pid_t pid, const std::string& marker);

}  // namespace vmrelease::vmvalidate

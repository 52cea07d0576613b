#include "tests/support/jobrunner/processes.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "controller/common/log.h"
#include "controller/common/strings.h"

namespace vmrelease::jobrunner {
namespace {

// Runs "$@" in the foreground; TERM/INT/HUP are caught (not ignored, so the
// command gets the default dispositions back on exec), which lets the shell
// outlive a signal to the process group and record the command's exit code.
constexpr char kShim[] =
    "exit_file=$1; shift\n"
    "trap : TERM INT HUP\n"
    "\"$@\"\n"
    "rc=$?\n"
    "echo \"$rc\" > \"$exit_file\"\n"
    "exit \"$rc\"\n";
constexpr char kShimName[] = "vmrelease-job-runner-shim";

std::optional<std::string> ReadSmallFile(const std::string& path) {
  auto s = ReadFileToString(path);
  if (!s.ok()) return std::nullopt;
  return *s;
}

bool WriteFileAtomically(const std::string& path, const std::string& content) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    if (!out) return false;
    out << content;
    if (!out.good()) return false;
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  return !ec;
}

std::optional<int64_t> ParseInt(const std::string& s) {
  const std::string t = Trim(s);
  if (t.empty()) return std::nullopt;
  try {
    size_t used = 0;
    const int64_t v = std::stoll(t, &used);
    if (used != t.size()) return std::nullopt;
    return v;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

WallTime FileMtime(const std::string& path, WallTime fallback) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return fallback;
  return WallTime(std::chrono::seconds(st.st_mtim.tv_sec)) +
         std::chrono::duration_cast<WallTime::duration>(
             std::chrono::nanoseconds(st.st_mtim.tv_nsec));
}

int DecodeWait(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 255;
}

// A running shim whose argv names `exit_path` (the attempt's exit file): how
// an attempt whose pid was never recorded is found after a runner restart.
std::optional<pid_t> FindShim(const std::string& exit_path) {
  std::optional<pid_t> found;
  DIR* d = ::opendir("/proc");
  if (d == nullptr) return found;
  while (dirent* e = ::readdir(d)) {
    const auto pid = ParseInt(e->d_name);
    if (!pid) continue;
    auto cmdline = ReadSmallFile("/proc/" + std::string(e->d_name) + "/cmdline");
    if (!cmdline) continue;
    std::vector<std::string> args;
    std::stringstream ss(*cmdline);
    for (std::string a; std::getline(ss, a, '\0');) args.push_back(a);
    if (args.size() > 4 && args[3] == kShimName && args[4] == exit_path) {
      found = static_cast<pid_t>(*pid);
      break;
    }
  }
  ::closedir(d);
  return found;
}

}  // namespace

std::optional<ProcStat> ReadProcStat(pid_t pid) {
  auto stat = ReadSmallFile("/proc/" + std::to_string(pid) + "/stat");
  if (!stat) return std::nullopt;
  const size_t paren = stat->rfind(')');
  if (paren == std::string::npos) return std::nullopt;
  std::istringstream in(stat->substr(paren + 1));
  std::vector<std::string> f;
  for (std::string w; in >> w;) f.push_back(w);
  // f[0] is field 3 (state); starttime is field 22.
  if (f.size() < 20) return std::nullopt;
  ProcStat ps;
  ps.zombie = f[0] == "Z" || f[0] == "X";
  try {
    ps.start_ticks = std::stoull(f[19]);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  return ps;
}

ProcessTable::ProcessTable(std::string work_dir, Clock& clock)
    : work_dir_(std::move(work_dir)), clock_(clock) {}

ProcessTable::~ProcessTable() = default;

Status ProcessTable::Init() {
  std::error_code ec;
  std::filesystem::create_directories(work_dir_ + "/pods", ec);
  if (ec) return InternalError("cannot create " + work_dir_ + "/pods: " + ec.message());
  return Status::Ok();
}

std::string ProcessTable::PodDir(const std::string& uid) const {
  return work_dir_ + "/pods/" + uid;
}

StatusOr<std::string> ProcessTable::PrepareAttempt(const std::string& pod_uid, int attempt) {
  if (pod_uid.empty() || pod_uid.find('/') != std::string::npos || pod_uid[0] == '.')
    return InvalidArgumentError("bad pod uid \"" + pod_uid + "\"");
  const std::string dir = PodDir(pod_uid) + "/" + std::to_string(attempt);
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return InternalError("cannot create " + dir + ": " + ec.message());
  const std::string term = dir + "/termination-log";
  if (!std::filesystem::exists(term, ec)) std::ofstream(term).close();
  return dir;
}

StatusOr<ContainerProcess> ProcessTable::Start(const LaunchSpec& spec) {
  if (spec.argv.empty()) return InvalidArgumentError("no command");
  ASSIGN_OR_RETURN(std::string dir, PrepareAttempt(spec.pod_uid, spec.attempt));
  std::lock_guard lock(mu_);
  const std::string launched = dir + "/launched";
  const int lfd = ::open(launched.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (lfd < 0) {
    if (errno == EEXIST)
      return AlreadyExistsError("attempt " + std::to_string(spec.attempt) + " of pod " +
                                spec.pod_uid + " was started before");
    return InternalError("cannot create " + launched + ": " + std::strerror(errno));
  }
  const WallTime started = clock_.WallNow();
  const std::string when = std::to_string(
      std::chrono::duration_cast<std::chrono::seconds>(started.time_since_epoch()).count());
  if (::write(lfd, when.data(), when.size()) < 0) {
    // The marker exists, which is what matters; its content is informational.
  }
  ::close(lfd);

  Entry e;
  e.proc.pod_uid = spec.pod_uid;
  e.proc.attempt = spec.attempt;
  e.proc.dir = dir;
  e.proc.started_at = started;
  const std::string log_path = e.proc.log_path();
  const int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (log_fd < 0) {
    e.proc.state = ContainerProcess::State::kLost;
    e.proc.lost_reason = "cannot open " + log_path + ": " + std::strerror(errno);
    entries_[spec.pod_uid] = e;
    return UnavailableError(e.proc.lost_reason);
  }
  std::vector<std::string> args = {"/bin/sh", "-c", kShim, kShimName, dir + "/exit"};
  args.insert(args.end(), spec.argv.begin(), spec.argv.end());
  std::vector<std::string> env = spec.env;
  std::vector<char*> cargs, cenv;
  for (auto& a : args) cargs.push_back(a.data());
  cargs.push_back(nullptr);
  for (auto& v : env) cenv.push_back(v.data());
  cenv.push_back(nullptr);

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, log_fd, 1);
  posix_spawn_file_actions_adddup2(&fa, log_fd, 2);
  posix_spawn_file_actions_addchdir_np(
      &fa, spec.working_dir.empty() ? dir.c_str() : spec.working_dir.c_str());
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // Own session and process group; default signal dispositions and an empty
  // mask (the runner blocks SIGTERM/SIGINT for sigwait and ignores SIGPIPE).
  sigset_t all, none;
  sigfillset(&all);
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, "/bin/sh", &fa, &attr, cargs.data(), cenv.data());
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  ::close(log_fd);
  if (rc != 0) {
    e.proc.state = ContainerProcess::State::kLost;
    e.proc.lost_reason = std::string("cannot start the container process: ") + std::strerror(rc);
    entries_[spec.pod_uid] = e;
    return UnavailableError(e.proc.lost_reason);
  }
  e.proc.pid = pid;
  e.own_child = true;
  if (auto ps = ReadProcStat(pid)) e.start_ticks = ps->start_ticks;
  if (!WriteFileAtomically(dir + "/pid",
                           std::to_string(pid) + " " + std::to_string(e.start_ticks) + "\n"))
    log::Warn("jobrunner.process", "cannot write the pid file", {{"dir", dir}});
  entries_[spec.pod_uid] = e;
  return e.proc;
}

StatusOr<ContainerProcess> ProcessTable::RecordStartError(const std::string& pod_uid, int attempt,
                                                          const std::string& message) {
  ASSIGN_OR_RETURN(std::string dir, PrepareAttempt(pod_uid, attempt));
  std::lock_guard lock(mu_);
  const std::string launched = dir + "/launched";
  const int lfd = ::open(launched.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (lfd < 0)
    return AlreadyExistsError("attempt " + std::to_string(attempt) + " of pod " + pod_uid +
                              " was started before");
  const WallTime now = clock_.WallNow();
  const std::string when = std::to_string(
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count());
  if (::write(lfd, when.data(), when.size()) < 0) {
  }
  ::close(lfd);
  WriteFileAtomically(dir + "/start-error", message);
  WriteFileAtomically(dir + "/exit", "128\n");
  Entry e;
  e.proc.pod_uid = pod_uid;
  e.proc.attempt = attempt;
  e.proc.dir = dir;
  e.proc.started_at = now;
  e.proc.finished_at = now;
  e.proc.state = ContainerProcess::State::kExited;
  e.proc.exit_code = 128;
  e.proc.start_error = message;
  entries_[pod_uid] = e;
  return e.proc;
}

void ProcessTable::FinishLocked(Entry& e, std::optional<int> wait_status) {
  ContainerProcess& p = e.proc;
  const std::string exit_path = p.dir + "/exit";
  auto exit_text = ReadSmallFile(exit_path);
  std::optional<int64_t> code = exit_text ? ParseInt(*exit_text) : std::nullopt;
  p.finished_at = FileMtime(exit_path, clock_.WallNow());
  if (code) {
    p.state = ContainerProcess::State::kExited;
    p.exit_code = static_cast<int>(*code);
  } else if (wait_status) {
    p.state = ContainerProcess::State::kExited;
    p.exit_code = DecodeWait(*wait_status);
  } else if (!p.kill_reason.empty()) {
    p.state = ContainerProcess::State::kExited;
    p.exit_code = 128 + SIGKILL;
  } else {
    p.state = ContainerProcess::State::kLost;
    if (p.lost_reason.empty())
      p.lost_reason =
          "the container process ended without an exit code (killed from outside "
          "the job runner, or while it was not running)";
  }
  // Whatever the command left behind in its group goes too, as when a
  // container's cgroup is torn down. A pid number stays taken while it names a
  // process group, so the group is still ours unless a live process now has
  // that pid (then it was reused and the group is someone else's).
  if (p.pid > 0) {
    auto ps = ReadProcStat(p.pid);
    if (!ps || ps->zombie) ::kill(-p.pid, SIGKILL);
  }
  e.kill_at.reset();
}

std::optional<ProcessTable::Entry> ProcessTable::RecoverLocked(const std::string& uid) {
  const std::string pod_dir = PodDir(uid);
  std::error_code ec;
  int latest = -1;
  for (const auto& d : std::filesystem::directory_iterator(pod_dir, ec)) {
    auto n = ParseInt(d.path().filename().string());
    if (n && *n > latest && std::filesystem::exists(d.path() / "launched", ec))
      latest = static_cast<int>(*n);
  }
  if (latest < 0) return std::nullopt;
  Entry e;
  ContainerProcess& p = e.proc;
  p.pod_uid = uid;
  p.attempt = latest;
  p.dir = pod_dir + "/" + std::to_string(latest);
  p.adopted = true;
  if (auto launched = ReadSmallFile(p.dir + "/launched"))
    if (auto secs = ParseInt(*launched)) p.started_at = WallTime(std::chrono::seconds(*secs));
  if (auto killed = ReadSmallFile(p.dir + "/killed")) p.kill_reason = Trim(*killed);
  if (auto start_error = ReadSmallFile(p.dir + "/start-error")) {
    p.start_error = *start_error;
    FinishLocked(e, std::nullopt);  // exit 128, recorded with it
    return e;
  }
  std::optional<pid_t> pid;
  uint64_t ticks = 0;
  if (auto pid_text = ReadSmallFile(p.dir + "/pid")) {
    std::istringstream in(*pid_text);
    int64_t v = 0;
    if (in >> v >> ticks) pid = static_cast<pid_t>(v);
  }
  if (pid) {
    auto ps = ReadProcStat(*pid);
    if (ps && !ps->zombie && (ticks == 0 || ps->start_ticks == ticks)) {
      p.pid = *pid;
      e.start_ticks = ps->start_ticks;
      return e;  // still running: adopted
    }
    p.pid = *pid;
    FinishLocked(e, std::nullopt);
    return e;
  }
  // Launched, but the runner stopped before recording the pid.
  if (auto shim = FindShim(p.dir + "/exit")) {
    p.pid = *shim;
    if (auto ps = ReadProcStat(*shim)) e.start_ticks = ps->start_ticks;
    WriteFileAtomically(p.dir + "/pid",
                        std::to_string(*shim) + " " + std::to_string(e.start_ticks) + "\n");
    return e;
  }
  p.lost_reason =
      "the job runner stopped while starting this container and its process is gone; "
      "it is not started again";
  FinishLocked(e, std::nullopt);
  return e;
}

std::optional<ContainerProcess> ProcessTable::Get(const std::string& pod_uid) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(pod_uid);
  if (it != entries_.end()) return it->second.proc;
  auto e = RecoverLocked(pod_uid);
  if (!e) return std::nullopt;
  if (e->proc.state == ContainerProcess::State::kRunning)
    log::Info("jobrunner.process", "adopted a running container process",
              {{"pod_uid", pod_uid}, {"attempt", e->proc.attempt}, {"pid", e->proc.pid}});
  entries_[pod_uid] = *e;
  return e->proc;
}

std::vector<std::string> ProcessTable::KnownPods() {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& d : std::filesystem::directory_iterator(work_dir_ + "/pods", ec))
    if (d.is_directory(ec)) out.push_back(d.path().filename().string());
  return out;
}

void ProcessTable::Kill(const std::string& pod_uid, const std::string& reason, Duration grace) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(pod_uid);
  if (it == entries_.end()) {
    auto e = RecoverLocked(pod_uid);
    if (!e) return;
    it = entries_.emplace(pod_uid, *e).first;
  }
  Entry& e = it->second;
  if (e.proc.state != ContainerProcess::State::kRunning || e.proc.pid <= 0) return;
  if (e.proc.kill_reason.empty()) {
    e.proc.kill_reason = reason;
    WriteFileAtomically(e.proc.dir + "/killed", reason + "\n");
  }
  if (e.kill_at) return;  // already terminating
  if (grace <= Duration::zero()) {
    ::kill(-e.proc.pid, SIGKILL);
    e.kill_at = clock_.Now();
    return;
  }
  ::kill(-e.proc.pid, SIGTERM);
  e.kill_at = clock_.Now() + grace;
}

std::vector<std::string> ProcessTable::Poll() {
  std::vector<std::string> ended;
  std::lock_guard lock(mu_);
  for (auto& [uid, e] : entries_) {
    if (e.proc.state != ContainerProcess::State::kRunning || e.proc.pid <= 0) continue;
    bool done = false;
    std::optional<int> wait_status;
    if (e.own_child) {
      int st = 0;
      const pid_t r = ::waitpid(e.proc.pid, &st, WNOHANG);
      if (r == e.proc.pid) {
        done = true;
        wait_status = st;
      } else if (r < 0 && errno == ECHILD) {
        e.own_child = false;  // reaped elsewhere: check /proc instead
      }
    }
    if (!e.own_child && !done) {
      auto ps = ReadProcStat(e.proc.pid);
      done = !ps || ps->zombie || (e.start_ticks != 0 && ps->start_ticks != e.start_ticks);
    }
    if (done) {
      FinishLocked(e, wait_status);
      ended.push_back(uid);
      continue;
    }
    if (e.kill_at && clock_.Now() >= *e.kill_at) {
      ::kill(-e.proc.pid, SIGKILL);
      e.kill_at = clock_.Now() + std::chrono::seconds(1);  // again, if it lingers
    }
  }
  return ended;
}

void ProcessTable::Forget(const std::string& pod_uid) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(pod_uid);
  if (it == entries_.end()) {
    if (auto e = RecoverLocked(pod_uid)) it = entries_.emplace(pod_uid, *e).first;
  }
  if (it != entries_.end()) {
    Entry& e = it->second;
    if (e.proc.state == ContainerProcess::State::kRunning && e.proc.pid > 0) {
      ::kill(-e.proc.pid, SIGKILL);
      if (e.own_child) {
        int st = 0;
        ::waitpid(e.proc.pid, &st, 0);
      }
    }
    entries_.erase(it);
  }
  std::error_code ec;
  std::filesystem::remove_all(PodDir(pod_uid), ec);
}

}  // namespace vmrelease::jobrunner

#include "controller/release/local_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "controller/common/strings.h"

namespace vmrelease::release {
namespace fs = std::filesystem;
namespace {

constexpr char kLock[] = "/lock";
constexpr char kPid[] = "/pid";
constexpr char kExit[] = "/exit";
constexpr char kOutput[] = "/output";

// --- async-signal-safe helpers for the forked processes (no allocation) -------------

size_t FormatInt(long long v, char* buf) {  // buf: at least 24 bytes; returns the length
  char tmp[24];
  size_t n = 0;
  const bool neg = v < 0;
  unsigned long long u = neg ? 0ULL - static_cast<unsigned long long>(v) : v;
  do {
    tmp[n++] = static_cast<char>('0' + u % 10);
    u /= 10;
  } while (u != 0);
  size_t len = 0;
  if (neg) buf[len++] = '-';
  while (n > 0) buf[len++] = tmp[--n];
  return len;
}

void WriteAll(int fd, const char* data, size_t n) {
  while (n > 0) {
    const ssize_t w = write(fd, data, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return;
    }
    data += w;
    n -= static_cast<size_t>(w);
  }
}

// Writes `text` to `path` through `tmp` and rename(), so readers never see half of it.
void WriteFileAtomic(const char* tmp, const char* path, const char* text, size_t n) {
  const int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return;
  WriteAll(fd, text, n);
  fsync(fd);
  close(fd);
  rename(tmp, path);
}

std::optional<std::string> Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void ReadPidFile(const std::string& dir, ProcessState* s) {
  auto text = Slurp(dir + kPid);
  if (!text) return;
  std::istringstream in(*text);
  long long pid = 0, started = 0;
  if (in >> pid >> started) {
    s->pid = static_cast<int>(pid);
    s->started_at = WallTime(std::chrono::seconds(started));
  }
}

// In a container where the controller is PID 1, the supervisors it orphaned are
// re-parented to it: reap them so they do not stay zombies.
void ReapIfInit() {
  if (getpid() != 1) return;
  while (waitpid(-1, nullptr, WNOHANG) > 0) {
  }
}

}  // namespace

const char* ProcessPhaseName(ProcessPhase p) {
  switch (p) {
    case ProcessPhase::kNotStarted:
      return "NotStarted";
    case ProcessPhase::kRunning:
      return "Running";
    case ProcessPhase::kExited:
      return "Exited";
    case ProcessPhase::kLost:
      return "Lost";
  }
  return "?";
}

StatusOr<std::string> ResolveExecutable(const std::string& name, const std::string& path) {
  if (name.empty()) return InvalidArgumentError("empty command");
  if (name.find('/') != std::string::npos) {
    if (access(name.c_str(), X_OK) == 0) return name;
    return NotFoundError("command " + name + " does not exist or is not executable");
  }
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find(':', start);
    if (end == std::string::npos) end = path.size();
    std::string dir = path.substr(start, end - start);
    if (dir.empty()) dir = ".";
    const std::string candidate = dir + "/" + name;
    struct stat st {};
    if (stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        access(candidate.c_str(), X_OK) == 0)
      return candidate;
    start = end + 1;
  }
  return NotFoundError("command " + name + " not found in PATH (" + path + ")");
}

ProcessState LocalProcess::Inspect(const std::string& state_dir) {
  ReapIfInit();
  ProcessState s;
  ReadPidFile(state_dir, &s);
  if (auto exit_text = Slurp(state_dir + kExit)) {
    std::istringstream in(*exit_text);
    int code = -1, sig = 0;
    in >> code >> sig;
    s.phase = ProcessPhase::kExited;
    s.exit_code = code;
    if (sig > 0) s.signal = sig;
    return s;
  }
  const int fd = open((state_dir + kLock).c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return s;  // kNotStarted
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    close(fd);
    s.phase = ProcessPhase::kRunning;
    return s;
  }
  close(fd);  // releases our lock
  // Re-check the exit file: the run may have finished between the two reads.
  if (fs::exists(state_dir + kExit)) return Inspect(state_dir);
  s.phase = fs::exists(state_dir + kPid) ? ProcessPhase::kLost : ProcessPhase::kNotStarted;
  return s;
}

StatusOr<ProcessState> LocalProcess::Ensure(const LocalProcessSpec& spec) {
  if (spec.argv.empty()) return InvalidArgumentError("empty command");
  std::error_code ec;
  fs::create_directories(spec.state_dir, ec);
  if (ec) return InternalError("cannot create " + spec.state_dir + ": " + ec.message());
  fs::create_directories(spec.work_dir, ec);
  if (ec) return InternalError("cannot create " + spec.work_dir + ": " + ec.message());

  const std::string lock_path = spec.state_dir + kLock;
  const int lock_fd = open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd < 0) return InternalError("cannot open " + lock_path);
  if (fs::exists(spec.state_dir + kExit) || flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
    close(lock_fd);
    return Inspect(spec.state_dir);  // finished or running: adopt
  }
  if (fs::exists(spec.state_dir + kPid)) {
    close(lock_fd);
    return Inspect(spec.state_dir);  // kLost: the caller decides (Reset and start again)
  }

  // Everything the forked processes need, prepared before fork (they may not allocate).
  const auto path_it = spec.env.find("PATH");
  auto exe = ResolveExecutable(spec.argv[0], path_it == spec.env.end() ? "" : path_it->second);
  if (!exe.ok()) {
    close(lock_fd);
    return exe.status();
  }
  std::vector<std::string> env_strings;
  for (const auto& [k, v] : spec.env) env_strings.push_back(k + "=" + v);
  std::vector<char*> argv, envp;
  for (const auto& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  const std::string pid_path = spec.state_dir + kPid, pid_tmp = pid_path + ".tmp";
  const std::string exit_path = spec.state_dir + kExit, exit_tmp = exit_path + ".tmp";
  const std::string out_path = spec.state_dir + kOutput;
  const int out_fd = open(out_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (out_fd < 0) {
    close(lock_fd);
    return InternalError("cannot open " + out_path);
  }

  const pid_t first = fork();
  if (first < 0) {
    close(out_fd);
    close(lock_fd);
    return InternalError("fork failed");
  }
  if (first == 0) {
    // First child: detach the supervisor so the controller never has to reap it.
    const pid_t supervisor = fork();
    if (supervisor != 0) _exit(supervisor < 0 ? 1 : 0);
    // Supervisor: own session and process group; keep only the lock (fd 3) and
    // the output (fd 4), so no other release's descriptors are held here.
    setsid();
    const int high_lock = fcntl(lock_fd, F_DUPFD, 100);
    const int high_out = fcntl(out_fd, F_DUPFD, 100);
    if (high_lock < 0 || high_out < 0 || dup2(high_lock, 3) < 0 || dup2(high_out, 4) < 0) _exit(1);
    close_range(5, ~0U, 0);  // the command inherits the lock: held while anything of the run lives
    char line[64];
    size_t n = FormatInt(getpid(), line);
    line[n++] = ' ';
    struct timespec ts {};
    clock_gettime(CLOCK_REALTIME, &ts);
    n += FormatInt(ts.tv_sec, line + n);
    line[n++] = '\n';
    WriteFileAtomic(pid_tmp.c_str(), pid_path.c_str(), line, n);
    const pid_t command = fork();
    if (command == 0) {
      const int devnull = open("/dev/null", O_RDONLY);
      if (devnull >= 0) dup2(devnull, 0);
      dup2(4, 1);
      dup2(4, 2);
      if (devnull > 2) close(devnull);
      close(4);
      signal(SIGPIPE, SIG_DFL);
      sigset_t none;
      sigemptyset(&none);
      sigprocmask(SIG_SETMASK, &none, nullptr);  // the controller blocks SIGTERM/SIGINT
      if (chdir(spec.work_dir.c_str()) != 0) {
        static const char kMsg[] = "vmrelease: cannot enter the working directory\n";
        WriteAll(2, kMsg, sizeof(kMsg) - 1);
        _exit(127);
      }
      execve(exe->c_str(), argv.data(), envp.data());
      static const char kMsg[] = "vmrelease: cannot execute the command\n";
      WriteAll(2, kMsg, sizeof(kMsg) - 1);
      _exit(127);
    }
    int code = 127, sig = 0;
    if (command > 0) {
      int status = 0;
      while (waitpid(command, &status, 0) < 0 && errno == EINTR) {
      }
      if (WIFEXITED(status)) {
        code = WEXITSTATUS(status);
      } else if (WIFSIGNALED(status)) {
        sig = WTERMSIG(status);
        code = 128 + sig;
      }
    }
    n = FormatInt(code, line);
    line[n++] = ' ';
    n += FormatInt(sig, line + n);
    line[n++] = '\n';
    WriteFileAtomic(exit_tmp.c_str(), exit_path.c_str(), line, n);
    _exit(0);
  }
  close(out_fd);
  close(lock_fd);  // the supervisor's copy keeps the lock
  int status = 0;
  while (waitpid(first, &status, 0) < 0 && errno == EINTR) {
  }
  // The supervisor writes its pid file at once; wait for it (bounded) so callers
  // can report the process group.
  for (int i = 0; i < 200 && !fs::exists(pid_path); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ProcessState s = Inspect(spec.state_dir);
  if (s.phase == ProcessPhase::kNotStarted) s.phase = ProcessPhase::kRunning;
  return s;
}

bool LocalProcess::Kill(const std::string& state_dir, std::chrono::milliseconds wait) {
  const auto deadline = std::chrono::steady_clock::now() + wait;
  while (true) {
    ProcessState s = Inspect(state_dir);
    if (s.phase != ProcessPhase::kRunning) return true;
    if (s.pid > 0) {
      kill(-s.pid, SIGKILL);
      kill(s.pid, SIGKILL);
    }
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

std::string LocalProcess::OutputTail(const std::string& state_dir, size_t max_bytes) {
  std::ifstream in(state_dir + kOutput, std::ios::binary | std::ios::ate);
  if (!in) return "";
  const std::streamoff size = in.tellg();
  const std::streamoff start = size > static_cast<std::streamoff>(max_bytes)
                                   ? size - static_cast<std::streamoff>(max_bytes)
                                   : 0;
  in.seekg(start);
  std::string tail(static_cast<size_t>(size - start), '\0');
  in.read(tail.data(), static_cast<std::streamsize>(tail.size()));
  if (start > 0) {
    const size_t nl = tail.find('\n');
    if (nl != std::string::npos && nl + 1 < tail.size()) tail.erase(0, nl + 1);
  }
  return tail;
}

Status LocalProcess::Reset(const std::string& state_dir) {
  if (!Kill(state_dir)) return UnavailableError("the run in " + state_dir + " could not be killed");
  std::error_code ec;
  fs::remove_all(state_dir, ec);
  if (ec) return InternalError("cannot remove " + state_dir + ": " + ec.message());
  return Status::Ok();
}

}  // namespace vmrelease::release

#include "tools/vm-validate/workdir.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "controller/common/crypto.h"
#include "controller/common/strings.h"

namespace vmrelease::vmvalidate {
namespace {

using std::chrono::milliseconds;
namespace fs = std::filesystem;

struct PidFile {
  pid_t validator = 0;
  pid_t qemu = 0;
  std::string run_dir;
};

PidFile ReadPidFile(const std::string& path) {
  PidFile pf;
  auto text = ReadFileToString(path);
  if (!text.ok()) return pf;
  std::istringstream in(*text);
  std::string key, value;
  while (in >> key) {
    std::getline(in, value);
    value = Trim(value);
    long long n = std::atoll(value.c_str());
    if (key == "validator" && n > 1 && n < (1LL << 30)) pf.validator = static_cast<pid_t>(n);
    if (key == "qemu" && n > 1 && n < (1LL << 30)) pf.qemu = static_cast<pid_t>(n);
    if (key == "rundir") pf.run_dir = value;
  }
  return pf;
}

std::string ReadLink(const std::string& path) {
  std::error_code ec;
  fs::path p = fs::read_symlink(path, ec);
  return ec ? std::string() : p.string();
}

// Gone, or a zombie nobody has reaped yet (it holds no resources).
bool ProcessGone(pid_t pid) {
  auto stat = ReadFileToString("/proc/" + std::to_string(pid) + "/stat");
  if (!stat.ok()) return true;
  size_t paren = stat->rfind(')');
  return paren != std::string::npos && paren + 2 < stat->size() && (*stat)[paren + 2] == 'Z';
}

bool WaitGone(pid_t pid, milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!ProcessGone(pid)) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(milliseconds(20));
  }
  return true;
}

// The process is this very program, running in `dir`.
bool IsValidatorIn(pid_t pid, const std::string& dir) {
  if (pid <= 1 || pid == ::getpid()) return false;
  std::string proc = "/proc/" + std::to_string(pid);
  std::string exe = ReadLink(proc + "/exe");
  return !exe.empty() && exe == ReadLink("/proc/self/exe") && ReadLink(proc + "/cwd") == dir;
}

bool TryLock(int fd) { return ::flock(fd, LOCK_EX | LOCK_NB) == 0; }

}  // namespace

std::string MarkerFor(const std::string& dir) {
  return "vmrelease-validate-" + Sha256Hex(dir).substr(0, 16);
}

bool CommandLineHas(pid_t pid, const std::string& marker) {
  auto cmdline = ReadFileToString("/proc/" + std::to_string(pid) + "/cmdline");
  if (!cmdline.ok()) return false;
  size_t start = 0;
  while (start < cmdline->size()) {
    size_t end = cmdline->find('\0', start);
    if (end == std::string::npos) end = cmdline->size();
    if (std::string_view(*cmdline).substr(start, end - start) == marker) return true;
    start = end + 1;
  }
  return false;
}

StatusOr<std::unique_ptr<WorkDirGuard>> WorkDirGuard::Acquire(const std::string& dir,
                                                              std::vector<std::string>* notes) {
  const std::string lock_path = dir + "/" + kLockFile;
  const std::string pid_path = dir + "/" + kPidFile;
  const std::string marker = MarkerFor(dir);
  int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return UnavailableError("cannot open " + lock_path + ": " + std::strerror(errno));

  if (!TryLock(fd)) {
    PidFile old = ReadPidFile(pid_path);
    if (IsValidatorIn(old.validator, dir)) {
      ::kill(old.validator, SIGKILL);
      notes->push_back("killed validator " + std::to_string(old.validator) +
                       " still running in this directory");
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!TryLock(fd)) {
      if (std::chrono::steady_clock::now() >= deadline) {
        ::close(fd);
        return UnavailableError("another process holds " + lock_path + " (pid file names " +
                                std::to_string(old.validator) + ")");
      }
      std::this_thread::sleep_for(milliseconds(20));
    }
  }

  // Ours now. Whatever the last run left behind goes.
  PidFile old = ReadPidFile(pid_path);
  if (old.qemu > 1 && !ProcessGone(old.qemu) && CommandLineHas(old.qemu, marker)) {
    ::kill(old.qemu, SIGKILL);
    bool gone = WaitGone(old.qemu, std::chrono::seconds(10));
    notes->push_back("killed qemu " + std::to_string(old.qemu) + " left by an earlier run" +
                     (gone ? "" : " (it has not exited yet)"));
  }
  if (!old.run_dir.empty()) {
    fs::path rd(old.run_dir);
    std::error_code ec;
    if (rd.is_absolute() && StartsWith(rd.filename().string(), kRunDirPrefix) &&
        fs::is_directory(rd, ec)) {
      fs::remove_all(rd, ec);
    }
  }
  return std::unique_ptr<WorkDirGuard>(new WorkDirGuard(dir, fd));
}

WorkDirGuard::~WorkDirGuard() {
  std::error_code ec;
  fs::remove(dir_ + "/" + kPidFile, ec);
  ::close(lock_fd_);  // releases the flock
}

Status WorkDirGuard::Record(pid_t qemu_pid, const std::string& run_dir) {
  const std::string path = dir_ + "/" + kPidFile;
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << "validator " << ::getpid() << "\nqemu " << qemu_pid << "\nrundir " << run_dir << "\n";
    out.flush();
    if (!out) return UnavailableError("cannot write " + tmp);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0)
    return UnavailableError("cannot rename " + tmp + ": " + std::strerror(errno));
  return Status::Ok();
}

}  // namespace vmrelease::vmvalidate

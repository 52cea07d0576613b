#include "tools/vm-validate/validate.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>

#include "controller/common/strings.h"
#include "tools/vm-validate/guest_agent.h"
#include "tools/vm-validate/kernel.h"
#include "tools/vm-validate/process.h"
#include "tools/vm-validate/vm.h"
#include "tools/vm-validate/workdir.h"

namespace vmrelease::vmvalidate {

volatile std::sig_atomic_t g_stop_signal = 0;

namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;
using Clock = std::chrono::steady_clock;

constexpr char kBaseKernelArgs[] = "console=ttyS0 root=/dev/vda ro panic=-1";
constexpr char kGuestPath[] = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
constexpr char kConsoleLog[] = "vm-console.log";
constexpr char kQemuLog[] = "vm-qemu.log";

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// The private run directory (sockets, kernel, initrd; ~16 MB), removed when the run ends. Its
// owner.lock is flock()ed while the run lives, so a run killed with its process group (the
// controller's timeout) leaves a directory that the next validator on this host recognises as
// stale and removes, whatever its work directory.
class RunDir {
 public:
  static StatusOr<std::unique_ptr<RunDir>> Create() {
    const std::string base = Base();
    SweepStale(base);
    // Born locked: made and locked under a name sweepers leave alone for a minute, then renamed
    // (never over an existing name) to the vmrv-* name they do look at.
    for (int attempt = 0; attempt < 10; ++attempt) {
      std::string staging = base + "/" + kStagingPrefix + "XXXXXX";
      if (::mkdtemp(staging.data()) == nullptr)
        return UnavailableError("cannot create a directory under " + base + ": " +
                                std::strerror(errno));
      std::error_code ec;
      int fd = ::open((staging + "/" + kOwnerLock).c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
      if (fd < 0 || ::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        if (fd >= 0) ::close(fd);
        fs::remove_all(staging, ec);
        return UnavailableError("cannot lock " + staging + "/" + kOwnerLock + ": " +
                                std::strerror(e));
      }
      std::string final_path =
          base + "/" + kRunDirPrefix + staging.substr(staging.size() - 6);  // same random part
      if (::renameat2(AT_FDCWD, staging.c_str(), AT_FDCWD, final_path.c_str(), RENAME_NOREPLACE) ==
          0)
        return std::unique_ptr<RunDir>(new RunDir(final_path, fd));
      int e = errno;
      ::close(fd);
      fs::remove_all(staging, ec);
      if (e != EEXIST)
        return UnavailableError("cannot rename " + staging + ": " + std::strerror(e));
    }
    return UnavailableError("cannot find a free name for a run directory under " + base);
  }
  ~RunDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
    ::close(lock_fd_);
  }
  const std::string& path() const { return path_; }

 private:
  static constexpr char kOwnerLock[] = "owner.lock";
  static constexpr char kStagingPrefix[] = ".vmrv-new-";

  // UNIX socket paths must stay under 108 bytes: a long TMPDIR is not used.
  static std::string Base() {
    const char* t = std::getenv("TMPDIR");
    if (t != nullptr && t[0] == '/' && std::strlen(t) <= 64) return t;
    return "/tmp";
  }

  // Removes <base>/vmrv-* directories whose owner.lock nobody holds (their validator died), and
  // staging directories older than a minute (a validator killed while creating one).
  static void SweepStale(const std::string& base) {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(base, ec)) {
      const std::string name = e.path().filename().string();
      if (!e.is_directory(ec) || e.is_symlink(ec)) continue;
      bool stale = false;
      if (StartsWith(name, kRunDirPrefix)) {
        int fd = ::open((e.path().string() + "/" + kOwnerLock).c_str(),
                        O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        stale = fd < 0 || ::flock(fd, LOCK_EX | LOCK_NB) == 0;
        if (fd >= 0) ::close(fd);
      } else if (StartsWith(name, kStagingPrefix)) {
        auto age = fs::file_time_type::clock::now() - fs::last_write_time(e.path(), ec);
        stale = !ec && age > std::chrono::minutes(1);
      }
      if (stale) fs::remove_all(e.path(), ec);
    }
  }

  RunDir(std::string p, int lock_fd) : path_(std::move(p)), lock_fd_(lock_fd) {}
  std::string path_;
  int lock_fd_;
};

// debugfs's own chatter (banner, catastrophic-mode notice) is not an error.
std::string DebugfsErrors(const std::string& err) {
  std::istringstream in(err);
  std::string line, out;
  while (std::getline(in, line)) {
    line = Trim(line);
    // "dump: Filesystem not open" follows every command once the open failed: noise.
    if (line.empty() || StartsWith(line, "debugfs ") ||
        line.find("catastrophic mode") != std::string::npos ||
        line.find("Filesystem not open") != std::string::npos ||
        out.find(line) != std::string::npos)
      continue;
    if (!out.empty()) out += "; ";
    out += line;
  }
  return out;
}

struct BootFiles {
  std::string kernel;
  std::string initrd;
  std::string extra_args;  // from the image's /boot/cmdline, if present
};

// Copies /boot/vmlinuz, /boot/initrd.img and /boot/cmdline out of the ext4 filesystem that
// starts at byte 0 of the image, without mounting it (debugfs in read-only catastrophic mode).
StatusOr<BootFiles> ExtractBootFiles(const Options& o, const std::string& run_dir) {
  BootFiles f{run_dir + "/vmlinuz", run_dir + "/initrd.img", ""};
  const std::string cmdline_path = run_dir + "/cmdline";
  const std::string script_path = run_dir + "/debugfs.cmds";
  {
    std::ofstream script(script_path);
    if (o.kernel_path.empty()) script << "dump /boot/vmlinuz " << f.kernel << "\n";
    if (o.initrd_path.empty()) script << "dump /boot/initrd.img " << f.initrd << "\n";
    script << "dump /boot/cmdline " << cmdline_path << "\n";
    if (!script) return UnavailableError("cannot write " + script_path);
  }
  ASSIGN_OR_RETURN(ProgramResult r,
                   RunProgram({o.debugfs, "-c", "-f", script_path, o.image_path}, seconds(120)));
  auto non_empty = [](const std::string& p) {
    struct stat st;
    return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0;
  };
  std::string why = DebugfsErrors(r.err);
  if (why.size() > 300) why = why.substr(0, 300) + "...";
  if (o.kernel_path.empty() && !non_empty(f.kernel))
    return DataLossError("cannot read /boot/vmlinuz from the image's ext4 filesystem" +
                         (why.empty() ? std::string() : ": " + why));
  if (o.initrd_path.empty() && !non_empty(f.initrd))
    return DataLossError("cannot read /boot/initrd.img from the image's ext4 filesystem" +
                         (why.empty() ? std::string() : ": " + why));
  if (!o.kernel_path.empty()) f.kernel = o.kernel_path;
  if (!o.initrd_path.empty()) f.initrd = o.initrd_path;
  if (auto extra = ReadFileToString(cmdline_path); extra.ok()) {
    std::string args = Trim(*extra);
    if (args.find('\n') != std::string::npos || args.size() > 1024)
      return InvalidArgumentError("/boot/cmdline in the image must be one line under 1 KiB");
    f.extra_args = args;
  }
  return f;
}

// The last `max_bytes` of a file.
std::string Tail(const std::string& path, size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  in.seekg(0, std::ios::end);
  std::streamoff size = in.tellg();
  std::streamoff start = std::max<std::streamoff>(0, size - static_cast<std::streamoff>(max_bytes));
  in.seekg(start);
  std::string data(static_cast<size_t>(size - start), '\0');
  in.read(data.data(), static_cast<std::streamsize>(data.size()));
  return data;
}

std::string Printable(std::string_view s) {
  std::string out;
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f) out += c;
  }
  return Trim(out);
}

// Why the guest did not come up, from its serial console: the lines that name the failure
// (kernel panic, initramfs giving up on the root filesystem, ext4 errors), else the last line.
std::string ConsoleReason(const std::string& console_log) {
  static const char* kPatterns[] = {"Kernel panic",
                                    "not syncing",
                                    "ALERT!",
                                    "Gave up waiting",
                                    "mount: mounting",
                                    "Failed to mount",
                                    "VFS: Cannot open",
                                    "VFS: Unable to mount",
                                    "No working init",
                                    "No init found",
                                    "EXT4-fs error",
                                    "EXT4-fs (vda): VFS",
                                    "Bad magic",
                                    "initramfs: ",
                                    "rcS: ",
                                    "can't run",
                                    "error while loading shared libraries"};
  std::istringstream in(Tail(console_log, 64 * 1024));
  std::string line, last, found;
  int matches = 0;
  while (std::getline(in, line)) {
    std::string p = Printable(line);
    if (p.empty()) continue;
    last = p;
    if (matches >= 3) continue;
    for (const char* pat : kPatterns) {
      if (p.find(pat) != std::string::npos) {
        if (found.find(p) == std::string::npos) {
          found += (found.empty() ? "" : " | ") + p;
          ++matches;
        }
        break;
      }
    }
  }
  std::string reason = found.empty() ? last : found;
  if (reason.size() > 400) reason = reason.substr(0, 400) + "...";
  return reason;
}

std::string LastLine(const std::string& path) {
  std::istringstream in(Tail(path, 8192));
  std::string line, last;
  while (std::getline(in, line)) {
    std::string p = Printable(line);
    if (!p.empty()) last = p;
  }
  return last;
}

Outcome& BootFailure(Outcome& r, const std::string& message) {
  r.phase = "boot";
  r.ok = false;
  r.exit_code.reset();
  r.message = message;
  r.process_exit = kExitBootFailure;
  return r;
}

int SignalExit() { return 128 + static_cast<int>(g_stop_signal); }

}  // namespace

nlohmann::json Outcome::ResultJson() const {
  nlohmann::json j = {
      {"phase", phase},
      {"ok", ok},
      {"exitCode", nullptr},
      {"message", message},
      {"bootSeconds", static_cast<double>(static_cast<int64_t>(boot_seconds * 1000)) / 1000},
      {"checkSeconds", static_cast<double>(static_cast<int64_t>(check_seconds * 1000)) / 1000},
      {"accelerator", accelerator}};
  if (exit_code) j["exitCode"] = *exit_code;
  return j;
}

Outcome RunValidation(const Options& o) {
  Outcome r;
  struct stat st;
  if (o.image_path.empty()) return BootFailure(r, "VMRELEASE_IMAGE_PATH is not set");
  if (::stat(o.image_path.c_str(), &st) != 0)
    return BootFailure(r, "image " + o.image_path + ": " + std::strerror(errno));
  if (!S_ISREG(st.st_mode))
    return BootFailure(r, "image " + o.image_path + " is not a regular file");
  if (::access(o.image_path.c_str(), R_OK) != 0)
    return BootFailure(r, "image " + o.image_path + " is not readable");
  if (o.check_script.empty()) return BootFailure(r, "VMRELEASE_CHECK_SCRIPT is empty");

  auto guard = WorkDirGuard::Acquire(o.work_dir, &r.notes);
  if (!guard.ok()) return BootFailure(r, guard.status().message());

  Accelerator accel = Accelerator::kTcg;
  if (o.accel != AccelMode::kTcg) {
    KvmProbe kvm = ProbeKvm();
    if (kvm.usable) {
      accel = Accelerator::kKvm;
    } else if (o.accel == AccelMode::kKvm) {
      return BootFailure(r, "KVM was requested but is not usable: " + kvm.reason);
    } else if (o.verbose) {
      r.notes.push_back("TCG, because " + kvm.reason);
    }
  }
  r.accelerator = AcceleratorName(accel);

  auto qemu = FindInPath(o.qemu);
  if (!qemu.ok())
    return BootFailure(r, qemu.status().message() + " (apt-get install qemu-system-x86)");
  auto run_dir = RunDir::Create();
  if (!run_dir.ok()) return BootFailure(r, run_dir.status().message());
  const std::string& rd = (*run_dir)->path();
  if (Status s = (*guard)->Record(0, rd); !s.ok()) return BootFailure(r, s.message());

  auto files = ExtractBootFiles(o, rd);
  if (!files.ok()) {
    std::string hint = files.status().code() == StatusCode::kDataLoss
                           ? " (corrupt disk, or not ext4 directly on the disk)"
                           : "";
    return BootFailure(r, "the image cannot boot: " + files.status().message() + hint);
  }
  if (o.pvh) {
    // Under TCG the bzImage's own decompressor costs over a second, emulated; the host unpacks
    // it in a tenth of that and QEMU boots the result through its PVH entry.
    const std::string vmlinux = rd + "/vmlinux";
    Status pvh = ExtractPvhKernel(files->kernel, vmlinux, rd);
    if (pvh.ok()) {
      files->kernel = vmlinux;
      if (o.verbose) r.notes.push_back("kernel: PVH entry (uncompressed on the host)");
    } else if (o.verbose) {
      r.notes.push_back("kernel: bzImage, no PVH boot: " + pvh.message());
    }
  }
  std::string kernel_args = kBaseKernelArgs;
  for (const std::string& extra : {files->extra_args, o.extra_kernel_args})
    if (!extra.empty()) kernel_args += " " + extra;

  VmConfig config{.qemu_binary = *qemu,
                  .accelerator = accel,
                  .image_path = o.image_path,
                  .kernel_path = files->kernel,
                  .initrd_path = files->initrd,
                  .kernel_args = kernel_args,
                  .memory_mb = o.memory_mb,
                  .cpus = o.cpus,
                  .run_dir = rd,
                  .console_log = o.work_dir + "/" + kConsoleLog,
                  .qemu_log = o.work_dir + "/" + kQemuLog,
                  .marker = (*guard)->marker(),
                  .guard_with_parent = o.guard_vm_with_parent};
  const auto boot_start = Clock::now();
  auto vm_or = Vm::Start(config);
  if (!vm_or.ok()) return BootFailure(r, "cannot start qemu: " + vm_or.status().message());
  std::unique_ptr<Vm> vm = std::move(*vm_or);
  if (Status s = (*guard)->Record(vm->pid(), rd); !s.ok()) return BootFailure(r, s.message());

  GuestAgent::Interrupt interrupt = [&vm]() -> Status {
    if (g_stop_signal != 0)
      return CancelledError("interrupted by signal " + std::to_string(g_stop_signal));
    return vm->CheckAlive();
  };
  auto describe_boot_failure = [&](const Status& s) {
    if (s.code() == StatusCode::kCancelled) return s.message();
    // A closed or reset agent socket usually means qemu is on its way out: let it finish, so
    // the message names the exit rather than the socket error.
    if (s.code() == StatusCode::kUnavailable) {
      for (int i = 0; i < 50 && vm->CheckAlive().ok(); ++i)
        std::this_thread::sleep_for(milliseconds(20));
    }
    std::string msg;
    if (vm->exited()) {
      msg = "the VM stopped before its guest agent answered (qemu " + vm->ExitDescription() + ")";
      std::string qemu_said = LastLine(config.qemu_log);
      if (!qemu_said.empty() && qemu_said.find("terminating on signal") == std::string::npos)
        msg += "; qemu: " + qemu_said;
    } else if (s.code() == StatusCode::kDeadlineExceeded) {
      msg = "no answer from the guest agent within " + std::to_string(o.boot_timeout_seconds) +
            " s (" + r.accelerator + ")";
    } else {
      msg = "guest agent: " + s.message();
    }
    std::string console = ConsoleReason(config.console_log);
    if (!console.empty()) msg += "; console: " + console;
    return msg;
  };

  const auto boot_deadline = boot_start + seconds(o.boot_timeout_seconds);
  auto fd = vm->ConnectAgent(boot_deadline, interrupt);
  if (!fd.ok()) {
    BootFailure(r, describe_boot_failure(fd.status()));
    if (g_stop_signal != 0) r.process_exit = SignalExit();
    vm->Stop(nullptr, milliseconds(0));
    return r;
  }
  GuestAgent agent(*fd, interrupt);
  if (Status s = agent.Sync(boot_deadline); !s.ok()) {
    BootFailure(r, describe_boot_failure(s));
    r.boot_seconds = SecondsSince(boot_start);
    if (g_stop_signal != 0) r.process_exit = SignalExit();
    vm->Stop(nullptr, milliseconds(0));
    return r;
  }
  r.boot_seconds = SecondsSince(boot_start);

  // --- the check ------------------------------------------------------------------------
  r.phase = "check";
  GuestCommand cmd{.path = "/bin/sh", .args = {"-c", o.check_script}};
  cmd.env = {kGuestPath, "HOME=/tmp", "VMRELEASE_CHECK_NAME=" + o.check_name,
             "VMRELEASE_CHECK_TIMEOUT_SECONDS=" + std::to_string(o.check_timeout_seconds)};
  cmd.env.insert(cmd.env.end(), o.guest_env.begin(), o.guest_env.end());

  const auto check_start = Clock::now();
  const auto check_deadline = check_start + seconds(o.check_timeout_seconds);
  auto reply_deadline = [&] { return std::max(check_deadline, Clock::now()) + seconds(10); };
  auto lost = [&](const Status& s) {
    r.ok = false;
    r.exit_code.reset();
    if (s.code() == StatusCode::kCancelled) {
      r.message = s.message();
      r.process_exit = SignalExit();
      return;
    }
    r.message = "the check did not finish: " + s.message();
    if (vm->exited()) {
      std::string console = ConsoleReason(config.console_log);
      if (!console.empty()) r.message += "; console: " + console;
    }
    r.process_exit = kExitVmLost;
  };

  auto pid = agent.Exec(cmd, reply_deadline());
  if (!pid.ok()) {
    lost(pid.status().WithContext("guest-exec /bin/sh"));
    r.check_seconds = SecondsSince(check_start);
    vm->Stop(vm->exited() ? nullptr : &agent, milliseconds(2000));
    return r;
  }
  milliseconds poll_every(50);
  std::optional<GuestExecStatus> done;
  Status failure;
  while (!done) {
    auto status = agent.ExecStatus(*pid, reply_deadline());
    if (!status.ok()) {
      failure = status.status();
      break;
    }
    if (status->exited) {
      done = std::move(*status);
      break;
    }
    if (Clock::now() >= check_deadline) break;
    auto wait_until = std::min(Clock::now() + poll_every, check_deadline);
    while (Clock::now() < wait_until) {
      if (Status s = interrupt(); !s.ok()) {
        failure = s;
        break;
      }
      std::this_thread::sleep_for(std::min(milliseconds(20), poll_every));
    }
    if (!failure.ok()) break;
    poll_every = std::min(poll_every * 2, milliseconds(250));
  }
  r.check_seconds = SecondsSince(check_start);

  if (!failure.ok()) {
    lost(failure);
  } else if (!done) {
    // Timed out. Kill the script so qemu-ga hands over what it printed so far (it only
    // reports output after exit; a background child still holding the pipe delays that).
    r.ok = false;
    r.exit_code.reset();
    r.message = "the check did not finish within " + std::to_string(o.check_timeout_seconds) + " s";
    r.process_exit = kExitCheckTimeout;
    auto short_deadline = Clock::now() + seconds(5);
    if (agent
            .Exec({.path = "/bin/busybox",
                   .args = {"kill", "-9", std::to_string(*pid)},
                   .env = {kGuestPath},
                   .capture_output = false},
                  short_deadline)
            .ok()) {
      while (Clock::now() < short_deadline) {
        auto status = agent.ExecStatus(*pid, short_deadline);
        if (!status.ok()) break;
        if (status->exited) {
          r.out = std::move(status->out);
          r.err = std::move(status->err);
          break;
        }
        std::this_thread::sleep_for(milliseconds(100));
      }
    }
  } else {
    r.ok = true;
    r.out = std::move(done->out);
    r.err = std::move(done->err);
    if (done->exit_code) {
      r.exit_code = *done->exit_code;
      r.message = "exit code " + std::to_string(*done->exit_code);
    } else {
      int sig = done->signal.value_or(0);
      r.exit_code = 128 + sig;
      r.message = "killed by signal " + std::to_string(sig) + " in the guest";
    }
    r.process_exit = *r.exit_code;
    r.out_truncated = done->out_truncated;
    if (done->out_truncated || done->err_truncated)
      r.notes.push_back("the guest agent truncated the check's output at 16 MiB per stream");
  }
  if (g_stop_signal != 0 && r.process_exit != SignalExit() && !r.ok) r.process_exit = SignalExit();

  vm->Stop(vm->exited() || g_stop_signal != 0 ? nullptr : &agent,
           g_stop_signal != 0 ? milliseconds(0) : milliseconds(5000));
  return r;
}

}  // namespace vmrelease::vmvalidate

#include "tools/vm-validate/vm.h"

#include <fcntl.h>
#include <linux/kvm.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "controller/common/strings.h"

namespace vmrelease::vmvalidate {
namespace {

using std::chrono::milliseconds;

// qemu's option parser splits on ',' and reads ",," as a literal comma.
std::string QemuOptValue(const std::string& v) {
  std::string out;
  for (char c : v) {
    out += c;
    if (c == ',') out += ',';
  }
  return out;
}

bool PathExists(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0;
}

}  // namespace

const char* AcceleratorName(Accelerator a) { return a == Accelerator::kKvm ? "kvm" : "tcg"; }

KvmProbe ProbeKvm(const std::string& dev, const std::string& sys_module) {
  int fd = ::open(dev.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return {false, "cannot open " + dev + ": " + std::strerror(errno)};
  int version = ::ioctl(fd, KVM_GET_API_VERSION, 0);
  ::close(fd);
  if (version != 12)
    return {false, dev + ": KVM_GET_API_VERSION returned " + std::to_string(version) + ", not 12"};
  for (const char* vendor : {"kvm_intel", "kvm_amd"}) {
    if (PathExists(sys_module + "/" + vendor)) return {true, std::string(vendor) + " is loaded"};
  }
  if (PathExists(sys_module + "/kvm_pvm"))
    return {false, "only kvm_pvm is loaded: it runs PVM guests, not a stock kernel"};
  // No module directory at all: a kernel with KVM built in. Trust the API check.
  return {true, "KVM API version 12"};
}

StatusOr<std::string> FindInPath(const std::string& name) {
  if (name.empty()) return InvalidArgumentError("empty program name");
  if (name.find('/') != std::string::npos) {
    if (::access(name.c_str(), X_OK) == 0) return name;
    return NotFoundError(name + " is not an executable file");
  }
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    std::string dir = dirs.substr(start, end - start);
    if (dir.empty()) dir = ".";
    std::string candidate = dir + "/" + name;
    struct stat st;
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        ::access(candidate.c_str(), X_OK) == 0)
      return candidate;
    start = end + 1;
  }
  return NotFoundError(name + " not found in PATH");
}

std::vector<std::string> QemuArgs(const VmConfig& c) {
  std::vector<std::string> a = {c.qemu_binary, "-name",           c.marker,
                                "-nodefaults", "-no-user-config", "-machine",
                                "q35",         "-accel",          AcceleratorName(c.accelerator)};
  if (c.accelerator == Accelerator::kKvm) a.insert(a.end(), {"-cpu", "host"});
  a.insert(
      a.end(),
      {"-m", std::to_string(c.memory_mb), "-smp", std::to_string(c.cpus),
       // No display, no monitor, no network, no reboot (a guest reboot or a panic with
       // panic=-1 ends qemu), and no host access beyond what is listed here.
       "-display", "none", "-vga", "none", "-monitor", "none", "-nic", "none", "-no-reboot",
       "-sandbox", "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny",
       "-chardev", "file,id=console,path=" + QemuOptValue(c.console_log), "-serial",
       "chardev:console", "-kernel", c.kernel_path, "-initrd", c.initrd_path, "-append",
       c.kernel_args, "-drive",
       "file=" + QemuOptValue(c.image_path) + ",if=virtio,format=raw,readonly=on", "-chardev",
       "socket,id=qga0,server=on,wait=off,path=" + QemuOptValue(c.run_dir + "/qga.sock"), "-device",
       "virtio-serial-pci", "-device", "virtserialport,chardev=qga0,name=org.qemu.guest_agent.0",
       "-qmp", "unix:" + QemuOptValue(c.run_dir + "/qmp.sock") + ",server=on,wait=off"});
  return a;
}

StatusOr<std::unique_ptr<Vm>> Vm::Start(const VmConfig& config) {
  std::vector<std::string> args = QemuArgs(config);
  std::vector<char*> argv;
  for (auto& s : args) argv.push_back(s.data());
  argv.push_back(nullptr);

  int log_fd = ::open(config.qemu_log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (log_fd < 0)
    return UnavailableError("cannot create " + config.qemu_log + ": " + std::strerror(errno));
  int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null_fd < 0) {
    ::close(log_fd);
    return UnavailableError(std::string("cannot open /dev/null: ") + std::strerror(errno));
  }
  // Everything the child needs is prepared above: between fork and exec only
  // async-signal-safe calls.
  const pid_t parent = ::getpid();
  const bool guard = config.guard_with_parent;
  pid_t pid = ::fork();
  if (pid < 0) {
    int e = errno;
    ::close(log_fd);
    ::close(null_fd);
    return UnavailableError(std::string("fork: ") + std::strerror(e));
  }
  if (pid == 0) {
    if (guard) {
      // Dies with the validator, even when the validator is SIGKILLed. If the validator died
      // before this line, the parent is already someone else: give up.
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(127);
    } else {
      ::setpgid(0, 0);  // tests only: survive a kill of the validator's process group
    }
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    for (int sig : {SIGPIPE, SIGTERM, SIGINT, SIGHUP}) ::signal(sig, SIG_DFL);
    ::dup2(null_fd, 0);
    ::dup2(log_fd, 1);
    ::dup2(log_fd, 2);
    ::execv(argv[0], argv.data());
    const char msg[] = "vm-validate: exec of qemu failed\n";
    (void)!::write(2, msg, sizeof(msg) - 1);
    ::_exit(127);
  }
  ::close(log_fd);
  ::close(null_fd);
  return std::unique_ptr<Vm>(new Vm(config, pid));
}

Vm::~Vm() {
  if (!exited_) {
    ::kill(pid_, SIGKILL);
    int st;
    while (::waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
    }
    exited_ = true;
  }
}

Status Vm::CheckAlive() {
  if (!exited_) {
    int st = 0;
    pid_t r = ::waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
      exited_ = true;
      wait_status_ = st;
    } else if (r < 0 && errno == ECHILD) {
      exited_ = true;  // cannot happen for our own child; treat as gone
    }
  }
  if (exited_) return UnavailableError("qemu " + ExitDescription());
  return Status::Ok();
}

std::string Vm::ExitDescription() const {
  if (!exited_) return "is running";
  if (WIFEXITED(wait_status_))
    return "exited with status " + std::to_string(WEXITSTATUS(wait_status_));
  if (WIFSIGNALED(wait_status_))
    return "was killed by signal " + std::to_string(WTERMSIG(wait_status_));
  return "ended";
}

StatusOr<int> ConnectUnix(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path))
    return InvalidArgumentError("UNIX socket path too long (" + std::to_string(path.size()) +
                                " bytes, limit " + std::to_string(sizeof(addr.sun_path) - 1) +
                                "): " + path);
  std::memcpy(addr.sun_path, path.data(), path.size());
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return UnavailableError(std::string("socket: ") + std::strerror(errno));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    int e = errno;
    ::close(fd);
    return UnavailableError("connect " + path + ": " + std::strerror(e));
  }
  return fd;
}

StatusOr<int> Vm::ConnectAgent(SteadyTime deadline, const GuestAgent::Interrupt& interrupt) {
  const std::string path = config_.run_dir + "/qga.sock";
  for (;;) {
    if (interrupt) RETURN_IF_ERROR(interrupt());
    RETURN_IF_ERROR(CheckAlive());
    auto fd = ConnectUnix(path);
    if (fd.ok()) return *fd;
    if (fd.status().code() == StatusCode::kInvalidArgument) return fd.status();
    if (std::chrono::steady_clock::now() >= deadline)
      return DeadlineExceededError("qemu did not create " + path + ": " + fd.status().message());
    std::this_thread::sleep_for(milliseconds(20));
  }
}

bool Vm::WaitExit(milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (!CheckAlive().ok()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(milliseconds(20));
  }
}

void Vm::QmpQuit() {
  auto fd = ConnectUnix(config_.run_dir + "/qmp.sock");
  if (!fd.ok()) return;
  // QMP is the same JSON-lines protocol: the greeting has neither "return" nor "error" and is
  // skipped by Execute, like any event.
  GuestAgent qmp(*fd, [this] { return CheckAlive(); });
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  if (!qmp.Execute("qmp_capabilities", nullptr, deadline).ok()) return;
  qmp.SendOnly("quit", nullptr).IgnoreError();
}

void Vm::Stop(GuestAgent* agent, milliseconds poweroff_wait) {
  if (!CheckAlive().ok()) return;
  if (agent != nullptr) {
    // busybox has no `shutdown`, so guest-shutdown fails there; poweroff -f works everywhere.
    Status sent =
        agent->SendOnly("guest-exec", {{"path", "/bin/busybox"}, {"arg", {"poweroff", "-f"}}});
    if (sent.ok() && WaitExit(poweroff_wait)) return;
  }
  QmpQuit();
  if (WaitExit(milliseconds(3000))) return;
  ::kill(pid_, SIGKILL);
  int st = 0;
  while (::waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
  }
  exited_ = true;
  wait_status_ = st;
}

}  // namespace vmrelease::vmvalidate

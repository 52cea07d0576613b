// One throw-away QEMU VM for a validation run: choosing the accelerator, the qemu command
// line, starting qemu so that it cannot outlive the validator, and stopping it.
//
//   VmConfig c{.qemu_binary = *FindInPath("qemu-system-x86_64"), ...};
//   ASSIGN_OR_RETURN(std::unique_ptr<Vm> vm, Vm::Start(c));
//   ASSIGN_OR_RETURN(int fd, vm->ConnectAgent(deadline, interrupt));
//   ...
//   vm->Stop(&agent);   // poweroff in the guest, then QMP quit, then SIGKILL; always reaped
//
// Guarantees: the image is attached read-only (readonly=on, format=raw: never probed, never
// written); the guest has no network device and no shared host directory; qemu runs in the
// validator's process group with PR_SET_PDEATHSIG=SIGKILL (unless guard_with_parent is
// false, which only tests use), so killing the validator or its group kills qemu.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "controller/common/status.h"
#include "tools/vm-validate/guest_agent.h"

namespace vmrelease::vmvalidate {

enum class Accelerator { kKvm, kTcg };
const char* AcceleratorName(Accelerator a);

// Whether KVM can run a stock Linux guest here. Usable when `dev` opens read-write,
// KVM_GET_API_VERSION returns 12 (the only version the kernel docs allow) and a hardware
// vendor module (kvm_intel, kvm_amd) is loaded. A host with only kvm_pvm passes the first two
// tests but runs nothing but PVM guests: a stock kernel spins in early boot there (measured on
// the project's build machine), so it counts as "no KVM".
struct KvmProbe {
  bool usable = false;
  std::string reason;  // why not, or which module
};
KvmProbe ProbeKvm(const std::string& dev = "/dev/kvm",
                  const std::string& sys_module = "/sys/module");

// `name` if it contains a '/', else the first executable `name` in $PATH.
StatusOr<std::string> FindInPath(const std::string& name);

struct VmConfig {
  std::string qemu_binary;  // a path (see FindInPath)
  Accelerator accelerator = Accelerator::kTcg;
  std::string image_path;  // raw disk or fixed VHD, attached as a raw virtio disk (/dev/vda)
  std::string kernel_path;
  std::string initrd_path;
  std::string kernel_args;
  int memory_mb = 256;
  int cpus = 1;
  std::string run_dir;      // short private directory for the sockets (< 108-byte paths)
  std::string console_log;  // the guest's serial console
  std::string qemu_log;     // qemu's own stdout/stderr
  std::string marker;       // put on qemu's command line (-name) so a later run can recognise it
  bool guard_with_parent = true;
};

// The qemu argv (argv[0] = qemu_binary).
std::vector<std::string> QemuArgs(const VmConfig& config);

class Vm {
 public:
  static StatusOr<std::unique_ptr<Vm>> Start(const VmConfig& config);
  // Kills and reaps qemu if it still runs.
  ~Vm();
  Vm(const Vm&) = delete;
  Vm& operator=(const Vm&) = delete;

  pid_t pid() const { return pid_; }
  const VmConfig& config() const { return config_; }
  // OK while qemu runs; kUnavailable naming how it ended once it has exited (then reaped).
  Status CheckAlive();
  bool exited() const { return exited_; }
  // "exited with status 0", "killed by signal 9".
  std::string ExitDescription() const;

  // A stream socket connected to the guest agent's chardev (retried until qemu has created
  // it). Errors: kDeadlineExceeded, or what `interrupt` / CheckAlive returned.
  StatusOr<int> ConnectAgent(SteadyTime deadline, const GuestAgent::Interrupt& interrupt);

  // Stops the VM and reaps qemu: `busybox poweroff -f` through `agent` (when given) and up to
  // `poweroff_wait` for qemu to exit, then QMP quit and up to 3 s, then SIGKILL.
  void Stop(GuestAgent* agent,
            std::chrono::milliseconds poweroff_wait = std::chrono::milliseconds(5000));

 private:
  Vm(VmConfig config, pid_t pid) : config_(std::move(config)), pid_(pid) {}
  bool WaitExit(std::chrono::milliseconds timeout);
  void QmpQuit();

  VmConfig config_;
  pid_t pid_;
  bool exited_ = false;
  int wait_status_ = 0;
};

// Connects a stream socket to a UNIX socket path (< 108 bytes). O_CLOEXEC.
StatusOr<int> ConnectUnix(const std::string& path);

}  // namespace vmrelease::vmvalidate

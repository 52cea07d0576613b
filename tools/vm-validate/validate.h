// One validation run: boot the image in a throw-away VM, run one check script in the guest
// through the guest agent, stop the VM. The contract with the controller (environment, exit
// codes, result file) is in docs/local-images.md; main.cc maps it onto Options and Outcome.
//
//   Options o{.image_path = ..., .check_script = "cat /proc/1/comm", .work_dir = cwd};
//   Outcome r = RunValidation(o);   // never throws; r.process_exit is what main returns
//
// Phases: everything up to the agent's first answer is "boot" (kernel extraction, qemu start,
// kernel, init, agent); a failure there exits 125 and never runs the check. From guest-exec
// on it is "check": the guest script's exit code, or 124 (timeout) / 126 (the VM or its agent
// went away while the check ran).
#pragma once

#include <csignal>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace vmrelease::vmvalidate {

inline constexpr int kExitBootFailure = 125;
inline constexpr int kExitCheckTimeout = 124;
inline constexpr int kExitVmLost = 126;

enum class AccelMode { kAuto, kKvm, kTcg };

struct Options {
  // From the controller's environment.
  std::string image_path;  // VMRELEASE_IMAGE_PATH
  std::string check_name = "check";
  std::string check_script;  // VMRELEASE_CHECK_SCRIPT
  int check_timeout_seconds = 300;
  std::string work_dir;  // absolute; the process's cwd
  // Extra "NAME=value" entries for the guest script's environment.
  std::vector<std::string> guest_env;

  // From flags (each also readable from a VMRELEASE_VM_* variable, see main.cc).
  AccelMode accel = AccelMode::kAuto;
  int memory_mb = 256;
  int cpus = 1;
  int boot_timeout_seconds = 180;
  std::string qemu = "qemu-system-x86_64";
  std::string debugfs = "debugfs";
  std::string kernel_path;  // empty: /boot/vmlinuz from the image's ext4 filesystem
  std::string initrd_path;  // empty: /boot/initrd.img from the image
  std::string extra_kernel_args;
  bool pvh = true;  // boot the uncompressed kernel through QEMU's PVH entry when possible
  bool guard_vm_with_parent = true;  // false only in tests (--test-unguarded-vm)
  bool verbose = false;
};

struct Outcome {
  std::string phase = "boot";  // "boot" | "check"
  bool ok = false;             // the check ran to completion in the guest (any exit code)
  std::optional<int> exit_code;
  std::string message;
  double boot_seconds = 0;
  double check_seconds = 0;
  std::string accelerator;     // "kvm" | "tcg" ("" when never chosen)
  std::string out;             // the guest script's stdout
  bool out_truncated = false;  // the guest agent cut `out` at its limit
  std::string err;             // the guest script's stderr
  int process_exit = kExitBootFailure;
  std::vector<std::string> notes;  // what the validator did besides the check (cleanup)

  nlohmann::json ResultJson() const;
};

// Set by the validator's signal handler (SIGTERM, SIGINT, SIGHUP); RunValidation stops the VM
// and returns 128 + signal.
extern volatile std::sig_atomic_t g_stop_signal;

Outcome RunValidation(const Options& options);

}  // namespace vmrelease::vmvalidate

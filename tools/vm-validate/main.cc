// vmrelease-vm-validate: the local validation backend (spec.validation.local.command).
// Boots the image at VMRELEASE_IMAGE_PATH in a throw-away QEMU VM, runs VMRELEASE_CHECK_SCRIPT
// inside the guest through the QEMU guest agent, prints the guest's stdout/stderr and exits
// with the guest script's exit code. 125 (and "phase": "boot" in the result file) when the
// image never got to run the check. See docs/local-images.md for the whole contract.
//
//   VMRELEASE_IMAGE_PATH=demo.raw VMRELEASE_CHECK_SCRIPT='cat /proc/1/comm' vmrelease-vm-validate
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <regex>
#include <string>

#include "tools/vm-validate/validate.h"

extern char** environ;

namespace {

using vmrelease::vmvalidate::AccelMode;
using vmrelease::vmvalidate::Options;
using vmrelease::vmvalidate::Outcome;

constexpr char kGuestEnvPrefix[] = "VMRELEASE_GUEST_ENV_";

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

void OnSignal(int sig) { vmrelease::vmvalidate::g_stop_signal = sig; }

void WriteAll(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    off += static_cast<size_t>(n);
  }
}

// Atomically (temporary file + rename), so a reader never sees half a result.
bool WriteResult(const std::string& path, const Outcome& r) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << r.ResultJson().dump() << "\n";
    out.flush();
    if (!out) return false;
  }
  return std::rename(tmp.c_str(), path.c_str()) == 0;
}

int Finish(const Outcome& r, const std::string& result_file, bool verbose) {
  if (!result_file.empty() && !WriteResult(result_file, r))
    std::cerr << "vm-validate: cannot write the result file " << result_file << "\n";
  WriteAll(1, r.out);
  WriteAll(2, r.err);
  if (verbose) {
    for (const auto& n : r.notes) std::cerr << "vm-validate: " << n << "\n";
    std::cerr << "vm-validate: " << r.phase << " " << (r.ok ? "ok" : "failed") << ", boot "
              << r.boot_seconds << " s, check " << r.check_seconds << " s (" << r.accelerator
              << ")\n";
  }
  if (r.phase == "boot" && !r.ok) {
    std::cerr << "vm-validate: boot failure: " << r.message << "\n";
  } else if (!r.ok) {
    std::cerr << "vm-validate: " << r.message << "\n";
  }
  return r.process_exit;
}

// VMRELEASE_INVENTORY (the inventory check): the guest script's whole stdout,
// atomically, once the script ran to its end; nothing when it did not.
void WriteInventory(const std::string& path, const Outcome& r) {
  if (path.empty() || r.phase != "check" || !r.ok) return;
  if (r.out_truncated) {
    std::cerr << "vm-validate: the guest agent truncated the output; no inventory written\n";
    return;
  }
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << r.out;
    out.flush();
    if (!out) {
      std::cerr << "vm-validate: cannot write the inventory file " << path << "\n";
      return;
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0)
    std::cerr << "vm-validate: cannot write the inventory file " << path << "\n";
}

int ConfigError(const std::string& message, const std::string& result_file) {
  Outcome r;
  r.message = message;
  return Finish(r, result_file, false);
}

}  // namespace

int main(int argc, char** argv) {
  const std::string result_file = Env("VMRELEASE_RESULT_FILE");
  Options o;
  std::string accel = "auto";

  CLI::App app{
      "Boots a VM image under QEMU and runs one check script inside it through the QEMU guest "
      "agent (the vmrelease local validation backend). Inputs come from the environment: "
      "VMRELEASE_IMAGE_PATH, VMRELEASE_CHECK_SCRIPT, VMRELEASE_CHECK_NAME, "
      "VMRELEASE_CHECK_TIMEOUT_SECONDS, VMRELEASE_RESULT_FILE, VMRELEASE_INVENTORY (written with "
      "the "
      "guest script's stdout), and VMRELEASE_GUEST_ENV_<NAME> "
      "for the guest script's environment. Exit code: the guest script's, 125 when the image "
      "did not boot, 124 when the check timed out, 126 when the VM went away during the check."};
  app.add_option("--accel", accel, "auto (KVM when usable, else TCG), kvm or tcg")
      ->envname("VMRELEASE_VM_ACCEL")
      ->check(CLI::IsMember({"auto", "kvm", "tcg"}));
  app.add_option("--memory", o.memory_mb, "Guest RAM in MiB")
      ->envname("VMRELEASE_VM_MEMORY_MB")
      ->check(CLI::Range(64, 65536));
  app.add_option("--cpus", o.cpus, "Guest vCPUs")
      ->envname("VMRELEASE_VM_CPUS")
      ->check(CLI::Range(1, 64));
  app.add_option("--boot-timeout", o.boot_timeout_seconds,
                 "Seconds from qemu start until the guest agent must answer")
      ->envname("VMRELEASE_VM_BOOT_TIMEOUT_SECONDS")
      ->check(CLI::Range(1, 3600));
  app.add_option("--qemu", o.qemu, "qemu-system-x86_64 to run")->envname("VMRELEASE_VM_QEMU");
  app.add_option("--debugfs", o.debugfs, "debugfs (e2fsprogs) used to read /boot from the image")
      ->envname("VMRELEASE_VM_DEBUGFS");
  app.add_option("--kernel", o.kernel_path,
                 "Host kernel to boot instead of the image's /boot/vmlinuz")
      ->envname("VMRELEASE_VM_KERNEL");
  app.add_option("--initrd", o.initrd_path, "Host initrd instead of the image's /boot/initrd.img")
      ->envname("VMRELEASE_VM_INITRD");
  app.add_option("--append", o.extra_kernel_args, "Extra kernel command-line arguments")
      ->envname("VMRELEASE_VM_APPEND");
  bool no_pvh = false;
  app.add_flag("--no-pvh", no_pvh,
               "Boot the bzImage as is, not its uncompressed kernel through QEMU's PVH entry")
      ->envname("VMRELEASE_VM_NO_PVH");
  app.add_flag("--verbose", o.verbose, "Print timings and clean-up notes on stderr")
      ->envname("VMRELEASE_VM_VERBOSE");
  bool unguarded = false;
  app.add_flag("--test-unguarded-vm", unguarded,
               "Tests only: start qemu in its own process group without PR_SET_PDEATHSIG, so it "
               "survives a killed validator (to prove the next run cleans it up)")
      ->group("Testing");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return ConfigError(std::string("bad arguments: ") + e.what(), result_file);
  }
  o.accel = accel == "kvm" ? AccelMode::kKvm : accel == "tcg" ? AccelMode::kTcg : AccelMode::kAuto;
  o.guard_vm_with_parent = !unguarded;
  o.pvh = !no_pvh;

  o.image_path = Env("VMRELEASE_IMAGE_PATH");
  o.check_script = Env("VMRELEASE_CHECK_SCRIPT");
  if (std::string name = Env("VMRELEASE_CHECK_NAME"); !name.empty()) o.check_name = name;
  if (std::string t = Env("VMRELEASE_CHECK_TIMEOUT_SECONDS"); !t.empty()) {
    if (!std::regex_match(t, std::regex("[0-9]{1,6}")) || std::stoi(t) < 1)
      return ConfigError("VMRELEASE_CHECK_TIMEOUT_SECONDS '" + t + "' is not a positive number",
                         result_file);
    o.check_timeout_seconds = std::stoi(t);
  }
  static const std::regex kEnvName("[A-Za-z_][A-Za-z0-9_]*");
  for (char** e = environ; *e != nullptr; ++e) {
    std::string kv(*e);
    if (kv.rfind(kGuestEnvPrefix, 0) != 0) continue;
    std::string rest = kv.substr(std::strlen(kGuestEnvPrefix));
    std::string name = rest.substr(0, rest.find('='));
    if (!std::regex_match(name, kEnvName))
      return ConfigError(std::string(kGuestEnvPrefix) + name + " does not name a variable",
                         result_file);
    o.guest_env.push_back(rest);
  }
  std::error_code ec;
  std::filesystem::path cwd = std::filesystem::current_path(ec);
  if (ec) return ConfigError("cannot read the working directory: " + ec.message(), result_file);
  // Its lock, pid file and logs: the per-check directory the controller names, which stays
  // apart however the command's working directory (spec.validation.local.workingDir) is shared;
  // else the working directory.
  if (std::string check_dir = Env("VMRELEASE_CHECK_DIR"); !check_dir.empty()) {
    if (check_dir[0] != '/')
      return ConfigError("VMRELEASE_CHECK_DIR '" + check_dir + "' is not an absolute path",
                         result_file);
    std::filesystem::create_directories(check_dir, ec);
    if (ec)
      return ConfigError("cannot create VMRELEASE_CHECK_DIR " + check_dir + ": " + ec.message(),
                         result_file);
    o.work_dir = std::filesystem::path(check_dir).lexically_normal().string();
  } else {
    o.work_dir = cwd.string();
  }
  if (!o.image_path.empty() && o.image_path[0] != '/')
    o.image_path = (cwd / o.image_path).lexically_normal().string();

  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGTERM, SIGINT, SIGHUP}) sigaction(sig, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);

  Outcome r = vmrelease::vmvalidate::RunValidation(o);
  WriteInventory(Env("VMRELEASE_INVENTORY"), r);
  return Finish(r, result_file, o.verbose);
}

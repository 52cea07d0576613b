// The local image path for real: images/build-demo-image builds bootable disks from the host's
// Debian packages, and vmrelease-vm-validate boots them under qemu-system-x86_64 (TCG on a
// machine without usable KVM) and runs checks inside the guest through qemu-ga.
//
// Proves: two versions differ in exactly the files their inputs change (inventories), builds
// are reproducible, the demo checks pass inside the guest (a file the recipe wrote, the demo
// service's process, MemAvailable against a bound) and the guest's own /proc/1/comm and kernel
// command line come back, also from the fixed VHD the controller hands over; a failing check
// gives the guest's exit code and output; a corrupt disk and an unbootable root are boot
// failures (125, phase "boot"); a killed validator leaves no qemu behind (PR_SET_PDEATHSIG),
// and an orphan qemu is killed by the next run in the same work dir. After every test no qemu
// started by it remains.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <thread>

#include "controller/common/clock.h"
#include "controller/common/crypto.h"
#include "controller/image/vhd_footer.h"
#include "tests/support/testing/process.h"
#include "tools/vm-validate/workdir.h"

namespace vmrelease::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

std::string Recipe() { return SourceDir() + "/images/build-demo-image"; }
std::string Validator() { return BinPath("vmrelease-vm-validate"); }

std::string FileSha256(const std::string& path) { return Sha256Hex(ReadFile(path)); }

// Live (not zombie) processes whose command line carries the marker of `work_dir`.
std::vector<pid_t> LiveQemusFor(const std::string& work_dir) {
  const std::string marker = vmvalidate::MarkerFor(fs::canonical(work_dir).string());
  std::vector<pid_t> pids;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/proc", ec)) {
    const std::string name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    pid_t pid = std::stoi(name);
    if (!vmvalidate::CommandLineHas(pid, marker)) continue;
    std::string stat = ReadFile("/proc/" + name + "/stat");
    size_t paren = stat.rfind(')');
    if (paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] == 'Z') continue;
    pids.push_back(pid);
  }
  return pids;
}

bool Alive(pid_t pid) {
  std::string stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  size_t paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] != 'Z';
}

struct Inventory {
  json doc;
  std::map<std::string, json> files;  // by path
};

Inventory LoadInventory(const std::string& path) {
  Inventory inv;
  inv.doc = json::parse(ReadFile(path), nullptr, false);
  if (inv.doc.is_object() && inv.doc.contains("files"))
    for (const auto& f : inv.doc["files"]) inv.files[f.value("path", "")] = f;
  return inv;
}

struct ValidatorRun {
  int exit_code = -1;
  std::string out;
  std::string err;
  json result;
};

class LocalImageTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = new TempDir();
    const auto start = std::chrono::steady_clock::now();
    build_error_ = Build("1.0.0", "Hello from 1.0", "metrics", "v100");
    if (build_error_.empty()) {
      build_seconds_ =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      build_error_ = Build("1.1.0", "Hello from 1.1 & friends", "tracing,metrics", "v110");
    }
    std::cerr << "[ timing ] one image build: " << build_seconds_ << " s, image "
              << (fs::exists(Image("v100")) ? fs::file_size(Image("v100")) >> 20 : 0) << " MiB\n";
  }
  static void TearDownTestSuite() {
    delete root_;
    root_ = nullptr;
  }

  // Builds one version into <root>/<name>/; returns "" or what went wrong.
  static std::string Build(const std::string& version, const std::string& greeting,
                           const std::string& features, const std::string& name) {
    fs::create_directories(root_->Join(name));
    CommandResult r = RunCommand({Recipe()},
                                 {{"VMRELEASE_IMAGE", "demo"},
                                  {"VMRELEASE_VERSION", version},
                                  {"VMRELEASE_OUTPUT_PATH", Image(name)},
                                  {"VMRELEASE_INVENTORY", InventoryPath(name)},
                                  {"DEMO_GREETING", greeting},
                                  {"DEMO_FEATURES", features}},
                                 "", seconds(300));
    if (r.exit_code != 0)
      return "build " + name + " failed (" + std::to_string(r.exit_code) + "): " + r.err;
    return "";
  }
  static std::string Image(const std::string& name) { return root_->Join(name + "/disk.raw"); }
  static std::string InventoryPath(const std::string& name) {
    return root_->Join(name + "/inventory.json");
  }

  void SetUp() override { ASSERT_TRUE(build_error_.empty()) << build_error_; }

  void TearDown() override {
    for (const auto& dir : work_dirs_) {
      auto left = LiveQemusFor(dir);
      EXPECT_TRUE(left.empty()) << left.size() << " qemu process(es) left for " << dir;
      for (pid_t pid : left) ::kill(pid, SIGKILL);  // never leave one behind, even on failure
    }
  }

  // A fresh per-check work directory (like the controller's), checked in TearDown.
  std::string WorkDir(const std::string& name) {
    std::string dir = root_->Join("work-" + name);
    fs::create_directories(dir);
    work_dirs_.push_back(dir);
    return dir;
  }

  static Env CheckEnv(const std::string& dir, const std::string& image, const std::string& name,
                      const std::string& script, int timeout_seconds = 120) {
    return {{"VMRELEASE_IMAGE_PATH", image},
            {"VMRELEASE_CHECK_NAME", name},
            {"VMRELEASE_CHECK_SCRIPT", script},
            {"VMRELEASE_CHECK_TIMEOUT_SECONDS", std::to_string(timeout_seconds)},
            {"VMRELEASE_RESULT_FILE", dir + "/result.json"},
            // As for the inventory check: the guest script's whole stdout lands here.
            {"VMRELEASE_INVENTORY", dir + "/inventory.json"}};
  }

  // The validator's argv, run with `dir` as its working directory (as the controller does).
  static std::vector<std::string> InDir(const std::string& dir,
                                        const std::vector<std::string>& flags = {}) {
    std::vector<std::string> argv = {"/bin/sh", "-c", "cd \"$0\" && exec \"$@\"", dir, Validator()};
    argv.insert(argv.end(), flags.begin(), flags.end());
    return argv;
  }

  ValidatorRun Validate(const std::string& dir, const std::string& image, const std::string& name,
                        const std::string& script, const std::vector<std::string>& flags = {}) {
    const auto start = std::chrono::steady_clock::now();
    CommandResult r =
        RunCommand(InDir(dir, flags), CheckEnv(dir, image, name, script), "", seconds(240));
    ValidatorRun v{r.exit_code, r.out, r.err,
                   json::parse(ReadFile(dir + "/result.json"), nullptr, false)};
    double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (v.result.is_object())
      std::cerr << "[ timing ] " << name << ": boot " << v.result.value("bootSeconds", 0.0)
                << " s, check " << v.result.value("checkSeconds", 0.0) << " s, total " << total
                << " s (" << v.result.value("accelerator", "") << ")\n";
    return v;
  }

  static void ExpectCheckPassed(const ValidatorRun& v) {
    EXPECT_EQ(v.exit_code, 0) << "stdout: " << v.out << "\nstderr: " << v.err;
    ASSERT_TRUE(v.result.is_object()) << "no result file; stderr: " << v.err;
    EXPECT_EQ(v.result["phase"], "check");
    EXPECT_EQ(v.result["ok"], true);
    EXPECT_EQ(v.result["exitCode"], 0);
    EXPECT_TRUE(v.result["accelerator"] == "tcg" || v.result["accelerator"] == "kvm");
    EXPECT_GT(v.result["bootSeconds"].get<double>(), 0.0);
  }

  static void ExpectBootFailure(const ValidatorRun& v, const std::string& reason) {
    EXPECT_EQ(v.exit_code, 125) << "stdout: " << v.out << "\nstderr: " << v.err;
    ASSERT_TRUE(v.result.is_object()) << "no result file; stderr: " << v.err;
    EXPECT_EQ(v.result["phase"], "boot");
    EXPECT_EQ(v.result["ok"], false);
    EXPECT_TRUE(v.result["exitCode"].is_null());
    EXPECT_NE(v.result.value("message", "").find(reason), std::string::npos) << v.result.dump();
    // One clear line on stderr.
    EXPECT_NE(v.err.find("vm-validate: boot failure: "), std::string::npos) << v.err;
    EXPECT_EQ(std::count(v.err.begin(), v.err.end(), '\n'), 1) << v.err;
  }

  // Starts a validator whose check sleeps, waits until its qemu runs; returns both pids.
  // With `check_dir`, the validator runs in `dir` and keeps its files in VMRELEASE_CHECK_DIR.
  std::pair<std::unique_ptr<Subprocess>, pid_t> StartSleepingCheck(
      const std::string& dir, const std::vector<std::string>& flags,
      const std::string& check_dir = "") {
    Env env = CheckEnv(dir, Image("v100"), "sleeps", "sleep 600", 600);
    const std::string files = check_dir.empty() ? dir : check_dir;
    if (!check_dir.empty()) env["VMRELEASE_CHECK_DIR"] = check_dir;
    auto p = Subprocess::Start(InDir(dir, flags), env, files + "/validator.log");
    EXPECT_TRUE(p.ok()) << p.status().ToString();
    if (!p.ok()) return {nullptr, 0};
    pid_t qemu = 0;
    const std::string want = "validator " + std::to_string((*p)->pid()) + "\n";
    WaitFor(
        [&] {
          std::string pf = ReadFile(files + "/vm-validate.pid");
          auto at = pf.find("qemu ");
          if (pf.find(want) == std::string::npos || at == std::string::npos) return false;
          qemu = std::atoi(pf.c_str() + at + 5);
          return qemu > 0;
        },
        seconds(60));
    return {std::move(*p), qemu};
  }

  static inline TempDir* root_ = nullptr;
  static inline std::string build_error_;
  static inline double build_seconds_ = 0;
  std::vector<std::string> work_dirs_;
};

TEST_F(LocalImageTest, VersionsDifferExactlyInTheFilesTheirInputsChange) {
  Inventory a = LoadInventory(InventoryPath("v100"));
  Inventory b = LoadInventory(InventoryPath("v110"));
  ASSERT_TRUE(a.doc.is_object() && b.doc.is_object());
  EXPECT_EQ(a.doc["schemaVersion"], 1);
  EXPECT_EQ(a.doc["image"], "demo");
  EXPECT_EQ(a.doc["version"], "1.0.0");
  EXPECT_EQ(b.doc["version"], "1.1.0");
  EXPECT_EQ(a.doc["packages"], b.doc["packages"]) << "same host packages in both";

  std::set<std::string> changed, added, removed;
  for (const auto& [path, f] : a.files) {
    auto it = b.files.find(path);
    if (it == b.files.end())
      removed.insert(path);
    else if (it->second != f)
      changed.insert(path);
  }
  for (const auto& [path, f] : b.files)
    if (!a.files.count(path)) added.insert(path);
  // VERSION -> release file and web page; DEMO_GREETING -> greeting and web page;
  // DEMO_FEATURES gained "tracing" -> one more feature file. Nothing else moves.
  EXPECT_EQ(changed, (std::set<std::string>{"/etc/demo/greeting", "/etc/vmrelease-release",
                                            "/srv/www/index.html"}));
  EXPECT_EQ(added, (std::set<std::string>{"/etc/demo/features.d/tracing.conf"}));
  EXPECT_TRUE(removed.empty());
  EXPECT_GT(a.files.size(), 10u);
}

TEST_F(LocalImageTest, InventoryIsSortedAndTellsTheTruthAboutTheDisk) {
  Inventory inv = LoadInventory(InventoryPath("v100"));
  ASSERT_TRUE(inv.doc.is_object());
  std::vector<std::string> names, paths;
  for (const auto& p : inv.doc["packages"]) names.push_back(p["name"]);
  for (const auto& f : inv.doc["files"]) paths.push_back(f["path"]);
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
  EXPECT_TRUE(std::is_sorted(paths.begin(), paths.end()));
  std::set<std::string> name_set(names.begin(), names.end());
  EXPECT_TRUE(name_set.count("busybox-static"));
  EXPECT_TRUE(name_set.count("qemu-guest-agent"));
  EXPECT_TRUE(name_set.count("libglib2.0-0")) << "qemu-ga's libraries are listed too";
  EXPECT_TRUE(std::any_of(names.begin(), names.end(),
                          [](const std::string& n) { return n.rfind("linux-image-", 0) == 0; }));
  for (const auto& f : inv.doc["files"]) {
    EXPECT_TRUE(std::regex_match(f["mode"].get<std::string>(), std::regex("0[0-7]{3}"))) << f;
    EXPECT_TRUE(std::regex_match(f["sha256"].get<std::string>(), std::regex("[0-9a-f]{64}"))) << f;
  }
  ASSERT_TRUE(inv.files.count("/boot/vmlinuz") && inv.files.count("/boot/initrd.img"))
      << "the validator boots the kernel and initrd from the image itself";
  EXPECT_EQ(inv.files["/usr/sbin/qemu-ga"]["mode"], "0755");

  // What the inventory says is what the disk holds (read back without mounting).
  const std::string out = root_->Join("release-readback");
  CommandResult r =
      RunCommand({"debugfs", "-c", "-R", "dump /etc/vmrelease-release " + out, Image("v100")});
  ASSERT_TRUE(fs::exists(out)) << r.err;
  EXPECT_EQ(FileSha256(out), inv.files["/etc/vmrelease-release"]["sha256"]);
  EXPECT_NE(ReadFile(out).find("VERSION=1.0.0\n"), std::string::npos);
  EXPECT_EQ(static_cast<int64_t>(fs::file_size(out)), inv.files["/etc/vmrelease-release"]["size"]);
}

TEST_F(LocalImageTest, SameInputsGiveTheSameDiskByteForByte) {
  ASSERT_EQ(Build("1.0.0", "Hello from 1.0", "metrics", "v100-again"), "");
  EXPECT_EQ(FileSha256(Image("v100-again")), FileSha256(Image("v100")));
  EXPECT_EQ(ReadFile(InventoryPath("v100-again")), ReadFile(InventoryPath("v100")));
  EXPECT_EQ(fs::file_size(Image("v100")) % (1 << 20), 0u) << "a whole number of MiB";
}

TEST_F(LocalImageTest, RecipeRefusesBadInputAndWritesNothing) {
  const std::string out = root_->Join("bad.raw");
  CommandResult r =
      RunCommand({Recipe()}, {{"VMRELEASE_OUTPUT_PATH", out}, {"VMRELEASE_VERSION", ""}});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("VMRELEASE_VERSION is not set"), std::string::npos) << r.err;
  r = RunCommand({Recipe()}, {{"VMRELEASE_OUTPUT_PATH", out},
                              {"VMRELEASE_VERSION", "1.0.0"},
                              {"DEMO_FEATURES", "ok,Not_OK"}});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("DEMO_FEATURES entry 'Not_OK'"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(out));
}

TEST_F(LocalImageTest, DemoChecksRunInsideTheGuest) {
  // 1. A file the recipe wrote, matching the version.
  std::string dir = WorkDir("version-file");
  ValidatorRun v =
      Validate(dir, Image("v100"), "version-file",
               "grep -x 'VERSION=1.0.0' /etc/vmrelease-release && cat /etc/demo/greeting");
  ExpectCheckPassed(v);
  EXPECT_EQ(v.out, "VERSION=1.0.0\nHello from 1.0\n");
  EXPECT_EQ(v.result["message"], "exit code 0");
  EXPECT_EQ(ReadFile(dir + "/inventory.json"), v.out) << "VMRELEASE_INVENTORY: the guest's stdout";

  // 2. The demo service the image starts is running and serves this version.
  dir = WorkDir("service");
  v = Validate(dir, Image("v100"), "service",
               "pidof httpd >/dev/null && echo running && "
               "wget -qO- http://127.0.0.1:8080/ | grep 'version'");
  ExpectCheckPassed(v);
  EXPECT_EQ(v.out, "running\n<p>version 1.0.0</p>\n");

  // 3. MemAvailable against a bound (the VM has 256 MiB).
  dir = WorkDir("memory");
  v = Validate(
      dir, Image("v100"), "memory",
      "awk '/^MemAvailable:/ {print $2; exit !($2 > 65536 && $2 < 262144)}' /proc/meminfo");
  ExpectCheckPassed(v);
  EXPECT_GT(std::atoi(v.out.c_str()), 65536) << v.out;
}

TEST_F(LocalImageTest, BootsTheFixedVhdTheControllerHandsOverAndRunsInTheGuest) {
  // The staged artifact: the raw disk (already whole MiB), then the controller's own footer.
  // A comma in the path (qemu's option syntax) and, below, a work directory far longer than a
  // UNIX socket path may be.
  const std::string vhd = root_->Join("v100,staged.vhd");
  fs::copy_file(Image("v100"), vhd, fs::copy_options::overwrite_existing);
  const int64_t size = static_cast<int64_t>(fs::file_size(vhd));
  ASSERT_EQ(image::RoundUpToMiB(size), size);
  auto footer = image::EncodeFooter(image::NewFixedFooter(size, RealClock().WallNow()));
  {
    std::ofstream out(vhd, std::ios::binary | std::ios::app);
    out.write(reinterpret_cast<const char*>(footer.data()), footer.size());
  }
  const std::string before = FileSha256(vhd);

  std::string dir = WorkDir("proc1," + std::string(150, 'd'));
  ASSERT_GT(dir.size(), 108u);
  ValidatorRun v =
      Validate(dir, vhd, "proc1", "cat /proc/1/comm /proc/cmdline; echo $VMRELEASE_CHECK_NAME");
  ExpectCheckPassed(v);
  // PID 1 of the guest is busybox init, booted with the validator's kernel command line —
  // neither is true of the host.
  EXPECT_EQ(v.out.substr(0, v.out.find('\n')), "init");
  EXPECT_NE(v.out.find("root=/dev/vda ro"), std::string::npos) << v.out;
  EXPECT_NE(v.out.find("\nproc1\n"), std::string::npos) << v.out;
  EXPECT_EQ(FileSha256(vhd), before) << "the image under test must not be modified";
}

TEST_F(LocalImageTest, ACorruptDiskIsABootFailureNotACheckFailure) {
  const std::string bad = root_->Join("corrupt.raw");
  fs::copy_file(Image("v100"), bad, fs::copy_options::overwrite_existing);
  {
    std::fstream f(bad, std::ios::binary | std::ios::in | std::ios::out);
    f.seekp(1024);  // the ext4 superblock
    std::string zeros(1024, '\0');
    f.write(zeros.data(), zeros.size());
  }
  std::string dir = WorkDir("corrupt");
  ValidatorRun v = Validate(dir, bad, "corrupt", "echo never");
  ExpectBootFailure(v, "corrupt disk");
  EXPECT_EQ(v.out, "");
  EXPECT_FALSE(fs::exists(dir + "/inventory.json")) << "no inventory from a script that never ran";
}

TEST_F(LocalImageTest, AKernelThatCannotStartUserlandIsABootFailure) {
  // The kernel and initramfs load, but the root filesystem has no /sbin/init: the VM powers
  // off before any guest agent exists. That is a boot failure, with the console's reason.
  // (Booted as a bzImage, --no-pvh, so that path runs too; the others use the PVH entry.)
  const std::string bad = root_->Join("noinit.raw");
  fs::copy_file(Image("v100"), bad, fs::copy_options::overwrite_existing);
  CommandResult rm = RunCommand({"debugfs", "-w", "-R", "rm /sbin/init", bad});
  ASSERT_EQ(rm.exit_code, 0) << rm.err;
  std::string dir = WorkDir("noinit");
  ValidatorRun v = Validate(dir, bad, "noinit", "echo never", {"--no-pvh"});
  ExpectBootFailure(v, "no /sbin/init");
  EXPECT_NE(v.result["message"].get<std::string>().find("the VM stopped before its guest agent"),
            std::string::npos);
}

TEST_F(LocalImageTest, KillingTheValidatorTakesItsVmAlong) {
  std::string dir = WorkDir("killed");
  auto started = StartSleepingCheck(dir, {});
  auto& validator = started.first;
  const pid_t qemu = started.second;  // not a structured binding: lambdas capture it (clang 14)
  ASSERT_TRUE(validator);
  ASSERT_GT(qemu, 0) << ReadFile(dir + "/validator.log");
  ASSERT_TRUE(Alive(qemu));
  validator->Signal(SIGKILL);  // the validator only, not its process group
  auto code = validator->Wait(seconds(10));
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 128 + SIGKILL);
  // PR_SET_PDEATHSIG: qemu goes with it, without anyone cleaning up.
  EXPECT_TRUE(WaitFor([&] { return !Alive(qemu); }, seconds(10)));
  EXPECT_TRUE(LiveQemusFor(dir).empty());

  // Its private directory (sockets, a copy of the kernel) is left behind, and the next
  // validator on this host removes it, whatever its work directory: here one whose image is
  // not even a filesystem.
  std::string pid_file = ReadFile(dir + "/vm-validate.pid");
  ASSERT_NE(pid_file.find("rundir "), std::string::npos) << pid_file;
  std::string run_dir = pid_file.substr(pid_file.find("rundir ") + 7);
  run_dir = run_dir.substr(0, run_dir.find('\n'));
  EXPECT_TRUE(fs::exists(run_dir));
  const std::string zeros = root_->Join("zeros.raw");
  WriteFile(zeros, std::string(1 << 20, '\0'));
  ValidatorRun v = Validate(WorkDir("after-kill"), zeros, "zeros", "true");
  ExpectBootFailure(v, "cannot read /boot/vmlinuz");
  EXPECT_FALSE(fs::exists(run_dir));
}

// Two releases whose spec.validation.local.workingDir is the same directory: each validator
// keeps its lock and VM bookkeeping in the per-check VMRELEASE_CHECK_DIR the controller gives
// it, so the second does not take the first one's run over (and kill its VM).
TEST_F(LocalImageTest, ValidatorsSharingAWorkingDirKeepApartByTheirCheckDirs) {
  const std::string shared = WorkDir("shared");
  const std::string a = WorkDir("check-a"), b = WorkDir("check-b");
  auto first = StartSleepingCheck(shared, {}, a);
  const pid_t qemu_a = first.second;
  ASSERT_TRUE(first.first);
  ASSERT_GT(qemu_a, 0) << ReadFile(a + "/validator.log");
  auto second = StartSleepingCheck(shared, {}, b);
  const pid_t qemu_b = second.second;
  ASSERT_TRUE(second.first);
  ASSERT_GT(qemu_b, 0) << ReadFile(b + "/validator.log");
  EXPECT_TRUE(Alive(qemu_a)) << "the second validator killed the first one's VM\n"
                             << ReadFile(b + "/validator.log");
  EXPECT_FALSE(fs::exists(shared + "/vm-validate.pid")) << "bookkeeping in the shared directory";
  for (auto* v : {&first.first, &second.first}) {
    (*v)->Signal(SIGKILL);
    ASSERT_TRUE((*v)->Wait(seconds(10)).ok());
  }
  EXPECT_TRUE(WaitFor([&] { return !Alive(qemu_a) && !Alive(qemu_b); }, seconds(10)));
}

TEST_F(LocalImageTest, TheNextRunInTheWorkDirKillsAnOrphanVmThenAFailingCheckReportsTheGuest) {
  // An orphan qemu that survived its validator (forced here by --test-unguarded-vm; in real
  // life, e.g. a validator killed between fork and prctl).
  std::string dir = WorkDir("orphan");
  auto started = StartSleepingCheck(dir, {"--test-unguarded-vm"});
  auto& validator = started.first;
  const pid_t orphan = started.second;
  ASSERT_TRUE(validator);
  ASSERT_GT(orphan, 0) << ReadFile(dir + "/validator.log");
  std::string pid_file = ReadFile(dir + "/vm-validate.pid");
  std::string run_dir = pid_file.substr(pid_file.find("rundir ") + 7);
  run_dir = run_dir.substr(0, run_dir.find('\n'));
  validator->Signal(SIGKILL);
  ASSERT_TRUE(validator->Wait(seconds(10)).ok());
  std::this_thread::sleep_for(milliseconds(500));
  ASSERT_TRUE(Alive(orphan)) << "the orphan must exist for this test to mean anything";
  ASSERT_TRUE(fs::exists(run_dir));

  // The next run in the same work directory: kills the orphan first, then runs a check that
  // fails in the guest; its exit code and both output streams come back.
  ValidatorRun v = Validate(dir, Image("v100"), "fails",
                            "echo out-$(cat /etc/hostname); echo err >&2; exit 3", {"--verbose"});
  EXPECT_FALSE(Alive(orphan));
  EXPECT_FALSE(fs::exists(run_dir)) << "the orphan's private directory is removed too";
  EXPECT_NE(v.err.find("killed qemu " + std::to_string(orphan) + " left by an earlier run"),
            std::string::npos)
      << v.err;
  EXPECT_NE(v.err.find("kernel: PVH entry"), std::string::npos) << v.err;
  EXPECT_EQ(v.exit_code, 3) << v.err;
  EXPECT_EQ(v.out, "out-demo\n");
  EXPECT_EQ(v.err.substr(0, 4), "err\n");
  ASSERT_TRUE(v.result.is_object());
  EXPECT_EQ(v.result["phase"], "check");
  EXPECT_EQ(v.result["ok"], true);
  EXPECT_EQ(v.result["exitCode"], 3);
}

}  // namespace
}  // namespace vmrelease::testing

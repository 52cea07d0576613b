// The local path through the controller (issue 12's must-shows), with real VMs: releases built
// by the shipped recipe (images/build-demo-image) and validated by vmrelease-vm-validate in
// QEMU (TCG here), on the pipeline test stack (local API server, Azurite, fake ARM).
//   - one release passes; its results carry what only the guest can print (its /proc/1/comm,
//     the recipe's file), and the controller is killed with SIGKILL while its test VM runs:
//     after the restart the release completes and no qemu is left;
//   - a check that fails in the guest fails the release at Validating with the guest's output;
//   - a disk that cannot boot fails it with a boot error, not a check error;
//   - the VHD published to Azurite, read back, boots again in the validator.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>

#include "tests/e2e/pipeline/pipeline_e2e_util.h"

namespace vmrelease::testing {
namespace {

using Json = nlohmann::json;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

// qemu processes of this stack (their command line names a file under its work directory).
std::vector<int> Qemus(PipelineStack& s) {
  std::vector<int> out;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string pid = entry.path().filename();
    if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream f(entry.path() / "cmdline");
    std::string cmd((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    if (cmd.find("qemu-system") != std::string::npos && cmd.find(s.work_dir()) != std::string::npos)
      out.push_back(std::stoi(pid));
  }
  return out;
}

TEST(LocalPipelineE2ETest, RecipeAndQemuValidatorThroughTheControllerCrashesFailuresAndReadBack) {
  auto stack = NewFastStack();
  ASSERT_NE(stack, nullptr);
  PipelineStack& s = *stack;
  auto release = [&](const std::string& name, const std::string& version, Json build, Json checks) {
    Json r = s.Release({.name = name,
                        .image = "demo",
                        .version = version,
                        .build_env = {{"DEMO_GREETING", "Hello"}, {"DEMO_FEATURES", "metrics"}}});
    r["spec"]["build"]["local"]["command"] = std::move(build);
    r["spec"]["validation"]["local"] = {{"command", {"vmrelease-vm-validate"}}};
    r["spec"]["validation"]["checks"] = std::move(checks);
    auto created = s.Create(r);
    ASSERT_TRUE(created.ok()) << name << ": " << created.status().ToString();
  };
  release("demo-1-0-0", "1.0.0", {"build-demo-image"},
          {{{"name", "guest"},
            {"script", "grep -x 'VERSION=1.0.0' /etc/vmrelease-release && cat /proc/1/comm"},
            {"timeout", "2m"}},
           {{"name", "slow"}, {"script", "sleep 6; echo slept in the guest"}, {"timeout", "2m"}}});
  release("demo-2-0-0", "2.0.0", {"build-demo-image"},
          {{{"name", "fails"},
            {"script", "echo guest-says-no: $(cat /proc/1/comm); exit 3"},
            {"timeout", "2m"}}});
  // The pipeline tests' tiny build: a raw disk with no kernel on it.
  release("demo-3-0-0", "3.0.0", {"build-disk"},
          {{{"name", "never"}, {"script", "true"}, {"timeout", "2m"}}});

  // SIGKILL while demo-1-0-0's second VM runs (its first check has a result).
  ASSERT_TRUE(WaitFor(
      [&] {
        auto r = s.GetRelease("demo-1-0-0");
        return r.ok() && ResultOf(*r, "guest") != nullptr && !Qemus(s).empty();
      },
      300s))
      << s.Summary("demo-1-0-0") << s.ControllerLogs();
  s.StopController(SIGKILL);
  ASSERT_TRUE(s.StartController().ok());

  std::string why;
  const Json released = s.WaitForPhase("demo-1-0-0", "Released", 300s, &why);
  ASSERT_FALSE(released.is_null()) << why << s.ControllerLogs();
  const Json* guest = ResultOf(released, "guest");
  ASSERT_NE(guest, nullptr) << released["status"].dump(2);
  EXPECT_EQ((*guest)["passed"], true);
  EXPECT_EQ(guest->value("exitCode", -1), 0);
  // The guest's PID 1 is busybox's init; the controller's host has another.
  EXPECT_TRUE(Contains(guest->value("outputTail", ""), "VERSION=1.0.0\ninit")) << guest->dump();
  const Json* slow = ResultOf(released, "slow");
  ASSERT_NE(slow, nullptr) << released["status"].dump(2);
  EXPECT_TRUE(Contains(slow->value("outputTail", ""), "slept in the guest")) << slow->dump();

  const Json failed = s.WaitForPhase("demo-2-0-0", "Failed", 300s, &why);
  ASSERT_FALSE(failed.is_null()) << why;
  EXPECT_EQ(StatusString(failed, {"status", "failedStep"}), "Validate");
  EXPECT_EQ(ConditionOf(failed, "Stalled").value("reason", ""), "CheckFailed") << failed.dump(2);
  const Json* fails = ResultOf(failed, "fails");
  ASSERT_NE(fails, nullptr);
  EXPECT_EQ(fails->value("exitCode", -1), 3);
  EXPECT_TRUE(Contains(fails->value("outputTail", ""), "guest-says-no: init")) << fails->dump();

  const Json unbootable = s.WaitForPhase("demo-3-0-0", "Failed", 300s, &why);
  ASSERT_FALSE(unbootable.is_null()) << why;
  EXPECT_EQ(ConditionOf(unbootable, "Stalled").value("reason", ""), "BootFailed")
      << unbootable["status"].dump(2);

  EXPECT_TRUE(WaitFor([&] { return Qemus(s).empty(); }, 30s)) << "a qemu was left behind";
  // A failed release keeps its staging blob for a retry; deleted, it leaves nothing.
  for (const std::string name : {"demo-2-0-0", "demo-3-0-0"}) {
    ASSERT_TRUE(s.DeleteRelease(name).ok());
    EXPECT_TRUE(s.WaitGone(name, 60s)) << s.Summary(name);
  }
  const LeakReport leaks = s.Leaks();
  EXPECT_TRUE(leaks.clean()) << leaks.ToString();

  // The published VHD, read back from Azurite, boots again.
  auto vhd = s.blobs().GetBlob({"images", "demo/1.0.0.vhd"});
  ASSERT_TRUE(vhd.ok()) << vhd.status().ToString();
  TempDir dir;
  const std::string image = dir.Join("published.vhd");
  WriteFile(image, *vhd);
  fs::create_directories(dir.Join("work"));
  CommandResult again = RunCommand({BinPath("vmrelease-vm-validate")},
                                   {{"VMRELEASE_IMAGE_PATH", image},
                                    {"VMRELEASE_CHECK_NAME", "again"},
                                    {"VMRELEASE_CHECK_SCRIPT", "cat /etc/vmrelease-release"},
                                    {"VMRELEASE_CHECK_DIR", dir.Join("work")}},
                                   "", 240s);
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_TRUE(Contains(again.out, "VERSION=1.0.0")) << again.out << again.err;
}

}  // namespace
}  // namespace vmrelease::testing

// A check that fails on the test VM (vm backend, Run Command through the fake
// ARM): the release fails at Validate with the check's exit code and output,
// says so in conditions and a Warning Event, and leaves no VM, NIC or disk
// behind — unless keepVmOnFailure keeps them (and an Event names them). After
// the cause is fixed, `vmrelease.io/retry` takes the release to Released from
// the Validate step, without building again.
#include <gtest/gtest.h>

#include "tests/e2e/pipeline/pipeline_e2e_util.h"

namespace vmrelease::testing {
namespace {

using Json = nlohmann::json;
using namespace std::chrono_literals;

constexpr char kFailingOutput[] = "disk check: /var is 97% full";
constexpr char kFailingError[] = "df: threshold exceeded";

TEST(CheckFailureE2ETest, FailedCheckFailsTheReleaseCleansUpAndRetryReleasesWithoutRebuilding) {
  const auto t0 = std::chrono::steady_clock::now();
  auto stack = NewFastStack();
  ASSERT_NE(stack, nullptr);
  PipelineStack& s = *stack;
  // The fake's Run Command: the script that looks at /var exits 3 with output.
  s.arm().AddRunCommandRule({.contains = "df --output=pcent /var",
                             .exit_code = 3,
                             .stdout_text = kFailingOutput,
                             .stderr_text = kFailingError});

  // Two releases at once: one cleans up after the failure, one keeps its VM.
  ReleaseSpecOptions o{.name = "app-1-0-0", .image = "app", .version = "1.0.0"};
  o.validation = "vm";
  o.gallery = true;
  o.checks = {{"hello", "echo hello"}, {"var-space", "test $(df --output=pcent /var) -lt 90"}};
  ReleaseSpecOptions kept = o;
  kept.name = "app-1-0-1";
  kept.version = "1.0.1";
  kept.keep_vm_on_failure = true;
  ASSERT_TRUE(s.Create(s.Release(o)).ok());
  ASSERT_TRUE(s.Create(s.Release(kept)).ok());

  std::string why;
  const Json failed = s.WaitForPhase("app-1-0-0", "Failed", 90s, &why);
  ASSERT_FALSE(failed.is_null()) << why << "\n" << s.ControllerLogs();
  const Json& st = failed["status"];
  EXPECT_EQ(st.value("failedStep", ""), "Validate") << st.dump(2);
  // Every check up to the failing one has a result; the failing one carries its
  // exit code and output.
  ASSERT_EQ(st["validation"]["results"].size(), 2u) << st.dump(2);
  const Json& hello = st["validation"]["results"][0];
  EXPECT_EQ(hello["name"], "hello");
  EXPECT_EQ(hello["passed"], true);
  const Json& bad = st["validation"]["results"][1];
  EXPECT_EQ(bad["name"], "var-space");
  EXPECT_EQ(bad["passed"], false);
  EXPECT_EQ(bad.value("exitCode", -1), 3) << bad.dump();
  EXPECT_TRUE(Contains(bad.value("outputTail", ""), kFailingOutput)) << bad.dump();
  EXPECT_TRUE(Contains(bad.value("outputTail", ""), kFailingError)) << bad.dump();
  EXPECT_TRUE(Contains(bad.value("message", ""), "exit code 3")) << bad.dump();
  const Json stalled = ConditionOf(failed, "Stalled");
  EXPECT_EQ(stalled.value("status", ""), "True") << st.dump(2);
  EXPECT_EQ(stalled.value("reason", ""), "CheckFailed") << st.dump(2);
  EXPECT_TRUE(Contains(stalled.value("message", ""), "var-space")) << stalled.dump();
  const Json ready = ConditionOf(failed, "Ready");
  EXPECT_EQ(ready.value("status", ""), "False");
  EXPECT_EQ(ready.value("reason", ""), "CheckFailed");
  const Json validated = ConditionOf(failed, "Validated");
  EXPECT_EQ(validated.value("status", ""), "False");
  EXPECT_TRUE(ConditionOf(failed, "Reconciling").empty()) << "a Failed release is not reconciling";
  // A Warning Event says which check failed.
  ASSERT_TRUE(WaitFor(
      [&] {
        for (const Json& e : s.Events("app-1-0-0")) {
          if (e.value("type", "") == "Warning" && Contains(e.value("note", ""), "var-space"))
            return true;
        }
        return false;
      },
      10s))
      << "no Warning Event naming the failed check";
  const std::string build_started = StatusString(failed, {"status", "build", "startedAt"});
  ASSERT_FALSE(build_started.empty());

  // keepVmOnFailure: the other release fails the same way but keeps its VM, NIC and
  // disk, and an Event names them.
  const Json kept_failed = s.WaitForPhase("app-1-0-1", "Failed", 60s, &why);
  ASSERT_FALSE(kept_failed.is_null()) << why;
  EXPECT_EQ(StatusString(kept_failed, {"status", "validation", "state"}), "Kept");
  const std::string vm = StatusString(kept_failed, {"status", "validation", "vm"});
  ASSERT_FALSE(vm.empty());
  // Only the kept release's VM, NIC and disk exist: the other one left nothing.
  const LeakReport with_kept = s.Leaks();
  EXPECT_EQ(with_kept.vms, std::vector<std::string>{vm}) << with_kept.ToString();
  ASSERT_EQ(with_kept.nics.size(), 1u) << with_kept.ToString();
  ASSERT_EQ(with_kept.disks.size(), 1u) << with_kept.ToString();
  ASSERT_TRUE(
      WaitFor([&] { return !EventsWithReason(s, "app-1-0-1", "TestVmKept").empty(); }, 10s));
  const auto kept_events = EventsWithReason(s, "app-1-0-1", "TestVmKept");
  ASSERT_EQ(kept_events.size(), 1u);
  const std::string note = kept_events[0].value("note", "");
  for (const std::string& name : {vm, with_kept.nics[0], with_kept.disks[0]})
    EXPECT_TRUE(Contains(note, name)) << name << " not in: " << note;

  // Fix the cause and ask for a retry: Released, from Validate, without a new build.
  s.arm().ClearRunCommandRules();
  ASSERT_TRUE(
      s.PatchRelease("app-1-0-0", {{"metadata", {{"annotations", {{"vmrelease.io/retry", "1"}}}}}})
          .ok());
  const Json released = s.WaitForPhase("app-1-0-0", "Released", 90s, &why);
  ASSERT_FALSE(released.is_null()) << why << "\n" << s.ControllerLogs();
  EXPECT_EQ(StatusString(released, {"status", "build", "startedAt"}), build_started);
  EXPECT_EQ(FileLines(s.marker_dir() + "/app-1.0.0.starts").size(), 1u)
      << "the build ran again on retry";
  EXPECT_EQ(StatusString(released, {"status", "lastHandledRetry"}), "1");
  const Json& results = released["status"]["validation"]["results"];
  ASSERT_EQ(results.size(), 2u) << results.dump();
  for (const Json& r : results) EXPECT_EQ(r["passed"], true) << r.dump();
  EXPECT_EQ(ConditionOf(released, "Ready").value("status", ""), "True");
  EXPECT_TRUE(ConditionOf(released, "Stalled").empty());
  EXPECT_EQ(EventsWithReason(s, "app-1-0-0", "Retrying").size(), 1u);

  // Deleting the release whose VM was kept removes what was kept.
  ASSERT_TRUE(s.DeleteRelease("app-1-0-1").ok());
  ASSERT_TRUE(s.WaitGone("app-1-0-1", 60s)) << s.Summary("app-1-0-1");
  const LeakReport leaks = s.Leaks();
  EXPECT_TRUE(leaks.clean()) << leaks.ToString();
  EXPECT_TRUE(leaks.run_commands.empty()) << leaks.ToString();
  EXPECT_EQ(leaks.gallery_versions, 1) << "the released version stays, the failed one's goes";
  std::printf("check failure e2e: %.1f s\n",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
}

}  // namespace
}  // namespace vmrelease::testing

// Pod status as the kubelet writes it, and the termination message with the
// kubelet's limits (jobs.md §8).
#include "tests/support/jobrunner/pod_status.h"

#include <gtest/gtest.h>

#include "tests/support/testing/process.h"

namespace vmrelease::jobrunner {
namespace {

using kube::Json;
using testing::TempDir;
using testing::WriteFile;

std::string Lines(int from, int to) {
  std::string out;
  for (int i = from; i <= to; ++i) out += "line " + std::to_string(i) + "\n";
  return out;
}

class TerminationMessageTest : public ::testing::Test {
 protected:
  TempDir dir_;  // first: the paths below are made from it
  std::string file_ = dir_.Join("termination-log");
  std::string log_ = dir_.Join("output.log");
};

TEST_F(TerminationMessageTest, TheFileWinsAndOnlyItsLast4096BytesAreRead) {
  WriteFile(file_, std::string(1000, 'a') + std::string(4096, 'b'));
  WriteFile(log_, "log output\n");
  EXPECT_EQ(TerminationMessage(file_, log_, "FallbackToLogsOnError", 1, 1), std::string(4096, 'b'));
}

TEST_F(TerminationMessageTest, FallbackToLogsOnlyOnErrorWithAnEmptyFile) {
  WriteFile(file_, "");
  WriteFile(log_, "boom\n");
  EXPECT_EQ(TerminationMessage(file_, log_, "FallbackToLogsOnError", 2, 1), "boom\n");
  EXPECT_EQ(TerminationMessage(file_, log_, "FallbackToLogsOnError", 0, 1), "") << "exit 0";
  EXPECT_EQ(TerminationMessage(file_, log_, "File", 2, 1), "") << "policy File";
}

TEST_F(TerminationMessageTest, TheLogFallbackIsTheLast80LinesCutTo2048Bytes) {
  WriteFile(file_, "");
  WriteFile(log_, Lines(1, 100));
  EXPECT_EQ(TerminationMessage(file_, log_, "FallbackToLogsOnError", 1, 1), Lines(21, 100));
  const std::string long_line(100, 'x');
  std::string big;
  for (int i = 0; i < 100; ++i) big += long_line + "\n";
  WriteFile(log_, big);
  const std::string msg = TerminationMessage(file_, log_, "FallbackToLogsOnError", 1, 1);
  EXPECT_EQ(msg.size(), kMaxTerminationMessageLogBytes);
  EXPECT_EQ(msg.substr(0, 101), long_line + "\n") << "from the start of the last 80 lines";
}

TEST_F(TerminationMessageTest, ThePodBudgetIsSharedByItsContainers) {
  WriteFile(file_, std::string(4096, 'm'));
  EXPECT_EQ(TerminationMessage(file_, log_, "File", 0, 12).size(), 1024u);
  EXPECT_EQ(TerminationMessage(file_, log_, "File", 0, 2).size(), 4096u);
}

TEST_F(TerminationMessageTest, ACutMultiByteCharacterBecomesAReplacementCharacter) {
  WriteFile(file_, "\xC3");  // the first byte of "é"
  EXPECT_EQ(TerminationMessage(file_, log_, "File", 1, 1), "\xEF\xBF\xBD");
  EXPECT_EQ(SanitizeUtf8("ok \xC3\xA9 \xF0\x9F\x98\x80"), "ok \xC3\xA9 \xF0\x9F\x98\x80");
  EXPECT_EQ(SanitizeUtf8("\xC0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD") << "overlong";
  EXPECT_NO_THROW(Json(TerminationMessage(file_, log_, "File", 1, 1)).dump());
}

TEST(PodStatusTest, ConditionsAndStateFollowThePhase) {
  const WallTime t0 = WallTime(std::chrono::seconds(1767225600));
  Json pod = {{"metadata", {{"name", "p"}}}, {"status", {{"phase", "Pending"}}}};
  ContainerView c{.name = "main",
                  .image = "img",
                  .container_id = "vmrelease-job-runner://u/0",
                  .state = ContainerView::State::kRunning,
                  .started_at = t0};
  Json running = BuildPodStatus(pod, "Running", c, t0);
  EXPECT_EQ(running["phase"], "Running");
  for (const auto& cond : running["conditions"]) EXPECT_EQ(cond["status"], "True") << cond.dump();
  EXPECT_EQ(running["containerStatuses"][0]["state"]["running"]["startedAt"],
            "2026-01-01T00:00:00Z");
  EXPECT_EQ(running["containerStatuses"][0]["ready"], true);
  EXPECT_EQ(running["startTime"], "2026-01-01T00:00:00Z");

  // Finished 90.7 s later: times at 1 s precision; Ready keeps no stale transition.
  pod["status"] = running;
  c.state = ContainerView::State::kTerminated;
  c.finished_at = t0 + std::chrono::milliseconds(90700);
  c.exit_code = 2;
  c.reason = "Error";
  c.message = "it broke";
  const WallTime t1 = c.finished_at;
  Json failed = BuildPodStatus(pod, "Failed", c, t1);
  EXPECT_EQ(failed["phase"], "Failed");
  const Json term = failed["containerStatuses"][0]["state"]["terminated"];
  EXPECT_EQ(term["exitCode"], 2);
  EXPECT_EQ(term["reason"], "Error");
  EXPECT_EQ(term["message"], "it broke");
  EXPECT_EQ(term["finishedAt"], "2026-01-01T00:01:30Z");
  EXPECT_FALSE(term.contains("signal"));
  EXPECT_EQ(failed["startTime"], "2026-01-01T00:00:00Z") << "kept from the running status";
  for (const auto& cond : failed["conditions"]) {
    const std::string type = cond["type"];
    if (type == "Ready" || type == "ContainersReady") {
      EXPECT_EQ(cond["status"], "False");
      EXPECT_EQ(cond["reason"], "PodFailed");
      EXPECT_EQ(cond["lastTransitionTime"], "2026-01-01T00:01:30Z");
    }
    if (type == "PodScheduled" || type == "Initialized") {
      EXPECT_EQ(cond["lastTransitionTime"], "2026-01-01T00:00:00Z") << type << " did not change";
    }
  }
}

}  // namespace
}  // namespace vmrelease::jobrunner

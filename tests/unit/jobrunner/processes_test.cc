// The job runner's container runtime with real processes: exit codes, killing
// the whole process group (SIGTERM, then SIGKILL after the grace period on a
// ManualClock), and what a new ProcessTable on the same work dir finds after a
// runner restart.
#include "tests/support/jobrunner/processes.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>

#include "tests/support/testing/process.h"

namespace vmrelease::jobrunner {
namespace {

using testing::ReadFile;
using testing::TempDir;
using testing::WaitFor;

class ProcessesTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(table_->Init().ok()); }
  void TearDown() override {
    for (const auto& uid : table_->KnownPods()) table_->Forget(uid);
  }

  LaunchSpec Shell(const std::string& uid, const std::string& script, int attempt = 0) {
    return {.pod_uid = uid,
            .attempt = attempt,
            .argv = {"/bin/sh", "-c", script},
            .env = {"PATH=/usr/bin:/bin", "MARK=" + dir_.Join("mark")}};
  }

  // Polls (on real time: the processes are real) until `uid` ended.
  ContainerProcess WaitEnded(const std::string& uid) {
    EXPECT_TRUE(WaitFor(
        [&] {
          table_->Poll();
          auto p = table_->Get(uid);
          return p && p->state != ContainerProcess::State::kRunning;
        },
        std::chrono::seconds(10)));
    return *table_->Get(uid);
  }

  TempDir dir_;
  ManualClock clock_;
  std::unique_ptr<ProcessTable> table_ = std::make_unique<ProcessTable>(dir_.Join("work"), clock_);
};

TEST_F(ProcessesTest, RunsTheCommandAndRecordsItsExitCodeAndOutput) {
  auto p = table_->Start(Shell("pod-a", "echo out; echo err >&2; exit 5"));
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_GT(p->pid, 0);
  const ContainerProcess done = WaitEnded("pod-a");
  EXPECT_EQ(done.state, ContainerProcess::State::kExited);
  EXPECT_EQ(done.exit_code, 5);
  EXPECT_EQ(ReadFile(done.log_path()), "out\nerr\n");
}

TEST_F(ProcessesTest, AnAttemptIsNeverStartedTwice) {
  ASSERT_TRUE(table_->Start(Shell("pod-a", "echo x >> \"$MARK\"")).ok());
  auto again = table_->Start(Shell("pod-a", "echo x >> \"$MARK\""));
  EXPECT_EQ(again.status().code(), StatusCode::kAlreadyExists);
  WaitEnded("pod-a");
  // Not even by a new table on the same work dir.
  ProcessTable fresh(dir_.Join("work"), clock_);
  EXPECT_EQ(fresh.Start(Shell("pod-a", "echo x >> \"$MARK\"")).status().code(),
            StatusCode::kAlreadyExists);
  EXPECT_EQ(ReadFile(dir_.Join("mark")), "x\n");
}

TEST_F(ProcessesTest, KillSendsTermToTheGroupThenKillAfterTheGrace) {
  // The command ignores SIGTERM; its background child shares the group.
  auto p = table_->Start(Shell(
      "pod-a", "trap '' TERM; sleep 300 & echo $! > \"$MARK\"; while true; do sleep 0.1; done"));
  ASSERT_TRUE(p.ok());
  ASSERT_TRUE(
      WaitFor([&] { return !ReadFile(dir_.Join("mark")).empty(); }, std::chrono::seconds(5)));
  const int child = std::atoi(ReadFile(dir_.Join("mark")).c_str());
  table_->Kill("pod-a", "the Pod was deleted", std::chrono::seconds(30));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  table_->Poll();
  EXPECT_EQ(table_->Get("pod-a")->state, ContainerProcess::State::kRunning)
      << "SIGTERM is ignored and the grace period has not passed";
  clock_.Advance(std::chrono::seconds(30));
  const ContainerProcess done = WaitEnded("pod-a");
  EXPECT_EQ(done.state, ContainerProcess::State::kExited);
  EXPECT_EQ(done.exit_code, 137);
  EXPECT_EQ(done.kill_reason, "the Pod was deleted");
  EXPECT_TRUE(WaitFor([&] { return ::kill(-p->pid, 0) != 0; }, std::chrono::seconds(2)))
      << "the process group survived";
  EXPECT_TRUE(WaitFor(
      [&] {
        auto ps = ReadProcStat(child);
        return !ps || ps->zombie;
      },
      std::chrono::seconds(2)));
}

TEST_F(ProcessesTest, TermEndsACommandThatDoesNotIgnoreItWithItsCode) {
  ASSERT_TRUE(table_->Start(Shell("pod-a", "sleep 300")).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  table_->Kill("pod-a", "deadline", std::chrono::seconds(30));
  const ContainerProcess done = WaitEnded("pod-a");
  EXPECT_EQ(done.exit_code, 143) << "128 + SIGTERM, recorded by the shim";
}

TEST_F(ProcessesTest, ANewTableAdoptsARunningProcessAndSeesItEnd) {
  ASSERT_TRUE(
      table_->Start(Shell("pod-a", "while [ ! -f \"$MARK\" ]; do sleep 0.05; done; exit 3")).ok());
  table_ = std::make_unique<ProcessTable>(dir_.Join("work"), clock_);  // the runner restarted
  auto adopted = table_->Get("pod-a");
  ASSERT_TRUE(adopted);
  EXPECT_EQ(adopted->state, ContainerProcess::State::kRunning);
  EXPECT_TRUE(adopted->adopted);
  testing::WriteFile(dir_.Join("mark"), "go");
  const ContainerProcess done = WaitEnded("pod-a");
  EXPECT_EQ(done.state, ContainerProcess::State::kExited);
  EXPECT_EQ(done.exit_code, 3) << "read from the exit file: the new table is not the parent";
}

TEST_F(ProcessesTest, AProcessThatEndedWhileNoRunnerWatchedIsReportedWithItsCode) {
  ASSERT_TRUE(table_->Start(Shell("pod-a", "exit 9")).ok());
  WaitEnded("pod-a");
  ProcessTable fresh(dir_.Join("work"), clock_);
  auto p = fresh.Get("pod-a");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->state, ContainerProcess::State::kExited);
  EXPECT_EQ(p->exit_code, 9);
}

TEST_F(ProcessesTest, AProcessKilledFromOutsideIsLost) {
  auto p = table_->Start(Shell("pod-a", "sleep 300"));
  ASSERT_TRUE(p.ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ::kill(-p->pid, SIGKILL);
  const ContainerProcess done = WaitEnded("pod-a");
  // Our own child: the wait status says how it ended.
  EXPECT_EQ(done.exit_code, 137);
  // A runner that was not there cannot know.
  ProcessTable fresh(dir_.Join("work"), clock_);
  EXPECT_EQ(fresh.Get("pod-a")->state, ContainerProcess::State::kLost);
  EXPECT_NE(fresh.Get("pod-a")->lost_reason.find("without an exit code"), std::string::npos);
}

TEST_F(ProcessesTest, AnAttemptLaunchedButNeverRecordedIsFoundByItsCommandLineOrLost) {
  // A runner that crashed between `launched` and `pid`: simulate by removing the pid file.
  auto p = table_->Start(Shell("pod-a", "while [ ! -f \"$MARK\" ]; do sleep 0.05; done"));
  ASSERT_TRUE(p.ok());
  std::filesystem::remove(p->dir + "/pid");
  ProcessTable fresh(dir_.Join("work"), clock_);
  auto found = fresh.Get("pod-a");
  ASSERT_TRUE(found);
  EXPECT_EQ(found->state, ContainerProcess::State::kRunning);
  EXPECT_EQ(found->pid, p->pid);
  testing::WriteFile(dir_.Join("mark"), "go");
  WaitEnded("pod-a");

  ASSERT_TRUE(table_->PrepareAttempt("pod-b", 0).ok());
  testing::WriteFile(dir_.Join("work/pods/pod-b/0/launched"), "0");
  ProcessTable again(dir_.Join("work"), clock_);
  auto lost = again.Get("pod-b");
  ASSERT_TRUE(lost);
  EXPECT_EQ(lost->state, ContainerProcess::State::kLost);
  EXPECT_NE(lost->lost_reason.find("not started again"), std::string::npos);
}

TEST_F(ProcessesTest, AStartErrorIsRecordedAsAnAttemptWithExitCode128) {
  auto p = table_->RecordStartError("pod-a", 0, "exec: \"x\": executable file not found in $PATH");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->exit_code, 128);
  ProcessTable fresh(dir_.Join("work"), clock_);
  auto again = fresh.Get("pod-a");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->exit_code, 128);
  EXPECT_EQ(again->start_error, "exec: \"x\": executable file not found in $PATH");
}

TEST_F(ProcessesTest, ForgetRemovesThePodsDirectory) {
  ASSERT_TRUE(table_->Start(Shell("pod-a", "sleep 300")).ok());
  table_->Forget("pod-a");
  EXPECT_FALSE(std::filesystem::exists(dir_.Join("work/pods/pod-a")));
  EXPECT_FALSE(table_->Get("pod-a"));
}

}  // namespace
}  // namespace vmrelease::jobrunner

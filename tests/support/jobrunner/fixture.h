// Test fixture: runs build/bin/vmrelease-job-runner against an API server (the
// local one from apiserver_fixture, usually) with its own work dir and log.
//
//   auto server = LocalApiServer::Start();
//   auto runner = JobRunnerProcess::Start({.kubeconfig = (*server)->kubeconfig()});
//   ... create Jobs, wait for their conditions ...
//   (*runner)->Kill();        // SIGKILL: the containers keep running
//   (*runner)->Restart();     // same work dir: running containers are adopted
//
// Guarantees: Start() returns once the runner reconciles (its caches synced);
// the runner is stopped on destruction (SIGTERM, then SIGKILL) and the
// processes it started are killed too, so tests leave nothing behind.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "controller/common/status.h"
#include "tests/support/testing/process.h"

namespace vmrelease::testing {

class JobRunnerProcess {
 public:
  struct Options {
    std::string kubeconfig;
    std::vector<std::string> extra_args;  // e.g. {"--pod-failure-backoff", "0"}
  };
  static StatusOr<std::unique_ptr<JobRunnerProcess>> Start(Options options);
  ~JobRunnerProcess();
  JobRunnerProcess(const JobRunnerProcess&) = delete;
  JobRunnerProcess& operator=(const JobRunnerProcess&) = delete;

  // SIGKILL, as a crash; the containers it started keep running.
  void Kill();
  // Starts it again with the same work dir and flags.
  Status Restart();
  const std::string& work_dir() const { return work_dir_; }
  std::string log() const;  // everything every incarnation logged
  // Waits until the log contains `needle`.
  bool WaitForLog(const std::string& needle,
                  std::chrono::milliseconds timeout = std::chrono::seconds(30)) const;

 private:
  JobRunnerProcess() = default;
  Status Launch();

  Options options_;
  std::unique_ptr<TempDir> dir_;
  std::string work_dir_;
  std::string log_path_;
  std::unique_ptr<Subprocess> process_;
  size_t starts_ = 0;
};

}  // namespace vmrelease::testing

// JobRunner: plays the Job controller and the kubelet for clusters that have
// neither (the local API server), so batch/v1 Jobs run as local processes.
// See docs/job-runner.md for what it models and what it does not.
//
//   ASSIGN_OR_RETURN(auto client, kube::RestClient::FromConfig(config));
//   ASSIGN_OR_RETURN(auto runner, JobRunner::Create(*client, {.work_dir = "/tmp/jr"}));
//   RETURN_IF_ERROR(runner->Start());   // returns once the caches synced
//   ...
//   runner->Stop();                      // containers keep running; a new runner adopts them
//
// Wiring: informers for Jobs and for Pods carrying
// batch.kubernetes.io/controller-uid; a JobController (job_controller.h) and a
// Kubelet (kubelet.h) on kube::Controller work queues; a monitor thread that
// polls the processes (exit, kill escalation) and ships logs; an EventRecorder.
// Nothing is reconciled before both caches have synced, so a restarted runner
// sees the Pods it created before and never creates or runs them twice.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "controller/common/clock.h"
#include "controller/kube/controller.h"
#include "controller/kube/events.h"
#include "controller/kube/rest_client.h"
#include "controller/kube/watcher.h"
#include "tests/support/jobrunner/job_controller.h"
#include "tests/support/jobrunner/kubelet.h"
#include "tests/support/jobrunner/log_shipper.h"
#include "tests/support/jobrunner/processes.h"

namespace vmrelease::jobrunner {

struct RunnerOptions {
  std::string ns;        // empty: all namespaces
  std::string work_dir;  // required: process state and output
  std::string managed_by;
  int workers = 2;  // per controller
  // nullopt: from the server's /version (1.31+ -> interim Job conditions).
  std::optional<bool> interim_conditions;
  Duration restart_backoff = std::chrono::seconds(10);
  Duration pod_failure_backoff = std::chrono::seconds(10);
  Duration poll_interval = std::chrono::milliseconds(100);
  Duration log_ship_interval = std::chrono::milliseconds(500);
  std::string scheduling_gate;
  bool upload_logs = true;  // to the local API server's admin API, when it has one
  std::chrono::milliseconds sync_timeout{std::chrono::seconds(60)};
  Clock* clock = nullptr;  // RealClock when null
};

class JobRunner {
 public:
  // Checks the options and the server (/version). Errors: kInvalidArgument
  // for bad options, the server's error when it cannot be reached.
  static StatusOr<std::unique_ptr<JobRunner>> Create(kube::RestClient& client,
                                                     RunnerOptions options);
  ~JobRunner();
  JobRunner(const JobRunner&) = delete;
  JobRunner& operator=(const JobRunner&) = delete;

  // Starts watching, waits for the caches (kDeadlineExceeded after
  // sync_timeout), forgets processes of Pods that are gone, then reconciles.
  Status Start();
  // Stops reconciling and watching. Running containers are left alone.
  void Stop();

  bool interim_conditions() const { return interim_; }

 private:
  JobRunner(kube::RestClient& client, RunnerOptions options, bool interim);
  void Monitor();

  kube::RestClient& client_;
  RunnerOptions options_;
  bool interim_;
  Clock& clock_;
  std::unique_ptr<kube::Informer> jobs_;
  std::unique_ptr<kube::Informer> pods_;
  std::unique_ptr<ProcessTable> table_;
  std::unique_ptr<LogSink> sink_;
  std::unique_ptr<LogShipper> shipper_;
  std::unique_ptr<kube::EventRecorder> events_;
  std::unique_ptr<JobController> job_reconciler_;
  std::unique_ptr<Kubelet> kubelet_;
  std::unique_ptr<kube::Controller> job_controller_;
  std::unique_ptr<kube::Controller> pod_controller_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool started_ = false;
  std::thread monitor_;
};

// Whether a server version ("1", "32" or "32+") has the 1.31+ Job conditions.
bool HasInterimJobConditions(const std::string& major, const std::string& minor);

}  // namespace vmrelease::jobrunner

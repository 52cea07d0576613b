#include "tests/support/jobrunner/runner.h"

#include <unistd.h>

#include <cstdlib>

#include "controller/common/log.h"
#include "tests/support/jobrunner/resources.h"

namespace vmrelease::jobrunner {
namespace {

std::string Hostname() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof(buf) - 1) != 0) return "localhost";
  return buf;
}

}  // namespace

bool HasInterimJobConditions(const std::string& major, const std::string& minor) {
  try {
    const int ma = std::stoi(major);
    const int mi = std::stoi(minor);  // "32+" parses as 32
    return ma > 1 || (ma == 1 && mi >= 31);
  } catch (const std::exception&) {
    return true;  // unknown: assume a current server
  }
}

StatusOr<std::unique_ptr<JobRunner>> JobRunner::Create(kube::RestClient& client,
                                                       RunnerOptions options) {
  if (options.work_dir.empty()) return InvalidArgumentError("a work dir is required");
  if (options.workers < 1) return InvalidArgumentError("workers must be at least 1");
  bool interim = true;
  if (options.interim_conditions) {
    interim = *options.interim_conditions;
  } else {
    ASSIGN_OR_RETURN(kube::Json version,
                     client.Request("GET", "/version", {}, "", "application/json",
                                    kube::RestClient::Retry::kReads, "get the server version"));
    interim = HasInterimJobConditions(version.value("major", ""), version.value("minor", ""));
    log::Info("jobrunner", "server version",
              {{"gitVersion", version.value("gitVersion", "")},
               {"jobConditions", interim ? "1.31+ (SuccessCriteriaMet/FailureTarget first)"
                                         : "<= 1.30 (Complete/Failed at once)"}});
  }
  return std::unique_ptr<JobRunner>(new JobRunner(client, std::move(options), interim));
}

JobRunner::JobRunner(kube::RestClient& client, RunnerOptions options, bool interim)
    : client_(client),
      options_(std::move(options)),
      interim_(interim),
      clock_(options_.clock != nullptr ? *options_.clock : RealClock::Get()) {}

JobRunner::~JobRunner() { Stop(); }

Status JobRunner::Start() {
  {
    std::lock_guard lock(mu_);
    if (started_) return FailedPreconditionError("already started");
    started_ = true;
  }
  table_ = std::make_unique<ProcessTable>(options_.work_dir, clock_);
  RETURN_IF_ERROR(table_->Init());
  if (options_.upload_logs) sink_ = AdminLogSink::Probe(client_);
  shipper_ = std::make_unique<LogShipper>(sink_.get());
  events_ = std::make_unique<kube::EventRecorder>(
      client_, kube::EventRecorderOptions{.reporting_controller = "vmrelease.io/job-runner",
                                          .reporting_instance = Hostname(),
                                          .clock = &clock_});
  events_->Start();

  jobs_ = std::make_unique<kube::Informer>(
      client_, kube::WatcherOptions{.type = JobResource(), .ns = options_.ns, .clock = &clock_});
  pods_ = std::make_unique<kube::Informer>(
      client_, kube::WatcherOptions{.type = PodResource(),
                                    .ns = options_.ns,
                                    .label_selector = "batch.kubernetes.io/controller-uid",
                                    .clock = &clock_});
  pods_->store().AddIndex(kPodOwnerIndex, ControllerOwnerUid);
  pods_->store().AddIndex(
      kPodUidIndex, [](const kube::Json& p) { return std::vector<std::string>{kube::Uid(p)}; });

  job_reconciler_ = std::make_unique<JobController>(
      client_, jobs_->store(), pods_->store(), events_.get(), clock_,
      JobControllerOptions{.managed_by = options_.managed_by,
                           .interim_conditions = interim_,
                           .pod_failure_backoff = options_.pod_failure_backoff,
                           .scheduling_gate = options_.scheduling_gate});
  const char* path = std::getenv("PATH");
  kubelet_ = std::make_unique<Kubelet>(
      client_, pods_->store(), jobs_->store(), *table_, *shipper_, events_.get(), clock_,
      KubeletOptions{.restart_backoff = options_.restart_backoff,
                     .path_env = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin"});
  job_controller_ = std::make_unique<kube::Controller>(
      kube::ControllerOptions{
          .name = "job", .workers = options_.workers, .clock = &clock_, .store = &jobs_->store()},
      *job_reconciler_);
  pod_controller_ =
      std::make_unique<kube::Controller>(kube::ControllerOptions{.name = "kubelet",
                                                                 .workers = options_.workers,
                                                                 .clock = &clock_,
                                                                 .store = &pods_->store()},
                                         *kubelet_);

  jobs_->store().AddHandler(job_controller_->EnqueueHandler());
  // A Job that goes wakes the kubelet pass of each of its Pods: one already
  // terminating (or terminal) keeps the job-tracking finalizer until a pass
  // sees the Job gone, and the garbage collector's delete of such a Pod
  // changes nothing in it, so no Pod event would come (the real Job
  // controller enqueues a deleted Job's Pods for the same reason).
  {
    const kube::Store* pods = &pods_->store();
    kube::Controller* pc = pod_controller_.get();
    jobs_->store().AddHandler({.on_delete = [pods, pc](const kube::ObjectPtr& job) {
      for (const auto& p : pods->ByIndex(kPodOwnerIndex, kube::Uid(*job)))
        pc->Enqueue(kube::ObjectRef::FromObject(*p));
    }});
  }
  // A Pod change wakes its Pod's kubelet pass and its Job's controller pass.
  kube::Controller* jc = job_controller_.get();
  kube::Controller* pc = pod_controller_.get();
  Kubelet* kubelet = kubelet_.get();
  auto owner_job = [jc](const kube::ObjectPtr& p) {
    const kube::Json* refs = kube::Find(*p, {"metadata", "ownerReferences"});
    if (refs == nullptr || !refs->is_array()) return;
    for (const auto& r : *refs)
      if (r.is_object() && r.value("controller", false) && r.value("kind", "") == "Job")
        jc->Enqueue({kube::Namespace(*p), r.value("name", "")});
  };
  pods_->store().AddHandler({.on_add =
                                 [pc, owner_job](const kube::ObjectPtr& p) {
                                   pc->Enqueue(kube::ObjectRef::FromObject(*p));
                                   owner_job(p);
                                 },
                             .on_update =
                                 [pc, owner_job](const kube::ObjectPtr&, const kube::ObjectPtr& p) {
                                   pc->Enqueue(kube::ObjectRef::FromObject(*p));
                                   owner_job(p);
                                 },
                             .on_delete =
                                 [pc, owner_job, kubelet](const kube::ObjectPtr& p) {
                                   kubelet->OnPodDeleted(p);
                                   pc->Enqueue(kube::ObjectRef::FromObject(*p));
                                   owner_job(p);
                                 }});

  jobs_->Start();
  pods_->Start();
  if (!jobs_->store().WaitForSync(options_.sync_timeout) ||
      !pods_->store().WaitForSync(options_.sync_timeout))
    return DeadlineExceededError("the job and pod caches did not sync in time");
  kubelet_->SweepOrphans();
  job_controller_->Start();
  pod_controller_->Start();
  monitor_ = std::thread(&JobRunner::Monitor, this);
  log::Info("jobrunner", "running",
            {{"namespace", options_.ns.empty() ? "(all)" : options_.ns},
             {"workDir", options_.work_dir},
             {"logUpload", shipper_->enabled()},
             {"managedBy", options_.managed_by.empty() ? "(built-in)" : options_.managed_by}});
  return Status::Ok();
}

void JobRunner::Monitor() {
  TimePoint next_ship = clock_.Now();
  TimePoint next_sweep = clock_.Now() + std::chrono::seconds(10);
  std::unique_lock lock(mu_);
  while (!stopping_) {
    lock.unlock();
    const std::vector<std::string> ended = table_->Poll();
    if (!ended.empty())
      for (const auto& ref : kubelet_->OnProcessesEnded(ended)) pod_controller_->Enqueue(ref);
    if (clock_.Now() >= next_ship) {
      shipper_->ShipAll();
      next_ship = clock_.Now() + options_.log_ship_interval;
    }
    if (clock_.Now() >= next_sweep) {
      kubelet_->SweepOrphans();
      next_sweep = clock_.Now() + std::chrono::seconds(10);
    }
    lock.lock();
    if (stopping_) break;
    clock_.WaitUntil(lock, cv_, clock_.Now() + options_.poll_interval);
  }
}

void JobRunner::Stop() {
  {
    std::lock_guard lock(mu_);
    if (!started_ || stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (monitor_.joinable()) monitor_.join();
  if (job_controller_) job_controller_->Stop();
  if (pod_controller_) pod_controller_->Stop();
  if (jobs_) jobs_->Stop();
  if (pods_) pods_->Stop();
  if (events_) events_->Stop();
  log::Info("jobrunner", "stopped (running containers are left running)");
}

}  // namespace vmrelease::jobrunner

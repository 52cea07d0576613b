#include "tests/support/jobrunner/fixture.h"

#include <signal.h>

#include <filesystem>

#include "tests/support/jobrunner/processes.h"

namespace vmrelease::testing {
namespace {

size_t Count(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t pos = haystack.find(needle); pos != std::string::npos;
       pos = haystack.find(needle, pos + needle.size()))
    ++n;
  return n;
}

}  // namespace

StatusOr<std::unique_ptr<JobRunnerProcess>> JobRunnerProcess::Start(Options options) {
  std::unique_ptr<JobRunnerProcess> r(new JobRunnerProcess());
  r->options_ = std::move(options);
  r->dir_ = std::make_unique<TempDir>();
  r->work_dir_ = r->dir_->Join("work");
  r->log_path_ = r->dir_->Join("job-runner.log");
  RETURN_IF_ERROR(r->Launch());
  return r;
}

Status JobRunnerProcess::Launch() {
  std::vector<std::string> argv = {BinPath("vmrelease-job-runner"),
                                   "--kubeconfig",
                                   options_.kubeconfig,
                                   "--work-dir",
                                   work_dir_,
                                   "--log-format",
                                   "json"};
  argv.insert(argv.end(), options_.extra_args.begin(), options_.extra_args.end());
  ASSIGN_OR_RETURN(process_, Subprocess::Start(argv, {}, log_path_));
  ++starts_;
  // "running" is logged once the caches synced and the controllers started.
  const bool up = WaitFor(
      [&] { return Count(log(), "\"msg\":\"running\"") >= starts_ || !process_->Running(); },
      std::chrono::seconds(60));
  if (!up || !process_->Running())
    return UnavailableError("vmrelease-job-runner did not start; log:\n" + log());
  return Status::Ok();
}

JobRunnerProcess::~JobRunnerProcess() {
  if (process_ && process_->Running()) {
    process_->Signal(SIGTERM);
    if (!process_->Wait(std::chrono::seconds(10)).ok()) process_->Signal(SIGKILL);
  }
  process_.reset();
  // The containers outlive the runner by design; a test leaves none behind.
  std::error_code ec;
  for (const auto& pod : std::filesystem::directory_iterator(work_dir_ + "/pods", ec)) {
    for (const auto& attempt : std::filesystem::directory_iterator(pod.path(), ec)) {
      const std::string pid_text = ReadFile((attempt.path() / "pid").string());
      const int pid = std::atoi(pid_text.c_str());
      if (pid > 0 && jobrunner::ReadProcStat(pid)) ::kill(-pid, SIGKILL);
    }
  }
}

void JobRunnerProcess::Kill() {
  if (process_ && process_->Running()) {
    process_->Signal(SIGKILL);
    (void)process_->Wait(std::chrono::seconds(10));
  }
}

Status JobRunnerProcess::Restart() {
  Kill();
  return Launch();
}

std::string JobRunnerProcess::log() const { return ReadFile(log_path_); }

bool JobRunnerProcess::WaitForLog(const std::string& needle,
                                  std::chrono::milliseconds timeout) const {
  return WaitFor([&] { return log().find(needle) != std::string::npos; }, timeout);
}

}  // namespace vmrelease::testing

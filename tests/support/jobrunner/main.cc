// vmrelease-job-runner: runs batch/v1 Jobs as local processes on clusters
// without a Job controller or kubelet (the local API server). Test support and
// demo tool, never production. See docs/job-runner.md.
//
//   vmrelease-job-runner --kubeconfig /tmp/kc --work-dir /tmp/job-runner
#include <signal.h>

#include <CLI/CLI.hpp>
#include <iostream>

#include "controller/common/duration.h"
#include "controller/common/log.h"
#include "controller/kube/config.h"
#include "controller/kube/rest_client.h"
#include "tests/support/jobrunner/runner.h"

namespace {

int Fail(int code, const std::string& msg) {
  std::cerr << "vmrelease-job-runner: " << msg << "\n";
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace vmrelease;  // NOLINT(google-build-using-namespace): a main
  CLI::App app{
      "vmrelease-job-runner: plays the Job controller and the kubelet, running each Job's first "
      "container as a local process (no image is pulled)"};
  std::string kubeconfig, context, format = "json", level = "info", version = "auto";
  std::string restart_backoff = "10s", failure_backoff = "10s";
  jobrunner::RunnerOptions o;
  app.add_option("--kubeconfig", kubeconfig,
                 "kubeconfig (default: $KUBECONFIG, in-cluster, then ~/.kube/config)");
  app.add_option("--context", context, "kubeconfig context (default: current-context)");
  app.add_option("--namespace", o.ns, "only this namespace (default: all namespaces)");
  app.add_option("--work-dir", o.work_dir,
                 "where process state and container output live (required; keep it across "
                 "restarts so running containers are adopted)")
      ->required();
  app.add_option("--managed-by", o.managed_by,
                 "only Jobs with this spec.managedBy (default: Jobs without one or with "
                 "kubernetes.io/job-controller)");
  app.add_option("--workers", o.workers, "concurrent reconciles per controller")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  app.add_option("--kubernetes-version", version,
                 "Job condition behaviour: auto (from the server's /version), 1.30 or 1.31")
      ->check(CLI::IsMember({"auto", "1.30", "1.31"}))
      ->capture_default_str();
  app.add_option("--restart-backoff", restart_backoff,
                 "OnFailure restart back-off after the first restart (doubling, max 5m)")
      ->capture_default_str();
  app.add_option("--pod-failure-backoff", failure_backoff,
                 "delay before a failed Pod is replaced (doubling, max 10m; 0 = none)")
      ->capture_default_str();
  app.add_option("--pod-scheduling-gate", o.scheduling_gate,
                 "schedulingGates entry for created Pods (keeps a real scheduler away)");
  app.add_option("--log-format", format, "json or text")
      ->check(CLI::IsMember({"json", "text"}))
      ->capture_default_str();
  app.add_option("--log-level", level, "debug, info, warn or error")
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  log::Format fmt = log::Format::kJson;
  log::Level lvl = log::Level::kInfo;
  log::ParseFormat(format, &fmt);
  log::ParseLevel(level, &lvl);
  log::Init(fmt, lvl);
  auto rb = ParseDuration(restart_backoff);
  if (!rb.ok() || *rb < Duration::zero())
    return Fail(2, "--restart-backoff: invalid duration \"" + restart_backoff + "\"");
  auto fb = ParseDuration(failure_backoff);
  if (!fb.ok() || *fb < Duration::zero())
    return Fail(2, "--pod-failure-backoff: invalid duration \"" + failure_backoff + "\"");
  o.restart_backoff = *rb;
  o.pod_failure_backoff = *fb;
  if (version != "auto") o.interim_conditions = version == "1.31";

  // Signals are taken by sigwait() below; block them before any thread starts.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto config = kube::LoadDefaultConfig({.path = kubeconfig, .context = context});
  if (!config.ok()) return Fail(1, config.status().message());
  auto client =
      kube::RestClient::FromConfig(std::move(*config), {.user_agent = "vmrelease-job-runner/0.1"});
  if (!client.ok()) return Fail(1, client.status().message());
  auto runner = jobrunner::JobRunner::Create(**client, o);
  if (!runner.ok()) return Fail(1, runner.status().ToString());
  if (Status s = (*runner)->Start(); !s.ok()) return Fail(1, s.ToString());

  int sig = 0;
  sigwait(&set, &sig);
  log::Info("jobrunner", "shutting down", {{"signal", sig}});
  (*runner)->Stop();
  return 0;
}

#include "controller/app/options.h"

#include <CLI/CLI.hpp>
#include <iostream>

#include "controller/app/version.h"
#include "controller/common/duration.h"
#include "controller/kube/leader_election.h"

namespace vmrelease::app {

std::string VersionString() {
  return std::string("vmrelease-controller ") + Version() + " (commit " + GitCommit() + ")";
}

ParsedFlags ParseFlags(int argc, char** argv) {
  Options o;
  std::string lease = "15s", renew = "10s", retry = "2s", shutdown = "30s";
  std::string format = "json", level = "info";
  CLI::App cli{
      "vmrelease-controller: the Kubernetes operator that turns VM images into "
      "release artifacts (ImageRelease, EnvironmentPin)."};
  cli.set_version_flag("--version", VersionString(), "Print the version and git commit, then exit");
  cli.add_option("--kubeconfig", o.kubeconfig,
                 "Path to a kubeconfig (default: $KUBECONFIG, in-cluster, then ~/.kube/config)");
  cli.add_option("--context", o.context, "kubeconfig context to use (default: current-context)");
  cli.add_option("--namespace", o.ns, "Only watch this namespace (default: all namespaces)");
  cli.add_flag("--leader-elect", o.leader_elect,
               "Elect a leader through a coordination.k8s.io Lease so one replica reconciles");
  cli.add_option("--leader-elect-namespace", o.leader_elect_namespace,
                 "Namespace of the leader Lease (default: the kubeconfig/pod namespace)");
  cli.add_option("--leader-elect-id", o.leader_elect_id, "Name of the leader Lease")
      ->capture_default_str();
  cli.add_option("--leader-elect-lease-duration", lease,
                 "How long a non-leader waits after the last renewal before taking over")
      ->capture_default_str();
  cli.add_option("--leader-elect-renew-deadline", renew,
                 "How long the leader keeps trying to renew before giving up")
      ->capture_default_str();
  cli.add_option("--leader-elect-retry-period", retry, "Interval between lease attempts")
      ->capture_default_str();
  cli.add_option("--workers", o.workers, "Concurrent reconciles per controller")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  cli.add_option("--log-format", format, "json or text")
      ->check(CLI::IsMember({"json", "text"}))
      ->capture_default_str();
  cli.add_option("--log-level", level, "debug, info, warn or error")
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}))
      ->capture_default_str();
  cli.add_option("--metrics-bind-address", o.metrics_bind_address,
                 "Address for /metrics, /healthz and /readyz; \"0\" disables")
      ->capture_default_str();
  cli.add_option("--graceful-shutdown-timeout", shutdown,
                 "How long in-flight reconciles may take to finish on shutdown")
      ->capture_default_str();
  std::string sync_period = "10h";
  cli.add_option("--sync-period", sync_period,
                 "Every object is reconciled again this often even without a change (finds drift "
                 "that no watch event announces); 0 disables")
      ->capture_default_str();
  std::string azure_poll = "10s", local_poll = "2s";
  cli.add_flag("--allow-local-builds", o.allow_local_builds,
               "Allow spec.build.local and spec.validation.local: commands run on this host");
  cli.add_option("--work-dir", o.work_dir,
                 "Directory for local builds and checks (default: $TMPDIR/vmrelease)");
  cli.add_option("--staging-account-url", o.staging_account_url,
                 "Blob service URL of the staging storage account, e.g. "
                 "https://acct.blob.core.windows.net");
  cli.add_option("--staging-container", o.staging_container, "Staging container")
      ->capture_default_str();
  cli.add_option("--staging-storage-account-id", o.staging_account_id,
                 "ARM resource id of the staging storage account (gallery versions and disks "
                 "are created from its blobs)");
  cli.add_option("--storage-key-file", o.storage_key_files,
                 "ACCOUNT=PATH: use the Shared Key in PATH for that storage account (else the "
                 "Azure credential); repeatable");
  cli.add_option("--azure-arm-endpoint", o.arm_endpoint, "Azure Resource Manager endpoint")
      ->capture_default_str();
  cli.add_option("--azure-authority-host", o.authority_host,
                 "Entra ID authority (default: $AZURE_AUTHORITY_HOST, else "
                 "https://login.microsoftonline.com/)");
  cli.add_option("--azure-imds-endpoint", o.imds_endpoint,
                 "Instance Metadata Service for managed identity (default: "
                 "http://169.254.169.254)");
  cli.add_option("--azure-managed-identity", o.managed_identity,
                 "Try the node's managed identity when no other credential is configured")
      ->capture_default_str();
  cli.add_option("--azure-poll-interval", azure_poll,
                 "How often Azure operations are polled when Azure gives no Retry-After")
      ->capture_default_str();
  cli.add_option("--local-poll-interval", local_poll,
                 "How often local builds and checks are looked at")
      ->capture_default_str();
  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = cli.exit(e);  // prints usage or the error
    return {std::nullopt, code == 0 ? 0 : 2};
  }
  auto duration = [](const std::string& flag, const std::string& v, Duration* out) {
    auto d = ParseDuration(v);
    if (!d.ok() || *d <= Duration::zero()) {
      std::cerr << flag << ": invalid duration \"" << v << "\" (want e.g. 15s, 1m30s)\n";
      return false;
    }
    *out = *d;
    return true;
  };
  if (!duration("--leader-elect-lease-duration", lease, &o.lease_duration) ||
      !duration("--leader-elect-renew-deadline", renew, &o.renew_deadline) ||
      !duration("--leader-elect-retry-period", retry, &o.retry_period) ||
      !duration("--graceful-shutdown-timeout", shutdown, &o.shutdown_timeout) ||
      !duration("--azure-poll-interval", azure_poll, &o.azure_poll_interval) ||
      !duration("--local-poll-interval", local_poll, &o.local_poll_interval)) {
    return {std::nullopt, 2};
  }
  if (sync_period == "0") {
    o.sync_period = Duration::zero();
  } else if (!duration("--sync-period", sync_period, &o.sync_period)) {
    return {std::nullopt, 2};
  }
  if (Status s =
          kube::ValidateLeaderElectionTimings(o.lease_duration, o.renew_deadline, o.retry_period);
      !s.ok()) {
    std::cerr << "--leader-elect-*: " << s.message() << "\n";
    return {std::nullopt, 2};
  }
  for (const std::string& kv : o.storage_key_files) {
    if (kv.find('=') == std::string::npos || kv.front() == '=' || kv.back() == '=') {
      std::cerr << "--storage-key-file: want ACCOUNT=PATH, got \"" << kv << "\"\n";
      return {std::nullopt, 2};
    }
  }
  log::ParseFormat(format, &o.log_format);
  log::ParseLevel(level, &o.log_level);
  return {o, 0};
}

}  // namespace vmrelease::app

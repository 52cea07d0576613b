// Command-line flags of vmrelease-controller (controller-runtime's names).
//
//   auto parsed = ParseFlags(argc, argv);
//   if (!parsed.options) return parsed.exit_code;   // --help, --version, or a bad flag
//   return Run(*parsed.options);
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "controller/common/clock.h"
#include "controller/common/log.h"

namespace vmrelease::app {

struct Options {
  std::string kubeconfig;  // empty: $KUBECONFIG, in-cluster, then ~/.kube/config
  std::string context;
  std::string ns;  // watched namespace; empty = all
  bool leader_elect = false;
  std::string leader_elect_namespace;  // empty: the kubeconfig / service-account namespace
  std::string leader_elect_id = "vmrelease-controller";
  Duration lease_duration = std::chrono::seconds(15);
  Duration renew_deadline = std::chrono::seconds(10);
  Duration retry_period = std::chrono::seconds(2);
  int workers = 2;
  log::Format log_format = log::Format::kJson;
  log::Level log_level = log::Level::kInfo;
  std::string metrics_bind_address = "127.0.0.1:8080";
  Duration shutdown_timeout = std::chrono::seconds(30);
  // Every object is reconciled again at least this often (0 = only on events).
  Duration sync_period = std::chrono::hours(10);

  // --- the release pipeline ---
  // Local builds and checks run commands on this host (demos, labs, laptops).
  bool allow_local_builds = false;
  std::string work_dir;  // local builds and checks; default $TMPDIR/vmrelease
  // The staging blob container: build outputs land here before validation.
  std::string staging_account_url;
  std::string staging_container = "vmrelease-staging";
  std::string staging_account_id;  // ARM id of the staging storage account
  // ACCOUNT=PATH: Shared Key for that storage account, read from PATH.
  std::vector<std::string> storage_key_files;
  std::string arm_endpoint = "https://management.azure.com";
  std::string authority_host;  // default: $AZURE_AUTHORITY_HOST, else Entra's public cloud
  std::string imds_endpoint;   // default: http://169.254.169.254
  bool managed_identity = true;
  Duration azure_poll_interval = std::chrono::seconds(10);
  Duration local_poll_interval = std::chrono::seconds(2);
};

struct ParsedFlags {
  std::optional<Options> options;  // set when the program should run
  int exit_code = 0;               // otherwise: exit with this (0 for --help)
};
// "vmrelease-controller 0.1.0 (commit 1a2b3c4d5e6f)": what --version prints.
std::string VersionString();
// Parses argv; prints usage, the version (--version, exit code 0) or a clear error to
// stdout/stderr as CLI11 does.
ParsedFlags ParseFlags(int argc, char** argv);

}  // namespace vmrelease::app

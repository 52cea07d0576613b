// The commands of kubectl-vmrelease, each a function of a KubeClient and its
// arguments that prints to `out` / `err` and returns the process exit code (0 done,
// 1 refused or failed, with a one-line `error: ...` on `err`). app.h parses the
// command line and calls them; tests may call them with any KubeClient.
//
//   Context ctx{.client = *client, .ns = "default", .out = std::cout, .err = std::cerr};
//   int rc = RunStatus(ctx);                                 // images x environments
//   rc = RunDiff(ctx, {.env_a = "dev", .env_b = "production"});
//   rc = RunPromote(ctx, {.from = "staging", .to = "production", .image = "app"});
//
// Read-only commands (status, history, why, diff) list EnvironmentPins and
// ImageReleases once; promote and rollback write one merge patch per pin
// (spec.version, with spec.track removed) with a resourceVersion precondition, or
// with `gitops_file` edit that file instead (gitops.h) and leave the cluster alone.
// What a pin runs is always status.resolved (what the controller resolved), never
// spec.version (what someone asked for).
#pragma once

#include <ostream>
#include <string>

#include "controller/common/clock.h"
#include "controller/kube/client.h"

namespace vmrelease::cli {

enum class OutputFormat { kTable, kJson, kYaml };

struct Context {
  kube::KubeClient& client;
  std::string ns;               // the namespace (ignored with all_namespaces)
  bool all_namespaces = false;  // status only
  OutputFormat output = OutputFormat::kTable;
  bool colour = false;  // on a terminal, unless NO_COLOR
  std::ostream& out;
  std::ostream& err;
  WallTime now = RealClock().WallNow();
};

int RunStatus(Context& ctx);

struct EnvArgs {
  std::string environment;
  std::string image;  // empty: every image of the environment
};
int RunHistory(Context& ctx, const EnvArgs& args);
int RunWhy(Context& ctx, const EnvArgs& args);

struct DiffArgs {
  std::string env_a, env_b;
  std::string image;
};
int RunDiff(Context& ctx, const DiffArgs& args);

struct PromoteArgs {
  std::string from, to;
  std::string image;
  std::string gitops_file;  // edit this file instead of the cluster
};
int RunPromote(Context& ctx, const PromoteArgs& args);

struct RollbackArgs {
  std::string environment;
  std::string image;
  std::string to_version;  // empty: the previous entry of the pin's history
  std::string gitops_file;
};
int RunRollback(Context& ctx, const RollbackArgs& args);

// Sets spec.revocation {reason, reference} on every ImageRelease of `version` (of `image`,
// required when several images have that version) with a resourceVersion precondition;
// refuses (1) a version no release has. Prints the environments that run it.
struct RevokeArgs {
  std::string version;
  std::string reason;
  std::string reference;  // optional link or ticket
  std::string image;
};
int RunRevoke(Context& ctx, const RevokeArgs& args);

}  // namespace vmrelease::cli

#include "controller/cli/app.h"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>

#include "controller/cli/commands.h"
#include "controller/cli/completion.h"
#include "controller/cli/verify.h"
#include "controller/kube/config.h"
#include "controller/kube/rest_client.h"

namespace vmrelease::cli {
namespace {

constexpr char kDescription[] =
    "kubectl vmrelease: what runs where, what changed between environments, promote and roll "
    "back. Reads EnvironmentPins and ImageReleases (vmrelease.io/v1alpha1) through your "
    "kubeconfig.";

constexpr char kFooter[] = R"x(Examples:
  kubectl vmrelease status                         # images x environments in the namespace
  kubectl vmrelease diff dev production            # the changelog between two environments
  kubectl vmrelease promote --from staging --to production --image app
  kubectl vmrelease rollback production --image app
  kubectl vmrelease verify clusters/                 # pre-merge check of a GitOps tree
Run 'kubectl vmrelease COMMAND --help' for a command's flags and examples. See docs/cli.md.)x";

// Appended to each command's help: CLI11 lists a parent's flags only in the parent's help.
constexpr char kGlobalFlags[] =
    "\nGlobal flags (before or after the command): --kubeconfig FILE, --context NAME, "
    "-n NAMESPACE, -o table|json|yaml; -A with status.";

std::string WithGlobals(const char* text) { return std::string(text) + kGlobalFlags; }

struct Global {
  std::string kubeconfig, context, ns, output = "table";
  bool all_namespaces = false;
};

void AddGlobals(CLI::App& app, Global& g) {
  app.add_option("--kubeconfig", g.kubeconfig,
                 "Path to the kubeconfig file (default: $KUBECONFIG, else ~/.kube/config)");
  app.add_option("--context", g.context, "The kubeconfig context to use");
  app.add_option("-n,--namespace", g.ns, "The namespace (default: the context's namespace)");
  app.add_flag("-A,--all-namespaces", g.all_namespaces, "All namespaces (status only)");
  app.add_option("-o,--output", g.output, "Output format: table, json or yaml")
      ->check(CLI::IsMember({"table", "json", "yaml"}));
}

}  // namespace

int Main(int argc, char** argv) {
  CLI::App app(kDescription, "kubectl vmrelease");
  app.footer(kFooter);
  app.fallthrough();  // global flags after the command name too
  app.require_subcommand(1);
  Global g;
  AddGlobals(app, g);

  EnvArgs history_args, why_args;
  DiffArgs diff_args;
  PromoteArgs promote_args;
  RollbackArgs rollback_args;
  RevokeArgs revoke_args;
  VerifyArgs verify_args;
  bool verify_cluster = false;
  std::string shell;

  CLI::App* status = app.add_subcommand(
      "status",
      "Images x environments: each pin's resolved version, Ready, behind-by, revoked "
      "markers; and the releases in flight with their phase");
  status->footer(WithGlobals(R"x(Examples:
  kubectl vmrelease status
  kubectl vmrelease status -A -o json
A cell reads VERSION, then "(Reason)" when the pin is not Ready, "REVOKED" when the
version it runs is revoked and "behind N" when N newer versions are Released.)x"));

  CLI::App* history =
      app.add_subcommand("history", "The pin's history: versions, when, for how long, and why");
  history->add_option("ENV", history_args.environment, "The environment")->required();
  history->add_option("--image", history_args.image, "Only this image");
  history->footer(WithGlobals(R"x(Examples:
  kubectl vmrelease history production
  kubectl vmrelease history production --image app -o yaml)x"));

  CLI::App* why = app.add_subcommand(
      "why", "Explains a pin's Ready condition: which gate, which environment, how long left");
  why->add_option("ENV", why_args.environment, "The environment")->required();
  why->add_option("--image", why_args.image, "Only this image");
  why->footer(WithGlobals(R"x(Examples:
  kubectl vmrelease why production
  kubectl vmrelease why production --image app -o json
Gates are judged at the time you run the command, so "left" is current.)x"));

  CLI::App* diff = app.add_subcommand(
      "diff",
      "Per image, the two environments' resolved versions, every changelog entry "
      "between them and the package/file difference of the two images");
  diff->add_option("ENV_A", diff_args.env_a, "The environment to compare from")->required();
  diff->add_option("ENV_B", diff_args.env_b, "The environment to compare to")->required();
  diff->add_option("--image", diff_args.image, "Only this image");
  diff->footer(WithGlobals(R"x(Examples:
  kubectl vmrelease diff dev production
  kubectl vmrelease diff staging production --image app -o json
"+" (forward): ENV_B has the change and ENV_A does not; "-" (backward): ENV_A has it and
ENV_B does not. Then the package-level difference: the packages and files of ENV_B's
image against ENV_A's, from the releases' inventories ("+" only in ENV_B, "-" only in
ENV_A, "~" changed), or why a side has none.)x"));

  CLI::App* promote = app.add_subcommand(
      "promote", "Sets the target environment's pin to the version the source environment runs");
  promote->add_option("--from", promote_args.from, "The source environment")->required();
  promote->add_option("--to", promote_args.to, "The target environment")->required();
  promote->add_option("--image", promote_args.image,
                      "Only this image (default: every image both environments pin)");
  promote->add_option("--gitops", promote_args.gitops_file,
                      "Edit the target pin's version line in this YAML file instead of the "
                      "cluster (comments and formatting kept)");
  promote->footer(WithGlobals(R"x(Examples:
  kubectl vmrelease promote --from staging --to production --image app
  kubectl vmrelease promote --from staging --to production --gitops clusters/prod/pins.yaml
Refuses (exit code 1) a version that is not Released, is revoked, being deleted or past
its end of life. Prints the changelog the promotion brings. The target's promotion gates
(spec.promotion) still apply: see 'kubectl vmrelease why'.)x"));

  CLI::App* rollback = app.add_subcommand(
      "rollback", "Moves an environment's pin back to its previous version (or --to VERSION)");
  rollback->add_option("ENV", rollback_args.environment, "The environment")->required();
  rollback->add_option("--image", rollback_args.image,
                       "The image (required when the environment pins several)");
  rollback->add_option("--to", rollback_args.to_version,
                       "The version (default: the previous entry of the pin's history)");
  rollback->add_option("--gitops", rollback_args.gitops_file,
                       "Edit the pin's version line in this YAML file instead of the cluster");
  rollback->footer(WithGlobals(R"x(Examples:
  kubectl vmrelease rollback production --image app
  kubectl vmrelease rollback production --image app --to 1.0.0 --gitops pins/production.yaml
Refuses (exit code 1) a target that is missing, not Released, revoked, being deleted or
past its end of life. A version from the pin's history skips the promotion gates.)x"));

  CLI::App* revoke = app.add_subcommand(
      "revoke", "Revokes a released version: sets the ImageRelease's spec.revocation");
  revoke->add_option("VERSION", revoke_args.version, "The version (MAJOR.MINOR.PATCH)")->required();
  revoke->add_option("--reason", revoke_args.reason, "Why, e.g. CVE-2026-1234 (1 to 1024 chars)")
      ->required();
  revoke->add_option("--reference", revoke_args.reference, "A link or ticket (optional)");
  revoke->add_option("--image", revoke_args.image,
                     "The image (required when several images have the version)");
  revoke->footer(WithGlobals(R"x(Examples:
  kubectl vmrelease revoke 1.1.0 --reason CVE-2026-1234 --image app
  kubectl vmrelease revoke 1.1.0 --reason "broken agent" --reference https://tracker/123 -o json
Refuses (exit code 1) a version no ImageRelease has. Pins running it turn Ready=False with
reason ReleaseRevoked and keep running it until a person moves them (promote, rollback);
new pins to it are refused. Undo with: kubectl patch imagerelease NAME --type merge -p
'{"spec":{"revocation":null}}'.)x"));

  CLI::App* verify = app.add_subcommand(
      "verify",
      "Checks a GitOps tree before merge: manifests valid, one pin per environment and image, "
      "pinned versions exist and are not revoked, promotion gates satisfiable");
  verify->add_option("DIR", verify_args.dir, "The directory (every *.yaml / *.yml below it)")
      ->required();
  verify->add_flag("--cluster", verify_cluster,
                   "Also require every pinned version to be Released and unrevoked in the "
                   "cluster (reads the kubeconfig)");
  verify->footer(WithGlobals(R"x(Examples:
  kubectl vmrelease verify clusters/
  kubectl vmrelease verify clusters/ --cluster --context production -o json
Prints one line per problem, FILE: KIND/NAME: FIELD: message, and exits 0 when the tree is
clean, 1 with problems, 2 on a usage error. Manifests without metadata.namespace are
in -n (default: "default"). Offline unless --cluster.)x"));

  CLI::App* completion =
      app.add_subcommand("completion", "Prints a shell completion script (bash or zsh)");
  completion->add_option("SHELL", shell, "bash or zsh")
      ->required()
      ->check(CLI::IsMember({"bash", "zsh"}));
  completion->footer(R"x(Examples:
  source <(kubectl-vmrelease completion bash)          # in ~/.bashrc
  kubectl-vmrelease completion zsh > "${fpath[1]}/_kubectl-vmrelease"
The script completes kubectl-vmrelease. `kubectl vmrelease <TAB>` (kubectl 1.26+) needs
kubectl_complete-vmrelease (built beside this binary) on PATH instead: see docs/cli.md.)x");

  if (argc >= 2 && std::string(argv[1]) == "__complete") {  // kubectl_complete-vmrelease
    std::cout << CobraComplete(app, std::vector<std::string>(argv + 2, argv + argc));
    return 0;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e, std::cout, std::cerr);
    return rc == 0 ? 0 : 2;
  }

  const bool colour = ::isatty(STDOUT_FILENO) == 1 && std::getenv("NO_COLOR") == nullptr;
  if (g.all_namespaces && !status->parsed()) {
    std::cerr << "error: -A/--all-namespaces applies to status only\n";
    return 2;
  }
  const OutputFormat output = g.output == "json"   ? OutputFormat::kJson
                              : g.output == "yaml" ? OutputFormat::kYaml
                                                   : OutputFormat::kTable;
  if (completion->parsed()) {
    std::cout << (shell == "zsh" ? ZshCompletion(app, "kubectl-vmrelease")
                                 : BashCompletion(app, "kubectl-vmrelease"));
    return 0;
  }
  if (verify->parsed() && !verify_cluster) {  // offline: no kubeconfig needed
    verify_args.ns = g.ns.empty() ? "default" : g.ns;
    return RunVerify(verify_args, output, std::cout, std::cerr);
  }
  auto config = kube::LoadDefaultConfig({.path = g.kubeconfig, .context = g.context});
  if (!config.ok()) {
    std::cerr << "error: " << config.status().message() << "\n";
    return 1;
  }
  const std::string ns = g.ns.empty() ? config->ns : g.ns;
  kube::RestClient::Options client_options;
  client_options.max_read_attempts = 3;
  client_options.user_agent = "kubectl-vmrelease/0.1";
  auto client = kube::RestClient::FromConfig(std::move(*config), client_options);
  if (!client.ok()) {
    std::cerr << "error: " << client.status().message() << "\n";
    return 1;
  }
  Context ctx{.client = **client,
              .ns = ns,
              .all_namespaces = g.all_namespaces,
              .output = output,
              .colour = colour,
              .out = std::cout,
              .err = std::cerr};
  if (status->parsed()) return RunStatus(ctx);
  if (history->parsed()) return RunHistory(ctx, history_args);
  if (why->parsed()) return RunWhy(ctx, why_args);
  if (diff->parsed()) return RunDiff(ctx, diff_args);
  if (promote->parsed()) return RunPromote(ctx, promote_args);
  if (rollback->parsed()) return RunRollback(ctx, rollback_args);
  if (revoke->parsed()) return RunRevoke(ctx, revoke_args);
  if (verify->parsed()) {
    verify_args.ns = ns;
    verify_args.cluster = &ctx.client;
    return RunVerify(verify_args, output, std::cout, std::cerr);
  }
  return 2;
}

}  // namespace vmrelease::cli

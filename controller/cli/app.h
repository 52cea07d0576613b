// The kubectl-vmrelease command line: flags as kubectl has them (--kubeconfig,
// --context, -n, -A, -o), one subcommand per command of commands.h, plus verify
// (verify.h; offline unless --cluster) and completion (completion.h; also the hidden
// `__complete` that kubectl_complete-vmrelease runs).
//
//   int main(int argc, char** argv) { return vmrelease::cli::Main(argc, argv); }
//
// Exit codes: 0 done, 1 refused or failed (one `error: ...` line on stderr), 2 for a
// command line that does not parse (with the usage on stderr).
#pragma once

namespace vmrelease::cli {

int Main(int argc, char** argv);

}  // namespace vmrelease::cli

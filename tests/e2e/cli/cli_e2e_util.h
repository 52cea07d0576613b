// Helpers shared by the plugin's end-to-end tests (header-only).
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "tests/support/stack/pipeline_stack.h"

namespace vmrelease::testing {

// The plugin binary itself, against the stack's API server (plus `env`).
inline CommandResult RunPlugin(PipelineStack& s, std::vector<std::string> args, Env env = {}) {
  args.insert(args.begin(), BinPath("kubectl-vmrelease"));
  env["KUBECONFIG"] = s.api().kubeconfig();
  return RunCommand(args, env, "", std::chrono::seconds(60));
}

// A command's exit code and output, for failure messages.
inline std::string Show(const CommandResult& r) {
  return "exit " + std::to_string(r.exit_code) + "\nstdout:\n" + r.out + "\nstderr:\n" + r.err;
}

}  // namespace vmrelease::testing

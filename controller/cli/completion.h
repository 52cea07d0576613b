// Shell completion scripts for kubectl-vmrelease, generated from the command line
// definition itself (so a new command or flag completes without editing a script).
//
//   source <(kubectl-vmrelease completion bash)   # or: completion zsh
//
// Completes the commands, each command's flags and the global ones, `-o`'s formats,
// files after --gitops / --kubeconfig and directories for `verify`.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace vmrelease::cli {

// `program` is the command the script completes ("kubectl-vmrelease").
std::string BashCompletion(const CLI::App& app, const std::string& program);
std::string ZshCompletion(const CLI::App& app, const std::string& program);

// `kubectl vmrelease <TAB>` (kubectl 1.26+): kubectl runs `kubectl_complete-vmrelease ARGS...
// WORD` from PATH (tools/kubectl-vmrelease/kubectl_complete-vmrelease runs
// `kubectl-vmrelease __complete ARGS... WORD`) and reads Cobra's __complete answer: one
// candidate a line, then ":<directive>" (4: no file completion, 16: directories only, 0:
// files). `args` are the words after the plugin's name, the last one being completed.
std::string CobraComplete(const CLI::App& app, const std::vector<std::string>& args);

}  // namespace vmrelease::cli

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

}  // namespace vmrelease::cli

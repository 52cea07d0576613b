// Running a helper program (debugfs, a decompressor) to completion from the validator.
//
//   ASSIGN_OR_RETURN(ProgramResult r, RunProgram({"debugfs", "-c", "-f", cmds, image}, 120s));
//   RunProgram({"lz4", "-dc", payload}, 60s, {.stdout_path = vmlinux});
//
// Guarantees: the child dies with the validator (PR_SET_PDEATHSIG) and is always reaped; it is
// killed at the timeout. Captured streams are capped at 1 MiB each.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "controller/common/status.h"

namespace vmrelease::vmvalidate {

struct ProgramResult {
  int exit_code = -1;  // 128 + signal when killed
  std::string out;     // empty when stdout went to a file
  std::string err;
};

struct ProgramIo {
  std::string stdout_path;  // when set, stdout goes to this file (created/truncated)
};

// `argv[0]` is a path or a name found in $PATH. Errors: kNotFound (no such program),
// kUnavailable (cannot start), kDeadlineExceeded (killed at the timeout).
StatusOr<ProgramResult> RunProgram(const std::vector<std::string>& argv,
                                   std::chrono::milliseconds timeout, const ProgramIo& io = {});

}  // namespace vmrelease::vmvalidate

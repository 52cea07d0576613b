// Test helpers for starting real programs (the local API server, Azurite,
// kubectl, the controller) and for locating the repo's tools and binaries.
//
//   auto p = Subprocess::Start({BinPath("vmrelease-apiserver"), "--listen", "127.0.0.1:0"});
//   CommandResult r = RunCommand({ToolPath("kubectl"), "get", "ns"}, {{"KUBECONFIG", kc}});
//   TempDir dir;  // removed with its contents when it goes out of scope
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "controller/common/status.h"

namespace vmrelease::testing {

using Env = std::map<std::string, std::string>;

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string Join(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// A child process; killed (SIGKILL) on destruction if still running.
class Subprocess {
 public:
  // Starts argv[0] (a path or a name found in PATH) with the current
  // environment plus `env`. stdout and stderr go to `log_path` (appended) if
  // given, else to this process's stderr.
  static StatusOr<std::unique_ptr<Subprocess>> Start(const std::vector<std::string>& argv,
                                                     const Env& env = {},
                                                     const std::string& log_path = "");
  ~Subprocess();
  int pid() const { return pid_; }
  bool Running();
  // Sends `sig` (e.g. SIGTERM, SIGKILL).
  void Signal(int sig);
  // Waits up to `timeout` for exit; returns the exit code (128+signal when
  // killed) or kDeadlineExceeded.
  StatusOr<int> Wait(std::chrono::milliseconds timeout);

 private:
  explicit Subprocess(int pid) : pid_(pid) {}
  int pid_;
  bool exited_ = false;
  int exit_code_ = -1;
};

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs a command to completion (killed after `timeout`), optionally feeding `stdin_data`.
CommandResult RunCommand(const std::vector<std::string>& argv, const Env& env = {},
                         const std::string& stdin_data = "",
                         std::chrono::milliseconds timeout = std::chrono::seconds(120));

// The repository root (VMRELEASE_SOURCE_DIR, set by CTest).
std::string SourceDir();
// build/bin (VMRELEASE_BIN_DIR, set by CTest).
std::string BinPath(const std::string& name);
// A tool installed by scripts/setup.sh into .tools/bin, else from PATH.
std::string ToolPath(const std::string& name);

// Polls `pred` every 20 ms until it is true or `timeout` passes. For waiting on
// other processes only; never a substitute for a fake clock.
bool WaitFor(const std::function<bool()>& pred, std::chrono::milliseconds timeout);

std::string ReadFile(const std::string& path);
void WriteFile(const std::string& path, const std::string& content);

}  // namespace vmrelease::testing

// Runs build/bin/vmrelease-controller as a child process and reads its JSON log.
#pragma once

#include <csignal>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/testing/process.h"

namespace vmrelease::itest {

using Json = nlohmann::json;

class ControllerProcess {
 public:
  // Starts the controller against `kubeconfig` with extra flags; the log goes to a temp file.
  static std::unique_ptr<ControllerProcess> Start(const std::string& kubeconfig,
                                                  const std::vector<std::string>& flags,
                                                  const ::vmrelease::testing::Env& env = {}) {
    auto p = std::unique_ptr<ControllerProcess>(new ControllerProcess());
    p->log_path_ = p->dir_.Join("controller.log");
    std::vector<std::string> argv = {::vmrelease::testing::BinPath("vmrelease-controller"),
                                     "--kubeconfig", kubeconfig};
    argv.insert(argv.end(), flags.begin(), flags.end());
    auto proc = ::vmrelease::testing::Subprocess::Start(argv, env, p->log_path_);
    if (!proc.ok()) return nullptr;
    p->process_ = std::move(*proc);
    return p;
  }

  // Every JSON log line so far (non-JSON lines are skipped).
  std::vector<Json> Lines() const {
    std::vector<Json> out;
    std::istringstream in(::vmrelease::testing::ReadFile(log_path_));
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty() || line[0] != '{') continue;
      try {
        out.push_back(Json::parse(line));
      } catch (const Json::exception&) {
      }
    }
    return out;
  }
  // Log lines whose "msg" equals `msg`.
  std::vector<Json> Find(const std::string& msg) const {
    std::vector<Json> out;
    for (Json& l : Lines()) {
      if (l.value("msg", "") == msg) out.push_back(std::move(l));
    }
    return out;
  }
  bool Logged(const std::string& msg) const { return !Find(msg).empty(); }
  // A field of the first line with `msg`, or "".
  std::string Field(const std::string& msg, const std::string& field) const {
    auto lines = Find(msg);
    if (lines.empty() || !lines[0].contains(field) || !lines[0][field].is_string()) return "";
    return lines[0][field].get<std::string>();
  }
  std::string identity() const { return Field("started", "identity"); }
  std::string metrics_url() const { return Field("serving metrics and probes", "address"); }
  std::string log() const { return ::vmrelease::testing::ReadFile(log_path_); }

  ::vmrelease::testing::Subprocess& process() { return *process_; }
  void Signal(int sig) { process_->Signal(sig); }

 private:
  ControllerProcess() = default;
  ::vmrelease::testing::TempDir dir_;
  std::string log_path_;
  std::unique_ptr<::vmrelease::testing::Subprocess> process_;
};

}  // namespace vmrelease::itest

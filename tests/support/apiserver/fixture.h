// Test fixture: starts build/bin/vmrelease-apiserver as a child process on
// 127.0.0.1:0 and gives tests its kubeconfig, raw HTTPS access, the fault
// admin API and a kubectl runner.
//
//   auto server = LocalApiServer::Start({.crds_dir = SourceDir() + "/crds"});
//   ASSERT_TRUE(server.ok()) << server.status().ToString();
//   auto r = (*server)->Request("GET", "/api/v1/namespaces");
//   CommandResult k = (*server)->Kubectl({"get", "ns"});
//   (*server)->SetFaults({{"failNext", 2}, {"failNextCode", 503}});
//
// Guarantees: Start returns once the server serves (its kubeconfig exists and
// /readyz answered); the process is stopped (SIGTERM, then SIGKILL) when the
// fixture is destroyed. kubectl runs with HOME in a private temp dir so its
// discovery cache never leaks between tests.
#pragma once

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "controller/common/status.h"
#include "controller/http/client.h"
#include "tests/support/testing/process.h"

namespace vmrelease::testing {

class LocalApiServer {
 public:
  struct Options {
    std::string crds_dir;                 // passed as --crds when non-empty
    std::vector<std::string> extra_args;  // any other flags
  };
  // Starts build/bin/vmrelease-apiserver on 127.0.0.1:0 (log in a temp dir) and waits until it
  // serves.
  static StatusOr<std::unique_ptr<LocalApiServer>> Start(Options options = {});
  ~LocalApiServer();
  LocalApiServer(const LocalApiServer&) = delete;
  LocalApiServer& operator=(const LocalApiServer&) = delete;

  const std::string& kubeconfig() const { return kubeconfig_; }  // path of the kubeconfig it wrote
  const std::string& base_url() const { return base_url_; }      // https://127.0.0.1:PORT
  const std::string& token() const { return token_; }            // empty in client-cert mode
  const std::string& ca_pem() const { return ca_pem_; }
  // TLS settings that trust the server (and carry the client cert in client-cert mode).
  http::TlsConfig tls() const;

  // Raw request with the bearer token, trusting the CA. `path` like "/api/v1/namespaces".
  StatusOr<http::Response> Request(const std::string& method, const std::string& path,
                                   const std::string& body = "",
                                   const std::string& content_type = "application/json");
  // Opens a streaming GET (e.g. a watch) with the same credentials.
  StatusOr<std::unique_ptr<http::Stream>> OpenStream(
      const std::string& path, std::chrono::milliseconds timeout = std::chrono::seconds(30));
  Status SetFaults(const nlohmann::json& faults);  // POST /admin/faults
  Status DropWatches();                            // POST /admin/drop-watches
  Status Compact();                                // POST /admin/compact
  // Runs .tools/bin/kubectl with KUBECONFIG set to this server.
  CommandResult Kubectl(const std::vector<std::string>& args, const std::string& stdin_data = "",
                        std::chrono::milliseconds timeout = std::chrono::seconds(60));
  // The environment Kubectl() uses (KUBECONFIG, HOME), for long-running kubectl processes.
  Env KubectlEnv() const;
  std::string log() const;  // the server's log so far (for failure messages)

 private:
  LocalApiServer() = default;
  Status Admin(const std::string& path, const std::string& body);

  std::unique_ptr<TempDir> dir_;
  std::unique_ptr<Subprocess> process_;
  std::unique_ptr<http::Client> client_;
  std::string kubeconfig_;
  std::string log_path_;
  std::string base_url_;
  std::string token_;
  std::string ca_pem_;
  std::string client_cert_pem_;
  std::string client_key_pem_;
};

}  // namespace vmrelease::testing

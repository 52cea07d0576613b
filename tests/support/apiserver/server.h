// The local Kubernetes API server: HTTPS with a generated CA, bearer-token
// (or client-certificate) authentication, the Kubernetes API over a Store,
// fault injection and its admin API. main.cc wraps it in a binary; tests may
// also embed it.
//
//   auto server = ApiServer::Start({.listen_port = 0, .crds_dir = "crds"});
//   (*server)->base_url();   // https://127.0.0.1:PORT
//   (*server)->Kubeconfig(); // YAML with CA data and the token
//
// Admin API (token required, never subject to faults):
//   GET/POST /admin/faults
//   {"failRate","failCodes","failNext","failNextCode","latencyMs","dropWatchesEveryMs"} POST
//   /admin/drop-watches, POST /admin/compact
//   POST /admin/pods/{ns}/{name}/log?uid=&container=&restart=&offset=&final=true:
//     container output served as pods/log (pod_logs.h); 409 with details.size on a gap
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "controller/common/status.h"
#include "controller/http/server.h"
#include "tests/support/apiserver/handler.h"
#include "tests/support/apiserver/store.h"

namespace vmrelease::apiserver {

struct Faults {
  double fail_rate = 0;
  std::vector<int> fail_codes = {500};
  int fail_next = 0;
  int fail_next_code = 500;
  int latency_ms = 0;
  int drop_watches_every_ms = 0;

  nlohmann::json ToJson() const;
  // Replaces every field (absent ones take their defaults). Errors on bad values.
  static StatusOr<Faults> FromJson(const nlohmann::json& j);
};

class ApiServer {
 public:
  struct Options {
    std::string listen_host = "127.0.0.1";
    int listen_port = 0;
    std::string crds_dir;
    std::string token;  // empty: random
    bool client_cert_auth = false;
    size_t history_size = 10000;
    std::chrono::milliseconds bookmark_interval{std::chrono::seconds(5)};
    Faults faults;
  };

  static StatusOr<std::unique_ptr<ApiServer>> Start(Options options);
  ~ApiServer();
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  std::string base_url() const;
  int port() const;
  const std::string& token() const { return token_; }
  const std::string& ca_pem() const { return ca_pem_; }
  // A kubeconfig (YAML) for this server: context vmrelease-local, namespace default.
  std::string Kubeconfig() const;
  Store& store() { return *store_; }
  void Stop();

 private:
  ApiServer() = default;
  void Handle(const http::ServerRequest& req, http::Responder& res);
  void HandleAdmin(const http::ServerRequest& req, http::Responder& res);
  // Returns true when a fault was injected (and answered).
  bool MaybeFail(http::Responder& res);
  void FaultLoop();
  Status LoadCrds(const std::string& dir);

  Options options_;
  std::string token_;
  std::string ca_pem_;
  std::string client_cert_pem_;
  std::string client_key_pem_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<ResourceHandler> handler_;
  std::unique_ptr<http::Server> http_;

  std::mutex faults_mu_;
  std::condition_variable faults_cv_;
  Faults faults_;
  std::mt19937_64 rng_{std::random_device{}()};
  bool stopping_ = false;
  std::thread fault_thread_;
  std::atomic<bool> stopped_{false};
};

}  // namespace vmrelease::apiserver

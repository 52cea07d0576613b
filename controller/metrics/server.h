// MetricsServer: the controller's HTTP endpoint for Prometheus and probes, on
// --metrics-bind-address.
//
//   auto server = MetricsServer::Start({.bind_address = "127.0.0.1:8080",
//                                       .metrics = &prom,
//                                       .ready = [&] { return caches_synced(); }});
//   // GET /metrics  → Prometheus text format
//   // GET /healthz  → 200 "ok" while the process serves
//   // GET /readyz   → 200 once ready(), else 503 with why_not_ready()
//
// What "ready" means is the caller's: the controller's is "caches synced and,
// with leader election, leading" (controller/app/app.cc, docs/operations.md).
// Bind address "0" disables the server (Start returns null);
// port 0 picks a free port (tests).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "controller/common/status.h"
#include "controller/http/server.h"
#include "controller/metrics/prometheus.h"

namespace vmrelease::metrics {

struct BindAddress {
  std::string host;
  int port = 0;
};
// "127.0.0.1:8080", ":8080" (all interfaces), "[::1]:8080"; "0" → nullopt (disabled).
StatusOr<std::optional<BindAddress>> ParseBindAddress(const std::string& s);

class MetricsServer {
 public:
  struct Options {
    std::string bind_address = "127.0.0.1:8080";
    const PrometheusMetrics* metrics = nullptr;
    std::function<bool()> ready;  // null: always ready
    // The 503 body when not ready (null: "not ready").
    std::function<std::string()> why_not_ready;
  };
  // Null (and OK) when the bind address is "0".
  static StatusOr<std::unique_ptr<MetricsServer>> Start(Options options);
  ~MetricsServer();

  int port() const;
  std::string base_url() const;  // "http://host:port"
  void Stop();

 private:
  MetricsServer() = default;
  Options options_;
  std::unique_ptr<http::Server> server_;
};

}  // namespace vmrelease::metrics

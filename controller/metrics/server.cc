#include "controller/metrics/server.h"

#include <charconv>

namespace vmrelease::metrics {

StatusOr<std::optional<BindAddress>> ParseBindAddress(const std::string& s) {
  if (s == "0") return std::optional<BindAddress>();
  const size_t colon = s.rfind(':');
  if (colon == std::string::npos)
    return InvalidArgumentError("bind address \"" + s + "\": want host:port, :port or 0");
  BindAddress out;
  out.host = s.substr(0, colon);
  if (out.host.size() >= 2 && out.host.front() == '[' && out.host.back() == ']')
    out.host = out.host.substr(1, out.host.size() - 2);
  if (out.host.empty()) out.host = "0.0.0.0";
  const std::string port = s.substr(colon + 1);
  auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), out.port);
  if (ec != std::errc() || p != port.data() + port.size() || out.port < 0 || out.port > 65535)
    return InvalidArgumentError("bind address \"" + s + "\": bad port \"" + port + "\"");
  return std::optional<BindAddress>(out);
}

StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(Options options) {
  ASSIGN_OR_RETURN(std::optional<BindAddress> addr, ParseBindAddress(options.bind_address));
  if (!addr) return std::unique_ptr<MetricsServer>();
  std::unique_ptr<MetricsServer> self(new MetricsServer());
  self->options_ = std::move(options);
  MetricsServer* raw = self.get();
  auto server = http::Server::Start(
      {.host = addr->host, .port = addr->port},
      [raw](const http::ServerRequest& req, http::Responder& res) {
        const http::Headers text{{"Content-Type", "text/plain; charset=utf-8"}};
        if (req.method != "GET" && req.method != "HEAD") {
          res.Send(405, text, "method not allowed\n");
        } else if (req.path == "/metrics") {
          const std::string body = raw->options_.metrics ? raw->options_.metrics->Scrape() : "";
          res.Send(200, {{"Content-Type", "text/plain; version=0.0.4; charset=utf-8"}}, body);
        } else if (req.path == "/healthz" || req.path == "/livez") {
          res.Send(200, text, "ok\n");
        } else if (req.path == "/readyz") {
          if (!raw->options_.ready || raw->options_.ready()) {
            res.Send(200, text, "ok\n");
          } else {
            const std::string why =
                raw->options_.why_not_ready ? raw->options_.why_not_ready() : "not ready";
            res.Send(503, text, why + "\n");
          }
        } else {
          res.Send(404, text, "not found\n");
        }
      });
  if (!server.ok())
    return server.status().WithContext("metrics server on " + self->options_.bind_address);
  self->server_ = std::move(*server);
  return self;
}

MetricsServer::~MetricsServer() { Stop(); }

int MetricsServer::port() const { return server_ ? server_->port() : 0; }

std::string MetricsServer::base_url() const { return server_ ? server_->base_url() : ""; }

void MetricsServer::Stop() {
  if (server_) server_->Stop();
}

}  // namespace vmrelease::metrics

// A small HTTP(S) server for the test doubles (local API server, fake ARM,
// token endpoints) and the metrics/health endpoints.
//
//   auto server = http::Server::Start({.port = 0, .tls = cert_and_key},
//       [](const http::ServerRequest& req, http::Responder& res) {
//         if (req.path == "/healthz") return res.Send(200, {{"Content-Type", "text/plain"}}, "ok");
//         auto w = res.Stream(200, {{"Content-Type", "application/json"}});
//         w->Write("{\"type\":\"ADDED\"}\n");   // chunked, flushed at once
//       });
//   int port = (*server)->port();
//
// Guarantees: port 0 picks a free port on the loopback address (the real one is
// in port()); handlers run concurrently on a pool; a streamed response stays
// open until its writer is closed, the server stops, or the peer goes away
// (Write() then returns false).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "controller/common/status.h"
#include "controller/http/types.h"

namespace vmrelease::http {

struct ServerRequest {
  std::string method;
  std::string path;  // percent-decoded path
  std::string raw_path;
  std::string query;                          // raw query string without '?'
  std::map<std::string, std::string> params;  // decoded query parameters
  Headers headers;
  std::string body;
};

// Writes a chunked response body. Thread-safe.
class ChunkWriter {
 public:
  virtual ~ChunkWriter() = default;
  // Sends `data` at once. Returns false when the stream is closed (by us or the peer).
  virtual bool Write(std::string_view data) = 0;
  // Ends the response.
  virtual void Close() = 0;
  virtual bool closed() const = 0;
};

class Responder {
 public:
  virtual ~Responder() = default;
  virtual void Send(int status, const Headers& headers, std::string body) = 0;
  virtual std::shared_ptr<ChunkWriter> Stream(int status, const Headers& headers) = 0;
  // Drops the connection without a response (fault injection).
  virtual void Abort() = 0;
};

using Handler = std::function<void(const ServerRequest&, Responder&)>;

struct ServerTls {
  std::string cert_chain_pem;
  std::string key_pem;
  // When set, clients must present a certificate issued by this CA (mutual TLS).
  std::string client_ca_pem;
};

class Server {
 public:
  struct Options {
    std::string host = "127.0.0.1";
    int port = 0;
    std::optional<ServerTls> tls;  // HTTPS when set
  };
  static StatusOr<std::unique_ptr<Server>> Start(Options options, Handler handler);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  int port() const;
  // "https://127.0.0.1:PORT" (no trailing slash)
  std::string base_url() const;
  // Closes open streams and stops listening. Idempotent.
  void Stop();

 private:
  struct Impl;
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Finds a currently free TCP port on `host` (bind to port 0, read, release).
StatusOr<int> FindFreePort(const std::string& host = "127.0.0.1");

}  // namespace vmrelease::http

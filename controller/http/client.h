// HTTP(S) client: the only way vmrelease code makes outbound requests.
//
//   http::Client client({.tls = {.ca_pem = ca}});
//   StatusOr<http::Response> r = client.Send({.method = "GET", .url = base + "/version"});
//   // r.ok() means a response arrived; r->status may still be 404 or 500.
//
//   auto stream = client.Open({.url = base + "/api/v1/pods?watch=1", .timeout = 5min});
//   while (auto line = (*stream)->ReadLine()) { ... }   // line by line as it arrives
//   (*stream)->Cancel();                                 // from any thread
//
// Errors: transport failures (refused, reset, TLS) are kUnavailable; timeouts
// kDeadlineExceeded; a cancelled stream kCancelled. HTTP error statuses are
// not errors at this layer: callers map them to their domain.
// Guarantees: thread-safe; connections are pooled per origin.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "controller/common/status.h"
#include "controller/http/types.h"

namespace vmrelease::http {

// An open response whose body is read incrementally.
class Stream {
 public:
  virtual ~Stream() = default;
  virtual int status() const = 0;
  virtual const Headers& headers() const = 0;
  // The next line without its trailing "\n" (or "\r\n"); nullopt at end of body.
  virtual StatusOr<std::optional<std::string>> ReadLine() = 0;
  // Reads the rest of the body (for error responses).
  virtual StatusOr<std::string> ReadAll() = 0;
  // Aborts the exchange; a blocked ReadLine() returns kCancelled. Thread-safe, idempotent.
  virtual void Cancel() = 0;
};

class Client {
 public:
  struct Options {
    TlsConfig tls;
    std::string user_agent = "vmrelease/0.1";
  };
  explicit Client(Options options);
  Client();
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Sends a request and reads the whole response.
  StatusOr<Response> Send(const Request& request);
  // Sends a request and returns once the status line and headers have arrived.
  StatusOr<std::unique_ptr<Stream>> Open(const Request& request);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vmrelease::http

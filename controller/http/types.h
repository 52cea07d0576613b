// Plain HTTP value types shared by the client and the server. No cpprestsdk
// types appear here or in any other header of this folder, so the library
// underneath can be replaced without touching callers.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace vmrelease::http {

// Ordered header list; lookups are case-insensitive.
class Headers {
 public:
  Headers() = default;
  Headers(std::initializer_list<std::pair<std::string, std::string>> init) : items_(init) {}
  // Replaces any existing value of `name`.
  void Set(std::string name, std::string value);
  void Add(std::string name, std::string value);
  // The value of `name`, or "" if absent.
  std::string Get(std::string_view name) const;
  bool Has(std::string_view name) const;
  void Remove(std::string_view name);
  const std::vector<std::pair<std::string, std::string>>& items() const { return items_; }
  auto begin() const { return items_.begin(); }
  auto end() const { return items_.end(); }
  bool empty() const { return items_.empty(); }

 private:
  std::vector<std::pair<std::string, std::string>> items_;
};

bool EqualsIgnoreCase(std::string_view a, std::string_view b);

// TLS settings for a client. PEM strings, not file paths: callers read files
// (and re-read them on rotation) themselves.
struct TlsConfig {
  std::string ca_pem;           // extra trust anchors; empty = system store
  std::string client_cert_pem;  // client certificate chain (mutual TLS)
  std::string client_key_pem;
  bool insecure_skip_verify = false;
};

struct Request {
  std::string method = "GET";
  std::string url;  // absolute: scheme://host[:port]/path?query
  Headers headers;
  std::string body;  // raw bytes
  // An inactivity deadline (cpprestsdk restarts its timer whenever the
  // connection makes progress): the request fails when nothing was sent or
  // received for this long. A response that keeps trickling in can take longer
  // in total; callers needing a hard bound (leader election) keep to small
  // bodies or enforce it themselves.
  std::chrono::milliseconds timeout{std::chrono::seconds(30)};
};

struct Response {
  int status = 0;
  Headers headers;
  std::string body;
  bool ok() const { return status >= 200 && status < 300; }
};

// --- URLs ---------------------------------------------------------------------
struct Url {
  std::string scheme;  // "http" | "https"
  std::string host;    // without brackets for IPv6
  int port = 0;        // explicit or scheme default
  std::string path;    // raw (percent-encoded) path, "/" when empty
  std::string query;   // raw query without '?'
  // scheme://host:port
  std::string Origin() const;
};
// Parses an absolute http(s) URL. Returns false on anything else.
bool ParseUrl(std::string_view s, Url* out);
// Percent-encodes everything but RFC 3986 unreserved characters (and '/' when keep_slash).
std::string PercentEncode(std::string_view s, bool keep_slash = false);
std::string PercentDecode(std::string_view s);
// Parses "a=1&b=x%20y" into a map (last value wins) with '+' treated as space.
std::map<std::string, std::string> ParseQuery(std::string_view query);
// Builds "a=1&b=x%20y" from pairs (in order).
std::string BuildQuery(const std::vector<std::pair<std::string, std::string>>& params);

}  // namespace vmrelease::http

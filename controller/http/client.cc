// cpprestsdk-backed implementation of http::Client. cpprestsdk stays inside
// this file and server.cc; exceptions from it become Status values here.
#include "controller/http/client.h"

#include <cpprest/containerstream.h>
#include <cpprest/http_client.h>

#include <boost/asio/ssl.hpp>
#include <map>
#include <mutex>

#include "controller/common/log.h"

namespace vmrelease::http {
namespace {

namespace wh = web::http;
namespace whc = web::http::client;

Status FromException(const std::exception& e, const std::string& what) {
  if (const auto* he = dynamic_cast<const wh::http_exception*>(&e)) {
    if (he->error_code() == std::errc::timed_out)
      return DeadlineExceededError(what + ": timed out");
    if (he->error_code() == std::errc::operation_canceled)
      return CancelledError(what + ": cancelled");
  }
  return UnavailableError(what + ": " + e.what());
}

std::string Describe(const Request& r) {
  // Never include the query string: it may carry a SAS signature.
  Url u;
  if (!ParseUrl(r.url, &u)) return r.method + " <invalid url>";
  return r.method + " " + u.Origin() + u.path;
}

Headers ConvertHeaders(const wh::http_headers& hs) {
  Headers out;
  for (const auto& [k, v] : hs) out.Add(k, v);
  return out;
}

class CppRestStream final : public Stream {
 public:
  CppRestStream(wh::http_response resp, pplx::cancellation_token_source cts, std::string what)
      : resp_(std::move(resp)),
        body_(resp_.body()),
        cts_(std::move(cts)),
        headers_(ConvertHeaders(resp_.headers())),
        what_(std::move(what)) {}
  ~CppRestStream() override { Cancel(); }

  int status() const override { return resp_.status_code(); }
  const Headers& headers() const override { return headers_; }

  StatusOr<std::optional<std::string>> ReadLine() override {
    if (cancelled_) return CancelledError(what_ + ": stream cancelled");
    try {
      // The target's character type must match the body's (uint8_t), or cpprestsdk
      // type-puns the stream buffer.
      concurrency::streams::container_buffer<std::vector<uint8_t>> buf;
      const size_t n = body_.read_line(buf).get();
      const std::vector<uint8_t>& bytes = buf.collection();
      std::string line(bytes.begin(), bytes.end());
      if (n == 0 && line.empty() && body_.is_eof()) return std::optional<std::string>();
      if (!line.empty() && line.back() == '\r') line.pop_back();
      return std::optional<std::string>(std::move(line));
    } catch (const pplx::task_canceled&) {
      return CancelledError(what_ + ": stream cancelled");
    } catch (const std::exception& e) {
      if (cancelled_) return CancelledError(what_ + ": stream cancelled");
      return FromException(e, what_);
    }
  }

  StatusOr<std::string> ReadAll() override {
    std::string out;
    while (true) {
      auto line = ReadLine();
      if (!line.ok()) return line.status();
      if (!line->has_value()) return out;
      if (!out.empty()) out.push_back('\n');
      out += **line;
    }
  }

  void Cancel() override {
    if (cancelled_.exchange(true)) return;
    cts_.cancel();
    try {
      // Unblocks a pending read even if the transport has not noticed yet.
      body_.streambuf().close(std::ios_base::in).wait();
    } catch (...) {
    }
  }

 private:
  wh::http_response resp_;
  concurrency::streams::istream body_;
  pplx::cancellation_token_source cts_;
  Headers headers_;
  std::string what_;
  std::atomic<bool> cancelled_{false};
};

}  // namespace

struct Client::Impl {
  Options options;
  std::mutex mu;
  // One cpprestsdk client per (origin, timeout): the timeout lives in its config.
  std::map<std::pair<std::string, long long>, std::shared_ptr<whc::http_client>> clients;

  std::shared_ptr<whc::http_client> For(const Url& url, std::chrono::milliseconds timeout) {
    std::lock_guard g(mu);
    auto key = std::make_pair(url.Origin(), static_cast<long long>(timeout.count()));
    auto it = clients.find(key);
    if (it != clients.end()) return it->second;
    whc::http_client_config cfg;
    cfg.set_timeout(std::chrono::duration_cast<std::chrono::microseconds>(timeout));
    cfg.set_validate_certificates(!options.tls.insecure_skip_verify);
    const TlsConfig tls = options.tls;
    if (url.scheme == "https") {
      cfg.set_ssl_context_callback([tls](boost::asio::ssl::context& ctx) {
        if (!tls.ca_pem.empty()) ctx.add_certificate_authority(boost::asio::buffer(tls.ca_pem));
        if (!tls.client_cert_pem.empty()) {
          ctx.use_certificate_chain(boost::asio::buffer(tls.client_cert_pem));
          ctx.use_private_key(boost::asio::buffer(tls.client_key_pem),
                              boost::asio::ssl::context::pem);
        }
      });
    }
    auto client = std::make_shared<whc::http_client>(web::uri(url.Origin()), cfg);
    clients.emplace(key, client);
    return client;
  }

  StatusOr<wh::http_request> Build(const Request& r, Url* url) {
    if (!ParseUrl(r.url, url)) return InvalidArgumentError("invalid URL for " + r.method);
    wh::http_request req(r.method);
    try {
      req.set_request_uri(web::uri(url->path + (url->query.empty() ? "" : "?" + url->query)));
    } catch (const std::exception& e) {
      return InvalidArgumentError(Describe(r) + ": invalid request path: " + e.what());
    }
    req.headers().add("User-Agent", options.user_agent);
    for (const auto& [k, v] : r.headers) {
      if (EqualsIgnoreCase(k, "Content-Length")) continue;  // derived from the body
      req.headers().add(k, v);
    }
    if (!r.body.empty() || r.method == "PUT" || r.method == "POST" || r.method == "PATCH") {
      // Pointer ranges of one byte type: copied with memmove even in Debug builds
      // (a char -> unsigned char iterator copy is a byte loop, ~1 s per 32 MiB at -O0).
      const auto* bytes = reinterpret_cast<const unsigned char*>(r.body.data());
      std::vector<unsigned char> body(bytes, bytes + r.body.size());
      const std::string ct = r.headers.Get("Content-Type");
      req.set_body(std::move(body));
      req.headers().remove("Content-Type");
      if (!ct.empty()) req.headers().add("Content-Type", ct);
    }
    return req;
  }
};

namespace {

// --log-level=debug shows every exchange with its headers and the start of its
// body, as a careless log line or a proxy would; log::Write redacts registered
// secrets, SAS signatures, bearer tokens and keys from all of it.
constexpr size_t kLoggedBody = 1024;

nlohmann::json HeadersForLog(const Headers& headers) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [k, v] : headers) j[k] = v;
  return j;
}

std::string BodyForLog(std::string_view body) {
  std::string out;
  for (char c : body.substr(0, kLoggedBody)) out += (c >= 0x20 && c < 0x7f) || c == '\n' ? c : '.';
  if (body.size() > kLoggedBody) out += "...(" + std::to_string(body.size()) + " bytes)";
  return out;
}

void LogRequest(const Request& r) {
  if (!log::Enabled(log::Level::kDebug)) return;
  log::Debug("http", "request",
             {{"method", r.method},
              {"url", r.url},
              {"headers", HeadersForLog(r.headers)},
              {"body", BodyForLog(r.body)}});
}

void LogResponse(const Request& r, const Response& resp) {
  if (!log::Enabled(log::Level::kDebug)) return;
  log::Debug("http", "response",
             {{"method", r.method},
              {"url", r.url},
              {"status", resp.status},
              {"headers", HeadersForLog(resp.headers)},
              {"body", BodyForLog(resp.body)}});
}

}  // namespace

Client::Client(Options options) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
}
Client::Client() : Client(Options{}) {}
Client::~Client() = default;

StatusOr<Response> Client::Send(const Request& request) {
  Url url;
  ASSIGN_OR_RETURN(wh::http_request req, impl_->Build(request, &url));
  const std::string what = Describe(request);
  LogRequest(request);
  try {
    auto client = impl_->For(url, request.timeout);
    wh::http_response resp = client->request(req).get();
    Response out;
    out.status = resp.status_code();
    out.headers = ConvertHeaders(resp.headers());
    std::vector<unsigned char> body = resp.extract_vector().get();
    out.body.assign(reinterpret_cast<const char*>(body.data()), body.size());
    LogResponse(request, out);
    return out;
  } catch (const std::exception& e) {
    return FromException(e, what);
  }
}

StatusOr<std::unique_ptr<Stream>> Client::Open(const Request& request) {
  Url url;
  ASSIGN_OR_RETURN(wh::http_request req, impl_->Build(request, &url));
  const std::string what = Describe(request);
  LogRequest(request);
  try {
    auto client = impl_->For(url, request.timeout);
    pplx::cancellation_token_source cts;
    wh::http_response resp = client->request(req, cts.get_token()).get();
    return std::unique_ptr<Stream>(
        std::make_unique<CppRestStream>(std::move(resp), std::move(cts), what));
  } catch (const std::exception& e) {
    return FromException(e, what);
  }
}

}  // namespace vmrelease::http

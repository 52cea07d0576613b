// cpprestsdk http_listener-backed implementation of http::Server.
#include "controller/http/server.h"

#include <arpa/inet.h>
#include <cpprest/http_listener.h>
#include <cpprest/producerconsumerstream.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/ssl.hpp>
#include <mutex>
#include <set>

#include "controller/common/log.h"

namespace vmrelease::http {
namespace {

namespace wh = web::http;
namespace whl = web::http::experimental::listener;

class PcbWriter final : public ChunkWriter {
 public:
  PcbWriter() = default;
  ~PcbWriter() override { Close(); }

  concurrency::streams::istream ReadSide() { return buf_.create_istream(); }

  bool Write(std::string_view data) override {
    if (closed_) return false;
    std::lock_guard g(write_mu_);  // keeps chunks of concurrent writers whole
    if (closed_) return false;
    try {
      if (!buf_.can_write()) {
        Close();
        return false;
      }
      const auto* p = reinterpret_cast<const uint8_t*>(data.data());
      size_t written = 0;
      while (written < data.size()) {
        size_t n = buf_.putn_nocopy(p + written, data.size() - written).get();
        if (n == 0) {
          Close();
          return false;
        }
        written += n;
      }
      buf_.sync().wait();
      // The listener stops reading once the peer is gone; an ever-growing
      // backlog means nobody listens any more.
      if (buf_.in_avail() > kMaxBacklog) {
        Close();
        return false;
      }
      return !closed_;
    } catch (...) {
      Close();
      return false;
    }
  }

  // Never blocks and never takes a lock: it runs from the listener's
  // response-completion continuation too, and waiting there for the buffer
  // to drain deadlocks against a writer (seen under load).
  void Close() override {
    if (closed_.exchange(true)) return;
    try {
      buf_.close(std::ios_base::out);
    } catch (...) {
    }
  }

  bool closed() const override { return closed_; }

 private:
  static constexpr size_t kMaxBacklog = 64u << 20;
  std::mutex write_mu_;
  std::atomic<bool> closed_{false};
  concurrency::streams::producer_consumer_buffer<uint8_t> buf_;
};

class ListenerResponder final : public Responder {
 public:
  explicit ListenerResponder(wh::http_request req) : req_(std::move(req)) {}
  bool replied() const { return replied_; }

  void Send(int status, const Headers& headers, std::string body) override {
    if (replied_) return;
    replied_ = true;
    wh::http_response resp(static_cast<wh::status_code>(status));
    std::string ct = headers.Get("Content-Type");
    resp.set_body(std::vector<unsigned char>(body.begin(), body.end()));
    resp.headers().remove("Content-Type");
    for (const auto& [k, v] : headers)
      if (!EqualsIgnoreCase(k, "Content-Length")) resp.headers().add(k, v);
    if (ct.empty() && !body.empty()) resp.headers().add("Content-Type", "application/octet-stream");
    req_.reply(resp).then([](pplx::task<void> t) {
      try {
        t.get();
      } catch (...) {
      }
    });
  }

  std::shared_ptr<ChunkWriter> Stream(int status, const Headers& headers) override {
    auto writer = std::make_shared<PcbWriter>();
    if (replied_) {
      writer->Close();
      return writer;
    }
    replied_ = true;
    wh::http_response resp(static_cast<wh::status_code>(status));
    resp.set_body(writer->ReadSide());
    resp.headers().remove("Content-Type");
    for (const auto& [k, v] : headers)
      if (!EqualsIgnoreCase(k, "Content-Length")) resp.headers().add(k, v);
    std::weak_ptr<PcbWriter> weak = writer;
    req_.reply(resp).then([weak](pplx::task<void> t) {
      try {
        t.get();
      } catch (...) {
      }
      // The response finished (normally or because the peer left): stop the writer.
      if (auto w = weak.lock()) w->Close();
    });
    return writer;
  }

  void Abort() override {
    if (replied_) return;
    replied_ = true;
    // cpprestsdk has no "drop connection" API; an empty reply with Connection:
    // close is the closest a handler can get, and clients see a short read.
    wh::http_response resp(wh::status_codes::InternalError);
    resp.headers().add("Connection", "close");
    req_.reply(resp).then([](pplx::task<void> t) {
      try {
        t.get();
      } catch (...) {
      }
    });
  }

 private:
  wh::http_request req_;
  bool replied_ = false;
};

}  // namespace

struct Server::Impl {
  Options options;
  int port = 0;
  std::unique_ptr<whl::http_listener> listener;
  Handler handler;
  std::atomic<bool> stopped{false};
};

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Server::~Server() { Stop(); }

int Server::port() const { return impl_->port; }

std::string Server::base_url() const {
  return std::string(impl_->options.tls ? "https" : "http") + "://" + impl_->options.host + ":" +
         std::to_string(impl_->port);
}

void Server::Stop() {
  if (impl_->stopped.exchange(true)) return;
  try {
    impl_->listener->close().wait();
  } catch (const std::exception& e) {
    log::Warn("http.server", "closing listener failed", {{"error", e.what()}});
  }
}

StatusOr<int> FindFreePort(const std::string& host) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return UnavailableError("socket() failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = 0;
  if (::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
    ::close(fd);
    return InvalidArgumentError("not an IPv4 address: " + host);
  }
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return UnavailableError("bind to " + host + ":0 failed");
  }
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  const int port = ntohs(addr.sin_port);
  ::close(fd);
  return port;
}

StatusOr<std::unique_ptr<Server>> Server::Start(Options options, Handler handler) {
  Status last = UnavailableError("no attempt");
  // Port 0: cpprestsdk cannot report the port it bound, so pick a free one and
  // retry if another process takes it in between.
  for (int attempt = 0; attempt < 20; ++attempt) {
    int port = options.port;
    if (port == 0) {
      ASSIGN_OR_RETURN(port, FindFreePort(options.host));
    }
    auto impl = std::make_unique<Impl>();
    impl->options = options;
    impl->port = port;
    impl->handler = handler;
    whl::http_listener_config cfg;
    if (options.tls) {
      const ServerTls tls = *options.tls;
      cfg.set_ssl_context_callback([tls](boost::asio::ssl::context& ctx) {
        ctx.set_options(boost::asio::ssl::context::default_workarounds |
                        boost::asio::ssl::context::no_sslv2 | boost::asio::ssl::context::no_sslv3 |
                        boost::asio::ssl::context::no_tlsv1 |
                        boost::asio::ssl::context::no_tlsv1_1);
        ctx.use_certificate_chain(boost::asio::buffer(tls.cert_chain_pem));
        ctx.use_private_key(boost::asio::buffer(tls.key_pem), boost::asio::ssl::context::pem);
        if (!tls.client_ca_pem.empty()) {
          ctx.add_certificate_authority(boost::asio::buffer(tls.client_ca_pem));
          ctx.set_verify_mode(boost::asio::ssl::verify_peer |
                              boost::asio::ssl::verify_fail_if_no_peer_cert);
        }
      });
    }
    const std::string url = std::string(options.tls ? "https" : "http") + "://" + options.host +
                            ":" + std::to_string(port);
    try {
      impl->listener = std::make_unique<whl::http_listener>(web::uri(url), cfg);
      Impl* raw = impl.get();
      impl->listener->support([raw](wh::http_request req) {
        ListenerResponder responder(req);
        try {
          ServerRequest sr;
          sr.method = req.method();
          const web::uri& u = req.request_uri();
          sr.raw_path = u.path();
          sr.path = PercentDecode(sr.raw_path);
          sr.query = u.query();
          sr.params = ParseQuery(sr.query);
          for (const auto& [k, v] : req.headers()) sr.headers.Add(k, v);
          std::vector<unsigned char> body = req.extract_vector().get();
          sr.body.assign(body.begin(), body.end());
          raw->handler(sr, responder);
        } catch (const std::exception& e) {
          log::Error("http.server", "handler failed", {{"error", e.what()}});
          responder.Send(500, {{"Content-Type", "text/plain"}}, "internal error");
        }
        if (!responder.replied())
          responder.Send(500, {{"Content-Type", "text/plain"}}, "no response");
      });
      impl->listener->open().wait();
      return std::unique_ptr<Server>(new Server(std::move(impl)));
    } catch (const std::exception& e) {
      last = UnavailableError("listen on " + url + ": " + e.what());
      if (options.port != 0) break;
    }
  }
  return last;
}

}  // namespace vmrelease::http

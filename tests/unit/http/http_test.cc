#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "controller/http/client.h"
#include "controller/http/server.h"
#include "tests/support/testing/certs.h"

namespace vmrelease::http {
namespace {

using namespace std::chrono_literals;

Handler Echo() {
  return [](const ServerRequest& req, Responder& res) {
    Headers h{{"Content-Type", "text/plain"}, {"X-Method", req.method}};
    h.Add("X-Auth", req.headers.Get("Authorization"));
    h.Add("X-Param", req.params.count("a") ? req.params.at("a") : "");
    h.Add("X-CT", req.headers.Get("Content-Type"));
    res.Send(req.path == "/missing" ? 404 : 200, h, req.path + "|" + req.body);
  };
}

TEST(HttpTest, PlainRoundTripWithPort0) {
  auto server = Server::Start({}, Echo());
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  EXPECT_GT((*server)->port(), 0);
  Client client;
  Request req{.method = "PUT", .url = (*server)->base_url() + "/a%20b/c?a=x%26y&b=2"};
  req.headers.Set("Authorization", "Bearer t0k3n");
  req.headers.Set("Content-Type", "application/merge-patch+json");
  req.body = std::string("bin\0ary", 7);
  auto r = client.Send(req);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, std::string("/a b/c|bin\0ary", 14));
  EXPECT_EQ(r->headers.Get("x-method"), "PUT");
  EXPECT_EQ(r->headers.Get("X-Auth"), "Bearer t0k3n");
  EXPECT_EQ(r->headers.Get("X-Param"), "x&y");
  EXPECT_EQ(r->headers.Get("X-CT"), "application/merge-patch+json");
  auto nf = client.Send({.url = (*server)->base_url() + "/missing"});
  ASSERT_TRUE(nf.ok());
  EXPECT_EQ(nf->status, 404);
}

TEST(HttpTest, ConnectionRefusedIsUnavailable) {
  auto port = FindFreePort();
  ASSERT_TRUE(port.ok());
  Client client;
  auto r = client.Send({.url = "http://127.0.0.1:" + std::to_string(*port) + "/", .timeout = 2s});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
}

TEST(HttpTest, TimeoutIsDeadlineExceeded) {
  auto server = Server::Start({}, [](const ServerRequest&, Responder& res) {
    std::this_thread::sleep_for(1500ms);
    res.Send(200, {}, "late");
  });
  ASSERT_TRUE(server.ok());
  Client client;
  auto r = client.Send({.url = (*server)->base_url() + "/", .timeout = 300ms});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kDeadlineExceeded) << r.status().ToString();
}

TEST(HttpTest, TlsWithCustomCaAndInsecure) {
  auto ca = testing::GenerateCa("test-ca");
  ASSERT_TRUE(ca.ok());
  auto srv = testing::IssueCert(*ca, "localhost", {"DNS:localhost", "IP:127.0.0.1"}, true);
  ASSERT_TRUE(srv.ok());
  auto server = Server::Start({.tls = ServerTls{srv->cert_pem, srv->key_pem, ""}}, Echo());
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  const std::string url = (*server)->base_url() + "/tls";
  EXPECT_EQ(url.rfind("https://", 0), 0u);

  Client trusted({.tls = {.ca_pem = ca->cert_pem}});
  auto r = trusted.Send({.url = url});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->body, "/tls|");

  Client untrusted;
  auto bad = untrusted.Send({.url = url, .timeout = 5s});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kUnavailable);

  Client insecure({.tls = {.insecure_skip_verify = true}});
  auto ok = insecure.Send({.url = url});
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
}

TEST(HttpTest, ClientCertificates) {
  auto ca = testing::GenerateCa("test-ca");
  auto srv = testing::IssueCert(*ca, "localhost", {"IP:127.0.0.1"}, true);
  auto cli = testing::IssueCert(*ca, "admin", {}, false, "system:masters");
  ASSERT_TRUE(ca.ok() && srv.ok() && cli.ok());
  auto server =
      Server::Start({.tls = ServerTls{srv->cert_pem, srv->key_pem, ca->cert_pem}}, Echo());
  ASSERT_TRUE(server.ok());
  const std::string url = (*server)->base_url() + "/mtls";
  Client without({.tls = {.ca_pem = ca->cert_pem}});
  EXPECT_FALSE(without.Send({.url = url, .timeout = 5s}).ok());
  Client with({.tls = {.ca_pem = ca->cert_pem,
                       .client_cert_pem = cli->cert_pem,
                       .client_key_pem = cli->key_pem}});
  auto r = with.Send({.url = url});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 200);
}

TEST(HttpTest, StreamingLinesArriveIncrementallyAndCancel) {
  std::shared_ptr<ChunkWriter> writer;
  std::mutex mu;
  auto server = Server::Start({}, [&](const ServerRequest&, Responder& res) {
    auto w = res.Stream(200, {{"Content-Type", "application/json"}});
    w->Write("{\"n\":1}\n");
    w->Write("{\"n\":2}\n{\"n\":");
    w->Write("3}\n");
    std::lock_guard g(mu);
    writer = w;
  });
  ASSERT_TRUE(server.ok());
  Client client;
  auto stream = client.Open({.url = (*server)->base_url() + "/watch", .timeout = 60s});
  ASSERT_TRUE(stream.ok()) << stream.status().ToString();
  EXPECT_EQ((*stream)->status(), 200);
  for (int i = 1; i <= 3; ++i) {
    auto line = (*stream)->ReadLine();
    ASSERT_TRUE(line.ok()) << line.status().ToString();
    ASSERT_TRUE(line->has_value());
    EXPECT_EQ(**line, "{\"n\":" + std::to_string(i) + "}");
  }
  // Nothing more is written: a reader blocks until cancelled from another thread.
  std::thread canceller([&] {
    std::this_thread::sleep_for(200ms);
    (*stream)->Cancel();
  });
  auto line = (*stream)->ReadLine();
  canceller.join();
  ASSERT_FALSE(line.ok());
  EXPECT_EQ(line.status().code(), StatusCode::kCancelled);
  // The server notices the peer has gone: writes eventually fail.
  std::shared_ptr<ChunkWriter> w;
  {
    std::lock_guard g(mu);
    w = writer;
  }
  ASSERT_TRUE(w);
  bool failed = false;
  std::string big(64 * 1024, 'x');
  big.push_back('\n');
  for (int i = 0; i < 2000 && !failed; ++i) {
    failed = !w->Write(big);
    if (!failed) std::this_thread::sleep_for(5ms);
  }
  EXPECT_TRUE(failed);
}

TEST(HttpTest, StreamEndsWhenServerCloses) {
  auto server = Server::Start({}, [&](const ServerRequest&, Responder& res) {
    auto w = res.Stream(200, {{"Content-Type", "application/json"}});
    std::thread([w] {
      for (int i = 0; i < 5; ++i) {
        w->Write("line" + std::to_string(i) + "\n");
        std::this_thread::sleep_for(20ms);
      }
      w->Close();
    }).detach();
  });
  ASSERT_TRUE(server.ok());
  Client client;
  auto stream = client.Open({.url = (*server)->base_url() + "/s", .timeout = 60s});
  ASSERT_TRUE(stream.ok());
  std::vector<std::string> got;
  while (true) {
    auto line = (*stream)->ReadLine();
    ASSERT_TRUE(line.ok()) << line.status().ToString();
    if (!line->has_value()) break;
    got.push_back(**line);
  }
  ASSERT_EQ(got.size(), 5u);
  EXPECT_EQ(got[4], "line4");
}

TEST(UrlTest, Parse) {
  Url u;
  ASSERT_TRUE(ParseUrl("https://acct.blob.core.windows.net/c/b.vhd?sv=1&sig=x", &u));
  EXPECT_EQ(u.host, "acct.blob.core.windows.net");
  EXPECT_EQ(u.port, 443);
  EXPECT_EQ(u.path, "/c/b.vhd");
  EXPECT_EQ(u.query, "sv=1&sig=x");
  ASSERT_TRUE(ParseUrl("http://127.0.0.1:10000/devstoreaccount1", &u));
  EXPECT_EQ(u.port, 10000);
  EXPECT_EQ(u.Origin(), "http://127.0.0.1:10000");
  ASSERT_TRUE(ParseUrl("http://[::1]:80", &u));
  EXPECT_EQ(u.host, "::1");
  EXPECT_EQ(u.path, "/");
  EXPECT_FALSE(ParseUrl("ftp://x", &u));
  EXPECT_FALSE(ParseUrl("http://:80/", &u));
  EXPECT_FALSE(ParseUrl("http://h:99999/", &u));
  EXPECT_EQ(BuildQuery({{"labelSelector", "app in (a,b),!x"}}),
            "labelSelector=app%20in%20%28a%2Cb%29%2C%21x");
  EXPECT_EQ(ParseQuery("labelSelector=app%20in%20%28a%2Cb%29&x=1+2").at("labelSelector"),
            "app in (a,b)");
  EXPECT_EQ(ParseQuery("x=1+2").at("x"), "1 2");
}

}  // namespace
}  // namespace vmrelease::http

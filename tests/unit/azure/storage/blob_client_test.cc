// BlobClient against a scripted local HTTP server: request shapes, storage
// error parsing, retry policy (with a ManualClock, so Retry-After is checked
// exactly), bearer refresh and user-delegation SAS. Behaviour against a real
// blob service is covered by tests/integration/blob (Azurite).
#include "controller/azure/blob_client.h"

#include <gtest/gtest.h>

#include <deque>
#include <mutex>
#include <thread>

#include "controller/azure/blob_error.h"
#include "controller/azure/blob_xml.h"
#include "controller/common/log.h"
#include "controller/http/server.h"

namespace vmrelease::azure {
namespace {

using namespace std::chrono_literals;

constexpr const char* kKey =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

struct Reply {
  int status = 201;
  http::Headers headers;
  std::string body;
  bool drop = false;  // close the connection without answering
};

// Answers from a script (then 201), recording every request.
class ScriptedServer {
 public:
  ScriptedServer() {
    auto s = http::Server::Start({}, [this](const http::ServerRequest& req, http::Responder& res) {
      Reply r;
      {
        std::lock_guard g(mu_);
        requests_.push_back(req);
        if (!script_.empty()) {
          r = script_.front();
          script_.pop_front();
        }
      }
      if (r.drop) return res.Abort();
      if (req.method == "HEAD") {
        // HEAD answers carry no body (the storage code travels in x-ms-error-code).
        if (auto e = ParseStorageErrorBody(r.body)) r.headers.Set("x-ms-error-code", e->code);
        r.body.clear();
      }
      r.headers.Set("x-ms-request-id", "req-" + std::to_string(count()));
      res.Send(r.status, r.headers, r.body);
    });
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    server_ = std::move(*s);
  }
  void Push(Reply r) {
    std::lock_guard g(mu_);
    script_.push_back(std::move(r));
  }
  size_t count() const {
    std::lock_guard g(mu_);
    return requests_.size();
  }
  http::ServerRequest request(size_t i) const {
    std::lock_guard g(mu_);
    return requests_.at(i);
  }
  std::string account_url() const { return server_->base_url() + "/devstoreaccount1"; }

 private:
  mutable std::mutex mu_;
  std::deque<Reply> script_;
  std::vector<http::ServerRequest> requests_;
  std::unique_ptr<http::Server> server_;
};

Reply StorageError(int status, const std::string& code, http::Headers extra = {}) {
  Reply r{.status = status, .headers = std::move(extra)};
  r.headers.Set("Content-Type", "application/xml");
  r.body = "<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>" + code +
           "</Code><Message>Something about " + code +
           ".\nRequestId:abc\nTime:2025-07-01T10:00:00.0000000Z</Message></Error>";
  return r;
}

class FakeCredential : public TokenCredential {
 public:
  StatusOr<AccessToken> GetToken(const std::string& scope) override {
    std::lock_guard g(mu_);
    scopes.push_back(scope);
    return AccessToken{"eyJ.fake-token-" + std::to_string(generation), WallTime::max()};
  }
  void Invalidate(const std::string&) override {
    std::lock_guard g(mu_);
    ++generation;
  }
  std::string Describe() const override { return "fake credential"; }
  std::mutex mu_;
  std::vector<std::string> scopes;
  int generation = 1;
};

std::unique_ptr<BlobClient> NewClient(const ScriptedServer& s, Clock* clock = nullptr,
                                      int attempts = 4) {
  BlobClientOptions o{.account_url = s.account_url(), .clock = clock};
  o.retry.max_attempts = attempts;
  o.retry.backoff = {.initial = 1ms, .max = 2ms};
  auto c = BlobClient::Create(o, SharedKeyAuth(*SharedKeySigner::Create("devstoreaccount1", kKey)));
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return std::move(*c);
}

const BlobRef kRef{"images", "app/1.0.vhd"};

TEST(BlobClientTest, CreatePageBlobIsCreateOnlyAndSigned) {
  ScriptedServer s;
  s.Push({.status = 201, .headers = {{"ETag", "\"0x1\""}}});
  auto c = NewClient(s);
  auto r = c->CreatePageBlob(kRef, 1024 * 1024 + 512,
                             {.metadata = {{"image", "sql"}}, .tags = {{"version", "1.0.0"}}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->etag, "\"0x1\"");
  const http::ServerRequest req = s.request(0);
  EXPECT_EQ(req.method, "PUT");
  EXPECT_EQ(req.raw_path, "/devstoreaccount1/images/app/1.0.vhd");
  EXPECT_EQ(req.headers.Get("x-ms-blob-type"), "PageBlob");
  EXPECT_EQ(req.headers.Get("x-ms-blob-content-length"), "1049088");
  EXPECT_EQ(req.headers.Get("If-None-Match"), "*");
  EXPECT_EQ(req.headers.Get("x-ms-meta-image"), "sql");
  EXPECT_EQ(req.headers.Get("x-ms-tags"), "version=1.0.0");
  EXPECT_EQ(req.headers.Get("x-ms-version"), kStorageApiVersion);
  EXPECT_FALSE(req.headers.Get("x-ms-date").empty());
  EXPECT_EQ(req.headers.Get("Authorization").rfind("SharedKey devstoreaccount1:", 0), 0u);
  EXPECT_TRUE(req.body.empty());
  // Sizes that are not whole pages never leave the process.
  EXPECT_EQ(c->CreatePageBlob(kRef, 1000, {}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.count(), 1u);
}

TEST(BlobClientTest, PutPagesAndClearPagesShapes) {
  ScriptedServer s;
  auto c = NewClient(s);
  const std::string data(8192, 'x');
  ASSERT_TRUE(c->PutPages(kRef, 4096, data, {.if_match = "\"0x2\""}).ok());
  auto req = s.request(0);
  EXPECT_EQ(req.query, "comp=page");
  EXPECT_EQ(req.headers.Get("x-ms-page-write"), "update");
  EXPECT_EQ(req.headers.Get("x-ms-range"), "bytes=4096-12287");
  EXPECT_EQ(req.headers.Get("If-Match"), "\"0x2\"");
  EXPECT_EQ(req.body, data);
  ASSERT_TRUE(c->ClearPages(kRef, {0, 512}).ok());
  req = s.request(1);
  EXPECT_EQ(req.headers.Get("x-ms-page-write"), "clear");
  EXPECT_EQ(req.headers.Get("x-ms-range"), "bytes=0-511");
  EXPECT_TRUE(req.body.empty());
  // Misaligned or oversized pages are refused locally.
  EXPECT_FALSE(c->PutPages(kRef, 100, data).ok());
  EXPECT_FALSE(c->PutPages(kRef, 0, std::string(4 * 1024 * 1024 + 512, 'x')).ok());
  EXPECT_EQ(s.count(), 2u);
}

TEST(BlobClientTest, BlockBlobShapes) {
  ScriptedServer s;
  auto c = NewClient(s);
  ASSERT_TRUE(c->PutBlock(kRef, "block-000001", "abc").ok());
  ASSERT_TRUE(c->PutBlockList(kRef, {"block-000001"}, {.overwrite = true}).ok());
  EXPECT_EQ(http::ParseQuery(s.request(0).query).at("blockid"), "YmxvY2stMDAwMDAx");
  const auto list = s.request(1);
  EXPECT_EQ(list.query, "comp=blocklist");
  EXPECT_EQ(XmlElements(list.body, "Latest"), std::vector<std::string>{"YmxvY2stMDAwMDAx"});
  EXPECT_FALSE(list.headers.Has("If-None-Match"));  // overwrite requested
}

TEST(BlobClientTest, PropertiesMetadataTagsAndCopyStatusAreParsed) {
  ScriptedServer s;
  s.Push({.status = 200,
          .headers = {{"ETag", "\"0x9\""},
                      {"Content-Length", "1049088"},
                      {"x-ms-blob-type", "PageBlob"},
                      {"x-ms-meta-Sha256", "abcd"},
                      {"x-ms-tag-count", "2"},
                      {"x-ms-copy-status", "pending"},
                      {"x-ms-copy-id", "cid"},
                      {"x-ms-copy-progress", "512/1049088"}}});
  s.Push({.status = 200,
          .body = "<?xml version=\"1.0\"?><Tags><TagSet><Tag><Key>image</Key><Value>a&amp;b</Value>"
                  "</Tag><Tag><Key>v</Key><Value></Value></Tag></TagSet></Tags>"});
  s.Push({.status = 204});
  auto c = NewClient(s);
  auto p = c->GetProperties(kRef);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->etag, "\"0x9\"");
  // (Content-Length of a HEAD is checked against Azurite: this test server rewrites it.)
  EXPECT_EQ(p->blob_type, "PageBlob");
  EXPECT_EQ(p->metadata.at("sha256"), "abcd");
  EXPECT_EQ(p->tag_count, 2);
  EXPECT_EQ(p->copy.state, CopyState::kPending);
  EXPECT_EQ(p->copy.copy_id, "cid");
  auto tags = c->GetTags(kRef);
  ASSERT_TRUE(tags.ok()) << tags.status().ToString();
  EXPECT_EQ(*tags, (BlobTags{{"image", "a&b"}, {"v", ""}}));
  ASSERT_TRUE(c->SetTags(kRef, {{"image", "sql server"}, {"sha", "1/2:3"}}).ok());
  auto round = TagsFromXml(s.request(2).body);
  ASSERT_TRUE(round.ok());
  EXPECT_EQ(*round, (BlobTags{{"image", "sql server"}, {"sha", "1/2:3"}}));
  EXPECT_FALSE(c->SetTags(kRef, {{"bad", "semi;colon"}}).ok());
  EXPECT_FALSE(c->SetMetadata(kRef, {{"1bad", "x"}}).ok());
}

TEST(BlobClientTest, StorageErrorsKeepCodeAndMapToKinds) {
  ScriptedServer s;
  s.Push(StorageError(409, "BlobAlreadyExists"));
  s.Push(StorageError(412, "ConditionNotMet"));
  s.Push({.status = 404, .headers = {{"x-ms-error-code", "BlobNotFound"}}});  // HEAD: no body
  s.Push(StorageError(403, "AuthorizationPermissionMismatch"));
  auto c = NewClient(s);
  Status exists = c->CreatePageBlob(kRef, 512, {}).status();
  EXPECT_EQ(exists.code(), StatusCode::kAlreadyExists) << exists.ToString();
  EXPECT_EQ(exists.detail().reason, "BlobAlreadyExists");
  EXPECT_EQ(exists.detail().http_status, 409);
  EXPECT_EQ(exists.detail().correlation_id, "req-1");
  EXPECT_EQ(ClassifyBlobError(exists), BlobErrorKind::kAlreadyExists);
  EXPECT_NE(exists.message().find("Something about BlobAlreadyExists."), std::string::npos);
  EXPECT_EQ(exists.message().find("RequestId:abc"), std::string::npos);  // only the first line

  Status stale = c->SetMetadata(kRef, {}, {.if_match = "\"old\""}).status();
  EXPECT_EQ(ClassifyBlobError(stale), BlobErrorKind::kConditionFailed);
  EXPECT_EQ(stale.detail().reason, "ConditionNotMet");

  Status missing = c->GetProperties(kRef).status();
  EXPECT_EQ(missing.code(), StatusCode::kNotFound);
  EXPECT_EQ(missing.detail().reason, "BlobNotFound");

  Status denied = c->Delete(kRef);
  EXPECT_EQ(ClassifyBlobError(denied), BlobErrorKind::kAuth);
  EXPECT_FALSE(IsTransientBlobError(denied));
  EXPECT_EQ(s.count(), 4u);  // none of these is retried
}

TEST(BlobClientTest, HonoursRetryAfterExactly) {
  ScriptedServer s;
  s.Push(StorageError(503, "ServerBusy", {{"Retry-After", "7"}}));
  ManualClock clock;
  auto c = NewClient(s, &clock);
  Status result = InternalError("not run");
  std::thread t([&] { result = c->PutPages(kRef, 0, std::string(512, 'a')).status(); });
  clock.AwaitWaiters(1);
  EXPECT_EQ(s.count(), 1u);
  clock.Advance(6999ms);
  clock.AwaitWaiters(1);  // still sleeping: the server asked for 7 s
  EXPECT_EQ(s.count(), 1u);
  clock.Advance(1ms);
  t.join();
  EXPECT_TRUE(result.ok()) << result.ToString();
  EXPECT_EQ(s.count(), 2u);
  EXPECT_EQ(c->retries(), 1);
  // Every attempt is signed afresh with its own date.
  EXPECT_NE(s.request(0).headers.Get("x-ms-date"), s.request(1).headers.Get("x-ms-date"));
}

TEST(BlobClientTest, RetriesServerErrorsAndDropsThenGivesUpBounded) {
  ScriptedServer s;
  s.Push(StorageError(500, "InternalError"));
  s.Push({.drop = true});
  s.Push({.status = 429});
  auto c = NewClient(s, nullptr, /*attempts=*/4);
  ASSERT_TRUE(c->PutPages(kRef, 0, std::string(512, 'a')).ok());
  EXPECT_EQ(s.count(), 4u);
  EXPECT_EQ(c->retries(), 3);

  for (int i = 0; i < 4; ++i) s.Push(StorageError(503, "ServerBusy"));
  Status st = c->PutPages(kRef, 0, std::string(512, 'a')).status();
  EXPECT_EQ(st.code(), StatusCode::kUnavailable);
  EXPECT_EQ(ClassifyBlobError(st), BlobErrorKind::kThrottled);
  EXPECT_NE(st.message().find("giving up after 4 attempts"), std::string::npos) << st.ToString();
  EXPECT_EQ(s.count(), 8u);
}

TEST(BlobClientTest, ConnectionRefusedIsTransportErrorAfterRetries) {
  auto port = http::FindFreePort();
  ASSERT_TRUE(port.ok());
  BlobClientOptions o{.account_url =
                          "http://127.0.0.1:" + std::to_string(*port) + "/devstoreaccount1"};
  o.retry.max_attempts = 2;
  o.retry.backoff = {.initial = 1ms, .max = 1ms};
  auto c = BlobClient::Create(o, SharedKeyAuth(*SharedKeySigner::Create("devstoreaccount1", kKey)));
  ASSERT_TRUE(c.ok());
  Status st = (*c)->GetProperties(kRef).status();
  EXPECT_EQ(ClassifyBlobError(st), BlobErrorKind::kTransport) << st.ToString();
  EXPECT_EQ((*c)->retries(), 1);
}

TEST(BlobClientTest, BearerTokenIsRefreshedOnceAfter401) {
  ScriptedServer s;
  s.Push(StorageError(401, "InvalidAuthenticationInfo"));
  s.Push({.status = 200, .headers = {{"x-ms-blob-type", "BlockBlob"}}});
  s.Push(StorageError(401, "InvalidAuthenticationInfo"));
  s.Push(StorageError(401, "InvalidAuthenticationInfo"));
  FakeCredential cred;
  auto c = BlobClient::Create({.account_url = s.account_url()}, BearerAuth(cred));
  ASSERT_TRUE(c.ok());
  auto first = (*c)->GetProperties(kRef);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(s.request(0).headers.Get("Authorization"), "Bearer eyJ.fake-token-1");
  EXPECT_EQ(s.request(1).headers.Get("Authorization"), "Bearer eyJ.fake-token-2");
  EXPECT_EQ(cred.scopes.front(), kStorageScope);
  // A token that is refused twice is an auth error, not a loop.
  Status st = (*c)->GetProperties(kRef).status();
  EXPECT_EQ(st.code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(s.count(), 4u);
}

TEST(BlobClientTest, ImmutabilityCapabilityErrorIsClear) {
  ScriptedServer s;
  s.Push(StorageError(501, "APINotImplemented"));
  s.Push(StorageError(400, "InvalidHeaderValue"));
  auto c = NewClient(s);
  std::vector<std::string> lines;
  log::SetCaptureForTesting([&](const std::string& l) { lines.push_back(l); });
  const ImmutabilityPolicy p{.until = WallTime(std::chrono::seconds(1893456000))};
  Status st = c->SetImmutabilityPolicy(kRef, p);
  log::SetCaptureForTesting(nullptr);
  EXPECT_EQ(st.code(), StatusCode::kUnimplemented);
  EXPECT_EQ(ClassifyBlobError(st), BlobErrorKind::kUnsupported);
  EXPECT_NE(st.message().find("immutability policies are not supported"), std::string::npos);
  const auto req = s.request(0);
  EXPECT_EQ(req.query, "comp=immutabilityPolicies");
  EXPECT_EQ(req.headers.Get("x-ms-immutability-policy-until-date"),
            "Tue, 01 Jan 2030 00:00:00 GMT");
  EXPECT_EQ(req.headers.Get("x-ms-immutability-policy-mode"), "Unlocked");
  bool warned = false;
  for (const auto& l : lines)
    warned |= l.find("immutability policy not supported") != std::string::npos;
  EXPECT_TRUE(warned);
  // A request error is not mistaken for a missing feature.
  EXPECT_EQ(c->SetImmutabilityPolicy(kRef, p).code(), StatusCode::kInvalidArgument);
}

TEST(BlobClientTest, UserDelegationSasWithBearer) {
  ScriptedServer s;
  s.Push({.status = 200,
          .body =
              "<?xml version=\"1.0\"?><UserDelegationKey><SignedOid>oid-1</SignedOid>"
              "<SignedTid>tid-1</SignedTid><SignedStart>2026-01-01T00:00:00Z</SignedStart>"
              "<SignedExpiry>2026-01-02T00:00:00Z</SignedExpiry><SignedService>b</SignedService>"
              "<SignedVersion>2021-12-02</SignedVersion><Value>c2VjcmV0LWtleS1ieXRlcw==</Value>"
              "</UserDelegationKey>"});
  ManualClock clock;
  FakeCredential cred;
  auto c = BlobClient::Create({.account_url = s.account_url(), .clock = &clock}, BearerAuth(cred));
  ASSERT_TRUE(c.ok());
  const SasRequest sr{.permissions = "r", .expiry = clock.WallNow() + 2h};
  auto url = (*c)->GenerateSasUrl(kRef, sr);
  ASSERT_TRUE(url.ok()) << url.status().ToString();
  const auto key_req = s.request(0);
  EXPECT_EQ(key_req.method, "POST");
  EXPECT_EQ(key_req.raw_path, "/devstoreaccount1/");
  EXPECT_EQ(http::ParseQuery(key_req.query).at("comp"), "userdelegationkey");
  EXPECT_TRUE(XmlElementText(key_req.body, "Expiry").has_value());
  const auto q = http::ParseQuery(url->substr(url->find('?') + 1));
  EXPECT_EQ(q.at("skoid"), "oid-1");
  EXPECT_EQ(q.at("sktid"), "tid-1");
  EXPECT_EQ(q.at("sr"), "b");
  EXPECT_EQ(url->substr(0, url->find('?')), s.account_url() + "/images/app/1.0.vhd");
  // The key is cached: a second SAS needs no request.
  ASSERT_TRUE((*c)->GenerateSasUrl(kRef, sr).ok());
  EXPECT_EQ(s.count(), 1u);
  EXPECT_EQ(log::Redact("c2VjcmV0LWtleS1ieXRlcw=="), "REDACTED");

  auto anon = BlobClient::Create({.account_url = s.account_url()}, AnonymousAuth());
  ASSERT_TRUE(anon.ok());
  EXPECT_EQ((*anon)->GenerateSasUrl(kRef, sr).status().code(), StatusCode::kFailedPrecondition);
}

TEST(BlobClientTest, SasAuthAppendsTokenAndLogsNoSecrets) {
  ScriptedServer s;
  s.Push(StorageError(500, "InternalError"));
  std::vector<std::string> lines;
  log::SetCaptureForTesting([&](const std::string& l) { lines.push_back(l); });
  BlobClientOptions o{.account_url = s.account_url()};
  o.retry.backoff = {.initial = 1ms, .max = 1ms};
  const std::string sas =
      "sv=2021-12-02&sr=b&sp=cw&se=2030-01-01T00%3A00%3A00Z&sig=s3cr3tSigValue%3D";
  auto c = BlobClient::Create(o, SasAuth(sas));
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE((*c)->PutPages(kRef, 0, std::string(512, 'z')).ok());
  log::SetCaptureForTesting(nullptr);
  EXPECT_EQ(http::ParseQuery(s.request(1).query).at("sig"), "s3cr3tSigValue=");
  EXPECT_EQ(http::ParseQuery(s.request(1).query).at("comp"), "page");
  EXPECT_FALSE(s.request(1).headers.Has("Authorization"));
  ASSERT_FALSE(lines.empty());  // the retry was logged...
  for (const auto& l : lines) {
    EXPECT_EQ(l.find("s3cr3tSigValue"), std::string::npos) << l;  // ...without the SAS
  }
}

TEST(BlobErrorTest, ParsesBodiesAndRetryAfterForms) {
  auto b = ParseStorageErrorBody(
      "<?xml version=\"1.0\"?><Error><Code>InvalidRange</Code><Message>The range &lt;x&gt;\n"
      "RequestId:1</Message></Error>");
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->code, "InvalidRange");
  EXPECT_EQ(b->message, "The range <x>");
  EXPECT_FALSE(ParseStorageErrorBody("{\"error\":{}}").has_value());
  const WallTime now = WallTime(std::chrono::seconds(1751364000));
  EXPECT_EQ(ParseStorageRetryAfter({{"Retry-After", "3"}}, now), std::chrono::milliseconds(3000));
  EXPECT_EQ(ParseStorageRetryAfter({{"Retry-After", "Tue, 01 Jul 2025 10:00:05 GMT"}}, now),
            std::chrono::milliseconds(5000));
  EXPECT_FALSE(ParseStorageRetryAfter({{"Retry-After", "soon"}}, now).has_value());
  EXPECT_FALSE(ParseStorageRetryAfter({}, now).has_value());
}

}  // namespace
}  // namespace vmrelease::azure

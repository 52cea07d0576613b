// Bearer (Entra ID) authorisation and user-delegation SAS against Azurite
// running HTTPS with "--oauth basic": Azurite checks the token's lifetime,
// issuer and audience (not its signature), issues user delegation keys, and
// validates user-delegation SAS signatures with its own implementation.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "controller/azure/blob_client.h"
#include "controller/azure/blob_error.h"
#include "controller/common/crypto.h"
#include "controller/common/log.h"
#include "controller/http/client.h"
#include "tests/support/azurite/azurite.h"

namespace vmrelease {
namespace {

using namespace std::chrono_literals;

constexpr const char* kTenant = "ab1f708d-50f6-404c-a006-d71b2ac7a606";
constexpr const char* kObjectId = "11059fcc-5514-4800-b5f8-49808b9cfab6";

// Issues unsigned JWTs shaped like Entra storage tokens. The first token can be
// made already expired, to exercise the refresh-on-rejection path.
class JwtCredential : public azure::TokenCredential {
 public:
  explicit JwtCredential(bool first_expired) : expired_next_(first_expired) {}
  StatusOr<azure::AccessToken> GetToken(const std::string& scope) override {
    std::lock_guard g(mu_);
    EXPECT_EQ(scope, azure::kStorageScope);
    if (!cached_.empty()) return azure::AccessToken{cached_, WallTime::max()};
    const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    const int64_t exp = expired_next_ ? now - 600 : now + 3600;
    expired_next_ = false;
    const nlohmann::json claims = {{"aud", "https://storage.azure.com"},
                                   {"iss", std::string("https://sts.windows.net/") + kTenant + "/"},
                                   {"iat", now - 1200},
                                   {"nbf", now - 1200},
                                   {"exp", exp},
                                   {"oid", kObjectId},
                                   {"tid", kTenant},
                                   {"jti", RandomHex(16)}};
    cached_ = Base64UrlEncode(R"({"alg":"RS256","typ":"JWT"})") + "." +
              Base64UrlEncode(claims.dump()) + "." + Base64UrlEncode(RandomBytes(32));
    issued_.push_back(cached_);
    return azure::AccessToken{cached_, WallTime::max()};
  }
  void Invalidate(const std::string&) override {
    std::lock_guard g(mu_);
    cached_.clear();
    ++invalidations;
  }
  std::string Describe() const override { return "test JWT credential"; }

  std::mutex mu_;
  bool expired_next_;
  std::string cached_;
  std::vector<std::string> issued_;
  int invalidations = 0;
};

TEST(BlobBearerAzuriteTest, BearerAuthRefreshAndUserDelegationSas) {
  auto azurite = testing::Azurite::Start({.https = true, .oauth = true});
  ASSERT_TRUE(azurite.ok()) << azurite.status().ToString();
  std::vector<std::string> lines;
  std::mutex mu;
  log::SetCaptureForTesting([&](const std::string& l) {
    std::lock_guard g(mu);
    lines.push_back(l);
  });

  JwtCredential cred(/*first_expired=*/true);
  auto client = azure::BlobClient::Create(
      {.account_url = (*azurite)->account_url(), .tls = {.ca_pem = (*azurite)->ca_pem()}},
      azure::BearerAuth(cred));
  ASSERT_TRUE(client.ok()) << client.status().ToString();

  // The first token is expired: Azurite refuses it, the client refreshes once and succeeds.
  ASSERT_TRUE((*client)->CreateContainer("secure").ok());
  EXPECT_EQ(cred.invalidations, 1);
  EXPECT_EQ(cred.issued_.size(), 2u);
  const azure::BlobRef ref{"secure", "build/out.vhd"};
  ASSERT_TRUE((*client)->PutBlockBlob(ref, "vhd bytes", {}).ok());
  EXPECT_EQ((*client)->PutBlockBlob(ref, "again", {}).status().code(), StatusCode::kAlreadyExists);

  // User-delegation SAS: Azurite issues the key for the token's oid/tid and checks the signature.
  auto sas = (*client)->GenerateSasUrl(
      ref, {.permissions = "r", .expiry = std::chrono::system_clock::now() + 1h});
  ASSERT_TRUE(sas.ok()) << sas.status().ToString();
  const auto q = http::ParseQuery(sas->substr(sas->find('?') + 1));
  EXPECT_EQ(q.at("skoid"), kObjectId);
  EXPECT_EQ(q.at("sktid"), kTenant);
  EXPECT_EQ(q.at("spr"), "https");
  http::Client anon(http::Client::Options{.tls = {.ca_pem = (*azurite)->ca_pem()}});
  auto got = anon.Send({.url = *sas});
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->status, 200);
  EXPECT_EQ(got->body, "vhd bytes");
  std::string tampered = *sas;
  tampered.replace(tampered.find("sig=") + 4, 4, "AAAA");
  auto refused = anon.Send({.url = tampered});
  ASSERT_TRUE(refused.ok());
  EXPECT_EQ(refused->status, 403);
  // Read-only: writing through it is refused.
  auto write =
      anon.Send({.method = "PUT",
                 .url = *sas,
                 .headers = {{"x-ms-blob-type", "BlockBlob"}, {"x-ms-version", "2021-12-02"}},
                 .body = "overwrite"});
  ASSERT_TRUE(write.ok());
  EXPECT_EQ(write->status, 403);

  log::SetCaptureForTesting(nullptr);
  ASSERT_FALSE(lines.empty());
  const std::string sig = q.at("sig");
  for (const std::string& l : lines) {
    for (const std::string& token : cred.issued_) {
      EXPECT_EQ(l.find(token), std::string::npos) << "bearer token leaked into a log line";
    }
    EXPECT_EQ(l.find(sig), std::string::npos) << "SAS signature leaked into a log line";
  }
}

}  // namespace
}  // namespace vmrelease

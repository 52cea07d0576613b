#include "controller/azure/storage_auth.h"

#include "controller/common/log.h"

namespace vmrelease::azure {
namespace {

class SharedKeyAuthImpl final : public StorageAuth {
 public:
  explicit SharedKeyAuthImpl(SharedKeySigner signer) : signer_(std::move(signer)) {}
  Kind kind() const override { return Kind::kSharedKey; }
  Status Authorize(http::Request& request) override { return signer_.Sign(request); }
  std::string Describe() const override { return "shared key (account " + signer_.account() + ")"; }
  const SharedKeySigner* shared_key() const override { return &signer_; }

 private:
  const SharedKeySigner signer_;
};

class BearerAuthImpl final : public StorageAuth {
 public:
  BearerAuthImpl(TokenCredential& credential, std::string scope)
      : credential_(credential), scope_(std::move(scope)) {}
  Kind kind() const override { return Kind::kBearer; }
  Status Authorize(http::Request& request) override {
    StatusOr<AccessToken> token = credential_.GetToken(scope_);
    if (!token.ok()) {
      return token.status().WithContext("getting a storage token from " + credential_.Describe());
    }
    log::RegisterSecret(token->token);
    request.headers.Set("Authorization", "Bearer " + token->token);
    return Status::Ok();
  }
  bool OnUnauthorized() override {
    credential_.Invalidate(scope_);
    return true;
  }
  std::string Describe() const override { return "bearer (" + credential_.Describe() + ")"; }
  TokenCredential* token_credential() const override { return &credential_; }

 private:
  TokenCredential& credential_;
  const std::string scope_;
};

class SasAuthImpl final : public StorageAuth {
 public:
  explicit SasAuthImpl(std::string sas) : sas_(std::move(sas)) {
    if (!sas_.empty() && sas_[0] == '?') sas_.erase(0, 1);
    log::RegisterSecret(sas_);
    const size_t sig = sas_.find("sig=");
    if (sig != std::string::npos) {
      const size_t end = sas_.find('&', sig);
      log::RegisterSecret(sas_.substr(sig + 4, end == std::string::npos ? end : end - sig - 4));
    }
  }
  Kind kind() const override { return Kind::kSas; }
  Status Authorize(http::Request& request) override {
    request.url += (request.url.find('?') == std::string::npos ? "?" : "&") + sas_;
    return Status::Ok();
  }
  std::string Describe() const override { return "shared access signature"; }

 private:
  std::string sas_;
};

class AnonymousAuthImpl final : public StorageAuth {
 public:
  Kind kind() const override { return Kind::kAnonymous; }
  Status Authorize(http::Request&) override { return Status::Ok(); }
  std::string Describe() const override { return "anonymous"; }
};

}  // namespace

std::unique_ptr<StorageAuth> SharedKeyAuth(SharedKeySigner signer) {
  return std::make_unique<SharedKeyAuthImpl>(std::move(signer));
}
std::unique_ptr<StorageAuth> BearerAuth(TokenCredential& credential, std::string scope) {
  return std::make_unique<BearerAuthImpl>(credential, std::move(scope));
}
std::unique_ptr<StorageAuth> SasAuth(std::string sas_query) {
  return std::make_unique<SasAuthImpl>(std::move(sas_query));
}
std::unique_ptr<StorageAuth> AnonymousAuth() { return std::make_unique<AnonymousAuthImpl>(); }

}  // namespace vmrelease::azure

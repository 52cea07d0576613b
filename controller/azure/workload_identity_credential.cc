#include "controller/azure/workload_identity_credential.h"

#include "controller/azure/credential_entra.h"
#include "controller/common/log.h"
#include "controller/common/strings.h"

namespace vmrelease::azure {

StatusOr<WorkloadIdentityConfig> WorkloadIdentityConfig::FromEnvironment(const Environment& env) {
  auto get = [&](const char* k) {
    auto it = env.find(k);
    return it == env.end() ? std::string() : it->second;
  };
  WorkloadIdentityConfig c{.tenant_id = get("AZURE_TENANT_ID"),
                           .client_id = get("AZURE_CLIENT_ID"),
                           .token_file = get("AZURE_FEDERATED_TOKEN_FILE"),
                           .authority_host = get("AZURE_AUTHORITY_HOST")};
  std::string missing;
  if (c.token_file.empty()) missing += " AZURE_FEDERATED_TOKEN_FILE";
  if (c.client_id.empty()) missing += " AZURE_CLIENT_ID";
  if (c.tenant_id.empty()) missing += " AZURE_TENANT_ID";
  if (!missing.empty()) return NotFoundError("not set:" + missing);
  return c;
}

WorkloadIdentityCredential::WorkloadIdentityCredential(WorkloadIdentityConfig config,
                                                       CredentialOptions options)
    : CachingCredential(options.clock, options.refresh_before),
      config_(std::move(config)),
      options_(std::move(options)),
      owned_http_(options_.http ? nullptr : std::make_unique<http::Client>()),
      http_(options_.http ? *options_.http : *owned_http_) {}

std::string WorkloadIdentityCredential::Describe() const {
  return "workload identity (client " + ShortId(config_.client_id) + ", tenant " +
         ShortId(config_.tenant_id) + ")";
}

StatusOr<std::string> WorkloadIdentityCredential::ReadAssertion() {
  StatusOr<std::string> content = ReadFileToString(config_.token_file);
  if (!content.ok())
    return FailedPreconditionError("workload identity: cannot read federated token file " +
                                   config_.token_file);
  std::string token = Trim(*content);
  if (token.empty())
    return FailedPreconditionError("workload identity: federated token file " + config_.token_file +
                                   " is empty");
  log::RegisterSecret(token);
  std::lock_guard g(mu_);
  if (recent_assertions_.empty() || recent_assertions_.back() != token) {
    recent_assertions_.push_back(token);
    // A rotated-away projected token stays valid for a while (kubelet rotates at
    // ~80% of its lifetime), so the previous one stays redacted too; older ones
    // have expired and are forgotten.
    if (recent_assertions_.size() > 2) {
      log::UnregisterSecret(recent_assertions_.front());
      recent_assertions_.pop_front();
    }
  }
  return token;
}

StatusOr<AccessToken> WorkloadIdentityCredential::Fetch(const std::string& scope) {
  ASSIGN_OR_RETURN(std::string assertion, ReadAssertion());
  const std::string authority =
      config_.authority_host.empty() ? options_.authority_host : config_.authority_host;
  return ExchangeEntraToken(
      http_, options_, authority, config_.tenant_id,
      {{"client_id", config_.client_id},
       {"scope", scope},
       {"client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
       {"client_assertion", assertion}},
      "workload identity credential");
}

}  // namespace vmrelease::azure

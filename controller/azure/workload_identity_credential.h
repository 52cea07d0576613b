// WorkloadIdentityCredential: Kubernetes workload identity federation. The
// projected service-account token (audience api://AzureADTokenExchange) is
// exchanged at Entra for an access token (client credentials grant with a
// client_assertion).
//
//   ASSIGN_OR_RETURN(auto cfg, WorkloadIdentityConfig::FromEnvironment(ProcessEnvironment()));
//   WorkloadIdentityCredential cred(cfg, options);
//
// Guarantees: the token file is read again for every exchange (kubelet rotates
// it at ~80% of its lifetime, and a cached copy expires: AADSTS700024); the
// assertion is registered as a secret and never logged.
// Errors: a missing or empty token file is kFailedPrecondition naming the path.
#pragma once

#include <deque>
#include <memory>
#include <mutex>
#include <string>

#include "controller/azure/credential_cache.h"

namespace vmrelease::azure {

struct WorkloadIdentityConfig {
  std::string tenant_id;
  std::string client_id;
  std::string token_file;
  // Overrides CredentialOptions::authority_host when set (AZURE_AUTHORITY_HOST).
  std::string authority_host;

  // Needs AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_FEDERATED_TOKEN_FILE;
  // AZURE_AUTHORITY_HOST is optional. kNotFound names what is missing.
  static StatusOr<WorkloadIdentityConfig> FromEnvironment(const Environment& env);
};

class WorkloadIdentityCredential final : public CachingCredential {
 public:
  WorkloadIdentityCredential(WorkloadIdentityConfig config, CredentialOptions options);
  std::string Describe() const override;

 private:
  StatusOr<AccessToken> Fetch(const std::string& scope) override;
  StatusOr<std::string> ReadAssertion();

  WorkloadIdentityConfig config_;
  CredentialOptions options_;
  std::unique_ptr<http::Client> owned_http_;
  http::Client& http_;
  std::mutex mu_;
  std::deque<std::string> recent_assertions_;  // registered as secrets; oldest first
};

}  // namespace vmrelease::azure

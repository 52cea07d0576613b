// ClientSecretCredential: an app registration's client id + secret exchanged at
// the Entra v2.0 token endpoint (client credentials grant).
//
//   // From the environment (AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET):
//   ASSIGN_OR_RETURN(auto cfg, ClientSecretConfig::FromEnvironment(ProcessEnvironment()));
//   // ...or from a Kubernetes Secret's decoded data (keys clientId, clientSecret, tenantId):
//   ASSIGN_OR_RETURN(auto cfg, ClientSecretConfig::FromSecretData(secret_data));
//   ClientSecretCredential cred(cfg, options);
//   ASSIGN_OR_RETURN(AccessToken t, cred.GetToken(kArmScope));
//
// Guarantees: the secret is registered with log::RegisterSecret on construction
// and never appears in Describe(), errors or logs. Kubernetes types stay out of
// this folder: a Secret is passed as its decoded data map.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "controller/azure/credential_cache.h"

namespace vmrelease::azure {

struct ClientSecretConfig {
  std::string tenant_id;
  std::string client_id;
  std::string client_secret;  // secret
  // Overrides CredentialOptions::authority_host when set (e.g. AZURE_AUTHORITY_HOST).
  std::string authority_host;

  // Needs AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET; kNotFound
  // names the missing variables (the chain reports it as the skip reason).
  static StatusOr<ClientSecretConfig> FromEnvironment(const Environment& env);
  // Accepts the keys clientId / client_id / AZURE_CLIENT_ID, clientSecret /
  // client_secret / AZURE_CLIENT_SECRET, tenantId / tenant_id / AZURE_TENANT_ID
  // and optionally authorityHost / AZURE_AUTHORITY_HOST. kInvalidArgument names
  // the missing keys (never the values).
  static StatusOr<ClientSecretConfig> FromSecretData(
      const std::map<std::string, std::string>& data);
};

class ClientSecretCredential final : public CachingCredential {
 public:
  ClientSecretCredential(ClientSecretConfig config, CredentialOptions options);
  std::string Describe() const override;

 private:
  StatusOr<AccessToken> Fetch(const std::string& scope) override;

  ClientSecretConfig config_;
  CredentialOptions options_;
  std::unique_ptr<http::Client> owned_http_;
  http::Client& http_;
};

}  // namespace vmrelease::azure

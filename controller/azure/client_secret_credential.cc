#include "controller/azure/client_secret_credential.h"

#include "controller/azure/credential_entra.h"
#include "controller/common/log.h"
#include "controller/common/strings.h"

namespace vmrelease::azure {
namespace {

std::string First(const std::map<std::string, std::string>& m,
                  std::initializer_list<const char*> keys) {
  for (const char* k : keys)
    if (auto it = m.find(k); it != m.end() && !it->second.empty()) return it->second;
  return "";
}

// Secrets are often created with `kubectl create secret --from-file`, which
// keeps a trailing newline.
}  // namespace

StatusOr<ClientSecretConfig> ClientSecretConfig::FromEnvironment(const Environment& env) {
  ClientSecretConfig c{.tenant_id = First(env, {"AZURE_TENANT_ID"}),
                       .client_id = First(env, {"AZURE_CLIENT_ID"}),
                       .client_secret = First(env, {"AZURE_CLIENT_SECRET"}),
                       .authority_host = First(env, {"AZURE_AUTHORITY_HOST"})};
  std::string missing;
  if (c.tenant_id.empty()) missing += " AZURE_TENANT_ID";
  if (c.client_id.empty()) missing += " AZURE_CLIENT_ID";
  if (c.client_secret.empty()) missing += " AZURE_CLIENT_SECRET";
  if (!missing.empty()) return NotFoundError("not set:" + missing);
  log::RegisterSecret(c.client_secret);
  return c;
}

StatusOr<ClientSecretConfig> ClientSecretConfig::FromSecretData(
    const std::map<std::string, std::string>& data) {
  ClientSecretConfig c{
      .tenant_id = Trim(First(data, {"tenantId", "tenant_id", "AZURE_TENANT_ID"})),
      .client_id = Trim(First(data, {"clientId", "client_id", "AZURE_CLIENT_ID"})),
      .client_secret = Trim(First(data, {"clientSecret", "client_secret", "AZURE_CLIENT_SECRET"})),
      .authority_host = Trim(First(data, {"authorityHost", "AZURE_AUTHORITY_HOST"}))};
  std::string missing;
  if (c.tenant_id.empty()) missing += " tenantId";
  if (c.client_id.empty()) missing += " clientId";
  if (c.client_secret.empty()) missing += " clientSecret";
  if (!missing.empty()) return InvalidArgumentError("credentials secret lacks keys:" + missing);
  log::RegisterSecret(c.client_secret);
  return c;
}

ClientSecretCredential::ClientSecretCredential(ClientSecretConfig config, CredentialOptions options)
    : CachingCredential(options.clock, options.refresh_before),
      config_(std::move(config)),
      options_(std::move(options)),
      owned_http_(options_.http ? nullptr : std::make_unique<http::Client>()),
      http_(options_.http ? *options_.http : *owned_http_) {
  log::RegisterSecret(config_.client_secret);
}

std::string ClientSecretCredential::Describe() const {
  return "client secret (client " + ShortId(config_.client_id) + ", tenant " +
         ShortId(config_.tenant_id) + ")";
}

StatusOr<AccessToken> ClientSecretCredential::Fetch(const std::string& scope) {
  const std::string authority =
      config_.authority_host.empty() ? options_.authority_host : config_.authority_host;
  return ExchangeEntraToken(http_, options_, authority, config_.tenant_id,
                            {{"client_id", config_.client_id},
                             {"scope", scope},
                             {"client_secret", config_.client_secret}},
                            "client secret credential");
}

}  // namespace vmrelease::azure

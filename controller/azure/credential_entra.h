// The Entra ID (v2.0) token endpoint exchange shared by the client-secret and
// workload-identity credentials: one form POST to
// {authority_host}{tenant}/oauth2/v2.0/token with grant_type=client_credentials.
//
//   ASSIGN_OR_RETURN(AccessToken t, ExchangeEntraToken(http, options, tenant,
//       {{"client_id", id}, {"scope", scope}, {"client_secret", secret}}, "client secret"));
//
// Errors: a 4xx answer becomes kUnauthenticated (invalid_client, AADSTS7000215,
// ...) or kInvalidArgument (invalid_scope, invalid_request) with the OAuth
// `error` in ErrorDetail::reason and the AADSTS code in the message; 429/5xx and
// transport failures are retried `options.max_attempts` times with backoff, then
// returned as kUnavailable. Form values never appear in messages or logs.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "controller/azure/credential.h"
#include "controller/azure/credential_options.h"
#include "controller/common/status.h"

namespace vmrelease::azure {

using FormFields = std::vector<std::pair<std::string, std::string>>;

// `what` names the credential for error messages ("client secret credential").
// grant_type=client_credentials is added by this function.
StatusOr<AccessToken> ExchangeEntraToken(http::Client& http, const CredentialOptions& options,
                                         const std::string& authority_host,
                                         const std::string& tenant_id, FormFields form,
                                         const std::string& what);

// "https://login.microsoftonline.com" → "https://login.microsoftonline.com/".
std::string NormalizeAuthorityHost(std::string host);

// Tenant ids are GUIDs or verified domain names; anything else (a slash, a
// query) is refused so it cannot change the endpoint path.
bool IsValidTenantId(const std::string& tenant_id);

}  // namespace vmrelease::azure

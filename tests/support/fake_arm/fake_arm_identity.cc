// The fake's identity endpoints: the Entra v2.0 token endpoint (client secret
// and federated assertion) and IMDS, with the request and response shapes of
// reference/azure/auth.md.
#include "controller/common/crypto.h"
#include "tests/support/fake_arm/fake_arm_state.h"

namespace vmrelease::fake_arm {
namespace {

Reply OAuthError(int status, const std::string& error, const std::string& aadsts,
                 const std::string& description) {
  return Reply{.status = status,
               .body = {{"error", error},
                        {"error_description", aadsts + ": " + description + "\r\nTrace ID: " +
                                                  NewUuid() + "\r\nCorrelation ID: " + NewUuid()},
                        {"error_codes", {std::stoi(aadsts.substr(6))}},
                        {"timestamp", "2026-01-01 00:00:00Z"},
                        {"trace_id", NewUuid()},
                        {"correlation_id", NewUuid()}}};
}

std::string Issue(FakeArm::State& s, const std::string& audience) {
  const std::string token = "fake-arm-token-" + RandomHex(40);
  s.tokens[token] = Token{
      .audience = audience,
      .expires = s.Now() + std::chrono::duration_cast<WallTime::duration>(s.opts.token_lifetime)};
  ++s.tokens_issued;
  return token;
}

long long LifetimeSeconds(const FakeArm::State& s) {
  return std::chrono::duration_cast<std::chrono::seconds>(s.opts.token_lifetime).count();
}

// IMDS's answer when the VM has no (such) identity.
Reply ImdsIdentityNotFound() {
  return Reply{.status = 400,
               .body = {{"error", "invalid_request"}, {"error_description", "Identity not found"}}};
}

}  // namespace

Reply HandleEntraToken(FakeArm::State& s, const http::ServerRequest& req,
                       const std::string& tenant) {
  if (req.method != "POST")
    return OAuthError(405, "invalid_request", "AADSTS90056",
                      "The token endpoint only accepts POST.");
  const std::map<std::string, std::string> form = http::ParseQuery(req.body);
  auto field = [&](const char* k) {
    auto it = form.find(k);
    return it == form.end() ? std::string() : it->second;
  };
  if (field("grant_type") != "client_credentials")
    return OAuthError(400, "unsupported_grant_type", "AADSTS70003",
                      "The app requested an unsupported grant type.");
  const std::string scope = field("scope");
  if (scope.size() < 9 || scope.substr(scope.size() - 9) != "/.default")
    return OAuthError(400, "invalid_scope", "AADSTS70011",
                      "The provided value for the input parameter 'scope' is not valid.");
  const std::string client_id = field("client_id");
  const std::string key = tenant + "/" + client_id;
  const std::string assertion = field("client_assertion");
  if (!assertion.empty()) {
    s.assertions_seen.push_back(assertion);
    if (field("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
      return OAuthError(400, "invalid_request", "AADSTS50027", "Invalid client_assertion_type.");
    if (!s.federated.count(key))
      return OAuthError(400, "unauthorized_client", "AADSTS700016",
                        "Application with identifier '" + client_id +
                            "' was not found in the directory '" + tenant + "'.");
    if (s.expired_assertions.count(assertion))
      return OAuthError(400, "invalid_client", "AADSTS700024",
                        "Client assertion is not within its valid time range.");
    if (!s.good_assertions.count(assertion))
      return OAuthError(400, "invalid_client", "AADSTS70021",
                        "No matching federated identity record found for presented assertion.");
  } else {
    auto app = s.app_secrets.find(key);
    if (app == s.app_secrets.end())
      return OAuthError(400, "unauthorized_client", "AADSTS700016",
                        "Application with identifier '" + client_id +
                            "' was not found in the directory '" + tenant + "'.");
    if (field("client_secret") != app->second)
      return OAuthError(401, "invalid_client", "AADSTS7000215", "Invalid client secret provided.");
  }
  const long long lifetime = LifetimeSeconds(s);
  return Reply{.status = 200,
               .body = {{"token_type", "Bearer"},
                        {"expires_in", lifetime},
                        {"ext_expires_in", lifetime},
                        {"access_token", Issue(s, scope)}}};
}

Reply HandleImds(FakeArm::State& s, const http::ServerRequest& req) {
  if (req.headers.Get("Metadata") != "true")
    return Reply{.status = 400,
                 .body = {{"error", "invalid_request"},
                          {"error_description", "Required metadata header not specified"}}};
  if (s.imds_failures > 0) {
    --s.imds_failures;
    if (s.imds_failure_status == 400) return ImdsIdentityNotFound();
    return Reply{.status = s.imds_failure_status,
                 .body = {{"error", "unknown"},
                          {"error_description", "IMDS is temporarily unavailable (injected)"}}};
  }
  auto param = [&](const char* k) {
    auto it = req.params.find(k);
    return it == req.params.end() ? std::string() : it->second;
  };
  if (param("api-version").empty())
    return Reply{
        .status = 400,
        .body = {{"error", "invalid_request"},
                 {"error_description", "Required query variable 'api-version' is missing"}}};
  const std::string resource = param("resource");
  if (resource.empty())
    return Reply{.status = 400,
                 .body = {{"error", "invalid_request"},
                          {"error_description", "Required query variable 'resource' is missing"}}};
  // Which identity: the one named by client_id; else the system-assigned one;
  // else the only user-assigned one. IMDS answers 400 with these bodies when
  // there is none, or several and the request did not choose.
  std::string client_id = param("client_id");
  if (!param("object_id").empty() || !param("msi_res_id").empty()) {
    return ImdsIdentityNotFound();  // the fake knows identities by client id only
  } else if (!client_id.empty()) {
    if (!s.managed_identities.count(client_id)) return ImdsIdentityNotFound();
  } else if (!s.managed_identities.count("")) {
    if (s.managed_identities.empty()) return ImdsIdentityNotFound();
    if (s.managed_identities.size() > 1)
      return Reply{.status = 400,
                   .body = {{"error", "invalid_request"},
                            {"error_description",
                             "Multiple user assigned identities exist, please specify the "
                             "clientId / resourceId of the identity in the token request"}}};
    client_id = *s.managed_identities.begin();
  }
  const long long lifetime = LifetimeSeconds(s);
  const long long now =
      std::chrono::duration_cast<std::chrono::seconds>(s.Now().time_since_epoch()).count();
  return Reply{.status = 200,
               .body = {{"access_token", Issue(s, resource)},
                        {"refresh_token", ""},
                        {"expires_in", std::to_string(lifetime)},
                        {"expires_on", std::to_string(now + lifetime)},
                        {"not_before", std::to_string(now)},
                        {"resource", resource},
                        {"token_type", "Bearer"}}};
}

}  // namespace vmrelease::fake_arm

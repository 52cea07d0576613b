#include "controller/azure/credential_entra.h"

#include <cctype>
#include <nlohmann/json.hpp>

#include "controller/azure/azure_error.h"
#include "controller/common/json_depth.h"
#include "controller/common/log.h"

namespace vmrelease::azure {
namespace {

// `expires_in` is a number in v2.0 responses but a string in IMDS-style ones;
// accept both.
std::optional<long long> NumberField(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end()) return std::nullopt;
  if (it->is_number_integer()) return it->get<long long>();
  if (it->is_number()) return static_cast<long long>(it->get<double>());
  if (it->is_string()) {
    try {
      size_t pos = 0;
      const std::string s = it->get<std::string>();
      long long v = std::stoll(s, &pos);
      if (pos == s.size()) return v;
    } catch (const std::exception&) {
    }
  }
  return std::nullopt;
}

Status EntraError(const http::Response& r, const std::string& what) {
  ErrorDetail detail;
  detail.http_status = r.status;
  detail.retry_after = ParseRetryAfter(r.headers);
  std::string error, description;
  try {
    const auto j = ParseJsonBounded(r.body, kMaxServiceJsonDepth).value_or(nlohmann::json());
    if (j.is_object()) {
      if (auto it = j.find("error"); it != j.end() && it->is_string()) error = *it;
      if (auto it = j.find("error_description"); it != j.end() && it->is_string())
        description = *it;
      if (auto it = j.find("correlation_id"); it != j.end() && it->is_string())
        detail.correlation_id = *it;
    }
  } catch (const nlohmann::json::exception&) {
  }
  detail.reason = error;
  // The first line of the description carries the AADSTS code and the gist;
  // the rest is trace and correlation ids.
  if (auto nl = description.find_first_of("\r\n"); nl != std::string::npos) description.resize(nl);
  std::string message = what + ": token endpoint answered HTTP " + std::to_string(r.status);
  if (!error.empty()) message += ": " + error;
  if (!description.empty()) message += ": " + description;
  StatusCode code = StatusCode::kUnauthenticated;
  if (r.status == 429) {
    code = StatusCode::kResourceExhausted;
  } else if (r.status >= 500) {
    code = StatusCode::kUnavailable;
  } else if (error == "invalid_scope" || error == "invalid_request") {
    code = StatusCode::kInvalidArgument;
  }
  return Status(code, log::Redact(message), std::move(detail));
}

bool Transient(const Status& s) {
  return s.code() == StatusCode::kUnavailable || s.code() == StatusCode::kDeadlineExceeded ||
         s.code() == StatusCode::kResourceExhausted;
}

}  // namespace

std::string NormalizeAuthorityHost(std::string host) {
  if (host.empty()) host = kDefaultAuthorityHost;
  if (host.back() != '/') host.push_back('/');
  return host;
}

bool IsValidTenantId(const std::string& tenant_id) {
  if (tenant_id.empty() || tenant_id.size() > 256) return false;
  for (unsigned char c : tenant_id)
    if (!std::isalnum(c) && c != '-' && c != '.' && c != '_') return false;
  return true;
}

StatusOr<AccessToken> ExchangeEntraToken(http::Client& http, const CredentialOptions& options,
                                         const std::string& authority_host,
                                         const std::string& tenant_id, FormFields form,
                                         const std::string& what) {
  if (!IsValidTenantId(tenant_id))
    return InvalidArgumentError(what + ": invalid tenant id '" + tenant_id + "'");
  form.emplace_back("grant_type", "client_credentials");
  http::Request req{
      .method = "POST",
      .url = NormalizeAuthorityHost(authority_host) + tenant_id + "/oauth2/v2.0/token",
      .timeout = options.timeout};
  req.headers.Set("Content-Type", "application/x-www-form-urlencoded");
  req.headers.Set("Accept", "application/json");
  req.body = http::BuildQuery(form);

  Clock& clock = options.clock ? *options.clock : RealClock::Get();
  Backoff backoff(options.backoff);
  Status last;
  const int attempts = std::max(1, options.max_attempts);
  for (int attempt = 1; attempt <= attempts; ++attempt) {
    StatusOr<http::Response> r = http.Send(req);
    if (!r.ok()) {
      last = r.status().WithContext(what + ": token endpoint");
    } else if (!r->ok()) {
      last = EntraError(*r, what);
    } else {
      auto parsed = ParseJsonBounded(r->body, kMaxServiceJsonDepth);
      if (!parsed.ok()) {
        return InternalError(what + ": token endpoint returned invalid JSON: " +
                             std::string(parsed.status().message()));
      }
      nlohmann::json j = std::move(*parsed);
      if (!j.is_object() || !j.contains("access_token") || !j["access_token"].is_string())
        return InternalError(what + ": token endpoint response has no access_token");
      const auto expires_in = NumberField(j, "expires_in");
      if (!expires_in || *expires_in <= 0)
        return InternalError(what + ": token endpoint response has no valid expires_in");
      AccessToken token{.token = j["access_token"].get<std::string>(),
                        .expires_on = clock.WallNow() + std::chrono::seconds(*expires_in)};
      log::RegisterSecret(token.token);
      return token;
    }
    if (!Transient(last) || attempt == attempts) break;
    log::Warn("azure.credential", "token request failed; retrying",
              {{"credential", what}, {"attempt", attempt}, {"error", last.ToString()}});
    SleepBeforeTokenRetry(options, clock, backoff, last);
  }
  return last;
}

}  // namespace vmrelease::azure

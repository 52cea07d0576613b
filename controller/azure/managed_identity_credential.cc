#include "controller/azure/managed_identity_credential.h"

#include <nlohmann/json.hpp>

#include "controller/azure/azure_error.h"
#include "controller/common/json_depth.h"
#include "controller/common/log.h"

namespace vmrelease::azure {
namespace {

std::optional<long long> StringOrNumber(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end()) return std::nullopt;
  if (it->is_number_integer()) return it->get<long long>();
  if (!it->is_string()) return std::nullopt;
  try {
    size_t pos = 0;
    const std::string s = it->get<std::string>();
    const long long v = std::stoll(s, &pos);
    if (pos == s.size()) return v;
  } catch (const std::exception&) {
  }
  return std::nullopt;
}

bool RetryableImdsStatus(int status) {
  return status == 404 || status == 410 || status == 429 || status >= 500;
}

Status ImdsError(const http::Response& r) {
  ErrorDetail detail;
  detail.http_status = r.status;
  detail.retry_after = ParseRetryAfter(r.headers);
  std::string message = "managed identity: IMDS answered HTTP " + std::to_string(r.status);
  try {
    const auto j = ParseJsonBounded(r.body, kMaxServiceJsonDepth).value_or(nlohmann::json());
    if (j.is_object()) {
      if (auto it = j.find("error"); it != j.end() && it->is_string()) {
        detail.reason = *it;
        message += ": " + it->get<std::string>();
      }
      if (auto it = j.find("error_description"); it != j.end() && it->is_string())
        message += ": " + it->get<std::string>();
    }
  } catch (const nlohmann::json::exception&) {
  }
  StatusCode code = StatusCode::kUnauthenticated;
  if (RetryableImdsStatus(r.status)) code = StatusCode::kUnavailable;
  if (r.status == 400) {
    // IMDS answers 400 when no identity is assigned to this VM, the requested
    // one is not, or several user-assigned identities exist and none was
    // chosen ("Identity not found", "Multiple user assigned identities
    // exist, ..."): managed identity is not available here, which is not the
    // same as being refused. A credential chain moves on, as the Azure SDKs'
    // DefaultAzureCredential does (CredentialUnavailableError).
    code = StatusCode::kFailedPrecondition;
    detail.reason = kCredentialUnavailable;
  }
  return Status(code, log::Redact(message), std::move(detail));
}

}  // namespace

StatusOr<std::unique_ptr<ManagedIdentityCredential>> ManagedIdentityCredential::Create(
    ManagedIdentityConfig config, CredentialOptions options) {
  const int selectors =
      !config.client_id.empty() + !config.object_id.empty() + !config.resource_id.empty();
  if (selectors > 1)
    return InvalidArgumentError(
        "managed identity: set at most one of client_id, object_id and resource_id");
  return std::unique_ptr<ManagedIdentityCredential>(
      new ManagedIdentityCredential(std::move(config), std::move(options)));
}

ManagedIdentityCredential::ManagedIdentityCredential(ManagedIdentityConfig config,
                                                     CredentialOptions options)
    : CachingCredential(options.clock, options.refresh_before),
      config_(std::move(config)),
      options_(std::move(options)),
      owned_http_(options_.http ? nullptr : std::make_unique<http::Client>()),
      http_(options_.http ? *options_.http : *owned_http_) {}

std::string ManagedIdentityCredential::Describe() const {
  if (!config_.client_id.empty())
    return "managed identity (client " + ShortId(config_.client_id) + ")";
  if (!config_.object_id.empty())
    return "managed identity (object " + ShortId(config_.object_id) + ")";
  if (!config_.resource_id.empty()) return "managed identity (" + config_.resource_id + ")";
  return "managed identity (system-assigned)";
}

StatusOr<AccessToken> ManagedIdentityCredential::Fetch(const std::string& scope) {
  std::vector<std::pair<std::string, std::string>> query{{"api-version", kApiVersion},
                                                         {"resource", ScopeToResource(scope)}};
  if (!config_.client_id.empty()) query.emplace_back("client_id", config_.client_id);
  if (!config_.object_id.empty()) query.emplace_back("object_id", config_.object_id);
  if (!config_.resource_id.empty()) query.emplace_back("msi_res_id", config_.resource_id);
  std::string base = options_.imds_endpoint.empty() ? kDefaultImdsEndpoint : options_.imds_endpoint;
  while (!base.empty() && base.back() == '/') base.pop_back();
  http::Request req{.method = "GET",
                    .url = base + "/metadata/identity/oauth2/token?" + http::BuildQuery(query),
                    .timeout = config_.timeout};
  req.headers.Set("Metadata", "true");

  Clock& clock = this->clock();
  Backoff backoff(config_.backoff);
  Status last;
  const int attempts = std::max(1, config_.max_attempts);
  for (int attempt = 1; attempt <= attempts; ++attempt) {
    StatusOr<http::Response> r = http_.Send(req);
    if (!r.ok()) {
      // Nothing listens: not on Azure, or IMDS blocked. Retrying only delays the chain.
      ErrorDetail detail = r.status().detail();
      detail.reason = kCredentialUnavailable;
      return Status(StatusCode::kUnavailable,
                    "managed identity: IMDS unreachable at " + base + ": " + r.status().message(),
                    std::move(detail));
    }
    if (r->ok()) {
      auto parsed = ParseJsonBounded(r->body, kMaxServiceJsonDepth);
      if (!parsed.ok()) {
        return InternalError("managed identity: IMDS returned invalid JSON: " +
                             std::string(parsed.status().message()));
      }
      nlohmann::json j = std::move(*parsed);
      if (!j.is_object() || !j.contains("access_token") || !j["access_token"].is_string())
        return InternalError("managed identity: IMDS response has no access_token");
      AccessToken token{.token = j["access_token"].get<std::string>()};
      log::RegisterSecret(token.token);
      if (auto on = StringOrNumber(j, "expires_on")) {
        token.expires_on = WallTime(std::chrono::seconds(*on));
      } else if (auto in = StringOrNumber(j, "expires_in")) {
        token.expires_on = clock.WallNow() + std::chrono::seconds(*in);
      } else {
        return InternalError("managed identity: IMDS response has no expires_on/expires_in");
      }
      return token;
    }
    last = ImdsError(*r);
    if (!RetryableImdsStatus(r->status) || attempt == attempts) break;
    log::Warn("azure.credential", "IMDS token request failed; retrying",
              {{"attempt", attempt}, {"http_status", r->status}, {"error", last.message()}});
    SleepBeforeTokenRetry(options_, clock, backoff, last);
  }
  return last;
}

}  // namespace vmrelease::azure

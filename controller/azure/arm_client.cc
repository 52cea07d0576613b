#include "controller/azure/arm_client.h"

#include <algorithm>
#include <cctype>

#include "controller/azure/azure_error.h"
#include "controller/common/crypto.h"
#include "controller/common/json_depth.h"
#include "controller/common/log.h"
#include "controller/common/strings.h"

namespace vmrelease::azure {
namespace {

constexpr const char* kLogger = "azure.arm";

std::string OriginOf(const std::string& url) {
  http::Url u;
  if (!http::ParseUrl(url, &u)) return "";
  return AsciiLower(u.Origin());
}

// Path without the query string, for logs and messages.
std::string PathOf(const std::string& url) {
  http::Url u;
  if (!http::ParseUrl(url, &u)) return "<invalid url>";
  return u.path;
}

bool RetryableHttpStatus(int status) {
  return status == 408 || status == 429 || (status >= 500 && status != 501 && status != 505);
}

nlohmann::json ParseJsonBody(const std::string& body) {
  if (body.empty()) return nullptr;
  auto j = ParseJsonBounded(body, kMaxServiceJsonDepth);
  return j.ok() ? std::move(*j) : nlohmann::json(nullptr);
}

}  // namespace

std::string NewRequestId() {
  std::string b = RandomBytes(16);
  b[6] = static_cast<char>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<char>((b[8] & 0x3f) | 0x80);
  const std::string hex = HexEncode(b);
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" +
         hex.substr(16, 4) + "-" + hex.substr(20, 12);
}

ArmClient::ArmClient(TokenCredential& credential, ArmClientOptions options)
    : credential_(credential),
      options_(std::move(options)),
      owned_http_(options_.http ? nullptr : std::make_unique<http::Client>()),
      http_(options_.http ? *options_.http : *owned_http_),
      clock_(options_.clock ? *options_.clock : RealClock::Get()) {
  while (!options_.base_url.empty() && options_.base_url.back() == '/')
    options_.base_url.pop_back();
  origin_ = OriginOf(options_.base_url);
  if (options_.sleep) {
    sleep_ = options_.sleep;
  } else {
    sleep_ = [this](Duration d) { clock_.SleepFor(d); };
  }
}

ArmClient::~ArmClient() = default;

ArmClient::Stats ArmClient::stats() const {
  return Stats{.calls = calls_.load(),
               .attempts = attempts_.load(),
               .retries = retries_.load(),
               .auth_retries = auth_retries_.load(),
               .polls = polls_.load()};
}

std::string ArmClient::Url(const std::string& path, const std::string& api_version,
                           const QueryParams& query) const {
  if (path.rfind("http://", 0) == 0 || path.rfind("https://", 0) == 0) return path;
  QueryParams q;
  if (!api_version.empty()) q.emplace_back("api-version", api_version);
  q.insert(q.end(), query.begin(), query.end());
  std::string url = options_.base_url + http::PercentEncode(path, /*keep_slash=*/true);
  if (!q.empty()) url += "?" + http::BuildQuery(q);
  return url;
}

Status ArmClient::CheckOrigin(const std::string& url) const {
  if (OriginOf(url) != origin_ || origin_.empty())
    return InvalidArgumentError("refusing to send ARM credentials to " + OriginOf(url) +
                                " (expected " + origin_ + ")");
  return Status::Ok();
}

StatusOr<ArmClient::Attempted> ArmClient::Execute(const std::string& method, const std::string& url,
                                                  const std::string& body,
                                                  const http::Headers& extra_headers,
                                                  bool is_poll) {
  RETURN_IF_ERROR(CheckOrigin(url));
  ++calls_;
  const std::string client_request_id = NewRequestId();
  const std::string what = method + " " + PathOf(url);
  const RetryPolicy& policy = options_.retry;
  Backoff backoff(policy.backoff);
  const TimePoint start = clock_.Now();
  bool auth_retried = false;
  int attempt = 0;

  while (true) {
    ++attempt;
    StatusOr<AccessToken> token = credential_.GetToken(options_.scope);
    if (!token.ok()) return token.status().WithContext(what + ": getting an ARM token");

    http::Request req{.method = method, .url = url, .timeout = options_.request_timeout};
    for (const auto& [k, v] : extra_headers) req.headers.Set(k, v);
    req.headers.Set("Authorization", "Bearer " + token->token);
    req.headers.Set("x-ms-client-request-id", client_request_id);
    req.headers.Set("x-ms-return-client-request-id", "true");
    req.headers.Set("Accept", "application/json");
    if (!body.empty()) {
      req.headers.Set("Content-Type", "application/json");
      req.body = body;
    }
    ++attempts_;
    const TimePoint sent = clock_.Now();
    StatusOr<http::Response> r = http_.Send(req);
    if (options_.on_response) options_.on_response(r.ok() ? r->status : 0);

    std::optional<Duration> retry_after;
    std::string failure;
    if (!r.ok()) {
      failure = r.status().ToString();
    } else {
      const int status = r->status;
      const log::Level level = is_poll ? log::Level::kDebug : log::Level::kInfo;
      if (log::Enabled(level)) {
        log::Write(
            level, kLogger, "arm request",
            {{"method", method},
             {"path", PathOf(url)},
             {"status", status},
             {"attempt", attempt},
             {"client_request_id", client_request_id},
             {"correlation_id", r->headers.Get("x-ms-correlation-request-id")},
             {"request_id", r->headers.Get("x-ms-request-id")},
             {"duration_ms",
              std::chrono::duration_cast<std::chrono::milliseconds>(clock_.Now() - sent).count()}});
      }
      if (status == 401 && !auth_retried) {
        // The token may have expired or been revoked early: one fresh token, once.
        auth_retried = true;
        ++auth_retries_;
        credential_.Invalidate(options_.scope);
        log::Warn(kLogger, "ARM rejected the token; retrying with a new one",
                  {{"method", method},
                   {"path", PathOf(url)},
                   {"client_request_id", client_request_id},
                   {"www_authenticate", r->headers.Get("WWW-Authenticate")}});
        continue;
      }
      if (!RetryableHttpStatus(status)) return Attempted{std::move(*r), client_request_id};
      retry_after = ParseRetryAfter(r->headers);
      failure = "HTTP " + std::to_string(status);
    }

    // Transient: decide whether another attempt fits the budget.
    Duration delay = backoff.Next();
    if (retry_after) delay = std::min<Duration>(*retry_after, policy.max_retry_after);
    const Duration elapsed = clock_.Now() - start;
    if (attempt >= policy.max_attempts || elapsed + delay > policy.max_elapsed) {
      log::Warn(kLogger, "giving up on ARM request",
                {{"method", method},
                 {"path", PathOf(url)},
                 {"attempts", attempt},
                 {"client_request_id", client_request_id},
                 {"error", failure}});
      if (!r.ok())
        return r.status().WithContext(what + ": giving up after " + std::to_string(attempt) +
                                      " attempts");
      return Attempted{std::move(*r), client_request_id};
    }
    ++retries_;
    log::Warn(kLogger, "retrying ARM request",
              {{"method", method},
               {"path", PathOf(url)},
               {"attempt", attempt},
               {"client_request_id", client_request_id},
               {"error", failure},
               {"delay_ms", std::chrono::duration_cast<std::chrono::milliseconds>(delay).count()}});
    sleep_(delay);
  }
}

StatusOr<ArmResponse> ArmClient::Call(const ArmRequest& request) {
  const std::string url = Url(request.path, request.api_version, request.query);
  const std::string body = request.body ? request.body->dump() : std::string();
  ASSIGN_OR_RETURN(Attempted a, Execute(request.method, url, body, request.headers, false));
  if (!a.response.ok()) return ArmHttpError(a.response, request.method + " " + PathOf(url));
  ArmResponse out;
  out.status = a.response.status;
  out.body = ParseJsonBody(a.response.body);
  out.client_request_id = a.client_request_id;
  out.correlation_id = a.response.headers.Get("x-ms-correlation-request-id");
  out.headers = std::move(a.response.headers);
  return out;
}

StatusOr<nlohmann::json> ArmClient::Get(const std::string& path, const std::string& api_version,
                                        const QueryParams& query) {
  ASSIGN_OR_RETURN(
      ArmResponse r,
      Call({.method = "GET", .path = path, .api_version = api_version, .query = query}));
  return std::move(r.body);
}

StatusOr<Operation> ArmClient::Begin(const ArmRequest& request) {
  const std::string url = Url(request.path, request.api_version, request.query);
  const std::string body = request.body ? request.body->dump() : std::string();
  ASSIGN_OR_RETURN(Attempted a, Execute(request.method, url, body, request.headers, false));
  const std::string what = request.method + " " + PathOf(url);
  if (request.method == "DELETE" && (a.response.status == 404 || a.response.status == 204)) {
    // Deleting what is not there is done (ARM answers 204; some RPs 404).
    Operation op;
    op.ref = OperationRef{.method = "DELETE", .resource_url = url};
    op.state = OperationState::kSucceeded;
    op.status_text = "Succeeded";
    return op;
  }
  if (!a.response.ok()) return ArmHttpError(a.response, what);
  Operation op =
      InterpretInitialResponse(request.method, url, a.response, options_.default_poll_interval);
  op.retry_after = std::min<Duration>(op.retry_after, options_.retry.max_retry_after);
  for (const std::string* u : {&op.ref.async_url, &op.ref.location_url})
    if (!u->empty()) RETURN_IF_ERROR(CheckOrigin(*u), what + ": polling URL");
  return op;
}

Operation ArmClient::Adopt(const std::string& path, const std::string& api_version,
                           const nlohmann::json& existing) const {
  const http::Response as_created{.status = 200, .body = existing.dump()};
  return InterpretInitialResponse("PUT", Url(path, api_version), as_created,
                                  options_.default_poll_interval);
}

StatusOr<Operation> ArmClient::Poll(const OperationRef& ref) {
  ++polls_;
  ASSIGN_OR_RETURN(Attempted a, Execute("GET", ref.poll_url(), "", {}, /*is_poll=*/true));
  ASSIGN_OR_RETURN(PollStep step,
                   InterpretPollResponse(ref, a.response, options_.default_poll_interval));
  step.op.retry_after = std::min<Duration>(step.op.retry_after, options_.retry.max_retry_after);
  if (!step.op.ref.location_url.empty())
    RETURN_IF_ERROR(CheckOrigin(step.op.ref.location_url), "polling URL");
  if (step.final_get_url.empty()) return std::move(step.op);
  ASSIGN_OR_RETURN(Attempted f, Execute("GET", step.final_get_url, "", {}, /*is_poll=*/true));
  if (f.response.status == 204) return std::move(step.op);
  if (!f.response.ok())
    return ArmHttpError(f.response,
                        "reading the result of " + ref.method + " " + PathOf(ref.resource_url));
  step.op.result = ParseJsonBody(f.response.body);
  return std::move(step.op);
}

StatusOr<Operation> ArmClient::Wait(Operation op, Duration timeout) {
  return WaitForOperation(*this, std::move(op), clock_, sleep_, timeout);
}

}  // namespace vmrelease::azure

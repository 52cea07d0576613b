// ArmClient: authenticated Azure Resource Manager requests with retries,
// throttling, token refresh and long-running operations.
//
//   ArmClient arm(credential, {.base_url = "https://management.azure.com"});
//   ASSIGN_OR_RETURN(nlohmann::json vm, arm.Get(vm_id, kComputeApiVersion, {{"$expand",
//   "instanceView"}})); ASSIGN_OR_RETURN(Operation op, arm.Begin({.method = "PUT", .path = vm_id,
//                                             .api_version = kComputeApiVersion, .body = body}));
//   ASSIGN_OR_RETURN(op, arm.Wait(op, std::chrono::minutes(30)));   // tests / CLI only
//
// Guarantees:
// - Every call carries a fresh x-ms-client-request-id (reused across its own
//   retries) and is logged with it and the x-ms-correlation-request-id /
//   x-ms-request-id ARM returns. Bearer tokens never reach a log line.
// - 429, 408, 5xx (but 501/505) and transport failures are retried with
//   exponential backoff and jitter, honouring Retry-After, bounded by
//   RetryPolicy::max_attempts and RetryPolicy::max_elapsed (Clock time).
// - A 401 invalidates the cached token and is retried once with a new one.
// - Polling URLs (from headers or a saved OperationRef) must be on the
//   base_url's origin: the bearer token is never sent anywhere else.
// Errors: non-2xx answers become Status via ArmHttpError (see azure_error.h).
// Thread-safe.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "controller/azure/credential.h"
#include "controller/azure/credential_options.h"
#include "controller/azure/lro.h"
#include "controller/common/backoff.h"
#include "controller/http/client.h"

namespace vmrelease::azure {

// api-versions, one per resource type, from the reference examples
// (../shared/reference/azure).
inline constexpr const char* kGalleryApiVersion = "2025-03-03";  // Microsoft.Compute galleries
inline constexpr const char* kComputeApiVersion = "2025-11-01";  // virtualMachines, runCommands
inline constexpr const char* kDiskApiVersion = "2024-03-02";     // Microsoft.Compute/disks (DiskRP)
inline constexpr const char* kNetworkApiVersion = "2025-07-01";  // networkInterfaces
inline constexpr const char* kImageBuilderApiVersion = "2025-10-01";  // imageTemplates

inline constexpr const char* kDefaultArmEndpoint = "https://management.azure.com";

using QueryParams = std::vector<std::pair<std::string, std::string>>;

struct RetryPolicy {
  // Attempts per call, the first included.
  int max_attempts = 8;
  // No retry is started once this much Clock time has passed since the first attempt.
  Duration max_elapsed = std::chrono::minutes(5);
  // Delays when the answer has no Retry-After.
  BackoffPolicy backoff{.initial = std::chrono::seconds(1), .max = std::chrono::seconds(60)};
  // A Retry-After above this is capped (a misbehaving proxy must not park a worker for hours).
  Duration max_retry_after = std::chrono::minutes(10);
};

struct ArmClientOptions {
  std::string base_url = kDefaultArmEndpoint;  // e.g. https://management.usgovcloudapi.net
  std::string scope = kArmScope;               // token scope for base_url
  http::Client* http = nullptr;                // owns one when null
  Clock* clock = nullptr;                      // RealClock when null
  Sleeper sleep;                               // Clock::SleepFor when empty
  RetryPolicy retry;
  std::chrono::milliseconds request_timeout = std::chrono::seconds(60);
  // Poll interval when an operation answer has no Retry-After.
  Duration default_poll_interval = std::chrono::seconds(15);
  // Called after every HTTP attempt with its status code (0: no answer), e.g. for
  // vmrelease_azure_requests_total. Must be thread-safe and must not block.
  std::function<void(int http_status)> on_response;
};

struct ArmRequest {
  std::string method = "GET";
  // A resource path ("/subscriptions/...") or an absolute URL on base_url's origin
  // (then api_version and query are not added).
  std::string path;
  std::string api_version;
  QueryParams query;  // extra parameters, e.g. {"$expand", "instanceView"}
  std::optional<nlohmann::json> body;
  http::Headers headers;  // extra headers, e.g. If-None-Match
};

struct ArmResponse {
  int status = 0;
  http::Headers headers;
  nlohmann::json body;  // null when empty or not JSON
  std::string client_request_id;
  std::string correlation_id;
};

class ArmClient final : public OperationPoller {
 public:
  struct Stats {
    int calls = 0;         // logical calls (Call/Begin/Poll round trips)
    int attempts = 0;      // HTTP requests sent
    int retries = 0;       // attempts repeated after 429/5xx/transport errors
    int auth_retries = 0;  // attempts repeated after a 401
    int polls = 0;         // operation status reads
  };

  ArmClient(TokenCredential& credential, ArmClientOptions options);
  ~ArmClient() override;

  // One call; a non-2xx answer (after retries) is an error.
  StatusOr<ArmResponse> Call(const ArmRequest& request);
  // GET `path`; the parsed body.
  StatusOr<nlohmann::json> Get(const std::string& path, const std::string& api_version,
                               const QueryParams& query = {});
  // Starts a PUT/PATCH/DELETE/POST that may run long. DELETE of a missing
  // resource (404/204) is an already Succeeded operation.
  StatusOr<Operation> Begin(const ArmRequest& request);
  StatusOr<Operation> Poll(const OperationRef& ref) override;
  // An existing resource (its GET body) as the operation that made it: done
  // when its provisioningState is terminal, else followed by polling the
  // resource itself. Lets a retried create continue where an earlier one left.
  Operation Adopt(const std::string& path, const std::string& api_version,
                  const nlohmann::json& existing) const;
  // Blocks (through the sleeper) until `op` is done; see WaitForOperation.
  StatusOr<Operation> Wait(Operation op, Duration timeout);

  // The absolute URL for a resource path.
  std::string Url(const std::string& path, const std::string& api_version,
                  const QueryParams& query = {}) const;
  Stats stats() const;
  Clock& clock() const { return clock_; }
  const Sleeper& sleeper() const { return sleep_; }
  const std::string& base_url() const { return options_.base_url; }

 private:
  struct Attempted {
    http::Response response;
    std::string client_request_id;
  };
  // Sends with auth, retries and logging. Returns the final HTTP answer (which
  // may be an error status once retries are used up) or a transport error.
  StatusOr<Attempted> Execute(const std::string& method, const std::string& url,
                              const std::string& body, const http::Headers& extra_headers,
                              bool is_poll);
  Status CheckOrigin(const std::string& url) const;

  TokenCredential& credential_;
  ArmClientOptions options_;
  std::string origin_;
  std::unique_ptr<http::Client> owned_http_;
  http::Client& http_;
  Clock& clock_;
  Sleeper sleep_;
  std::atomic<int> calls_{0}, attempts_{0}, retries_{0}, auth_retries_{0}, polls_{0};
};

// A random RFC 4122 version-4 UUID ("3f2b…-…"), used for x-ms-client-request-id.
std::string NewRequestId();

}  // namespace vmrelease::azure

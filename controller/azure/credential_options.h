// Settings shared by every credential: endpoints (so sovereign clouds and tests
// can point elsewhere), the HTTP client, time, and the refresh margin.
//
//   CredentialOptions opts{.authority_host = fake->base_url() + "/", .clock = &clock,
//                          .sleep = [&](Duration d) { clock.Advance(d); }};
//   ClientSecretCredential cred(config, opts);
//
// Every field has a production default; tests override the endpoints, the clock
// and the sleeper so that retries and expiry are exercised without waiting.
#pragma once

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <string>

#include "controller/common/backoff.h"
#include "controller/common/clock.h"
#include "controller/http/client.h"

namespace vmrelease::azure {

// How code in this folder waits between attempts. Defaults to Clock::SleepFor;
// tests inject one that records the delay and advances a ManualClock.
using Sleeper = std::function<void(Duration)>;

// Environment variables as a map, so configuration is testable without setenv.
using Environment = std::map<std::string, std::string>;

// The Azure-related variables of this process's environment
// (AZURE_CLIENT_ID, AZURE_TENANT_ID, AZURE_CLIENT_SECRET, AZURE_FEDERATED_TOKEN_FILE,
// AZURE_AUTHORITY_HOST).
Environment ProcessEnvironment();

inline constexpr const char* kDefaultAuthorityHost = "https://login.microsoftonline.com/";
inline constexpr const char* kDefaultImdsEndpoint = "http://169.254.169.254";

struct CredentialOptions {
  // Entra ID authority, e.g. https://login.microsoftonline.us/ for US Gov.
  std::string authority_host = kDefaultAuthorityHost;
  // IMDS base URL (managed identity).
  std::string imds_endpoint = kDefaultImdsEndpoint;
  // Shared HTTP client; the credential owns one when null.
  http::Client* http = nullptr;
  // RealClock when null.
  Clock* clock = nullptr;
  // Clock::SleepFor when empty.
  Sleeper sleep;
  // Tokens are refreshed this long before they expire (at the latest half-way
  // through their lifetime, so short-lived tokens are not refetched on every call).
  Duration refresh_before = std::chrono::minutes(5);
  // Per-request timeout towards the token endpoint / IMDS.
  std::chrono::milliseconds timeout = std::chrono::seconds(30);
  // Attempts for transient token-endpoint failures (429, 5xx, no answer).
  int max_attempts = 3;
  BackoffPolicy backoff{.initial = std::chrono::seconds(1), .max = std::chrono::seconds(30)};
  // Longest Retry-After honoured before retrying a token request: every Azure
  // call waiting for this token waits with it.
  Duration max_retry_after = std::chrono::seconds(60);
};

// Waits before retrying a token request: the server's Retry-After when `last`
// carries one (capped by max_retry_after), else the next backoff step; through
// options.sleep when set, else clock.SleepFor.
inline void SleepBeforeTokenRetry(const CredentialOptions& options, Clock& clock, Backoff& backoff,
                                  const Status& last) {
  Duration delay = backoff.Next();
  if (last.detail().retry_after) {
    delay = std::min<Duration>(*last.detail().retry_after, options.max_retry_after);
  }
  if (options.sleep) {
    options.sleep(delay);
  } else {
    clock.SleepFor(delay);
  }
}

}  // namespace vmrelease::azure

// TokenCredential: how Azure clients obtain bearer tokens, independent of the
// identity behind them (workload identity, managed identity, client secret).
//
//   StatusOr<AccessToken> t = credential.GetToken("https://management.azure.com/.default");
//   request.headers.Set("Authorization", "Bearer " + t->token);
//
// Implementations cache tokens per scope and refresh them before they expire;
// GetToken may block on a network call. Thread-safe.
#pragma once

#include <string>

#include "controller/common/clock.h"
#include "controller/common/status.h"

namespace vmrelease::azure {

struct AccessToken {
  std::string token;  // secret: never log
  WallTime expires_on;
};

class TokenCredential {
 public:
  virtual ~TokenCredential() = default;
  // `scope` is a resource scope such as "https://management.azure.com/.default"
  // or "https://storage.azure.com/.default".
  virtual StatusOr<AccessToken> GetToken(const std::string& scope) = 0;
  // Drops any cached token for `scope` (e.g. after a 401), so the next
  // GetToken fetches a fresh one.
  virtual void Invalidate(const std::string& scope) = 0;
  // A short description for logs and status ("workload identity (client 1234…)").
  virtual std::string Describe() const = 0;
};

// ErrorDetail::reason of an error meaning "this identity is not available
// here" (e.g. no IMDS endpoint answers) rather than "it was refused": only
// such an error lets a credential chain move on to the next candidate.
inline constexpr const char* kCredentialUnavailable = "CredentialUnavailable";
inline bool IsCredentialUnavailable(const Status& s) {
  return !s.ok() && s.detail().reason == kCredentialUnavailable;
}

// Well-known scopes.
inline constexpr const char* kArmScope = "https://management.azure.com/.default";
inline constexpr const char* kStorageScope = "https://storage.azure.com/.default";

}  // namespace vmrelease::azure

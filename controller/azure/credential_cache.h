// CachingCredential: the token cache every concrete credential builds on.
//
//   class MyCredential : public CachingCredential {
//     StatusOr<AccessToken> Fetch(const std::string& scope) override { ...one network call... }
//   };
//   StatusOr<AccessToken> t = cred.GetToken(kArmScope);   // cached until shortly before expiry
//
// Guarantees:
// - One cached token per scope; a token is served until `refresh_at`, which is
//   `refresh_before` ahead of expiry or half-way through its lifetime, whichever
//   comes first. Time comes from the injected Clock.
// - Concurrent callers share one fetch per scope: while a fetch runs, other
//   callers for the same scope wait for it (or keep using a still-valid token)
//   and receive its result, including its error.
// - A failed refresh falls back to the cached token while it is still valid.
// - Each issued token is registered with log::RegisterSecret and forgotten again
//   once it has expired, so the redaction set does not grow without bound.
#pragma once

#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "controller/azure/credential.h"
#include "controller/azure/credential_options.h"

namespace vmrelease::azure {

class CachingCredential : public TokenCredential {
 public:
  StatusOr<AccessToken> GetToken(const std::string& scope) final;
  void Invalidate(const std::string& scope) final;
  // Number of completed Fetch() calls (tests and metrics).
  int fetch_count() const;
  // Callers currently blocked waiting for another caller's fetch (tests).
  int waiting() const;

 protected:
  CachingCredential(Clock* clock, Duration refresh_before);
  // Obtains a fresh token for `scope`. Called without the cache lock held and
  // never concurrently for the same scope.
  virtual StatusOr<AccessToken> Fetch(const std::string& scope) = 0;
  Clock& clock() const { return clock_; }

 private:
  struct Entry {
    std::optional<AccessToken> token;
    WallTime refresh_at;
    bool fetching = false;
    uint64_t generation = 0;  // bumped when a fetch completes
    std::optional<Status> last_error;
  };
  void RetireLocked(const AccessToken& token);
  void ForgetExpiredLocked(WallTime now);

  Clock& clock_;
  const Duration refresh_before_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, Entry> entries_;
  std::vector<AccessToken> retired_;  // superseded tokens, redacted until they expire
  int fetch_count_ = 0;
  int waiting_ = 0;
};

// Scope → IMDS/v1 resource: "https://management.azure.com/.default" →
// "https://management.azure.com/".
std::string ScopeToResource(const std::string& scope);

// "12345678-…" → "1234…" for descriptions (ids are not secret, but short is readable).
std::string ShortId(const std::string& id);

}  // namespace vmrelease::azure

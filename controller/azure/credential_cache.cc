#include "controller/azure/credential_cache.h"

#include <algorithm>
#include <cstdlib>

#include "controller/common/log.h"

namespace vmrelease::azure {

Environment ProcessEnvironment() {
  Environment env;
  for (const char* name : {"AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET",
                           "AZURE_FEDERATED_TOKEN_FILE", "AZURE_AUTHORITY_HOST"}) {
    if (const char* v = std::getenv(name); v != nullptr && *v != '\0') env[name] = v;
  }
  return env;
}

CachingCredential::CachingCredential(Clock* clock, Duration refresh_before)
    : clock_(clock ? *clock : RealClock::Get()), refresh_before_(refresh_before) {}

int CachingCredential::fetch_count() const {
  std::lock_guard g(mu_);
  return fetch_count_;
}

int CachingCredential::waiting() const {
  std::lock_guard g(mu_);
  return waiting_;
}

void CachingCredential::RetireLocked(const AccessToken& token) { retired_.push_back(token); }

void CachingCredential::ForgetExpiredLocked(WallTime now) {
  auto it = std::remove_if(retired_.begin(), retired_.end(), [&](const AccessToken& t) {
    if (now < t.expires_on) return false;
    log::UnregisterSecret(t.token);
    return true;
  });
  retired_.erase(it, retired_.end());
}

StatusOr<AccessToken> CachingCredential::GetToken(const std::string& scope) {
  std::unique_lock lock(mu_);
  ForgetExpiredLocked(clock_.WallNow());
  Entry* e = &entries_[scope];
  while (true) {
    const WallTime now = clock_.WallNow();
    if (e->token && now < e->refresh_at) return *e->token;
    if (!e->fetching) break;
    // A refresh is already running. A token that is still valid is good enough
    // meanwhile; otherwise wait for that refresh and share its outcome.
    if (e->token && now < e->token->expires_on) return *e->token;
    const uint64_t generation = e->generation;
    ++waiting_;
    cv_.wait(lock, [&] { return e->generation != generation; });
    --waiting_;
    if (e->last_error && !(e->token && clock_.WallNow() < e->token->expires_on))
      return *e->last_error;
    if (e->token && clock_.WallNow() < e->token->expires_on) return *e->token;
  }
  e->fetching = true;
  lock.unlock();
  StatusOr<AccessToken> fetched = Fetch(scope);
  lock.lock();
  e->fetching = false;
  ++e->generation;
  ++fetch_count_;
  const WallTime now = clock_.WallNow();
  if (fetched.ok()) {
    log::RegisterSecret(fetched->token);
    if (e->token) RetireLocked(*e->token);
    const Duration lifetime = fetched->expires_on - now;
    const Duration margin = std::min(refresh_before_, lifetime / 2);
    e->token = *fetched;
    e->refresh_at = fetched->expires_on - std::chrono::duration_cast<WallTime::duration>(margin);
    e->last_error.reset();
  } else {
    e->last_error = fetched.status();
  }
  cv_.notify_all();
  if (!fetched.ok()) {
    if (e->token && now < e->token->expires_on) {
      log::Warn(
          "azure.credential", "token refresh failed; using the cached token until it expires",
          {{"credential", Describe()}, {"scope", scope}, {"error", fetched.status().ToString()}});
      return *e->token;
    }
    return fetched.status();
  }
  return *e->token;
}

void CachingCredential::Invalidate(const std::string& scope) {
  std::lock_guard g(mu_);
  auto it = entries_.find(scope);
  if (it == entries_.end() || !it->second.token) return;
  RetireLocked(*it->second.token);
  it->second.token.reset();
}

std::string ScopeToResource(const std::string& scope) {
  static constexpr std::string_view kSuffix = ".default";
  if (scope.size() >= kSuffix.size() &&
      scope.compare(scope.size() - kSuffix.size(), kSuffix.size(), kSuffix) == 0)
    return scope.substr(0, scope.size() - kSuffix.size());
  return scope;
}

std::string ShortId(const std::string& id) {
  if (id.size() <= 8) return id;
  return id.substr(0, 8) + "…";
}

}  // namespace vmrelease::azure

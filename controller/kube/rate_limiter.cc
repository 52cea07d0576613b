#include "controller/kube/rate_limiter.h"

#include <algorithm>
#include <cmath>

namespace vmrelease::kube {

Duration ItemExponentialRateLimiter::When(const std::string& item) {
  int exp;
  {
    std::lock_guard g(mu_);
    exp = failures_[item]++;
  }
  // Computed in double so huge exponents saturate instead of overflowing.
  const double d = static_cast<double>(base_.count()) * std::pow(2.0, std::min(exp, 1000));
  if (d >= static_cast<double>(max_.count())) return max_;
  return Duration(static_cast<Duration::rep>(d));
}

void ItemExponentialRateLimiter::Forget(const std::string& item) {
  std::lock_guard g(mu_);
  failures_.erase(item);
}

int ItemExponentialRateLimiter::NumRequeues(const std::string& item) {
  std::lock_guard g(mu_);
  auto it = failures_.find(item);
  return it == failures_.end() ? 0 : it->second;
}

BucketRateLimiter::BucketRateLimiter(Clock& clock, double qps, int burst)
    : clock_(clock), qps_(qps), burst_(burst), tokens_(burst), last_(clock.Now()) {}

Duration BucketRateLimiter::When(const std::string&) {
  std::lock_guard g(mu_);
  const TimePoint now = clock_.Now();
  if (now > last_) {
    const double elapsed = std::chrono::duration<double>(now - last_).count();
    tokens_ = std::min(burst_, tokens_ + elapsed * qps_);
    last_ = now;
  }
  tokens_ -= 1.0;
  if (tokens_ >= 0) return Duration::zero();
  // The reservation is honoured once the deficit has refilled.
  return std::chrono::duration_cast<Duration>(std::chrono::duration<double>(-tokens_ / qps_));
}

Duration MaxOfRateLimiter::When(const std::string& item) {
  Duration d = Duration::zero();
  for (auto& l : limiters_) d = std::max(d, l->When(item));
  return d;
}

void MaxOfRateLimiter::Forget(const std::string& item) {
  for (auto& l : limiters_) l->Forget(item);
}

int MaxOfRateLimiter::NumRequeues(const std::string& item) {
  int n = 0;
  for (auto& l : limiters_) n = std::max(n, l->NumRequeues(item));
  return n;
}

std::unique_ptr<RateLimiter> DefaultControllerRateLimiter(Clock& clock) {
  std::vector<std::unique_ptr<RateLimiter>> parts;
  parts.push_back(std::make_unique<ItemExponentialRateLimiter>(std::chrono::milliseconds(5),
                                                               std::chrono::seconds(1000)));
  parts.push_back(std::make_unique<BucketRateLimiter>(clock, 10.0, 100));
  return std::make_unique<MaxOfRateLimiter>(std::move(parts));
}

}  // namespace vmrelease::kube

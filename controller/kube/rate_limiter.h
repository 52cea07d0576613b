// Rate limiters for the work queue, with client-go's semantics
// (k8s.io/client-go/util/workqueue/default_rate_limiters.go).
//
//   auto rl = DefaultControllerRateLimiter(clock);   // max(5ms·2^n ≤ 1000s, 10 qps burst 100)
//   Duration d = rl->When("ns/name");                 // how long before the next retry
//   rl->Forget("ns/name");                            // success: reset the per-item backoff
//
// Guarantees: thread-safe; all time comes from the injected Clock.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "controller/common/clock.h"

namespace vmrelease::kube {

class RateLimiter {
 public:
  virtual ~RateLimiter() = default;
  // The delay before `item` may be processed again; counts as one retry.
  virtual Duration When(const std::string& item) = 0;
  // Stops tracking `item` (its next When() starts from the beginning).
  virtual void Forget(const std::string& item) = 0;
  virtual int NumRequeues(const std::string& item) = 0;
};

// base·2^failures, capped at `max`, per item.
class ItemExponentialRateLimiter final : public RateLimiter {
 public:
  ItemExponentialRateLimiter(Duration base, Duration max) : base_(base), max_(max) {}
  Duration When(const std::string& item) override;
  void Forget(const std::string& item) override;
  int NumRequeues(const std::string& item) override;

 private:
  Duration base_, max_;
  std::mutex mu_;
  std::unordered_map<std::string, int> failures_;
};

// A token bucket shared by all items (golang.org/x/time/rate Reserve().Delay()):
// `burst` retries pass at once, then one per 1/qps; reservations queue up, so
// the n-th item beyond the burst waits n/qps.
class BucketRateLimiter final : public RateLimiter {
 public:
  BucketRateLimiter(Clock& clock, double qps, int burst);
  Duration When(const std::string& item) override;
  void Forget(const std::string&) override {}
  int NumRequeues(const std::string&) override { return 0; }

 private:
  Clock& clock_;
  const double qps_;
  const double burst_;
  std::mutex mu_;
  double tokens_;
  TimePoint last_;
};

// The longest delay of its parts; Forget forwards to all.
class MaxOfRateLimiter final : public RateLimiter {
 public:
  explicit MaxOfRateLimiter(std::vector<std::unique_ptr<RateLimiter>> limiters)
      : limiters_(std::move(limiters)) {}
  Duration When(const std::string& item) override;
  void Forget(const std::string& item) override;
  int NumRequeues(const std::string& item) override;

 private:
  std::vector<std::unique_ptr<RateLimiter>> limiters_;
};

// client-go's DefaultControllerRateLimiter: max(per-item 5 ms doubling to 1000 s,
// overall 10 qps with burst 100).
std::unique_ptr<RateLimiter> DefaultControllerRateLimiter(Clock& clock);

}  // namespace vmrelease::kube

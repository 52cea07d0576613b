// Exponential backoff with jitter, shared by every retry loop (watch restarts,
// ARM retries, work-queue rate limiting).
//
//   Backoff b({.initial = 100ms, .max = 30s});
//   while (!TryOnce().ok()) clock.SleepFor(b.Next());
//
// Guarantees: Next() never returns more than `max` (jitter included) and never
// less than zero; the un-jittered sequence is initial * factor^n, capped.
#pragma once

#include <chrono>
#include <cstdint>

#include "controller/common/clock.h"

namespace vmrelease {

struct BackoffPolicy {
  Duration initial = std::chrono::milliseconds(100);
  Duration max = std::chrono::seconds(30);
  double factor = 2.0;
  // Fraction of the delay randomised: the result lies in [d*(1-jitter), d*(1+jitter)] capped at
  // max.
  double jitter = 0.2;
};

class Backoff {
 public:
  explicit Backoff(BackoffPolicy policy = {}) : policy_(policy) {}
  // The delay before the next attempt; grows with every call.
  Duration Next();
  // The delay Next() would give without jitter.
  Duration Peek() const;
  void Reset() { attempts_ = 0; }
  int attempts() const { return attempts_; }

 private:
  BackoffPolicy policy_;
  int attempts_ = 0;
};

// Uniform random double in [0, 1) from a per-thread generator.
double RandomUnit();
// A random duration in [d*(1-jitter), d*(1+jitter)].
Duration Jitter(Duration d, double jitter);

}  // namespace vmrelease

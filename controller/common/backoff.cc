#include "controller/common/backoff.h"

#include <algorithm>
#include <cmath>
#include <random>

namespace vmrelease {

double RandomUnit() {
  thread_local std::mt19937_64 gen(std::random_device{}());
  return std::uniform_real_distribution<double>(0.0, 1.0)(gen);
}

Duration Jitter(Duration d, double jitter) {
  if (jitter <= 0) return d;
  const double f = 1.0 + jitter * (2.0 * RandomUnit() - 1.0);
  return Duration(static_cast<Duration::rep>(static_cast<double>(d.count()) * f));
}

Duration Backoff::Peek() const {
  const double base = static_cast<double>(policy_.initial.count()) *
                      std::pow(policy_.factor, std::min(attempts_, 62));
  const double capped = std::min(base, static_cast<double>(policy_.max.count()));
  return Duration(static_cast<Duration::rep>(capped));
}

Duration Backoff::Next() {
  Duration d = Jitter(Peek(), policy_.jitter);
  ++attempts_;
  return std::clamp(d, Duration::zero(), policy_.max);
}

}  // namespace vmrelease

// Clock: the one source of time for code that waits, backs off or stamps objects.
//
// Production code takes a `Clock&`; tests pass a ManualClock and move time with
// Advance(), so timing behaviour is tested without sleeping.
//
//   std::unique_lock lock(mu_);
//   while (!ready_) clock_.WaitUntil(lock, cv_, deadline);   // wakes on notify or deadline
//
// Guarantees: Now() is monotonic. WallNow() is the calendar time used for
// timestamps (RFC 3339 in Kubernetes objects); ManualClock moves both together.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <string>
#include <string_view>

namespace vmrelease {

using Duration = std::chrono::nanoseconds;
using TimePoint = std::chrono::steady_clock::time_point;
using WallTime = std::chrono::system_clock::time_point;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint Now() const = 0;
  virtual WallTime WallNow() const = 0;
  // Blocks until notified through `cv`, until `deadline` passes on this clock, or
  // spuriously. `lock` must hold the mutex that guards the caller's condition.
  virtual void WaitUntil(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                         TimePoint deadline) = 0;
  // Sleeps for `d` of this clock's time (ManualClock: until Advance() covers it).
  void SleepFor(Duration d);
};

// The process's real clock (steady_clock + system_clock).
class RealClock final : public Clock {
 public:
  TimePoint Now() const override { return std::chrono::steady_clock::now(); }
  WallTime WallNow() const override { return std::chrono::system_clock::now(); }
  void WaitUntil(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                 TimePoint deadline) override {
    cv.wait_until(lock, deadline);
  }
  // A shared instance for code that has no clock injected.
  static RealClock& Get();
};

// A clock that only moves when told to. Waiters are woken by Advance() with
// their own mutex held while notifying, so a wake-up is never lost between a
// waiter's check of Now() and its wait.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(WallTime wall_start = WallTime(std::chrono::seconds(1767225600)));
  TimePoint Now() const override;
  WallTime WallNow() const override;
  void WaitUntil(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                 TimePoint deadline) override;
  void Advance(Duration d);
  // Number of threads currently blocked in WaitUntil (lets tests wait for a
  // component to reach its timed wait before advancing).
  int Waiters() const;
  // Blocks (really) until at least `n` threads wait on this clock.
  void AwaitWaiters(int n) const;

 private:
  struct Waiter {
    std::mutex* mu;
    std::condition_variable* cv;
    bool operator<(const Waiter& o) const { return cv < o.cv || (cv == o.cv && mu < o.mu); }
  };
  mutable std::mutex mu_;
  mutable std::condition_variable waiters_changed_;
  TimePoint now_;
  WallTime wall_;
  std::multiset<Waiter> waiters_;
  int notifying_ = 0;
};

// RFC 3339 in UTC with second precision ("2026-01-01T00:00:00Z") or with
// microseconds ("...00.000000Z", Kubernetes MicroTime).
std::string FormatRfc3339(WallTime t, bool micros = false);
// Parses RFC 3339 ("Z" or numeric offset, optional fraction). Returns false on bad input.
bool ParseRfc3339(const std::string& s, WallTime* out);
// RFC 1123 / IMF-fixdate as HTTP uses it ("Tue, 01 Jul 2025 10:00:00 GMT"),
// independent of the process locale; Parse returns false on anything else.
std::string FormatHttpDate(WallTime t);
bool ParseHttpDate(std::string_view s, WallTime* out);

}  // namespace vmrelease

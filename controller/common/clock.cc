#include "controller/common/clock.h"

#include <cstdio>
#include <ctime>
#include <thread>

namespace vmrelease {
namespace {
constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
}  // namespace

void Clock::SleepFor(Duration d) {
  std::mutex mu;
  std::condition_variable cv;
  std::unique_lock lock(mu);
  const TimePoint deadline = Now() + d;
  while (Now() < deadline) WaitUntil(lock, cv, deadline);
}

RealClock& RealClock::Get() {
  static RealClock clock;
  return clock;
}

ManualClock::ManualClock(WallTime wall_start)
    : now_(TimePoint(std::chrono::hours(1))), wall_(wall_start) {}

TimePoint ManualClock::Now() const {
  std::lock_guard g(mu_);
  return now_;
}

WallTime ManualClock::WallNow() const {
  std::lock_guard g(mu_);
  return wall_;
}

void ManualClock::WaitUntil(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                            TimePoint deadline) {
  std::multiset<Waiter>::iterator it;
  {
    std::lock_guard g(mu_);
    if (now_ >= deadline) return;
    it = waiters_.insert(Waiter{lock.mutex(), &cv});
  }
  waiters_changed_.notify_all();
  // Advance() notifies `cv` while holding lock.mutex(), so this wait cannot miss it.
  cv.wait(lock);
  // Leave the registry only when no Advance() is still notifying from a copy of
  // it, so it never touches this waiter's mutex or cv after we return. The
  // caller's lock is released meanwhile (callers treat any return as spurious).
  lock.unlock();
  {
    std::unique_lock g(mu_);
    waiters_changed_.wait(g, [&] { return notifying_ == 0; });
    waiters_.erase(it);
  }
  waiters_changed_.notify_all();
  lock.lock();
}

void ManualClock::Advance(Duration d) {
  std::multiset<Waiter> to_wake;
  {
    std::lock_guard g(mu_);
    now_ += d;
    wall_ += std::chrono::duration_cast<WallTime::duration>(d);
    to_wake = waiters_;
    ++notifying_;
  }
  for (const auto& w : to_wake) {
    std::lock_guard g(*w.mu);
    w.cv->notify_all();
  }
  {
    std::lock_guard g(mu_);
    --notifying_;
  }
  waiters_changed_.notify_all();
}

int ManualClock::Waiters() const {
  std::lock_guard g(mu_);
  return static_cast<int>(waiters_.size());
}

void ManualClock::AwaitWaiters(int n) const {
  std::unique_lock lock(mu_);
  waiters_changed_.wait(lock, [&] { return static_cast<int>(waiters_.size()) >= n; });
}

std::string FormatRfc3339(WallTime t, bool micros) {
  const auto secs = std::chrono::time_point_cast<std::chrono::seconds>(t);
  std::time_t tt = std::chrono::system_clock::to_time_t(secs);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[64];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  std::string out(buf);
  if (micros) {
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(t - secs).count();
    if (us < 0) us = 0;
    char frac[32];
    std::snprintf(frac, sizeof(frac), ".%06lld", static_cast<long long>(us));
    out += frac;
  }
  out += "Z";
  return out;
}

bool ParseRfc3339(const std::string& s, WallTime* out) {
  std::tm tm{};
  int y, mo, d, h, mi, sec;
  int consumed = 0;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &consumed) !=
          6 ||
      consumed != 19) {
    // Accept a lowercase 't' separator as RFC 3339 allows.
    if (std::sscanf(s.c_str(), "%4d-%2d-%2dt%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec,
                    &consumed) != 6 ||
        consumed != 19)
      return false;
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return false;
  size_t pos = 19;
  long long micros = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    int digits = 0;
    while (pos < s.size() && isdigit(static_cast<unsigned char>(s[pos]))) {
      if (digits < 6) micros = micros * 10 + (s[pos] - '0');
      ++digits;
      ++pos;
    }
    if (digits == 0) return false;
    for (int i = digits; i < 6; ++i) micros *= 10;
  }
  long offset_secs = 0;
  if (pos >= s.size()) return false;
  if (s[pos] == 'Z' || s[pos] == 'z') {
    ++pos;
  } else if (s[pos] == '+' || s[pos] == '-') {
    int oh, om;
    if (pos + 6 > s.size() || std::sscanf(s.c_str() + pos + 1, "%2d:%2d", &oh, &om) != 2)
      return false;
    offset_secs = (oh * 3600L + om * 60L) * (s[pos] == '-' ? -1 : 1);
    pos += 6;
  } else {
    return false;
  }
  if (pos != s.size()) return false;
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  const std::time_t tt = timegm(&tm);
  *out =
      std::chrono::system_clock::from_time_t(tt - offset_secs) + std::chrono::microseconds(micros);
  return true;
}

std::string FormatHttpDate(WallTime t) {
  const std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[tm.tm_wday],
                tm.tm_mday, kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                tm.tm_sec);
  return buf;
}

bool ParseHttpDate(std::string_view s, WallTime* out) {
  char day[4] = {}, mon[4] = {}, zone[4] = {};
  int mday = 0, year = 0, hh = 0, mm = 0, ss = 0;
  const std::string str(s);
  if (std::sscanf(str.c_str(), "%3s, %d %3s %d %d:%d:%d %3s", day, &mday, mon, &year, &hh, &mm, &ss,
                  zone) != 8) {
    return false;
  }
  if (std::string(zone) != "GMT") return false;
  int month = -1;
  for (int i = 0; i < 12; ++i) {
    if (std::string(mon) == kMonths[i]) month = i;
  }
  if (month < 0 || mday < 1 || mday > 31 || hh > 23 || mm > 59 || ss > 60) return false;
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month;
  tm.tm_mday = mday;
  tm.tm_hour = hh;
  tm.tm_min = mm;
  tm.tm_sec = ss;
  *out = std::chrono::system_clock::from_time_t(timegm(&tm));
  return true;
}

}  // namespace vmrelease

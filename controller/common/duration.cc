#include "controller/common/duration.h"

#include <cmath>
#include <cstdio>

namespace vmrelease {

StatusOr<Duration> ParseDuration(const std::string& input) {
  const auto bad = [&](const std::string& why) {
    return InvalidArgumentError("invalid duration \"" + input + "\": " + why +
                                " (use e.g. 90s, 5m, 1h30m)");
  };
  std::string s = input;
  if (s.empty()) return bad("empty");
  bool neg = false;
  size_t i = 0;
  if (s[0] == '-' || s[0] == '+') {
    neg = s[0] == '-';
    i = 1;
  }
  if (s.substr(i) == "0") return Duration::zero();
  if (i >= s.size()) return bad("missing number");
  long double total_ns = 0;
  while (i < s.size()) {
    size_t start = i;
    while (i < s.size() && (isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
    if (start == i) return bad("expected a number at position " + std::to_string(start));
    const std::string num = s.substr(start, i - start);
    if (num == "." || num.find('.') != num.rfind('.')) return bad("malformed number " + num);
    size_t ustart = i;
    while (i < s.size() && !isdigit(static_cast<unsigned char>(s[i])) && s[i] != '.') ++i;
    const std::string unit = s.substr(ustart, i - ustart);
    long double mult;
    if (unit == "ns")
      mult = 1;
    else if (unit == "us" || unit == "\xC2\xB5s" || unit == "\xCE\xBCs")
      mult = 1e3;
    else if (unit == "ms")
      mult = 1e6;
    else if (unit == "s")
      mult = 1e9;
    else if (unit == "m")
      mult = 60e9;
    else if (unit == "h")
      mult = 3600e9;
    else if (unit.empty())
      return bad("missing unit after " + num);
    else
      return bad("unknown unit \"" + unit + "\"");
    total_ns += std::strtold(num.c_str(), nullptr) * mult;
    if (total_ns > 9.2e18L) return bad("out of range");
  }
  auto ns = static_cast<Duration::rep>(std::llround(static_cast<double>(total_ns)));
  return Duration(neg ? -ns : ns);
}

std::string FormatDuration(Duration d) {
  long long ns = d.count();
  if (ns == 0) return "0s";
  std::string out;
  if (ns < 0) {
    out = "-";
    ns = -ns;
  }
  char buf[64];
  if (ns < 1000000000LL) {
    if (ns < 1000)
      std::snprintf(buf, sizeof(buf), "%lldns", ns);
    else if (ns < 1000000)
      std::snprintf(buf, sizeof(buf), "%gus", static_cast<double>(ns) / 1e3);
    else
      std::snprintf(buf, sizeof(buf), "%gms", static_cast<double>(ns) / 1e6);
    return out + buf;
  }
  const long long h = ns / 3600000000000LL;
  ns %= 3600000000000LL;
  const long long m = ns / 60000000000LL;
  ns %= 60000000000LL;
  const double s = static_cast<double>(ns) / 1e9;
  if (h > 0) out += std::to_string(h) + "h";
  if (h > 0 || m > 0) out += std::to_string(m) + "m";
  std::snprintf(buf, sizeof(buf), "%.9g", s);
  out += buf;
  out += "s";
  return out;
}

}  // namespace vmrelease

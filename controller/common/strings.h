// Small string, file and header-value helpers shared by every module, so each
// module does not grow its own copy (they were written three times before).
//
//   AsciiLower("Retry-After");                        // "retry-after"
//   EqualsIgnoreCase("InProgress", "inprogress");     // true
//   Trim("  token\n");                                // "token"
//   ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
//   auto wait = ParseRetryAfter(response_header, clock.WallNow());   // seconds or HTTP-date
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "controller/common/clock.h"
#include "controller/common/status.h"

namespace vmrelease {

// ASCII lower case (locale independent; other bytes unchanged).
std::string AsciiLower(std::string_view s);
bool EqualsIgnoreCase(std::string_view a, std::string_view b);
// Without leading and trailing spaces, tabs, CR and LF.
std::string Trim(std::string_view s);
bool StartsWith(std::string_view s, std::string_view prefix);
bool EndsWith(std::string_view s, std::string_view suffix);

// The offset of the first byte that does not start or continue a well-formed UTF-8
// sequence (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF),
// or npos when all of `s` is valid UTF-8.
size_t FirstInvalidUtf8(std::string_view s);

// The whole file. Errors: kNotFound when it cannot be opened (the message names
// the path), kDataLoss when reading fails midway.
StatusOr<std::string> ReadFileToString(const std::string& path);

// A Retry-After header value (RFC 9110 §10.2.3): delay-seconds, or an HTTP-date
// (then the time left until it, zero when past). nullopt for an empty or
// malformed value, so the caller falls back to its own backoff. Values beyond a
// day are capped at a day; callers apply their own, smaller caps.
std::optional<std::chrono::milliseconds> ParseRetryAfter(std::string_view value, WallTime now);

}  // namespace vmrelease

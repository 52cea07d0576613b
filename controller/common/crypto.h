// Hashes, HMAC, base64 and randomness, all through OpenSSL.
//
//   Sha256 h; h.Update(data, n); std::string hex = h.FinishHex();
//   std::string sig = Base64Encode(HmacSha256(key_bytes, string_to_sign));
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "controller/common/status.h"

namespace vmrelease {

// Streaming SHA-256. Not thread-safe; one instance per stream.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void Update(const void* data, size_t n);
  void Update(std::string_view s) { Update(s.data(), s.size()); }
  std::array<uint8_t, 32> Finish();
  std::string FinishHex();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

std::string Sha256Hex(std::string_view data);
// Raw HMAC-SHA256 of `data` keyed with `key` (both raw bytes).
std::string HmacSha256(std::string_view key, std::string_view data);
std::string Base64Encode(std::string_view raw);
StatusOr<std::string> Base64Decode(std::string_view b64);
// base64url without padding (JWT segments).
std::string Base64UrlEncode(std::string_view raw);
std::string HexEncode(std::string_view raw);
// Cryptographically random bytes.
std::string RandomBytes(size_t n);
// A random lowercase hex string of `n` characters (names, tokens).
std::string RandomHex(size_t n);
// A random (version 4) UUID, "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx", lowercase.
std::string RandomUuid();

}  // namespace vmrelease

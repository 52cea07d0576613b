// Storage Shared Key: signs blob requests with the account key
// (Authorization: SharedKey account:signature), and holds the key for service SAS.
//
//   ASSIGN_OR_RETURN(SharedKeySigner signer, SharedKeySigner::Create("acct", key_base64));
//   http::Request req{.method = "PUT", .url = blob_url + "?comp=page", ...};
//   req.headers.Set("x-ms-date", FormatHttpDate(now));
//   req.headers.Set("x-ms-version", "2021-12-02");
//   RETURN_IF_ERROR(signer.Sign(req));   // every header and the body are final by now
//
// The string-to-sign follows "Authorize with Shared Key" (version 2009-09-19 and
// later, with the 2015-02-21 rule that a zero Content-Length is signed as ""):
// the canonicalized resource is "/" + account + the URL path as sent, so a
// path-style URL (Azurite) signs "/devstoreaccount1/devstoreaccount1/container/blob".
//
// Guarantees: the account key and every signature are registered as log
// secrets; the key is kept only in decoded form and never returned.
// Caveats: sign exactly what goes on the wire. http::Client sends no
// Content-Type unless the request sets one, and derives Content-Length from the body.
#pragma once

#include <string>
#include <string_view>

#include "controller/common/status.h"
#include "controller/http/types.h"

namespace vmrelease::azure {

class SharedKeySigner {
 public:
  // `key_base64` is the account key as the portal shows it.
  // Errors: kInvalidArgument when the key is not base64 or the account name is empty.
  static StatusOr<SharedKeySigner> Create(std::string account, std::string_view key_base64);

  const std::string& account() const { return account_; }

  // The exact string that Sign() signs for `request` (exposed for tests and
  // for debugging 403 AuthenticationFailed; it contains no secret).
  std::string StringToSign(const http::Request& request) const;
  // Sets the Authorization header. Errors: kInvalidArgument for an unparseable URL.
  Status Sign(http::Request& request) const;
  // Base64(HMAC-SHA256(key, text)): also what service SAS signatures are.
  std::string Signature(std::string_view string_to_sign) const;

 private:
  SharedKeySigner(std::string account, std::string key)
      : account_(std::move(account)), key_(std::move(key)) {}
  std::string account_;
  std::string key_;  // decoded bytes; secret
};

// "x-ms-*" headers in canonical form: lower-cased names sorted, values with
// runs of whitespace collapsed, one "name:value\n" line each.
std::string CanonicalizedHeaders(const http::Headers& headers);
// "/" + account + raw path, then "\nname:value" per query parameter (names
// lower-cased, names and values decoded, sorted; repeated names joined with ',').
std::string CanonicalizedResource(std::string_view account, std::string_view raw_path,
                                  std::string_view raw_query);

}  // namespace vmrelease::azure

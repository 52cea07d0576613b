// Shared access signatures for one blob (or one container): service SAS signed
// with the account key, and user-delegation SAS signed with a key obtained
// with an Entra ID token (Get User Delegation Key).
//
//   BlobSasOptions o{.container = "staging", .blob = "rel-1.vhd", .permissions = "cw",
//                    .expiry = now + 2h, .protocol = "https"};
//   ASSIGN_OR_RETURN(SasToken sas, GenerateServiceSas(signer, o));
//   std::string url = account.BlobUrl("staging", "rel-1.vhd") + "?" + sas.query;
//
// Layouts follow "Create a service SAS" / "Create a user delegation SAS" for
// signed versions 2020-12-06 up to (not including) 2025-07-05; other versions
// are refused rather than signed with a layout the service would reject.
//
// Guarantees: the signature (and so the query) is registered as a log secret
// before it is returned; a SAS URL must still never be put into status, events
// or logs (log the URL without its query instead).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "controller/azure/shared_key.h"
#include "controller/common/clock.h"
#include "controller/common/status.h"

namespace vmrelease::azure {

// The signed version this project pins (supports `ses`, tags, user delegation).
inline constexpr const char* kSasVersion = "2021-12-02";

struct BlobSasOptions {
  std::string container;
  std::string blob;  // empty: a container SAS (sr=c)
  // Permission letters in any order from "racwdxyltfmeopi"; emitted in that canonical order.
  std::string permissions;
  std::optional<WallTime> start;
  WallTime expiry;
  std::string ip;                // optional: "a.b.c.d" or "a.b.c.d-e.f.g.h"
  std::string protocol;          // optional: "https" or "https,http"
  std::string identifier;        // optional stored access policy (service SAS only)
  std::string encryption_scope;  // optional (ses)
  // Optional response-header overrides (rscc, rscd, rsce, rscl, rsct).
  std::string cache_control;
  std::string content_disposition;
  std::string content_encoding;
  std::string content_language;
  std::string content_type;
  std::string version = kSasVersion;
};

// Returned by Get User Delegation Key; `value` is a secret.
struct UserDelegationKey {
  std::string signed_oid;
  std::string signed_tid;
  std::string signed_start;   // ISO 8601 as the service returned it
  std::string signed_expiry;  // ISO 8601 as the service returned it
  std::string signed_service;
  std::string signed_version;
  std::string value;  // base64
};

// Optional identity fields of a user-delegation SAS.
struct UserDelegationSasExtras {
  std::string authorized_oid;    // saoid
  std::string unauthorized_oid;  // suoid
  std::string correlation_id;    // scid
};

struct SasToken {
  std::string query;           // "st=...&se=...&sp=...&sv=...&sr=b&sig=..." (URL-encoded)
  std::string string_to_sign;  // no secret in it; for tests and debugging
};

// Validates permission letters and returns them in canonical order ("wcr" -> "rcw").
// Errors: kInvalidArgument for an unknown or repeated letter, or an empty set.
StatusOr<std::string> NormalizeSasPermissions(std::string_view permissions);

// Errors: kInvalidArgument for a bad option (no container, expiry before
// start, bad protocol, unsupported version).
StatusOr<SasToken> GenerateServiceSas(const SharedKeySigner& signer, const BlobSasOptions& options);
StatusOr<SasToken> GenerateUserDelegationSas(std::string_view account, const UserDelegationKey& key,
                                             const BlobSasOptions& options,
                                             const UserDelegationSasExtras& extras = {});

// Removes the query string (SAS) from a URL so it can be logged or stored.
std::string StripQuery(std::string_view url);

}  // namespace vmrelease::azure

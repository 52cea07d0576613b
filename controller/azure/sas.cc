#include "controller/azure/sas.h"

#include <utility>
#include <vector>

#include "controller/common/crypto.h"
#include "controller/common/log.h"
#include "controller/http/types.h"

namespace vmrelease::azure {
namespace {

constexpr std::string_view kPermissionOrder = "racwdxyltfmeopi";

// Versions whose string-to-sign layouts are implemented here: 2020-12-06 added
// `ses` (service SAS) and the saoid/suoid/scid lines (user delegation); 2025-07-05
// added delegated-user fields that change the layout again.
bool SupportedVersion(const std::string& v) { return v >= "2020-12-06" && v < "2025-07-05"; }

struct Prepared {
  std::string sp, st, se, canonical_resource, sr;
};

StatusOr<Prepared> Prepare(std::string_view account, const BlobSasOptions& o) {
  if (o.container.empty()) return InvalidArgumentError("SAS: container is required");
  if (!SupportedVersion(o.version)) {
    return InvalidArgumentError(
        "SAS: signed version " + o.version +
        " is not supported (use 2020-12-06 up to, not including, 2025-07-05)");
  }
  if (!o.protocol.empty() && o.protocol != "https" && o.protocol != "https,http") {
    return InvalidArgumentError("SAS: protocol must be \"https\" or \"https,http\"");
  }
  if (o.start && *o.start >= o.expiry) {
    return InvalidArgumentError("SAS: expiry must be after start");
  }
  Prepared p;
  ASSIGN_OR_RETURN(p.sp, NormalizeSasPermissions(o.permissions));
  if (o.start) p.st = FormatRfc3339(*o.start);
  p.se = FormatRfc3339(o.expiry);
  p.sr = o.blob.empty() ? "c" : "b";
  p.canonical_resource = "/blob/" + std::string(account) + "/" + o.container;
  if (!o.blob.empty()) p.canonical_resource += "/" + o.blob;
  return p;
}

std::string Compose(const std::vector<std::pair<const char*, std::string>>& fields) {
  std::string q;
  for (const auto& [name, value] : fields) {
    if (value.empty()) continue;
    if (!q.empty()) q += "&";
    // Same escaping as the Azure SDKs (RFC 3986 unreserved plus '/'), so tokens compare equal.
    q += std::string(name) + "=" + http::PercentEncode(value, /*keep_slash=*/true);
  }
  return q;
}

// A SAS is a bearer credential for its whole lifetime: never let it reach a log line.
void RegisterSignature(const std::string& sig) {
  log::RegisterSecret(sig);
  log::RegisterSecret(http::PercentEncode(sig, /*keep_slash=*/true));
}

std::string Sign(std::string_view key, const std::string& string_to_sign) {
  std::string sig = Base64Encode(HmacSha256(key, string_to_sign));
  RegisterSignature(sig);
  return sig;
}

// The query fields both SAS kinds share, in the order the Azure SDKs write them
// (empty ones are left out by Compose).
std::vector<std::pair<const char*, std::string>> CommonFields(const Prepared& p,
                                                              const BlobSasOptions& o) {
  return {{"st", p.st},
          {"se", p.se},
          {"sp", p.sp},
          {"sip", o.ip},
          {"spr", o.protocol},
          {"sv", o.version},
          {"si", o.identifier},
          {"sr", p.sr},
          {"ses", o.encryption_scope},
          {"rscc", o.cache_control},
          {"rscd", o.content_disposition},
          {"rsce", o.content_encoding},
          {"rscl", o.content_language},
          {"rsct", o.content_type}};
}

}  // namespace

StatusOr<std::string> NormalizeSasPermissions(std::string_view permissions) {
  if (permissions.empty()) return InvalidArgumentError("SAS: permissions are empty");
  std::string seen(kPermissionOrder.size(), ' ');
  for (char c : permissions) {
    const size_t i = kPermissionOrder.find(c);
    if (i == std::string_view::npos) {
      return InvalidArgumentError(std::string("SAS: unknown permission '") + c +
                                  "' (allowed: " + std::string(kPermissionOrder) + ")");
    }
    if (seen[i] != ' ') {
      return InvalidArgumentError(std::string("SAS: permission '") + c + "' repeated");
    }
    seen[i] = c;
  }
  std::string out;
  for (char c : seen) {
    if (c != ' ') out.push_back(c);
  }
  return out;
}

StatusOr<SasToken> GenerateServiceSas(const SharedKeySigner& signer, const BlobSasOptions& o) {
  ASSIGN_OR_RETURN(Prepared p, Prepare(signer.account(), o));
  SasToken t;
  t.string_to_sign = p.sp + "\n" + p.st + "\n" + p.se + "\n" + p.canonical_resource + "\n" +
                     o.identifier + "\n" + o.ip + "\n" + o.protocol + "\n" + o.version + "\n" +
                     p.sr + "\n" + /*signedSnapshotTime*/ "\n" + o.encryption_scope + "\n" +
                     o.cache_control + "\n" + o.content_disposition + "\n" + o.content_encoding +
                     "\n" + o.content_language + "\n" + o.content_type;
  const std::string sig = signer.Signature(t.string_to_sign);
  RegisterSignature(sig);
  auto fields = CommonFields(p, o);
  fields.emplace_back("sig", sig);
  t.query = Compose(fields);
  return t;
}

StatusOr<SasToken> GenerateUserDelegationSas(std::string_view account, const UserDelegationKey& key,
                                             const BlobSasOptions& o,
                                             const UserDelegationSasExtras& x) {
  if (!o.identifier.empty()) {
    return InvalidArgumentError("SAS: a user delegation SAS cannot use a stored access policy");
  }
  ASSIGN_OR_RETURN(Prepared p, Prepare(account, o));
  StatusOr<std::string> raw_key = Base64Decode(key.value);
  if (!raw_key.ok() || raw_key->empty()) {
    return InvalidArgumentError("SAS: user delegation key value is not base64");
  }
  SasToken t;
  t.string_to_sign = p.sp + "\n" + p.st + "\n" + p.se + "\n" + p.canonical_resource + "\n" +
                     key.signed_oid + "\n" + key.signed_tid + "\n" + key.signed_start + "\n" +
                     key.signed_expiry + "\n" + key.signed_service + "\n" + key.signed_version +
                     "\n" + x.authorized_oid + "\n" + x.unauthorized_oid + "\n" + x.correlation_id +
                     "\n" + o.ip + "\n" + o.protocol + "\n" + o.version + "\n" + p.sr + "\n" +
                     /*signedSnapshotTime*/ "\n" + o.encryption_scope + "\n" + o.cache_control +
                     "\n" + o.content_disposition + "\n" + o.content_encoding + "\n" +
                     o.content_language + "\n" + o.content_type;
  const std::string sig = Sign(*raw_key, t.string_to_sign);
  auto fields = CommonFields(p, o);  // no "si": refused above
  fields.insert(fields.end(), {{"saoid", x.authorized_oid},
                               {"suoid", x.unauthorized_oid},
                               {"scid", x.correlation_id},
                               {"skoid", key.signed_oid},
                               {"sktid", key.signed_tid},
                               {"skt", key.signed_start},
                               {"ske", key.signed_expiry},
                               {"sks", key.signed_service},
                               {"skv", key.signed_version},
                               {"sig", sig}});
  t.query = Compose(fields);
  return t;
}

std::string StripQuery(std::string_view url) {
  const size_t q = url.find_first_of("?#");
  return std::string(url.substr(0, q));
}

}  // namespace vmrelease::azure

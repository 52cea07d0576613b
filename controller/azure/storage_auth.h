// How a blob request is authorised: Shared Key (account key), a bearer token
// from a TokenCredential (storage scope), a fixed SAS, or nothing (public
// containers, Azurite in loose mode). The blob client calls Authorize() on every
// attempt, after it has set x-ms-date and every other header.
//
//   auto auth = SharedKeyAuth(*SharedKeySigner::Create("acct", key));
//   auto auth = BearerAuth(credential);            // scope https://storage.azure.com/.default
//   auto auth = SasAuth("sv=...&sig=...");          // e.g. a build job's write SAS
//
// Guarantees: keys, tokens and SAS values are registered as log secrets and
// never appear in Describe(). Implementations are thread-safe.
#pragma once

#include <memory>
#include <string>

#include "controller/azure/credential.h"
#include "controller/azure/shared_key.h"
#include "controller/common/status.h"
#include "controller/http/types.h"

namespace vmrelease::azure {

class StorageAuth {
 public:
  enum class Kind { kSharedKey, kBearer, kSas, kAnonymous };
  virtual ~StorageAuth() = default;
  virtual Kind kind() const = 0;
  // Adds the Authorization header (or the SAS query) to a request whose
  // method, URL, headers and body are final. Errors: token acquisition failures.
  virtual Status Authorize(http::Request& request) = 0;
  // After a 401: drop cached tokens so the next Authorize fetches a fresh one.
  // Returns true when a retry can succeed where this attempt failed.
  virtual bool OnUnauthorized() { return false; }
  // "shared key (account acct)", "bearer (workload identity ...)", ... for logs.
  virtual std::string Describe() const = 0;
  // The signer when this is Shared Key (service SAS needs it), else nullptr.
  virtual const SharedKeySigner* shared_key() const { return nullptr; }
  // The credential when this is bearer (user delegation keys need it), else nullptr.
  virtual TokenCredential* token_credential() const { return nullptr; }
};

std::unique_ptr<StorageAuth> SharedKeyAuth(SharedKeySigner signer);
// `credential` must outlive the returned object.
std::unique_ptr<StorageAuth> BearerAuth(TokenCredential& credential,
                                        std::string scope = kStorageScope);
// `sas_query` is the token without a leading '?'.
std::unique_ptr<StorageAuth> SasAuth(std::string sas_query);
std::unique_ptr<StorageAuth> AnonymousAuth();

}  // namespace vmrelease::azure

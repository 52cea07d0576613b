// ManagedIdentityCredential: tokens from the Azure Instance Metadata Service
// (IMDS) of the VM / node the process runs on.
//
//   ManagedIdentityCredential cred({.client_id = "…"}, {.imds_endpoint = fake->base_url()});
//   ASSIGN_OR_RETURN(AccessToken t, cred.GetToken(kArmScope));
//   // GET {imds}/metadata/identity/oauth2/token?api-version=2018-02-01
//   //     &resource=https://management.azure.com/&client_id=…   with "Metadata: true"
//
// Guarantees: at most one of client_id / object_id / resource_id selects a
// user-assigned identity (none = system-assigned). Retries follow the IMDS
// guidance: 404, 410, 429 and 5xx are retried with exponential backoff
// (Retry-After honoured) up to `max_attempts`; other 4xx are final.
// Errors: "not available here" carries ErrorDetail::reason
// kCredentialUnavailable, so a credential chain moves on: no answer at all (not
// on Azure) is kUnavailable "IMDS unreachable" without retries; an IMDS 400 (no
// identity assigned, the requested one not assigned, or several user-assigned
// identities and none chosen) is kFailedPrecondition with IMDS's description
// ("Identity not found") and is not retried.
#pragma once

#include <memory>
#include <string>

#include "controller/azure/credential_cache.h"

namespace vmrelease::azure {

struct ManagedIdentityConfig {
  std::string client_id;    // user-assigned identity by client id
  std::string object_id;    // ... or by object (principal) id
  std::string resource_id;  // ... or by ARM resource id (msi_res_id)
  // IMDS retries: the guidance is ~5 tries over ~1 minute (IMDS answers 410
  // while it updates, for up to 70 s).
  int max_attempts = 5;
  BackoffPolicy backoff{.initial = std::chrono::seconds(2), .max = std::chrono::seconds(30)};
  // IMDS is link-local and answers fast; a long wait means there is no IMDS.
  std::chrono::milliseconds timeout = std::chrono::seconds(5);
};

class ManagedIdentityCredential final : public CachingCredential {
 public:
  static constexpr const char* kApiVersion = "2018-02-01";
  // kInvalidArgument when more than one identity selector is set.
  static StatusOr<std::unique_ptr<ManagedIdentityCredential>> Create(ManagedIdentityConfig config,
                                                                     CredentialOptions options);
  std::string Describe() const override;

 private:
  ManagedIdentityCredential(ManagedIdentityConfig config, CredentialOptions options);
  StatusOr<AccessToken> Fetch(const std::string& scope) override;

  ManagedIdentityConfig config_;
  CredentialOptions options_;
  std::unique_ptr<http::Client> owned_http_;
  http::Client& http_;
};

}  // namespace vmrelease::azure

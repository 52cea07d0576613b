// ChainedCredential: tries a client secret from the environment, then
// workload identity, then managed identity — the order of the Azure SDKs'
// DefaultAzureCredential — and remembers which one worked.
//
//   auto cred = NewDefaultCredential({.env = ProcessEnvironment(), .options = opts});
//   StatusOr<AccessToken> t = cred->GetToken(kArmScope);
//   for (const auto& line : cred->Report()) log::Info("azure", line);
//   // "client secret: skipped: not set: AZURE_TENANT_ID AZURE_CLIENT_SECRET"
//   // "workload identity: skipped: not set: AZURE_FEDERATED_TOKEN_FILE"
//   // "managed identity: selected"
//
// When a release names a credentials Secret, the Secret is what the user asked
// for: NewCredential() then returns a ClientSecretCredential built from its data
// alone, without falling back to ambient identities (which on a node with IMDS
// would silently act as the node's identity).
//
// Guarantees: candidates are tried in order; one that is not configured is
// skipped with the reason, one that is unavailable here (IsCredentialUnavailable:
// no IMDS answers, or IMDS answers 400 because no such identity is assigned) is
// recorded and the next is tried; one that is configured but fails (refused, or
// a token endpoint error) stops the chain with its error, so a transient failure
// of the intended identity never switches the controller to another one (the
// Azure SDKs' DefaultAzureCredential does the same). The first to return a
// token is used from then on, and logged once as "credential selected" with its
// kind and Describe() (ids, never a secret). Thread-safe.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "controller/azure/credential.h"
#include "controller/azure/credential_options.h"
#include "controller/azure/managed_identity_credential.h"

namespace vmrelease::azure {

class ChainedCredential final : public TokenCredential {
 public:
  struct Candidate {
    std::string name;                             // "workload identity"
    std::unique_ptr<TokenCredential> credential;  // null when skipped
    std::string skip_reason;                      // why it is not configured
  };
  explicit ChainedCredential(std::vector<Candidate> candidates);

  StatusOr<AccessToken> GetToken(const std::string& scope) override;
  void Invalidate(const std::string& scope) override;
  std::string Describe() const override;

  // One line per candidate: "<name>: skipped: <why>", "<name>: failed: <error>",
  // "<name>: selected" or "<name>: not tried".
  std::vector<std::string> Report() const;
  // The name of the candidate in use, or "" before the first success.
  std::string selected() const;

 private:
  std::vector<Candidate> candidates_;
  mutable std::mutex mu_;
  std::vector<std::string> outcomes_;  // parallel to candidates_
  int selected_ = -1;
};

struct DefaultCredentialConfig {
  // AZURE_* variables (ProcessEnvironment() in production).
  Environment env;
  // Managed identity is always a candidate unless disabled (it cannot be known
  // to be absent without asking IMDS).
  bool managed_identity = true;
  ManagedIdentityConfig managed_identity_config;
  CredentialOptions options;
};

// The chain client secret (environment: AZURE_TENANT_ID, AZURE_CLIENT_ID,
// AZURE_CLIENT_SECRET) → workload identity → managed identity.
std::unique_ptr<ChainedCredential> NewDefaultCredential(DefaultCredentialConfig config);

// The credential for a release: a client secret from `secret_data` (a
// Kubernetes Secret's decoded data) when given, else NewDefaultCredential.
StatusOr<std::unique_ptr<TokenCredential>> NewCredential(
    const std::optional<std::map<std::string, std::string>>& secret_data,
    DefaultCredentialConfig config);

}  // namespace vmrelease::azure

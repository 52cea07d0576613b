#include "controller/azure/credential_chain.h"

#include "controller/azure/client_secret_credential.h"
#include "controller/azure/workload_identity_credential.h"
#include "controller/common/log.h"

namespace vmrelease::azure {

ChainedCredential::ChainedCredential(std::vector<Candidate> candidates)
    : candidates_(std::move(candidates)), outcomes_(candidates_.size()) {
  for (size_t i = 0; i < candidates_.size(); ++i) {
    outcomes_[i] =
        candidates_[i].credential ? "not tried" : "skipped: " + candidates_[i].skip_reason;
  }
}

StatusOr<AccessToken> ChainedCredential::GetToken(const std::string& scope) {
  int selected;
  {
    std::lock_guard g(mu_);
    selected = selected_;
  }
  if (selected >= 0) return candidates_[selected].credential->GetToken(scope);

  std::string reasons;
  for (size_t i = 0; i < candidates_.size(); ++i) {
    Candidate& c = candidates_[i];
    if (!c.credential) {
      reasons += "; " + c.name + ": skipped: " + c.skip_reason;
      continue;
    }
    StatusOr<AccessToken> t = c.credential->GetToken(scope);
    std::lock_guard g(mu_);
    if (t.ok()) {
      if (selected_ < 0) {
        selected_ = static_cast<int>(i);
        outcomes_[i] = "selected";
        // Which identity the controller acts as: the kind, and ids that are
        // not secret (Describe never includes a secret or token).
        nlohmann::json fields = {{"kind", c.name}, {"credential", c.credential->Describe()}};
        if (!reasons.empty()) fields["passed_over"] = log::Redact(reasons.substr(2));
        log::Write(log::Level::kInfo, "azure.credential", "credential selected", fields);
      }
      return t;
    }
    if (IsCredentialUnavailable(t.status())) {
      outcomes_[i] = "unavailable: " + t.status().message();
      reasons += "; " + c.name + ": unavailable: " + t.status().message();
      continue;
    }
    // A configured identity that fails (refused, or its token endpoint is
    // down) ends the chain: moving on would silently act as another identity,
    // e.g. the node's. The next call starts from the first candidate again.
    outcomes_[i] = "failed: " + t.status().message();
    Status failed = t.status();
    return Status(failed.code() == StatusCode::kUnavailable ? StatusCode::kUnavailable
                                                            : StatusCode::kUnauthenticated,
                  log::Redact(c.name + " is configured but failed (later candidates not tried): " +
                              failed.message()),
                  failed.detail());
  }
  if (!reasons.empty()) reasons = reasons.substr(2);
  return UnauthenticatedError(log::Redact("no Azure credential could provide a token: " + reasons));
}

void ChainedCredential::Invalidate(const std::string& scope) {
  std::lock_guard g(mu_);
  if (selected_ >= 0) candidates_[selected_].credential->Invalidate(scope);
}

std::string ChainedCredential::Describe() const {
  std::lock_guard g(mu_);
  if (selected_ >= 0) return candidates_[selected_].credential->Describe();
  std::string names;
  for (const auto& c : candidates_) names += (names.empty() ? "" : " → ") + c.name;
  return "credential chain (" + names + ")";
}

std::vector<std::string> ChainedCredential::Report() const {
  std::lock_guard g(mu_);
  std::vector<std::string> out;
  for (size_t i = 0; i < candidates_.size(); ++i)
    out.push_back(candidates_[i].name + ": " + outcomes_[i]);
  return out;
}

std::string ChainedCredential::selected() const {
  std::lock_guard g(mu_);
  return selected_ >= 0 ? candidates_[selected_].name : "";
}

std::unique_ptr<ChainedCredential> NewDefaultCredential(DefaultCredentialConfig config) {
  // DefaultAzureCredential's order: a client secret set in the environment is
  // the most explicit choice and comes first; then the pod's workload
  // identity; the node's managed identity last.
  std::vector<ChainedCredential::Candidate> candidates;

  ChainedCredential::Candidate cs{.name = "client secret"};
  if (auto c = ClientSecretConfig::FromEnvironment(config.env); c.ok()) {
    cs.credential = std::make_unique<ClientSecretCredential>(*c, config.options);
  } else {
    cs.skip_reason = c.status().message();
  }
  candidates.push_back(std::move(cs));

  ChainedCredential::Candidate wi{.name = "workload identity"};
  if (auto c = WorkloadIdentityConfig::FromEnvironment(config.env); c.ok()) {
    wi.credential = std::make_unique<WorkloadIdentityCredential>(*c, config.options);
  } else {
    wi.skip_reason = c.status().message();
  }
  candidates.push_back(std::move(wi));

  ChainedCredential::Candidate mi{.name = "managed identity"};
  if (!config.managed_identity) {
    mi.skip_reason = "disabled";
  } else if (auto c =
                 ManagedIdentityCredential::Create(config.managed_identity_config, config.options);
             c.ok()) {
    mi.credential = std::move(*c);
  } else {
    mi.skip_reason = c.status().message();
  }
  candidates.push_back(std::move(mi));

  return std::make_unique<ChainedCredential>(std::move(candidates));
}

StatusOr<std::unique_ptr<TokenCredential>> NewCredential(
    const std::optional<std::map<std::string, std::string>>& secret_data,
    DefaultCredentialConfig config) {
  if (secret_data) {
    ASSIGN_OR_RETURN(ClientSecretConfig c, ClientSecretConfig::FromSecretData(*secret_data));
    return std::unique_ptr<TokenCredential>(
        std::make_unique<ClientSecretCredential>(std::move(c), std::move(config.options)));
  }
  return std::unique_ptr<TokenCredential>(NewDefaultCredential(std::move(config)));
}

}  // namespace vmrelease::azure

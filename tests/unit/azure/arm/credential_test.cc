// Credentials against the fake Entra token endpoint and IMDS: client secret
// (environment and Secret data), workload identity (re-reading a rotated
// token file), managed identity (IMDS guidance retries, 400 = unavailable),
// and the chain: DefaultAzureCredential's order, fall-through, the selected
// credential logged without its secret.
#include <gtest/gtest.h>

#include <mutex>

#include "controller/azure/client_secret_credential.h"
#include "controller/azure/credential_chain.h"
#include "controller/azure/managed_identity_credential.h"
#include "controller/azure/workload_identity_credential.h"
#include "controller/common/log.h"
#include "controller/http/server.h"
#include "tests/support/fake_arm/arm_test_env.h"
#include "tests/support/testing/process.h"

namespace vmrelease::azure {
namespace {

using namespace std::chrono_literals;
using fake_arm::ArmTestEnv;

class CredentialTest : public ::testing::Test {
 protected:
  void SetUp() override { env_ = ArmTestEnv::Start(); }
  CredentialOptions Options() { return env_->credential_options(); }
  std::string ClosedEndpoint() {
    auto port = http::FindFreePort();
    return "http://127.0.0.1:" + std::to_string(*port);
  }
  Environment WorkloadEnv(const std::string& file) {
    return {{"AZURE_CLIENT_ID", "wi-client"},
            {"AZURE_TENANT_ID", ArmTestEnv::kTenant},
            {"AZURE_FEDERATED_TOKEN_FILE", file},
            {"AZURE_AUTHORITY_HOST", env_->fake().base_url() + "/"}};
  }
  Environment SecretEnv() {
    return {{"AZURE_CLIENT_ID", ArmTestEnv::kClientId},
            {"AZURE_TENANT_ID", ArmTestEnv::kTenant},
            {"AZURE_CLIENT_SECRET", ArmTestEnv::kClientSecret}};
  }
  std::unique_ptr<ArmTestEnv> env_;
  testing::TempDir dir_;
};

// --- client secret ---------------------------------------------------------------

TEST_F(CredentialTest, ClientSecretTokenIsCachedAndWorksOnArm) {
  auto& cred = env_->credential();
  auto t1 = cred.GetToken(kArmScope);
  ASSERT_TRUE(t1.ok()) << t1.status().ToString();
  auto t2 = cred.GetToken(kArmScope);
  EXPECT_EQ(t1->token, t2->token);
  EXPECT_EQ(env_->fake().TokensIssued(), 1);
  EXPECT_EQ(t1->expires_on, env_->clock().WallNow() + 1h);
  env_->fake().AddGallery(ArmTestEnv::kSubscription, "rg", "g", "westus");
  EXPECT_TRUE(env_->arm()
                  .Get("/subscriptions/sub-1234/resourceGroups/rg/providers/Microsoft.Compute/"
                       "galleries/g",
                       kGalleryApiVersion)
                  .ok());
  EXPECT_NE(cred.Describe().find("client secret"), std::string::npos);
  EXPECT_EQ(cred.Describe().find(ArmTestEnv::kClientSecret), std::string::npos);
}

TEST_F(CredentialTest, WrongClientSecretIsUnauthenticatedWithoutLeakingIt) {
  const std::string wrong = "wrong-secret-value-0042";
  ClientSecretCredential cred({.tenant_id = ArmTestEnv::kTenant,
                               .client_id = ArmTestEnv::kClientId,
                               .client_secret = wrong},
                              Options());
  auto t = cred.GetToken(kArmScope);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(t.status().detail().reason, "invalid_client");
  EXPECT_NE(t.status().message().find("AADSTS7000215"), std::string::npos) << t.status().message();
  EXPECT_EQ(t.status().message().find(wrong), std::string::npos);
  EXPECT_EQ(t.status().message().find("Trace ID"), std::string::npos);  // first line only
}

TEST_F(CredentialTest, TokenEndpointOutagesAreRetriedThenReported) {
  env_->fake().InjectFault(fake_arm::FaultKind::kUnavailable503, 2, "/oauth2/");
  auto cred = env_->NewCredential();
  ASSERT_TRUE(cred->GetToken(kArmScope).ok());
  EXPECT_EQ(env_->sleeps().size(), 2u);  // Retry-After of the injected 503s
  env_->clear_sleeps();
  env_->fake().InjectFault(fake_arm::FaultKind::kServerError500, 3, "/oauth2/");
  cred->Invalidate(kArmScope);
  auto t = cred->GetToken(kArmScope);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(env_->sleeps().size(), 2u);  // 3 attempts
}

TEST(CredentialRetryTest, AnHourLongRetryAfterIsCappedSoOtherCallsAreNotStalled) {
  auto env = ArmTestEnv::Start({.retry_after_seconds = 3600, .throttle_retry_after_seconds = 3600});
  env->fake().InjectFault(fake_arm::FaultKind::kUnavailable503, 1, "/oauth2/");
  auto cred = env->NewCredential();
  ASSERT_TRUE(cred->GetToken(kArmScope).ok());
  ASSERT_EQ(env->sleeps().size(), 1u);
  EXPECT_EQ(env->sleeps()[0], std::chrono::seconds(60));
}

TEST(ClientSecretConfigTest, FromEnvironment) {
  auto c = ClientSecretConfig::FromEnvironment({{"AZURE_TENANT_ID", "t"},
                                                {"AZURE_CLIENT_ID", "c"},
                                                {"AZURE_CLIENT_SECRET", "env-secret-123456"},
                                                {"AZURE_AUTHORITY_HOST", "https://login.x/"}});
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->client_secret, "env-secret-123456");
  EXPECT_EQ(c->authority_host, "https://login.x/");
  auto missing = ClientSecretConfig::FromEnvironment({{"AZURE_CLIENT_ID", "c"}});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().message(), "not set: AZURE_TENANT_ID AZURE_CLIENT_SECRET");
}

TEST(ClientSecretConfigTest, FromKubernetesSecretData) {
  auto c = ClientSecretConfig::FromSecretData(
      {{"clientId", "app-1\n"}, {"clientSecret", "k8s-secret-value-77\n"}, {"tenantId", "t-1"}});
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->client_id, "app-1");
  EXPECT_EQ(c->client_secret, "k8s-secret-value-77");  // kubectl --from-file keeps a newline
  EXPECT_EQ(c->tenant_id, "t-1");
  auto alt = ClientSecretConfig::FromSecretData({{"AZURE_CLIENT_ID", "a"},
                                                 {"AZURE_CLIENT_SECRET", "alt-secret-value-1"},
                                                 {"tenant_id", "t"}});
  ASSERT_TRUE(alt.ok());
  EXPECT_EQ(alt->client_id, "a");
  auto missing = ClientSecretConfig::FromSecretData({{"clientSecret", "only-secret-value-99"}});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(missing.status().message(), "credentials secret lacks keys: tenantId clientId");
}

TEST_F(CredentialTest, NewCredentialPrefersTheReleaseSecret) {
  auto cred =
      NewCredential(std::map<std::string, std::string>{{"clientId", ArmTestEnv::kClientId},
                                                       {"clientSecret", ArmTestEnv::kClientSecret},
                                                       {"tenantId", ArmTestEnv::kTenant}},
                    {.env = WorkloadEnv("/nonexistent"), .options = Options()});
  ASSERT_TRUE(cred.ok());
  EXPECT_NE((*cred)->Describe().find("client secret"), std::string::npos);
  EXPECT_TRUE((*cred)->GetToken(kArmScope).ok());
  EXPECT_TRUE(env_->fake().AssertionsSeen().empty());  // workload identity never consulted
}

// --- workload identity ---------------------------------------------------------------

TEST_F(CredentialTest, WorkloadIdentityRereadsTheRotatedTokenFile) {
  const std::string file = dir_.Join("azure-identity-token");
  const std::string first = "projected-sa-token-one-7f3c", second = "projected-sa-token-two-91ab";
  testing::WriteFile(file, first + "\n");
  env_->fake().AddFederatedIdentity(ArmTestEnv::kTenant, "wi-client");
  env_->fake().AcceptAssertion(first);
  auto config = WorkloadIdentityConfig::FromEnvironment(WorkloadEnv(file));
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  WorkloadIdentityCredential cred(*config, {.clock = &env_->clock()});  // authority from env
  auto t1 = cred.GetToken(kArmScope);
  ASSERT_TRUE(t1.ok()) << t1.status().ToString();

  // kubelet rotates the file; the old projected token stops being accepted.
  testing::WriteFile(file, second);
  env_->fake().ExpireAssertion(first);
  env_->fake().AcceptAssertion(second);
  env_->clock().Advance(56min);  // inside the refresh window
  auto t2 = cred.GetToken(kArmScope);
  ASSERT_TRUE(t2.ok()) << t2.status().ToString();
  EXPECT_NE(t1->token, t2->token);
  EXPECT_EQ(env_->fake().AssertionsSeen(), (std::vector<std::string>{first, second}));
  EXPECT_NE(cred.Describe().find("workload identity"), std::string::npos);
}

TEST_F(CredentialTest, WorkloadIdentityErrors) {
  env_->fake().AddFederatedIdentity(ArmTestEnv::kTenant, "wi-client");
  auto missing_file =
      WorkloadIdentityCredential(
          *WorkloadIdentityConfig::FromEnvironment(WorkloadEnv(dir_.Join("none"))), Options())
          .GetToken(kArmScope);
  ASSERT_FALSE(missing_file.ok());
  EXPECT_EQ(missing_file.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(missing_file.status().message().find(dir_.Join("none")), std::string::npos);

  const std::string file = dir_.Join("token");
  testing::WriteFile(file, "stale-projected-token-0001");
  env_->fake().ExpireAssertion("stale-projected-token-0001");
  auto stale = WorkloadIdentityCredential(
                   *WorkloadIdentityConfig::FromEnvironment(WorkloadEnv(file)), Options())
                   .GetToken(kArmScope);
  ASSERT_FALSE(stale.ok());
  EXPECT_NE(stale.status().message().find("AADSTS700024"), std::string::npos);
  EXPECT_EQ(stale.status().message().find("stale-projected-token-0001"), std::string::npos);

  auto env = WorkloadIdentityConfig::FromEnvironment({{"AZURE_CLIENT_ID", "x"}});
  ASSERT_FALSE(env.ok());
  EXPECT_EQ(env.status().message(), "not set: AZURE_FEDERATED_TOKEN_FILE AZURE_TENANT_ID");
}

// --- managed identity ----------------------------------------------------------------

TEST_F(CredentialTest, ManagedIdentityRetriesPerImdsGuidance) {
  env_->fake().AddManagedIdentity("mi-client-1");
  env_->fake().FailImds(3, 503);
  auto cred = ManagedIdentityCredential::Create({.client_id = "mi-client-1"}, Options());
  ASSERT_TRUE(cred.ok());
  auto t = (*cred)->GetToken(kArmScope);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  // 2 s initial backoff doubling, ±20% jitter.
  ASSERT_EQ(env_->sleeps().size(), 3u);
  EXPECT_GE(env_->sleeps()[2], 6400ms);
  // IMDS reports expires_on in whole epoch seconds.
  EXPECT_LE(env_->clock().WallNow() + 1h - t->expires_on, 1s);
  EXPECT_EQ(env_->fake().RequestCount("GET imds"), 4);
  EXPECT_NE((*cred)->Describe().find("managed identity (client mi-clien"), std::string::npos);
}

TEST_F(CredentialTest, ManagedIdentityFinalErrors) {
  // Unknown identity: a 400 is final, and means "not available here".
  auto unknown = ManagedIdentityCredential::Create({.client_id = "nobody"}, Options());
  auto t = (*unknown)->GetToken(kArmScope);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(IsCredentialUnavailable(t.status()));
  EXPECT_EQ(t.status().detail().http_status, 400);
  EXPECT_NE(t.status().message().find("Identity not found"), std::string::npos);
  EXPECT_TRUE(env_->sleeps().empty());
  EXPECT_EQ(env_->fake().RequestCount("GET imds"), 1);

  // No IMDS at all: fail fast, no retries.
  CredentialOptions opts = Options();
  opts.imds_endpoint = ClosedEndpoint();
  auto none = ManagedIdentityCredential::Create({}, opts);
  auto u = (*none)->GetToken(kArmScope);
  ASSERT_FALSE(u.ok());
  EXPECT_EQ(u.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(u.status().message().find("IMDS unreachable"), std::string::npos);
  EXPECT_TRUE(env_->sleeps().empty());

  EXPECT_FALSE(
      ManagedIdentityCredential::Create({.client_id = "a", .object_id = "b"}, Options()).ok());
}

TEST_F(CredentialTest, ManagedIdentityTokensAreForTheResource) {
  env_->fake().AddManagedIdentity();  // system-assigned
  auto cred = ManagedIdentityCredential::Create({}, Options());
  ASSERT_TRUE((*cred)->GetToken(kArmScope).ok());
  ArmClient arm(**cred, {.base_url = env_->fake().base_url(), .clock = &env_->clock()});
  env_->fake().AddGallery(ArmTestEnv::kSubscription, "rg", "g", "westus");
  EXPECT_TRUE(arm.Get("/subscriptions/sub-1234/resourceGroups/rg/providers/Microsoft.Compute/"
                      "galleries/g",
                      kGalleryApiVersion)
                  .ok());
  // A storage token is not accepted by ARM.
  ASSERT_TRUE((*cred)->GetToken(kStorageScope).ok());
  ArmClient wrong(
      **cred,
      {.base_url = env_->fake().base_url(), .scope = kStorageScope, .clock = &env_->clock()});
  auto r = wrong.Get(
      "/subscriptions/sub-1234/resourceGroups/rg/providers/Microsoft.Compute/"
      "galleries/g",
      kGalleryApiVersion);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().detail().reason, "InvalidAuthenticationTokenAudience");
}

// --- the chain -------------------------------------------------------------------------

// Captures log lines for the lifetime of the object.
class LogCapture {
 public:
  LogCapture() {
    log::SetCaptureForTesting([this](const std::string& line) {
      std::lock_guard g(mu_);
      lines_.push_back(line);
    });
  }
  ~LogCapture() { log::SetCaptureForTesting(nullptr); }
  std::vector<std::string> lines() const {
    std::lock_guard g(mu_);
    return lines_;
  }
  // The lines containing `needle`.
  std::vector<std::string> Grep(const std::string& needle) const {
    std::vector<std::string> out;
    for (const auto& l : lines())
      if (l.find(needle) != std::string::npos) out.push_back(l);
    return out;
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::string> lines_;
};

// The "credential selected" line names the kind and never carries a secret.
void ExpectSelectedLogged(const LogCapture& logs, const std::string& kind) {
  const auto selected = logs.Grep("credential selected");
  ASSERT_EQ(selected.size(), 1u) << ::testing::PrintToString(logs.lines());
  EXPECT_NE(selected[0].find("\"kind\":\"" + kind + "\""), std::string::npos) << selected[0];
  EXPECT_EQ(selected[0].find("REDACTED"), std::string::npos) << selected[0];
  EXPECT_TRUE(logs.Grep(ArmTestEnv::kClientSecret).empty());
}

TEST_F(CredentialTest, ChainReportsWhyEachCandidateWasSkipped) {
  auto chain = NewDefaultCredential({.env = {}, .managed_identity = false, .options = Options()});
  auto t = chain->GetToken(kArmScope);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(chain->Report(),
            (std::vector<std::string>{
                "client secret: skipped: not set: AZURE_TENANT_ID AZURE_CLIENT_ID "
                "AZURE_CLIENT_SECRET",
                "workload identity: skipped: not set: AZURE_FEDERATED_TOKEN_FILE AZURE_CLIENT_ID "
                "AZURE_TENANT_ID",
                "managed identity: skipped: disabled"}));
  EXPECT_NE(t.status().message().find("managed identity: skipped: disabled"), std::string::npos);
  EXPECT_EQ(chain->selected(), "");
}

TEST_F(CredentialTest, ChainUsesTheEnvironmentSecretWhenImdsAnswers400) {
  // This node's IMDS has no identity for us: it answers 400 "Identity not found".
  LogCapture logs;
  auto chain = NewDefaultCredential({.env = SecretEnv(), .options = Options()});
  auto t = chain->GetToken(kArmScope);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(chain->selected(), "client secret");
  EXPECT_EQ(chain->Report()[0], "client secret: selected");
  EXPECT_EQ(chain->Report()[2], "managed identity: not tried");
  EXPECT_EQ(env_->fake().RequestCount("POST token"), 1);
  EXPECT_EQ(env_->fake().RequestCount("GET imds"), 0);
  ExpectSelectedLogged(logs, "client secret");
  // Sticky: later calls go straight to the selected credential.
  chain->Invalidate(kArmScope);
  ASSERT_TRUE(chain->GetToken(kArmScope).ok());
  EXPECT_EQ(env_->fake().RequestCount("GET imds"), 0);
  EXPECT_EQ(env_->fake().RequestCount("POST token"), 2);
  EXPECT_NE(chain->Describe().find("client secret"), std::string::npos);

  // Order aside, an IMDS 400 means "not available here" and a chain moves on
  // past it (it used to stop the chain).
  auto mi = ManagedIdentityCredential::Create({}, Options());
  ASSERT_TRUE(mi.ok());
  std::vector<ChainedCredential::Candidate> candidates;
  candidates.push_back({.name = "managed identity", .credential = std::move(*mi)});
  candidates.push_back({.name = "client secret", .credential = env_->NewCredential()});
  ChainedCredential mi_first(std::move(candidates));
  auto u = mi_first.GetToken(kArmScope);
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  EXPECT_EQ(mi_first.selected(), "client secret");
  EXPECT_EQ(mi_first.Report()[0],
            "managed identity: unavailable: managed identity: IMDS answered HTTP 400: "
            "invalid_request: Identity not found");
  EXPECT_EQ(env_->fake().RequestCount("GET imds"), 1);  // a 400 is not retried
  const auto selected = logs.Grep("credential selected");
  ASSERT_EQ(selected.size(), 2u);
  EXPECT_NE(selected[1].find("Identity not found"), std::string::npos) << selected[1];
  EXPECT_TRUE(logs.Grep(ArmTestEnv::kClientSecret).empty());
}

TEST_F(CredentialTest, ChainPrefersTheEnvironmentSecretOverAnAnsweringImds) {
  env_->fake().AddManagedIdentity();  // the node's identity would answer 200
  LogCapture logs;
  auto chain = NewDefaultCredential({.env = SecretEnv(), .options = Options()});
  ASSERT_TRUE(chain->GetToken(kArmScope).ok());
  EXPECT_EQ(chain->selected(), "client secret");
  EXPECT_EQ(env_->fake().RequestCount("GET imds"), 0);
  ExpectSelectedLogged(logs, "client secret");

  // Without the secret, the node's identity is used — and logged as such.
  LogCapture mi_logs;
  auto mi = NewDefaultCredential({.env = {}, .options = Options()});
  ASSERT_TRUE(mi->GetToken(kArmScope).ok());
  EXPECT_EQ(mi->selected(), "managed identity");
  ExpectSelectedLogged(mi_logs, "managed identity");
}

TEST_F(CredentialTest, ChainWithoutAnyIdentityHereSaysWhy) {
  // No identity assigned: IMDS answers 400, and the chain ends "unavailable".
  auto chain = NewDefaultCredential({.env = {}, .options = Options()});
  auto t = chain->GetToken(kArmScope);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), StatusCode::kUnauthenticated);
  EXPECT_NE(t.status().message().find("no Azure credential could provide a token"),
            std::string::npos)
      << t.status().message();
  EXPECT_NE(t.status().message().find("managed identity: unavailable"), std::string::npos);
  EXPECT_NE(t.status().message().find("Identity not found"), std::string::npos);

  // Several user-assigned identities and none chosen: IMDS says so.
  env_->fake().AddManagedIdentity("uami-a");
  env_->fake().AddManagedIdentity("uami-b");
  auto several = chain->GetToken(kArmScope);
  ASSERT_FALSE(several.ok());
  EXPECT_NE(several.status().message().find("Multiple user assigned identities exist"),
            std::string::npos)
      << several.status().message();
  EXPECT_EQ(chain->Report()[2].rfind("managed identity: unavailable: ", 0), 0u);

  // Choosing one makes it work; the chain starts over on the next call.
  auto chosen = NewDefaultCredential(
      {.env = {}, .managed_identity_config = {.client_id = "uami-b"}, .options = Options()});
  ASSERT_TRUE(chosen->GetToken(kArmScope).ok());
  EXPECT_EQ(chosen->selected(), "managed identity");

  // Not on Azure at all: IMDS does not answer, reported without retries.
  CredentialOptions opts = Options();
  opts.imds_endpoint = ClosedEndpoint();
  auto off_azure = NewDefaultCredential({.env = {}, .options = opts});
  ASSERT_FALSE(off_azure->GetToken(kArmScope).ok());
  EXPECT_EQ(off_azure->Report()[2].rfind(
                "managed identity: unavailable: managed identity: IMDS unreachable", 0),
            0u)
      << off_azure->Report()[2];
  EXPECT_TRUE(env_->sleeps().empty());
}

TEST_F(CredentialTest, ChainOrderIsSecretThenWorkloadIdentityThenManagedIdentity) {
  const std::string file = dir_.Join("token");
  testing::WriteFile(file, "projected-token-chain-1");
  env_->fake().AddFederatedIdentity(ArmTestEnv::kTenant, "wi-client");
  env_->fake().AcceptAssertion("projected-token-chain-1");
  env_->fake().AddApplication(ArmTestEnv::kTenant, "wi-client", ArmTestEnv::kClientSecret);
  env_->fake().AddManagedIdentity();
  // All three configured: the environment's client secret wins.
  Environment env = WorkloadEnv(file);
  env.insert({"AZURE_CLIENT_SECRET", ArmTestEnv::kClientSecret});
  auto secret_first = NewDefaultCredential({.env = env, .options = Options()});
  ASSERT_TRUE(secret_first->GetToken(kArmScope).ok());
  EXPECT_EQ(secret_first->selected(), "client secret");
  EXPECT_EQ(secret_first->Report()[1], "workload identity: not tried");
  EXPECT_TRUE(env_->fake().AssertionsSeen().empty());

  // Without the secret, workload identity comes before the node's identity.
  auto wi_next = NewDefaultCredential({.env = WorkloadEnv(file), .options = Options()});
  ASSERT_TRUE(wi_next->GetToken(kArmScope).ok());
  EXPECT_EQ(wi_next->selected(), "workload identity");
  EXPECT_EQ(wi_next->Report()[2], "managed identity: not tried");
  EXPECT_EQ(env_->fake().RequestCount("GET imds"), 0);

  auto mi_last = NewDefaultCredential({.env = {}, .options = Options()});
  ASSERT_TRUE(mi_last->GetToken(kArmScope).ok());
  EXPECT_EQ(mi_last->selected(), "managed identity");
}

TEST_F(CredentialTest, ChainStopsAtAConfiguredCredentialThatFails) {
  const std::string file = dir_.Join("token");
  testing::WriteFile(file, "unknown-projected-token-5");
  env_->fake().AddFederatedIdentity(ArmTestEnv::kTenant, "wi-client");
  env_->fake().AddManagedIdentity();
  auto chain = NewDefaultCredential({.env = WorkloadEnv(file), .options = Options()});
  // Entra refuses the projected token: the node's managed identity may not
  // stand in for the identity the pod was given.
  auto t = chain->GetToken(kArmScope);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), StatusCode::kUnauthenticated);
  EXPECT_NE(t.status().message().find("workload identity is configured but failed"),
            std::string::npos)
      << t.status().message();
  EXPECT_NE(t.status().message().find("AADSTS70021"), std::string::npos) << t.status().message();
  EXPECT_EQ(chain->selected(), "");
  EXPECT_NE(chain->Report()[1].find("failed: "), std::string::npos) << chain->Report()[1];
  EXPECT_EQ(chain->Report()[2], "managed identity: not tried");
  EXPECT_EQ(env_->fake().RequestCount("GET imds"), 0);

  // Once the federation is fixed, the next call starts over and selects it.
  env_->fake().AcceptAssertion("unknown-projected-token-5");
  ASSERT_TRUE(chain->GetToken(kArmScope).ok());
  EXPECT_EQ(chain->selected(), "workload identity");

  // A configured environment secret that Entra refuses stops the chain too.
  const std::string wrong = "wrong-env-secret-value-31";
  Environment bad = WorkloadEnv(file);
  bad["AZURE_CLIENT_ID"] = ArmTestEnv::kClientId;
  bad["AZURE_CLIENT_SECRET"] = wrong;
  auto refused = NewDefaultCredential({.env = bad, .options = Options()});
  auto r = refused->GetToken(kArmScope);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("client secret is configured but failed"), std::string::npos)
      << r.status().message();
  EXPECT_EQ(r.status().message().find(wrong), std::string::npos);
  EXPECT_EQ(refused->Report()[1], "workload identity: not tried");
  EXPECT_EQ(refused->Report()[2], "managed identity: not tried");
  EXPECT_EQ(env_->fake().RequestCount("GET imds"), 0);
}

}  // namespace
}  // namespace vmrelease::azure

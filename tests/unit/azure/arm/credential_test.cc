// Credentials against the fake Entra token endpoint and IMDS: client secret
// (environment and Secret data), workload identity (re-reading a rotated
// token file), managed identity (IMDS guidance retries), and the chain's
// order and skip reasons.
#include <gtest/gtest.h>

#include "controller/azure/client_secret_credential.h"
#include "controller/azure/credential_chain.h"
#include "controller/azure/managed_identity_credential.h"
#include "controller/azure/workload_identity_credential.h"
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
  // Unknown identity: a 400 is final.
  auto unknown = ManagedIdentityCredential::Create({.client_id = "nobody"}, Options());
  auto t = (*unknown)->GetToken(kArmScope);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(t.status().message().find("Identity not found"), std::string::npos);
  EXPECT_TRUE(env_->sleeps().empty());

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

TEST_F(CredentialTest, ChainReportsWhyEachCandidateWasSkipped) {
  auto chain = NewDefaultCredential({.env = {}, .managed_identity = false, .options = Options()});
  auto t = chain->GetToken(kArmScope);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(chain->Report(),
            (std::vector<std::string>{
                "workload identity: skipped: not set: AZURE_FEDERATED_TOKEN_FILE AZURE_CLIENT_ID "
                "AZURE_TENANT_ID",
                "managed identity: skipped: disabled",
                "client secret: skipped: not set: AZURE_TENANT_ID AZURE_CLIENT_ID "
                "AZURE_CLIENT_SECRET"}));
  EXPECT_NE(t.status().message().find("managed identity: skipped: disabled"), std::string::npos);
  EXPECT_EQ(chain->selected(), "");
}

TEST_F(CredentialTest, ChainFallsThroughToClientSecretWhenImdsIsAbsent) {
  CredentialOptions opts = Options();
  opts.imds_endpoint = ClosedEndpoint();
  auto chain = NewDefaultCredential({.env = SecretEnv(), .options = opts});
  ASSERT_TRUE(chain->GetToken(kArmScope).ok());
  EXPECT_EQ(chain->selected(), "client secret");
  const auto report = chain->Report();
  ASSERT_EQ(report.size(), 3u);
  EXPECT_EQ(report[0].rfind("workload identity: skipped: not set: AZURE_FEDERATED_TOKEN_FILE", 0),
            0u);
  EXPECT_EQ(report[1].rfind("managed identity: unavailable: managed identity: IMDS unreachable", 0),
            0u)
      << report[1];
  EXPECT_EQ(report[2], "client secret: selected");
  // Sticky: later calls go straight to the selected credential.
  const int imds = env_->fake().RequestCount("GET imds");
  chain->Invalidate(kArmScope);
  ASSERT_TRUE(chain->GetToken(kArmScope).ok());
  EXPECT_EQ(env_->fake().RequestCount("GET imds"), imds);
  EXPECT_NE(chain->Describe().find("client secret"), std::string::npos);
}

TEST_F(CredentialTest, ChainTriesWorkloadIdentityFirstThenManagedIdentity) {
  const std::string file = dir_.Join("token");
  testing::WriteFile(file, "projected-token-chain-1");
  env_->fake().AddFederatedIdentity(ArmTestEnv::kTenant, "wi-client");
  env_->fake().AcceptAssertion("projected-token-chain-1");
  env_->fake().AddManagedIdentity();
  Environment env = WorkloadEnv(file);
  env.insert({"AZURE_CLIENT_SECRET", ArmTestEnv::kClientSecret});
  auto wi_first = NewDefaultCredential({.env = env, .options = Options()});
  ASSERT_TRUE(wi_first->GetToken(kArmScope).ok());
  EXPECT_EQ(wi_first->selected(), "workload identity");
  EXPECT_EQ(wi_first->Report()[1], "managed identity: not tried");
  EXPECT_EQ(env_->fake().RequestCount("GET imds"), 0);

  // Without workload identity, managed identity comes before the client secret.
  auto mi_next = NewDefaultCredential({.env = SecretEnv(), .options = Options()});
  ASSERT_TRUE(mi_next->GetToken(kArmScope).ok());
  EXPECT_EQ(mi_next->selected(), "managed identity");
  EXPECT_EQ(mi_next->Report()[2], "client secret: not tried");
}

TEST_F(CredentialTest, ChainStopsAtAConfiguredCredentialThatFails) {
  const std::string file = dir_.Join("token");
  testing::WriteFile(file, "unknown-projected-token-5");
  // Workload identity and client secret share AZURE_CLIENT_ID in real pods; the
  // fake knows the app as kClientId, so register the federated identity under it.
  env_->fake().AddFederatedIdentity(ArmTestEnv::kTenant, ArmTestEnv::kClientId);
  env_->fake().AddManagedIdentity();
  Environment env = WorkloadEnv(file);
  env["AZURE_CLIENT_ID"] = ArmTestEnv::kClientId;
  env["AZURE_CLIENT_SECRET"] = ArmTestEnv::kClientSecret;
  auto chain = NewDefaultCredential({.env = env, .options = Options()});
  // Entra refuses the projected token: neither the node's managed identity nor
  // the client secret may stand in for the identity the pod was given.
  auto t = chain->GetToken(kArmScope);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), StatusCode::kUnauthenticated);
  EXPECT_NE(t.status().message().find("workload identity is configured but failed"),
            std::string::npos)
      << t.status().message();
  EXPECT_NE(t.status().message().find("AADSTS70021"), std::string::npos) << t.status().message();
  EXPECT_EQ(chain->selected(), "");
  EXPECT_NE(chain->Report()[0].find("failed: "), std::string::npos) << chain->Report()[0];
  EXPECT_EQ(chain->Report()[1], "managed identity: not tried");
  EXPECT_EQ(chain->Report()[2], "client secret: not tried");
  EXPECT_EQ(env_->fake().RequestCount("GET imds"), 0);

  // Once the federation is fixed, the next call starts over and selects it.
  env_->fake().AcceptAssertion("unknown-projected-token-5");
  ASSERT_TRUE(chain->GetToken(kArmScope).ok());
  EXPECT_EQ(chain->selected(), "workload identity");
}

}  // namespace
}  // namespace vmrelease::azure

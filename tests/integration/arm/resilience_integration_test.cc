// The clients under adverse conditions: 20% of ARM calls answered 429/500,
// requests that get no answer or a dropped connection, tokens that expire or
// are revoked mid-run — and, throughout, no secret in any log line or error.
#include <gtest/gtest.h>

#include <algorithm>
#include <mutex>

#include "controller/azure/azure_error.h"
#include "controller/azure/credential_chain.h"
#include "controller/azure/workload_identity_credential.h"
#include "controller/common/log.h"
#include "tests/integration/arm/arm_flows.h"
#include "tests/support/testing/process.h"

namespace vmrelease::azure {
namespace {

using namespace testflows;
using fake_arm::FaultKind;

// Everything a release does with ARM, end to end. Returns the error strings seen.
std::vector<std::string> FullRun(ArmTestEnv& env, const std::string& suffix) {
  std::vector<std::string> errors;
  ArmGallery gallery(env.arm());
  ArmVirtualMachines vms(env.arm());
  ArmImageBuilder builder(env.arm());
  const ImageTemplateRef t{ArmTestEnv::kSubscription, "builds", "tpl-" + suffix};
  MustWait(env, builder.CreateTemplate(
                    t, {.location = "westeurope",
                        .identity_id = "/subscriptions/s/uami/builder",
                        .source = PlatformImageSource("MicrosoftSQLServer", "sql2022-ws2022",
                                                      "standard-gen2", "latest"),
                        .vm_size = "Standard_D4s_v5"}));
  MustWait(env, builder.Run(t));
  auto out = builder.GetRunOutput(t, "vhd");
  EXPECT_TRUE(out.ok()) << out.status().ToString();

  PublishVersion(env, gallery, "1.3." + suffix, "1.3." + suffix + ".vhd");
  MustWait(env, gallery.UpdateImageVersion(
                    kImage, "1.3." + suffix,
                    {.owner_uid = kReleaseUid,
                     .target_regions =
                         std::vector<TargetRegion>{{.name = "westeurope"}, {.name = "northeurope"}},
                     .exclude_from_latest = false}));
  auto v = gallery.GetImageVersion(kImage, "1.3." + suffix, true);
  EXPECT_TRUE(v.ok() && v->replication && v->replication->aggregated_state == "Completed");

  const std::string nic = "nic-" + suffix, vm = "vm-" + suffix;
  MustWait(env,
           vms.CreateNic(kValidationRg, nic, {.location = "westeurope", .subnet_id = kSubnet}));
  MustWait(env, vms.CreateVm(kValidationRg, vm, VmFromVersion(nic, "1.3." + suffix)));
  MustWait(env, vms.StartRunCommand(kValidationRg, vm, "check",
                                    {.location = "westeurope", .script = "exit 0"}));
  RunCommandResult r = AwaitRunCommand(vms, vm, "check");
  EXPECT_EQ(r.exit_code, 0);
  MustWait(env, vms.DeleteRunCommand(kValidationRg, vm, "check"));
  auto got = vms.GetVm(kValidationRg, vm, true);
  EXPECT_TRUE(got.ok());
  const std::string disk = got.ok() ? ResourceName(got->os_disk_id) : "";
  MustWait(env, vms.DeleteVm(kValidationRg, vm, true));
  MustWait(env, vms.DeleteNic(kValidationRg, nic));
  MustWait(env, vms.DeleteDisk(kValidationRg, disk));
  MustWait(env, builder.DeleteTemplate(t));

  // A failing operation and a refused overwrite contribute error strings too.
  // The operation must be started and must fail for the injected reason: an
  // error on the way there (e.g. retries used up) fails the test, it does not
  // stand in for the failure.
  env.fake().FailNextOperation({.id_contains = "versions/9.9." + suffix,
                                .code = "ReplicationFailed",
                                .message = "injected failure"});
  auto bad = gallery.CreateImageVersion(kImage, "9.9." + suffix, VersionSpec("bad.vhd"));
  EXPECT_TRUE(bad.ok()) << "starting the operation that is to fail: " << bad.status().ToString();
  const Status failed = bad.ok() ? env.arm().Wait(*bad, 1h).status() : bad.status();
  EXPECT_EQ(failed.detail().reason, "ReplicationFailed") << failed.ToString();
  EXPECT_NE(failed.message().find("injected failure"), std::string::npos) << failed.ToString();
  errors.push_back(failed.ToString());
  auto conflict = gallery.CreateImageVersion(kImage, "1.3." + suffix, VersionSpec("other.vhd"));
  EXPECT_FALSE(conflict.ok());
  errors.push_back(conflict.status().ToString());
  return errors;
}

TEST(ResilienceTest, TwentyPercentOfCallsFailAndEverythingStillCompletes) {
  auto env = ArmTestEnv::Start({.lro_polls = 3, .retry_after_seconds = 5, .seed = 42});
  env->fake().SetRandomFaults(0.2, {FaultKind::kThrottle429, FaultKind::kServerError500});
  FullRun(*env, "0");
  const ArmClient::Stats stats = env->arm().stats();
  const int faults = env->fake().FaultsInjected();
  RecordProperty("arm_calls", stats.calls);
  RecordProperty("arm_attempts", stats.attempts);
  RecordProperty("arm_retries", stats.retries);
  RecordProperty("faults_injected", faults);
  std::printf("20%% faults: %d calls, %d attempts, %d retries, %d faults injected\n", stats.calls,
              stats.attempts, stats.retries, faults);
  EXPECT_GT(faults, 10);  // the faults really happened
  // Every fault cost exactly one retry, and the fake saw each retry arrive with
  // the same client request id.
  EXPECT_EQ(stats.retries, faults);
  EXPECT_EQ(env->fake().RetriesSeen(), stats.retries);
  EXPECT_EQ(stats.attempts, stats.calls + stats.retries);
  // Bounded: far from the worst case (calls × (max_attempts − 1)), and near the
  // expected 0.25 retries per call at a 20% fault rate.
  EXPECT_LE(stats.retries, stats.calls / 2);
  EXPECT_EQ(stats.auth_retries, 0);

  // Per call, as the fake saw them (one x-ms-client-request-id per call, kept
  // across its retries): no call made more than max_attempts attempts, and the
  // attempts add up to the client's own counts.
  const int max_attempts = env->client_options().retry.max_attempts;
  const auto per_call = env->fake().AttemptsByClientRequestId();
  int attempts = 0, most = 0, retried_calls = 0;
  for (const auto& [id, call] : per_call) {
    EXPECT_LE(call.attempts, max_attempts) << call.route << " (" << id << ")";
    attempts += call.attempts;
    most = std::max(most, call.attempts);
    retried_calls += call.attempts > 1 ? 1 : 0;
  }
  EXPECT_EQ(static_cast<int>(per_call.size()), stats.calls);
  EXPECT_EQ(attempts, stats.attempts);
  EXPECT_GT(retried_calls, 5);
  std::printf("20%% faults: %d calls retried, at most %d attempts for one call (limit %d)\n",
              retried_calls, most, max_attempts);
}

TEST(ResilienceTest, ACallThatKeepsFailingGivesUpAfterMaxAttemptsWithTheLastError) {
  auto env = ArmTestEnv::Start({.lro_polls = 1, .retry_after_seconds = 1});
  ArmGallery gallery(env->arm());
  PublishVersion(*env, gallery, "1.0.0", "1.0.0.vhd");
  const int max_attempts = env->client_options().retry.max_attempts;
  ASSERT_EQ(max_attempts, 8);
  // Throttled three times, then a server error on every attempt, for longer than
  // the client may try.
  env->fake().InjectFault(FaultKind::kThrottle429, 3, "/versions/1.0.0");
  env->fake().InjectFault(FaultKind::kServerError500, 100, "/versions/1.0.0");
  env->fake().ResetCounters();
  env->clear_sleeps();

  auto v = gallery.GetImageVersion(kImage, "1.0.0", false);
  ASSERT_FALSE(v.ok());
  // The last answer, not the first: a 500, after the 429s.
  EXPECT_EQ(v.status().detail().http_status, 500) << v.status().ToString();
  EXPECT_EQ(v.status().detail().reason, "InternalServerError") << v.status().ToString();
  EXPECT_EQ(ClassifyArmError(v.status()), ArmErrorKind::kServer);
  // Exactly max_attempts requests, all with the call's one client request id,
  // and a wait before every retry (Retry-After 2 s for the 429s, then backoff).
  const auto per_call = env->fake().AttemptsByClientRequestId();
  ASSERT_EQ(per_call.size(), 1u);
  EXPECT_EQ(per_call.begin()->second.attempts, max_attempts);
  EXPECT_EQ(per_call.begin()->second.route, "GET Microsoft.Compute/galleries/images/versions");
  EXPECT_EQ(env->fake().FaultsInjected(), max_attempts);
  const std::vector<Duration> sleeps = env->sleeps();
  ASSERT_EQ(sleeps.size(), static_cast<size_t>(max_attempts - 1));
  for (int i = 0; i < 3; ++i) EXPECT_EQ(sleeps[i], std::chrono::seconds(2)) << i;

  // The next call starts afresh with its own id and its own budget.
  auto again = gallery.GetImageVersion(kImage, "1.0.0", false);
  EXPECT_FALSE(again.ok());
  const auto after = env->fake().AttemptsByClientRequestId();
  ASSERT_EQ(after.size(), 2u);
  for (const auto& [id, call] : after) EXPECT_EQ(call.attempts, max_attempts) << id;
}

TEST(ResilienceTest, NoAnswerAndDroppedConnectionsAreRetried) {
  // Real time is involved here (the client's request timeout), so the margins
  // are wide: 1 s timeout, answers held for 2.5 s.
  auto env =
      ArmTestEnv::Start({.lro_polls = 2,
                         .retry_after_seconds = 1,
                         .no_answer_delay = std::chrono::milliseconds(2500)},
                        [](ArmClientOptions& o) { o.request_timeout = std::chrono::seconds(1); });
  env->fake().InjectFault(FaultKind::kNoAnswer, 1, "/operations/");
  env->fake().InjectFault(FaultKind::kDropConnection, 1, "/versions/");
  ArmGallery gallery(env->arm());
  PublishVersion(*env, gallery, "1.0.0", "1.0.0.vhd");
  EXPECT_EQ(env->fake().FaultsInjected(), 2);
  // The dropped connection always costs one retry here. The unanswered request
  // does too when it was on a fresh connection; on a pooled one the HTTP layer
  // (cpprestsdk) resends it once by itself after the timeout, invisibly to us.
  // arm_client_test covers the transport-retry path deterministically.
  EXPECT_GE(env->arm().stats().retries, 1);
  EXPECT_LE(env->arm().stats().retries, 4);
  auto v = gallery.GetImageVersion(kImage, "1.0.0", false);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->provisioning_state, "Succeeded");
}

TEST(ResilienceTest, TokensAreRefreshedBeforeTheyExpireDuringLongOperations) {
  // 10-minute tokens; each operation takes 6 polls × 60 s of (fake) time.
  auto env = ArmTestEnv::Start(
      {.lro_polls = 6, .retry_after_seconds = 60, .token_lifetime = std::chrono::minutes(10)});
  ArmGallery gallery(env->arm());
  PublishVersion(*env, gallery, "1.0.0", "a.vhd");
  MustWait(*env, gallery.CreateImageVersion(kImage, "1.1.0", VersionSpec("b.vhd")));
  MustWait(*env, gallery.CreateImageVersion(kImage, "1.2.0", VersionSpec("c.vhd")));
  // 18+ minutes of operations with tokens refreshed every 5 minutes (5 min
  // before expiry), and never an expired token presented.
  RecordProperty("tokens_issued", env->fake().TokensIssued());
  RecordProperty("minutes_slept",
                 static_cast<int>(
                     std::chrono::duration_cast<std::chrono::minutes>(env->total_slept()).count()));
  EXPECT_GE(env->total_slept(), std::chrono::minutes(18));
  EXPECT_GE(env->fake().TokensIssued(), 4);
  EXPECT_EQ(env->fake().TokensIssued(), env->credential().fetch_count());
  EXPECT_EQ(env->arm().stats().auth_retries, 0);
}

TEST(ResilienceTest, ATokenRevokedMidRunIsReplacedAfterOne401) {
  auto env = ArmTestEnv::Start({.lro_polls = 4, .retry_after_seconds = 10});
  ArmGallery gallery(env->arm());
  env->fake().AddGallery(kImage.subscription_id, kImage.resource_group, kImage.gallery,
                         "westeurope");
  MustWait(*env, gallery.CreateImageDefinition(kImage, Definition()));
  auto op = gallery.CreateImageVersion(kImage, "1.0.0", VersionSpec("a.vhd"));
  ASSERT_TRUE(op.ok());
  auto first = gallery.Poll(op->ref);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(env->fake().TokensIssued(), 1);
  env->fake().ExpireAllTokens();  // e.g. the app's credentials were rotated
  auto done = env->arm().Wait(*first, 1h);
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  EXPECT_EQ(env->fake().TokensIssued(), 2);
  EXPECT_EQ(env->arm().stats().auth_retries, 1);
}

TEST(ResilienceTest, NoSecretAppearsInLogsOrErrors) {
  std::mutex mu;
  std::vector<std::string> lines;
  log::Init(log::Format::kJson, log::Level::kDebug);  // polls and token traffic included
  log::SetCaptureForTesting([&](const std::string& l) {
    std::lock_guard g(mu);
    lines.push_back(l);
  });
  std::vector<std::string> errors;
  std::string assertion = "eyJhbGciOiJSUzI1NiJ9.projected-sa-token.sig-4b1d";
  {
    auto env = ArmTestEnv::Start({.lro_polls = 2, .retry_after_seconds = 3, .seed = 7});
    env->fake().SetRandomFaults(
        0.2, {FaultKind::kThrottle429, FaultKind::kServerError500, FaultKind::kUnavailable503},
        /*include_identity=*/true);
    auto run_errors = FullRun(*env, "7");
    errors.insert(errors.end(), run_errors.begin(), run_errors.end());
    env->fake().ExpireAllTokens();
    ArmGallery gallery(env->arm());
    (void)gallery.GetImageVersion(kImage, "1.3.7", false);

    // A wrong secret, a workload identity exchange and a managed identity token.
    ClientSecretCredential wrong({.tenant_id = ArmTestEnv::kTenant,
                                  .client_id = ArmTestEnv::kClientId,
                                  .client_secret = "definitely-wrong-secret-31"},
                                 env->credential_options());
    errors.push_back(wrong.GetToken(kArmScope).status().ToString());
    testing::TempDir dir;
    testing::WriteFile(dir.Join("token"), assertion);
    env->fake().AddFederatedIdentity(ArmTestEnv::kTenant, "wi-app");
    env->fake().AcceptAssertion(assertion);
    WorkloadIdentityCredential wi(
        {.tenant_id = ArmTestEnv::kTenant, .client_id = "wi-app", .token_file = dir.Join("token")},
        env->credential_options());
    auto wi_token = wi.GetToken(kArmScope);
    EXPECT_TRUE(wi_token.ok()) << wi_token.status().ToString();
    env->fake().ExpireAssertion(assertion);
    wi.Invalidate(kArmScope);
    errors.push_back(wi.GetToken(kArmScope).status().ToString());
    env->fake().AddManagedIdentity();
    auto chain = NewDefaultCredential({.env = {}, .options = env->credential_options()});
    EXPECT_TRUE(chain->GetToken(kArmScope).ok());

    log::SetCaptureForTesting(nullptr);
    log::Init(log::Format::kJson, log::Level::kInfo);
    std::vector<std::string> secrets = env->fake().IssuedTokens();
    ASSERT_GE(secrets.size(), 4u);
    secrets.push_back(ArmTestEnv::kClientSecret);
    secrets.push_back("definitely-wrong-secret-31");
    secrets.push_back(assertion);
    secrets.push_back("Vm-Adm1n-Pa55word-6f1e");
    std::lock_guard g(mu);
    ASSERT_GT(lines.size(), 100u);
    // Failures name the secret and the line by index only: printing the line
    // would put the secret into the test output.
    int with_request_id = 0;
    for (size_t n = 0; n < lines.size(); ++n) {
      with_request_id += lines[n].find("client_request_id") != std::string::npos;
      for (size_t k = 0; k < secrets.size(); ++k)
        if (lines[n].find(secrets[k]) != std::string::npos)
          ADD_FAILURE() << "secret #" << k << " appears in log line #" << n;
      if (lines[n].find("Bearer fake-arm-token") != std::string::npos)
        ADD_FAILURE() << "a bearer header appears in log line #" << n;
    }
    EXPECT_GT(with_request_id, 50);
    ASSERT_GE(errors.size(), 4u);
    for (size_t n = 0; n < errors.size(); ++n)
      for (size_t k = 0; k < secrets.size(); ++k)
        if (errors[n].find(secrets[k]) != std::string::npos)
          ADD_FAILURE() << "secret #" << k << " appears in error #" << n;
  }
}

}  // namespace
}  // namespace vmrelease::azure

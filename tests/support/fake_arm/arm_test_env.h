// ArmTestEnv: a FakeArm plus the real credential and ARM clients pointed at it,
// all on one ManualClock. The sleeper the clients use records each requested
// delay and advances the clock by it, so Retry-After and backoff are observable
// and tests never really wait.
//
//   auto env = ArmTestEnv::Start({.lro_polls = 3, .retry_after_seconds = 10});
//   ArmGallery gallery(env->arm());
//   ASSIGN_OR_RETURN(Operation op, gallery.CreateImageVersion(...));
//   ASSERT_TRUE(env->arm().Wait(op, std::chrono::hours(1)).ok());
//   EXPECT_EQ(env->sleeps(), std::vector<Duration>(3, std::chrono::seconds(10)));
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "controller/azure/arm_client.h"
#include "controller/azure/client_secret_credential.h"
#include "tests/support/fake_arm/fake_arm.h"

namespace vmrelease::fake_arm {

class ArmTestEnv {
 public:
  static constexpr const char* kTenant = "tenant-0f3a";
  static constexpr const char* kClientId = "client-7d21";
  static constexpr const char* kClientSecret = "arm-test-client-secret-5c9e27b1";
  static constexpr const char* kSubscription = "sub-1234";

  // Starts the fake (its clock is forced to the env's ManualClock), registers
  // the client-secret application and builds a credential and an ArmClient.
  // `tweak` may adjust the client options (retry policy, timeouts).
  static std::unique_ptr<ArmTestEnv> Start(
      Options fake_options = {}, std::function<void(azure::ArmClientOptions&)> tweak = {});
  ~ArmTestEnv();

  FakeArm& fake() { return *fake_; }
  ManualClock& clock() { return clock_; }
  azure::ClientSecretCredential& credential() { return *credential_; }
  azure::ArmClient& arm() { return *arm_; }
  // The options arm() was built with (after `tweak`), e.g. its retry policy.
  const azure::ArmClientOptions& client_options() const { return client_options_; }
  // A second, independent credential + client (e.g. "after a restart").
  std::unique_ptr<azure::ArmClient> NewClient(azure::TokenCredential& credential);
  std::unique_ptr<azure::ClientSecretCredential> NewCredential();
  azure::CredentialOptions credential_options();

  azure::Sleeper sleeper();
  std::vector<Duration> sleeps() const;
  Duration total_slept() const;
  void clear_sleeps();

 private:
  ArmTestEnv() = default;
  ManualClock clock_;
  mutable std::mutex mu_;
  std::vector<Duration> sleeps_;
  std::unique_ptr<FakeArm> fake_;
  std::unique_ptr<azure::ClientSecretCredential> credential_;
  azure::ArmClientOptions client_options_;
  std::unique_ptr<azure::ArmClient> arm_;
};

}  // namespace vmrelease::fake_arm

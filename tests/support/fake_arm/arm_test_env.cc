#include "tests/support/fake_arm/arm_test_env.h"

#include <cstdlib>

namespace vmrelease::fake_arm {

std::unique_ptr<ArmTestEnv> ArmTestEnv::Start(Options fake_options,
                                              std::function<void(azure::ArmClientOptions&)> tweak) {
  std::unique_ptr<ArmTestEnv> env(new ArmTestEnv());
  fake_options.clock = &env->clock_;
  auto fake = FakeArm::Start(std::move(fake_options));
  if (!fake.ok()) {
    // The fixture cannot run without its server; say why and stop the test binary.
    std::fprintf(stderr, "ArmTestEnv: %s\n", fake.status().ToString().c_str());
    std::abort();
  }
  env->fake_ = std::move(*fake);
  env->fake_->AddApplication(kTenant, kClientId, kClientSecret);
  env->credential_ = env->NewCredential();
  env->client_options_ = azure::ArmClientOptions{
      .base_url = env->fake_->base_url(),
      .clock = &env->clock_,
      .sleep = env->sleeper(),
      .retry = {.max_attempts = 8,
                .max_elapsed = std::chrono::minutes(10),
                .backoff = {.initial = std::chrono::seconds(1), .max = std::chrono::seconds(30)}},
      .request_timeout = std::chrono::seconds(10),
      .default_poll_interval = std::chrono::seconds(5)};
  if (tweak) tweak(env->client_options_);
  env->arm_ = std::make_unique<azure::ArmClient>(*env->credential_, env->client_options_);
  return env;
}

ArmTestEnv::~ArmTestEnv() {
  arm_.reset();
  credential_.reset();
  if (fake_) fake_.reset();
}

azure::CredentialOptions ArmTestEnv::credential_options() {
  return azure::CredentialOptions{.authority_host = fake_->base_url() + "/",
                                  .imds_endpoint = fake_->base_url(),
                                  .clock = &clock_,
                                  .sleep = sleeper(),
                                  .timeout = std::chrono::seconds(10)};
}

std::unique_ptr<azure::ClientSecretCredential> ArmTestEnv::NewCredential() {
  return std::make_unique<azure::ClientSecretCredential>(
      azure::ClientSecretConfig{
          .tenant_id = kTenant, .client_id = kClientId, .client_secret = kClientSecret},
      credential_options());
}

std::unique_ptr<azure::ArmClient> ArmTestEnv::NewClient(azure::TokenCredential& credential) {
  return std::make_unique<azure::ArmClient>(credential, client_options_);
}

azure::Sleeper ArmTestEnv::sleeper() {
  return [this](Duration d) {
    {
      std::lock_guard g(mu_);
      sleeps_.push_back(d);
    }
    clock_.Advance(d);
  };
}

std::vector<Duration> ArmTestEnv::sleeps() const {
  std::lock_guard g(mu_);
  return sleeps_;
}

Duration ArmTestEnv::total_slept() const {
  std::lock_guard g(mu_);
  Duration total{0};
  for (Duration d : sleeps_) total += d;
  return total;
}

void ArmTestEnv::clear_sleeps() {
  std::lock_guard g(mu_);
  sleeps_.clear();
}

}  // namespace vmrelease::fake_arm

// The one place where the pipeline's interfaces meet real implementations:
// the Azure credential chain, ARM clients (gallery, VMs), the staging blob
// store, per-release publishing clients, the task runner, the backends and the
// product metrics.
//
//   ASSIGN_OR_RETURN(auto wiring, Wiring::Create(options, client, prom));
//   release::Reconciler reconciler({.env = wiring->env(), .backends = wiring->backends(), ...});
//   wiring->tasks().SetOnDone([&](const std::string& key) { ... enqueue ... });
//
// Guarantees: nothing here talks to Azure at creation time (a controller with no
// Azure configured starts and serves pins; releases that need Azure then fail
// with the credential's error). Storage accounts listed with --storage-key-file
// use Shared Key; every other account uses the credential (bearer, user
// delegation SAS).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "controller/app/options.h"
#include "controller/azure/arm_client.h"
#include "controller/azure/blob_client.h"
#include "controller/azure/credential_chain.h"
#include "controller/azure/image_builder.h"
#include "controller/kube/client.h"
#include "controller/metrics/product_metrics.h"
#include "controller/release/image_builder_build.h"
#include "controller/release/job_build.h"
#include "controller/release/job_validation.h"
#include "controller/release/local_build.h"
#include "controller/release/local_validation.h"
#include "controller/release/steps.h"
#include "controller/release/vm_validation.h"

namespace vmrelease::app {

// Publishing clients per release: the controller's own, or those of the
// Secret named in spec.publish.credentials (cached per Secret resourceVersion).
class ReleasePublishers final : public release::PublisherFactory {
 public:
  struct Deps {
    kube::KubeClient* kube;
    azure::TokenCredential* credential;  // the controller's identity
    azure::Gallery* gallery;             // the controller's gallery client
    azure::ArmClientOptions arm_options;
    azure::CredentialOptions credential_options;
    std::map<std::string, std::string> storage_keys;  // account → key (secret)
    std::function<void(int)> blob_observer;
  };
  explicit ReleasePublishers(Deps deps) : d_(std::move(deps)) {}
  StatusOr<release::PublishClients> For(const api::ImageRelease& release) override;
  // A blob client for `account_url`, Shared Key when a key is configured for the
  // account, else bearer with `credential`. Cached.
  StatusOr<azure::BlobStore*> BlobFor(const std::string& account_url,
                                      azure::TokenCredential& credential);

 private:
  struct SecretClients {
    std::string resource_version;
    std::unique_ptr<azure::TokenCredential> credential;
    std::unique_ptr<azure::ArmClient> arm;
    std::unique_ptr<azure::Gallery> gallery;
  };
  Deps d_;
  std::mutex mu_;
  std::map<std::string, std::unique_ptr<azure::BlobClient>> blobs_;  // credential ptr + url
  std::map<std::string, SecretClients> secrets_;                     // ns/name
};

class Wiring {
 public:
  static StatusOr<std::unique_ptr<Wiring>> Create(const Options& options, kube::KubeClient& kube,
                                                  metrics::PrometheusMetrics& prom);
  ~Wiring();

  release::Environment& env() { return env_; }
  release::Backends backends();
  release::TaskRunner& tasks() { return *tasks_; }
  metrics::ProductMetrics& product_metrics() { return *product_metrics_; }
  // One line per credential candidate (for the start-up log).
  std::string CredentialReport() const;

 private:
  Wiring() = default;
  std::unique_ptr<metrics::ProductMetrics> product_metrics_;
  std::unique_ptr<azure::ChainedCredential> credential_;
  std::unique_ptr<azure::ArmClient> arm_;
  std::unique_ptr<azure::Gallery> gallery_;
  std::unique_ptr<azure::VirtualMachines> vms_;
  std::unique_ptr<azure::ImageBuilder> image_builder_;
  std::unique_ptr<azure::BlobClient> staging_;
  std::unique_ptr<ReleasePublishers> publishers_;
  std::unique_ptr<release::TaskRunner> tasks_;
  release::LocalBuildBackend local_build_;
  release::JobBuildBackend job_build_;
  std::unique_ptr<release::ImageBuilderBuildBackend> image_builder_build_;
  release::LocalValidationBackend local_validation_;
  release::VmValidationBackend vm_validation_;
  release::JobValidationBackend job_validation_;
  release::Environment env_;
};

}  // namespace vmrelease::app

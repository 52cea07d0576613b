#include "controller/app/wiring.h"

#include <cstdlib>
#include <filesystem>

#include "controller/azure/arm_gallery.h"
#include "controller/azure/arm_image_builder.h"
#include "controller/azure/arm_virtual_machines.h"
#include "controller/azure/storage_account.h"
#include "controller/azure/storage_auth.h"
#include "controller/common/crypto.h"
#include "controller/common/log.h"
#include "controller/common/strings.h"
#include "controller/kube/errors.h"

namespace vmrelease::app {
namespace {

constexpr char kLogger[] = "app.wiring";

// ARM calls made by reconcilers give up early on long throttling and hand the
// wait back to the work queue (Retry-After) instead of parking a worker.
azure::RetryPolicy ReconcilerRetryPolicy() {
  azure::RetryPolicy p;
  p.max_attempts = 5;
  p.max_elapsed = std::chrono::seconds(30);
  p.max_retry_after = std::chrono::seconds(10);
  p.backoff = {.initial = std::chrono::milliseconds(500), .max = std::chrono::seconds(8)};
  return p;
}

std::string AccountNameOf(const std::string& url) {
  auto parsed = azure::StorageAccountUrl::Parse(url);
  return parsed.ok() ? parsed->account() : "";
}

}  // namespace

StatusOr<azure::BlobStore*> ReleasePublishers::BlobFor(const std::string& account_url,
                                                       azure::TokenCredential& credential) {
  std::lock_guard g(mu_);
  const std::string account = AccountNameOf(account_url);
  const auto key = d_.storage_keys.find(account);
  const std::string cache_key =
      (key != d_.storage_keys.end() ? std::string("key")
                                    : std::to_string(reinterpret_cast<uintptr_t>(&credential))) +
      " " + account_url;
  auto it = blobs_.find(cache_key);
  if (it != blobs_.end()) return it->second.get();
  std::unique_ptr<azure::StorageAuth> auth;
  if (key != d_.storage_keys.end()) {
    ASSIGN_OR_RETURN(azure::SharedKeySigner signer,
                     azure::SharedKeySigner::Create(account, key->second));
    auth = azure::SharedKeyAuth(std::move(signer));
  } else {
    auth = azure::BearerAuth(credential);
  }
  azure::BlobClientOptions o{.account_url = account_url};
  o.on_response = d_.blob_observer;
  ASSIGN_OR_RETURN(auto client, azure::BlobClient::Create(std::move(o), std::move(auth)));
  azure::BlobStore* out = client.get();
  blobs_[cache_key] = std::move(client);
  return out;
}

StatusOr<release::PublishClients> ReleasePublishers::For(const api::ImageRelease& release) {
  release::PublishClients out;
  azure::TokenCredential* credential = d_.credential;
  azure::Gallery* gallery = d_.gallery;
  const auto& creds = release.spec.publish.credentials;
  if (creds && creds->secret_ref) {
    const std::string& name = creds->secret_ref->name;
    const std::string where =
        "spec.publish.credentials.secretRef: Secret " + release.metadata.ns + "/" + name;
    StatusOr<kube::Json> secret = d_.kube->Get(kube::SecretResource(), {release.metadata.ns, name});
    if (!secret.ok()) {
      if (kube::IsNotFound(secret.status())) return FailedPreconditionError(where + " not found");
      if (kube::IsForbidden(secret.status()))
        return FailedPreconditionError(where + " cannot be read by the controller (RBAC)");
      return secret.status();
    }
    std::lock_guard g(mu_);
    SecretClients& sc = secrets_[release.metadata.ns + "/" + name];
    if (!sc.credential || sc.resource_version != kube::ResourceVersion(*secret)) {
      std::map<std::string, std::string> data;
      if (const kube::Json* d = kube::Find(*secret, {"data"}); d && d->is_object()) {
        for (auto it = d->begin(); it != d->end(); ++it) {
          if (!it.value().is_string()) continue;
          auto decoded = Base64Decode(it.value().get<std::string>());
          if (decoded.ok()) data[it.key()] = *decoded;
        }
      }
      azure::DefaultCredentialConfig config;
      config.options = d_.credential_options;
      auto cred = azure::NewCredential(data, std::move(config));
      if (!cred.ok()) return FailedPreconditionError(where + ": " + cred.status().message());
      sc.resource_version = kube::ResourceVersion(*secret);
      sc.credential = std::move(*cred);
      sc.arm = std::make_unique<azure::ArmClient>(*sc.credential, d_.arm_options);
      sc.gallery = std::make_unique<azure::ArmGallery>(*sc.arm);
      log::Info(kLogger, "publishing credentials loaded",
                {{"secret", release.metadata.ns + "/" + name},
                 {"credential", sc.credential->Describe()}});
    }
    credential = sc.credential.get();
    gallery = sc.gallery.get();
  }
  if (release.spec.publish.gallery) out.gallery = gallery;
  if (release.spec.publish.blob) {
    ASSIGN_OR_RETURN(out.blob, BlobFor(release.spec.publish.blob->account_url, *credential));
  }
  return out;
}

Wiring::~Wiring() {
  tasks_.reset();  // joins the task threads before the clients they use go
}

StatusOr<std::unique_ptr<Wiring>> Wiring::Create(const Options& options, kube::KubeClient& kube,
                                                 metrics::PrometheusMetrics& prom) {
  std::unique_ptr<Wiring> w(new Wiring());
  w->product_metrics_ = std::make_unique<metrics::ProductMetrics>(prom);

  std::map<std::string, std::string> keys;
  for (const std::string& kv : options.storage_key_files) {
    const size_t eq = kv.find('=');
    ASSIGN_OR_RETURN(std::string key, ReadFileToString(kv.substr(eq + 1)));
    key = Trim(key);
    log::RegisterSecret(key);
    keys[kv.substr(0, eq)] = key;
  }

  azure::DefaultCredentialConfig cc;
  cc.env = azure::ProcessEnvironment();
  cc.managed_identity = options.managed_identity;
  if (!options.authority_host.empty()) {
    cc.options.authority_host = options.authority_host;
  } else if (auto it = cc.env.find("AZURE_AUTHORITY_HOST"); it != cc.env.end()) {
    cc.options.authority_host = it->second;
  }
  if (!options.imds_endpoint.empty()) cc.options.imds_endpoint = options.imds_endpoint;
  const azure::CredentialOptions credential_options = cc.options;
  w->credential_ = azure::NewDefaultCredential(std::move(cc));

  azure::ArmClientOptions arm_options;
  arm_options.base_url = options.arm_endpoint;
  arm_options.retry = ReconcilerRetryPolicy();
  arm_options.request_timeout = std::chrono::seconds(30);
  arm_options.default_poll_interval = options.azure_poll_interval;
  arm_options.on_response = w->product_metrics_->AzureObserver("arm");
  w->arm_ = std::make_unique<azure::ArmClient>(*w->credential_, arm_options);
  w->gallery_ = std::make_unique<azure::ArmGallery>(*w->arm_);
  w->vms_ = std::make_unique<azure::ArmVirtualMachines>(*w->arm_);
  w->image_builder_ = std::make_unique<azure::ArmImageBuilder>(*w->arm_);
  w->image_builder_build_ = std::make_unique<release::ImageBuilderBuildBackend>(*w->image_builder_);

  w->publishers_ = std::make_unique<ReleasePublishers>(
      ReleasePublishers::Deps{.kube = &kube,
                              .credential = w->credential_.get(),
                              .gallery = w->gallery_.get(),
                              .arm_options = arm_options,
                              .credential_options = credential_options,
                              .storage_keys = keys,
                              .blob_observer = w->product_metrics_->AzureObserver("blob")});
  if (!options.staging_account_url.empty()) {
    ASSIGN_OR_RETURN(azure::BlobStore * staging,
                     w->publishers_->BlobFor(options.staging_account_url, *w->credential_));
    if (Status s = staging->CreateContainer(options.staging_container); !s.ok()) {
      // Not fatal: the account may be briefly unreachable; uploads retry.
      log::Warn(kLogger, "cannot create the staging container yet",
                {{"container", options.staging_container}, {"error", s.message()}});
    }
    w->env_.staging = staging;
  } else {
    log::Warn(kLogger,
              "no staging storage account (--staging-account-url): every release will "
              "stall with StagingNotConfigured",
              {});
  }
  w->tasks_ = std::make_unique<release::TaskRunner>(2);

  std::string work = options.work_dir;
  if (work.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    work = std::string(tmp && *tmp ? tmp : "/tmp") + "/vmrelease";
  }
  std::error_code ec;
  std::filesystem::create_directories(work, ec);
  const char* path = std::getenv("PATH");

  release::Environment& env = w->env_;
  env.clock = &RealClock::Get();
  env.kube = &kube;
  env.staging_container = options.staging_container;
  env.staging_account_id = options.staging_account_id;
  env.gallery = w->gallery_.get();
  env.vms = w->vms_.get();
  env.publishers = w->publishers_.get();
  env.tasks = w->tasks_.get();
  env.metrics = w->product_metrics_.get();
  env.work_root = std::filesystem::absolute(work).string();
  env.allow_local_builds = options.allow_local_builds;
  env.local_path = path ? path : "/usr/local/bin:/usr/bin:/bin";
  env.poll_interval = options.azure_poll_interval;
  env.local_poll_interval = options.local_poll_interval;
  return w;
}

release::Backends Wiring::backends() {
  release::Backends b;
  b.build["local"] = &local_build_;
  b.build["job"] = &job_build_;
  b.build["imageBuilder"] = image_builder_build_.get();
  b.validation["local"] = &local_validation_;
  b.validation["vm"] = &vm_validation_;
  b.validation["job"] = &job_validation_;
  return b;
}

std::string Wiring::CredentialReport() const {
  std::string out;
  for (const std::string& line : credential_->Report()) out += (out.empty() ? "" : "; ") + line;
  return out;
}

}  // namespace vmrelease::app

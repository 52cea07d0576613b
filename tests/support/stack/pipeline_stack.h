// PipelineStack: everything the release pipeline talks to, on 127.0.0.1, for
// end-to-end tests — the local API server (with the CRDs), Azurite, the fake
// ARM in-process (so tests can inspect and fault it), and the real
// vmrelease-controller binary wired to them (restartable, kill -9-able).
//
//   auto stack = PipelineStack::Start({});
//   ASSERT_TRUE(stack.ok()) << stack.status().ToString();
//   PipelineStack& s = **stack;
//   ASSERT_TRUE(s.Create(s.Release({.name = "app-1-0-0", .image = "app", .version =
//   "1.0.0"})).ok()); Json released = s.WaitForPhase("app-1-0-0", "Released", 60s);
//   s.KillController();  s.StartController();      // crash and restart
//   LeakReport leaks = s.Leaks();                    // VMs, NICs, disks, blobs, processes
//
// The releases it writes build with tests/testdata/pipeline/build-disk and
// validate with run-check (vm validation through the fake ARM's Run Command is
// one option away); the gallery "releases" in subscription kSubscription holds
// the image definitions listed in Options.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "controller/azure/blob_client.h"
#include "controller/common/status.h"
#include "controller/kube/rest_client.h"
#include "tests/support/apiserver/fixture.h"
#include "tests/support/azurite/azurite.h"
#include "tests/support/fake_arm/fake_arm.h"
#include "tests/support/jobrunner/fixture.h"
#include "tests/support/stack/controller_process.h"
#include "tests/support/testing/process.h"

namespace vmrelease::testing {

inline constexpr char kSubscription[] = "00000000-0000-0000-0000-00000000cafe";
inline constexpr char kGalleryGroup[] = "images";
inline constexpr char kGallery[] = "releases";
inline constexpr char kGalleryLocation[] = "westeurope";
inline constexpr char kValidationGroup[] = "validation";
inline constexpr char kTenant[] = "tenant-e2e";
inline constexpr char kClientId[] = "client-e2e";
inline constexpr char kClientSecret[] = "client-secret-e2e-0123456789";
inline constexpr char kImageBuilderGroup[] = "builds";
inline constexpr char kImageBuilderOutputContainer[] = "imagebuilder-outputs";

struct ReleaseSpecOptions {
  std::string name;
  std::string image = "app";
  std::string version = "1.0.0";
  std::string validation = "local";  // local | vm | job (job-check, run by the job runner)
  // local | job (job-build-disk, run by the job runner) | imageBuilder (the fake ARM's
  // Image Builder; its run outputs the stack's VHD in Azurite, see image_builder_vhd_url()).
  std::string build = "local";
  std::string build_timeout = "10m";
  bool gallery = false;
  bool blob = true;
  std::vector<std::string> regions = {"westeurope"};
  int replicas = 1;
  int retention_days = 0;
  std::string deletion_policy = "Retain";
  std::map<std::string, std::string> build_env;
  std::map<std::string, std::string> check_env;
  // name → script; every check expects exit code 0.
  std::vector<std::pair<std::string, std::string>> checks = {{"smoke", "echo ok"}};
  bool keep_vm_on_failure = false;
};

struct LeakReport {
  std::vector<std::string> vms, nics, disks, run_commands;
  std::vector<std::string> staging_blobs;  // left in the staging container
  std::vector<std::string> processes;      // local build/check processes still running
  // Kubernetes objects of the job backends (labelled with a release uid).
  std::vector<std::string> jobs, pods, secrets;
  std::vector<std::string> image_templates;  // Image Builder templates in the fake ARM
  int gallery_versions = 0;
  bool clean() const {
    return vms.empty() && nics.empty() && disks.empty() && staging_blobs.empty() &&
           processes.empty() && jobs.empty() && pods.empty() && secrets.empty() &&
           image_templates.empty();
  }
  std::string ToString() const;
};

class PipelineStack {
 public:
  struct Options {
    fake_arm::Options arm;
    std::vector<std::string> image_definitions = {"app"};  // Linux, in the gallery
    std::vector<std::string> controller_flags;             // added to the defaults
    bool allow_local_builds = true;                        // --allow-local-builds
    Env controller_env;
    bool start_controller = true;
    std::string log_level = "info";
    // --local-poll-interval: short, so tests do not wait on it (the controller's default is 2s).
    std::string local_poll_interval = "200ms";
    // Starts build/bin/vmrelease-job-runner (tests/support/jobrunner) against the
    // local API server: it runs the Jobs of the job backends as local processes.
    bool job_runner = false;
    std::vector<std::string> job_runner_args = {"--pod-failure-backoff", "0"};
  };
  static StatusOr<std::unique_ptr<PipelineStack>> Start(Options options);
  ~PipelineStack();

  LocalApiServer& api() { return *api_; }
  Azurite& azurite() { return *azurite_; }
  fake_arm::FakeArm& arm() { return *arm_; }
  kube::RestClient& client() { return *client_; }
  azure::BlobClient& blobs() { return *blobs_; }  // the Azurite account, Shared Key
  itest::ControllerProcess* controller() { return controller_.get(); }
  JobRunnerProcess* job_runner() { return job_runner_.get(); }
  const std::string& work_dir() const { return work_dir_; }
  const std::string& marker_dir() const { return marker_dir_; }
  // The VHD every successful Image Builder run of the fake ARM "produces": a small
  // fixed VHD in Azurite (container kImageBuilderOutputContainer), and its content.
  const std::string& image_builder_vhd_content() const { return image_builder_vhd_; }
  // The artifactUri of those runs: a read SAS URL of that blob (a secret to the controller).
  const std::string& image_builder_vhd_url() const { return image_builder_vhd_url_; }

  // The options the stack started with; changes (controller flags, environment,
  // allow_local_builds) take effect at the next StartController().
  Options& options() { return options_; }
  Status StartController();
  // SIGKILL (default) or SIGTERM, and wait for the process to be gone.
  void StopController(int signal = SIGKILL);
  // Every controller log so far, including those of earlier processes.
  std::string ControllerLogs() const;

  // An ImageRelease as JSON, wired to this stack.
  nlohmann::json Release(const ReleaseSpecOptions& o) const;
  StatusOr<nlohmann::json> Create(const nlohmann::json& obj);
  StatusOr<nlohmann::json> GetRelease(const std::string& name);
  // Merge-patches an object's metadata or spec (retries conflicts).
  StatusOr<nlohmann::json> PatchRelease(const std::string& name, const nlohmann::json& patch);
  // Polls until the release's status.phase is `phase` (or `timeout`); returns the
  // last object read (empty on timeout, with `why` set when given).
  nlohmann::json WaitForPhase(const std::string& name, const std::string& phase,
                              std::chrono::milliseconds timeout, std::string* why = nullptr);
  bool WaitGone(const std::string& name, std::chrono::milliseconds timeout);
  Status DeleteRelease(const std::string& name);
  // EnvironmentPins (default namespace); the controller's pin reconciler resolves them.
  StatusOr<nlohmann::json> CreatePin(const std::string& name, const std::string& environment,
                                     const std::string& image, const std::string& version);
  StatusOr<nlohmann::json> CreatePin(const std::string& name, const nlohmann::json& spec);
  StatusOr<nlohmann::json> GetPin(const std::string& name);
  // Merge-patches a pin's metadata or spec.
  StatusOr<nlohmann::json> PatchPin(const std::string& name, const nlohmann::json& patch);
  // Polls the pin until `pred` holds on it (or the timeout); returns the last object read.
  nlohmann::json WaitForPin(const std::string& name,
                            const std::function<bool(const nlohmann::json&)>& pred,
                            std::chrono::milliseconds timeout, bool* ok = nullptr);
  Status DeletePin(const std::string& name);
  // Events (events.k8s.io) regarding a release, oldest first.
  std::vector<nlohmann::json> Events(const std::string& name);

  LeakReport Leaks();
  std::string Summary(const std::string& name);  // status for failure messages

 private:
  PipelineStack() = default;
  Options options_;
  std::unique_ptr<TempDir> dir_;
  std::string work_dir_, marker_dir_, key_file_;
  std::unique_ptr<LocalApiServer> api_;
  std::unique_ptr<Azurite> azurite_;
  std::unique_ptr<fake_arm::FakeArm> arm_;
  std::unique_ptr<kube::RestClient> client_;
  std::unique_ptr<azure::BlobClient> blobs_;
  std::unique_ptr<itest::ControllerProcess> controller_;
  std::unique_ptr<JobRunnerProcess> job_runner_;
  std::string earlier_logs_;
  std::string image_builder_vhd_, image_builder_vhd_url_;
};

}  // namespace vmrelease::testing

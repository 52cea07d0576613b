#include "tests/support/stack/pipeline_stack.h"

#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "controller/azure/storage_auth.h"
#include "controller/image/vhd_footer.h"
#include "controller/kube/config.h"
#include "controller/kube/errors.h"

namespace vmrelease::testing {
namespace {

using Json = nlohmann::json;
using namespace std::chrono_literals;

const kube::ResourceType kReleases{"vmrelease.io", "v1alpha1", "imagereleases", "ImageRelease",
                                   true};
const kube::ResourceType kPins{"vmrelease.io", "v1alpha1", "environmentpins", "EnvironmentPin",
                               true};

std::string StorageAccountId() {
  return std::string("/subscriptions/") + kSubscription + "/resourceGroups/" + kGalleryGroup +
         "/providers/Microsoft.Storage/storageAccounts/" + kAzuriteAccount;
}

std::string SubnetId() {
  return std::string("/subscriptions/") + kSubscription +
         "/resourceGroups/network/providers/Microsoft.Network/virtualNetworks/vnet/subnets/"
         "validation";
}

// Processes whose command line mentions `needle` (local builds and checks of this stack).
std::vector<std::string> ProcessesMentioning(const std::string& needle) {
  std::vector<std::string> out;
  DIR* d = opendir("/proc");
  if (!d) return out;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    std::ifstream in(std::string("/proc/") + e->d_name + "/cmdline", std::ios::binary);
    std::string cmd((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (cmd.find(needle) == std::string::npos) continue;
    const std::string argv0 = cmd.substr(0, cmd.find('\0'));
    if (argv0.size() >= 20 && argv0.substr(argv0.size() - 20) == "vmrelease-controller") continue;
    for (char& c : cmd) {
      if (c == '\0') c = ' ';
    }
    // Skip zombies (they hold nothing and are reaped by init).
    std::ifstream st(std::string("/proc/") + e->d_name + "/stat");
    std::string stat_line;
    std::getline(st, stat_line);
    const size_t rp = stat_line.rfind(')');
    if (rp != std::string::npos && rp + 2 < stat_line.size() && stat_line[rp + 2] == 'Z') continue;
    out.push_back(std::string(e->d_name) + ": " + cmd);
  }
  closedir(d);
  return out;
}

std::string IdentityId() {
  return std::string("/subscriptions/") + kSubscription +
         "/resourceGroups/identities/providers/Microsoft.ManagedIdentity/"
         "userAssignedIdentities/image-builder";
}

// A small fixed VHD (2 MiB of patterned data + footer) as Image Builder's run output: its
// blob in Azurite, a read SAS for the fake's artifactUri, and its content.
Status PutImageBuilderOutput(azure::BlobClient& blobs, std::string* content, std::string* url) {
  constexpr int64_t kSize = 2 << 20;
  std::string data(kSize + 512, '\0');
  for (int64_t i = 0; i < kSize; i += 4096) {
    const std::string mark = "image-builder-output block " + std::to_string(i / 4096);
    data.replace(static_cast<size_t>(i), mark.size(), mark);
  }
  const auto footer = image::EncodeFooter(image::NewFixedFooter(kSize, RealClock::Get().WallNow()));
  data.replace(kSize, 512, reinterpret_cast<const char*>(footer.data()), 512);
  RETURN_IF_ERROR(blobs.CreateContainer(kImageBuilderOutputContainer));
  const azure::BlobRef ref{kImageBuilderOutputContainer, "run-output.vhd"};
  azure::PutBlobOptions o;
  o.overwrite = true;
  RETURN_IF_ERROR(blobs.CreatePageBlob(ref, static_cast<int64_t>(data.size()), o).status());
  for (size_t off = 0; off < data.size(); off += 1 << 20) {
    const size_t n = std::min<size_t>(1 << 20, data.size() - off);
    RETURN_IF_ERROR(
        blobs.PutPages(ref, static_cast<int64_t>(off), std::string_view(data).substr(off, n))
            .status());
  }
  ASSIGN_OR_RETURN(*url, blobs.GenerateSasUrl(
                             ref, {.permissions = "r",
                                   .expiry = RealClock::Get().WallNow() + std::chrono::hours(24),
                                   .protocol = ""}));
  *content = std::move(data);
  return Status::Ok();
}

}  // namespace

std::string LeakReport::ToString() const {
  auto list = [](const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
    return "[" + s + "]";
  };
  return "VMs " + list(vms) + " NICs " + list(nics) + " disks " + list(disks) + " staging blobs " +
         list(staging_blobs) + " processes " + list(processes) + " Jobs " + list(jobs) + " Pods " +
         list(pods) + " Secrets " + list(secrets) + " image templates " + list(image_templates) +
         " gallery versions " + std::to_string(gallery_versions);
}

StatusOr<std::unique_ptr<PipelineStack>> PipelineStack::Start(Options options) {
  std::unique_ptr<PipelineStack> s(new PipelineStack());
  s->options_ = std::move(options);
  if (const char* level = std::getenv("VMRELEASE_TEST_LOG_LEVEL"); level && *level)
    s->options_.log_level = level;  // e.g. debug, when chasing a failure
  s->dir_ = std::make_unique<TempDir>();
  s->work_dir_ = s->dir_->Join("work");
  s->marker_dir_ = s->dir_->Join("markers");
  s->key_file_ = s->dir_->Join("azurite.key");
  WriteFile(s->key_file_, kAzuriteKey);

  ASSIGN_OR_RETURN(s->api_, LocalApiServer::Start({.crds_dir = SourceDir() + "/crds"}));
  ASSIGN_OR_RETURN(s->azurite_, Azurite::Start());
  fake_arm::Options arm = s->options_.arm;
  ASSIGN_OR_RETURN(s->arm_, fake_arm::FakeArm::Start(arm));
  s->arm_->AddApplication(kTenant, kClientId, kClientSecret);
  s->arm_->AddGallery(kSubscription, kGalleryGroup, kGallery, kGalleryLocation);
  for (const std::string& image : s->options_.image_definitions)
    s->arm_->AddImageDefinition(kSubscription, kGalleryGroup, kGallery, image, "Linux", "");

  ASSIGN_OR_RETURN(kube::ClusterConfig cfg, kube::LoadKubeconfig({.path = s->api_->kubeconfig()}));
  ASSIGN_OR_RETURN(s->client_, kube::RestClient::FromConfig(std::move(cfg)));
  ASSIGN_OR_RETURN(azure::SharedKeySigner signer,
                   azure::SharedKeySigner::Create(kAzuriteAccount, kAzuriteKey));
  ASSIGN_OR_RETURN(s->blobs_, azure::BlobClient::Create({.account_url = s->azurite_->account_url()},
                                                        azure::SharedKeyAuth(std::move(signer))));
  RETURN_IF_ERROR(
      PutImageBuilderOutput(*s->blobs_, &s->image_builder_vhd_, &s->image_builder_vhd_url_),
      "the Image Builder output VHD");
  s->arm_->SetImageBuilderVhdOutput(
      [url = s->image_builder_vhd_url_](const std::string&, int) { return url; });
  if (s->options_.job_runner) {
    ASSIGN_OR_RETURN(s->job_runner_,
                     JobRunnerProcess::Start({.kubeconfig = s->api_->kubeconfig(),
                                              .extra_args = s->options_.job_runner_args}));
  }
  if (s->options_.start_controller) RETURN_IF_ERROR(s->StartController());
  return s;
}

PipelineStack::~PipelineStack() {
  StopController(SIGTERM);
  job_runner_.reset();  // stops the runner and the containers it started
  // Local runs of this stack must not outlive it (a failed test may leave some).
  for (const std::string& p : ProcessesMentioning(work_dir_)) {
    const int pid = std::atoi(p.c_str());
    if (pid > 0) kill(-pid, SIGKILL), kill(pid, SIGKILL);
  }
  // A local build still running (its command line need not name the stack's folder, but
  // it runs in one of its folders) goes with its process group, never this test's own.
  if (DIR* d = opendir("/proc")) {
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
      const pid_t pid = static_cast<pid_t>(std::atoi(e->d_name));
      char cwd[4096];
      const ssize_t n =
          readlink((std::string("/proc/") + e->d_name + "/cwd").c_str(), cwd, sizeof(cwd) - 1);
      if (n <= 0 || pid == getpid()) continue;
      const std::string dir(cwd, static_cast<size_t>(n));
      if (dir != work_dir_ && dir.rfind(work_dir_ + "/", 0) != 0) continue;
      const pid_t group = getpgid(pid);
      if (group > 0 && group != getpgrp()) kill(-group, SIGKILL);
      kill(pid, SIGKILL);
    }
    closedir(d);
  }
}

Status PipelineStack::StartController() {
  StopController(SIGTERM);
  const std::string arm = arm_->base_url();
  std::vector<std::string> flags = {"--log-format",
                                    "json",
                                    "--log-level",
                                    options_.log_level,
                                    "--metrics-bind-address",
                                    "127.0.0.1:0",
                                    "--work-dir",
                                    work_dir_,
                                    "--staging-account-url",
                                    azurite_->account_url(),
                                    "--storage-key-file",
                                    std::string(kAzuriteAccount) + "=" + key_file_,
                                    "--staging-storage-account-id",
                                    StorageAccountId(),
                                    "--azure-arm-endpoint",
                                    arm,
                                    "--azure-authority-host",
                                    arm + "/",
                                    "--azure-imds-endpoint",
                                    arm,
                                    "--azure-poll-interval",
                                    "1s",
                                    "--local-poll-interval",
                                    options_.local_poll_interval};
  if (options_.allow_local_builds) flags.push_back("--allow-local-builds");
  flags.insert(flags.end(), options_.controller_flags.begin(), options_.controller_flags.end());
  Env env = options_.controller_env;
  env["AZURE_TENANT_ID"] = kTenant;
  env["AZURE_CLIENT_ID"] = kClientId;
  env["AZURE_CLIENT_SECRET"] = kClientSecret;
  const char* path = std::getenv("PATH");
  env["PATH"] = std::filesystem::path(BinPath("vmrelease-controller")).parent_path().string() +
                ":" + SourceDir() + "/tests/testdata/pipeline:" + SourceDir() +
                "/images:" + (path ? path : "/usr/bin:/bin");
  controller_ = itest::ControllerProcess::Start(api_->kubeconfig(), flags, env);
  if (!controller_) return InternalError("cannot start vmrelease-controller");
  return Status::Ok();
}

void PipelineStack::StopController(int signal) {
  if (!controller_) return;
  controller_->Signal(signal);
  auto code = controller_->process().Wait(std::chrono::seconds(40));
  if (!code.ok()) {
    controller_->Signal(SIGKILL);
    (void)controller_->process().Wait(std::chrono::seconds(10));
  }
  earlier_logs_ += controller_->log();
  controller_.reset();
}

std::string PipelineStack::ControllerLogs() const {
  return earlier_logs_ + (controller_ ? controller_->log() : "");
}

Json PipelineStack::Release(const ReleaseSpecOptions& o) const {
  Json build_env = Json::object();
  build_env["MARKER_DIR"] = marker_dir_;
  for (const auto& [k, v] : o.build_env) build_env[k] = v;
  Json check_env = Json::object();
  for (const auto& [k, v] : o.check_env) check_env[k] = v;
  Json checks = Json::array();
  for (const auto& [name, script] : o.checks)
    checks.push_back({{"name", name}, {"script", script}});
  Json validation = {{"checks", checks}, {"timeout", "10m"}};
  // A Pod template running a script of tests/testdata/pipeline (the job runner
  // runs the first container's command on this machine; the image is not pulled).
  auto job_template = [&](const std::string& script, const Json& env) {
    Json env_list = Json::array();
    for (const auto& [k, v] : env.items()) env_list.push_back({{"name", k}, {"value", v}});
    return Json{{"metadata", {{"labels", {{"app.kubernetes.io/name", "vmrelease-e2e"}}}}},
                {"spec",
                 {{"containers",
                   {{{"name", "main"},
                     {"image", "registry.example/vmrelease-e2e:1"},
                     {"command", {SourceDir() + "/tests/testdata/pipeline/" + script}},
                     {"env", env_list}}}}}}};
  };
  if (o.validation == "vm") {
    validation["vm"] = {{"location", kGalleryLocation},
                        {"size", "Standard_D2s_v5"},
                        {"osType", "Linux"},
                        {"subnetId", SubnetId()},
                        {"resourceGroup", kValidationGroup}};
    if (o.keep_vm_on_failure) validation["keepVmOnFailure"] = true;
  } else if (o.validation == "job") {
    validation["job"] = {{"template", job_template("job-check", check_env)}};
  } else {
    validation["local"] = {{"command", {"run-check"}}, {"env", check_env}};
  }
  Json publish = Json::object();
  if (o.gallery) {
    Json regions = Json::array();
    for (const auto& r : o.regions) regions.push_back({{"name", r}, {"replicas", o.replicas}});
    publish["gallery"] = {{"subscriptionId", kSubscription},
                          {"resourceGroup", kGalleryGroup},
                          {"gallery", kGallery},
                          {"imageDefinition", o.image},
                          {"targetRegions", regions}};
  }
  if (o.blob) publish["blob"] = {{"accountUrl", azurite_->account_url()}, {"container", "images"}};
  Json build;
  if (o.build == "job") {
    build = {{"job", {{"template", job_template("job-build-disk", build_env)}}}};
  } else if (o.build == "imageBuilder") {
    build = {
        {"imageBuilder",
         {{"location", kGalleryLocation},
          {"subscriptionId", kSubscription},
          {"resourceGroup", kImageBuilderGroup},
          {"identityId", IdentityId()},
          {"vmSize", "Standard_D4s_v5"},
          {"customize",
           {{{"type", "Shell"}, {"name", "hello"}, {"inline", {"echo built by vmrelease"}}}}}}}};
  } else {
    build = {{"local", {{"command", {"build-disk"}}, {"env", build_env}}}};
  }
  build["timeout"] = o.build_timeout;
  Json retention = {{"deletionPolicy", o.deletion_policy}};
  if (o.retention_days > 0) retention["minimumDays"] = o.retention_days;
  return {{"apiVersion", "vmrelease.io/v1alpha1"},
          {"kind", "ImageRelease"},
          {"metadata", {{"name", o.name}, {"namespace", "default"}}},
          {"spec",
           {{"image", o.image},
            {"version", o.version},
            {"changelog", {{{"kind", "Feature"}, {"summary", "version " + o.version}}}},
            {"source",
             {{"platformImage", {{"publisher", "Debian"}, {"offer", "debian-12"}, {"sku", "12"}}}}},
            {"build", build},
            {"validation", validation},
            {"publish", publish},
            {"retention", retention}}}};
}

StatusOr<Json> PipelineStack::Create(const Json& obj) { return client_->Create(kReleases, obj); }

StatusOr<Json> PipelineStack::GetRelease(const std::string& name) {
  return client_->Get(kReleases, {"default", name});
}

StatusOr<Json> PipelineStack::PatchRelease(const std::string& name, const Json& patch) {
  return client_->Patch(kReleases, {"default", name}, kube::PatchType::kMerge, patch);
}

Json PipelineStack::WaitForPhase(const std::string& name, const std::string& phase,
                                 std::chrono::milliseconds timeout, std::string* why) {
  Json last;
  const bool ok = WaitFor(
      [&] {
        auto r = GetRelease(name);
        if (!r.ok()) return false;
        last = *r;
        const Json* p = kube::Find(last, {"status", "phase"});
        return p && p->is_string() && p->get<std::string>() == phase;
      },
      timeout);
  if (ok) return last;
  if (why)
    *why = "release " + name + " not " + phase + " after the timeout; last status: " +
           (last.contains("status") ? last["status"].dump(2) : "(none)");
  return Json();
}

bool PipelineStack::WaitGone(const std::string& name, std::chrono::milliseconds timeout) {
  return WaitFor(
      [&] {
        auto r = GetRelease(name);
        return !r.ok() && kube::IsNotFound(r.status());
      },
      timeout);
}

Status PipelineStack::DeleteRelease(const std::string& name) {
  return client_->Delete(kReleases, {"default", name}).status();
}

StatusOr<Json> PipelineStack::CreatePin(const std::string& name, const std::string& environment,
                                        const std::string& image, const std::string& version) {
  return CreatePin(name, {{"environment", environment}, {"image", image}, {"version", version}});
}

StatusOr<Json> PipelineStack::CreatePin(const std::string& name, const Json& spec) {
  return client_->Create(kPins, {{"apiVersion", "vmrelease.io/v1alpha1"},
                                 {"kind", "EnvironmentPin"},
                                 {"metadata", {{"name", name}, {"namespace", "default"}}},
                                 {"spec", spec}});
}

StatusOr<Json> PipelineStack::GetPin(const std::string& name) {
  return client_->Get(kPins, {"default", name});
}

StatusOr<Json> PipelineStack::PatchPin(const std::string& name, const Json& patch) {
  return client_->Patch(kPins, {"default", name}, kube::PatchType::kMerge, patch);
}

Json PipelineStack::WaitForPin(const std::string& name,
                               const std::function<bool(const Json&)>& pred,
                               std::chrono::milliseconds timeout, bool* ok) {
  Json last;
  const bool met = WaitFor(
      [&] {
        auto p = GetPin(name);
        if (!p.ok()) return false;
        last = *p;
        return pred(last);
      },
      timeout);
  if (ok) *ok = met;
  return last;
}

Status PipelineStack::DeletePin(const std::string& name) {
  return client_->Delete(kPins, {"default", name}).status();
}

std::vector<Json> PipelineStack::Events(const std::string& name) {
  std::vector<Json> out;
  auto list = client_->List(kube::EventResource(), {.ns = "default"});
  if (!list.ok()) return out;
  for (Json& e : list->items) {
    if (e.value("/regarding/name"_json_pointer, std::string()) == name) out.push_back(std::move(e));
  }
  std::sort(out.begin(), out.end(), [](const Json& a, const Json& b) {
    return a.value("eventTime", std::string()) < b.value("eventTime", std::string());
  });
  return out;
}

LeakReport PipelineStack::Leaks() {
  LeakReport r;
  for (const std::string& id : arm_->ResourceIds()) {
    std::string lower = id;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const std::string name = id.substr(id.rfind('/') + 1);
    if (lower.find("/runcommands/") != std::string::npos) {
      r.run_commands.push_back(name);
    } else if (lower.find("microsoft.compute/virtualmachines/") != std::string::npos) {
      r.vms.push_back(name);
    } else if (lower.find("microsoft.network/networkinterfaces/") != std::string::npos) {
      r.nics.push_back(name);
    } else if (lower.find("microsoft.compute/disks/") != std::string::npos) {
      r.disks.push_back(name);
    } else if (lower.find("microsoft.virtualmachineimages/imagetemplates/") != std::string::npos) {
      if (lower.find("/runoutputs/") == std::string::npos) r.image_templates.push_back(name);
    } else if (lower.find("/versions/") != std::string::npos) {
      ++r.gallery_versions;
    }
  }
  auto staged = blobs_->ListBlobs("vmrelease-staging");
  if (staged.ok()) r.staging_blobs = *staged;
  r.processes = ProcessesMentioning(work_dir_);
  if (job_runner_) {
    for (std::string& p : ProcessesMentioning(job_runner_->work_dir() + "/pods/"))
      r.processes.push_back(std::move(p));
  }
  // Jobs, Pods and Secrets a job backend made (they carry the release uid label).
  auto ours = [&](const kube::ResourceType& type, std::vector<std::string>* out) {
    auto list = client_->List(type, {.label_selector = "vmrelease.io/release-uid"});
    if (!list.ok()) {
      out->push_back("(list failed: " + list.status().ToString() + ")");
      return;
    }
    for (const Json& o : list->items) out->push_back(kube::Name(o));
  };
  ours({"batch", "v1", "jobs", "Job", true}, &r.jobs);
  ours({"", "v1", "pods", "Pod", true}, &r.pods);
  ours(kube::SecretResource(), &r.secrets);
  return r;
}

std::string PipelineStack::Summary(const std::string& name) {
  auto r = GetRelease(name);
  if (!r.ok()) return name + ": " + r.status().ToString();
  return name + ": " + (r->contains("status") ? (*r)["status"].dump(2) : "(no status)");
}

}  // namespace vmrelease::testing

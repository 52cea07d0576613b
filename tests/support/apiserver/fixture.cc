#include "tests/support/apiserver/fixture.h"

#include <signal.h>

#include <filesystem>

#include "controller/api/manifest.h"
#include "controller/common/crypto.h"

namespace vmrelease::testing {

StatusOr<std::unique_ptr<LocalApiServer>> LocalApiServer::Start(Options options) {
  std::unique_ptr<LocalApiServer> s(new LocalApiServer());
  s->dir_ = std::make_unique<TempDir>();
  s->kubeconfig_ = s->dir_->Join("kubeconfig");
  s->log_path_ = s->dir_->Join("apiserver.log");
  std::filesystem::create_directories(s->dir_->Join("home"));
  std::vector<std::string> argv = {BinPath("vmrelease-apiserver"), "--listen", "127.0.0.1:0",
                                   "--kubeconfig-out", s->kubeconfig_};
  if (!options.crds_dir.empty()) {
    argv.push_back("--crds");
    argv.push_back(options.crds_dir);
  }
  argv.insert(argv.end(), options.extra_args.begin(), options.extra_args.end());
  ASSIGN_OR_RETURN(s->process_, Subprocess::Start(argv, {}, s->log_path_));
  const bool up =
      WaitFor([&] { return std::filesystem::exists(s->kubeconfig_) || !s->process_->Running(); },
              std::chrono::seconds(60));
  if (!up || !std::filesystem::exists(s->kubeconfig_))
    return UnavailableError("vmrelease-apiserver did not start; log:\n" + s->log());
  ASSIGN_OR_RETURN(nlohmann::json kc, api::ParseYamlDocument(ReadFile(s->kubeconfig_)));
  try {
    const auto& cluster = kc["clusters"][0]["cluster"];
    const auto& user = kc["users"][0]["user"];
    s->base_url_ = cluster["server"].get<std::string>();
    ASSIGN_OR_RETURN(s->ca_pem_,
                     Base64Decode(cluster["certificate-authority-data"].get<std::string>()));
    if (user.contains("token")) s->token_ = user["token"].get<std::string>();
    if (user.contains("client-certificate-data")) {
      ASSIGN_OR_RETURN(s->client_cert_pem_,
                       Base64Decode(user["client-certificate-data"].get<std::string>()));
      ASSIGN_OR_RETURN(s->client_key_pem_,
                       Base64Decode(user["client-key-data"].get<std::string>()));
    }
  } catch (const nlohmann::json::exception& e) {
    return InternalError(std::string("unexpected kubeconfig: ") + e.what());
  }
  s->client_ = std::make_unique<http::Client>(http::Client::Options{.tls = s->tls()});
  // The kubeconfig is written once serving; confirm with a real request.
  bool ready = WaitFor(
      [&] {
        auto r = s->Request("GET", "/readyz");
        return r.ok() && r->status == 200;
      },
      std::chrono::seconds(30));
  if (!ready) return UnavailableError("vmrelease-apiserver is not ready; log:\n" + s->log());
  return s;
}

LocalApiServer::~LocalApiServer() {
  if (process_ && process_->Running()) {
    process_->Signal(SIGTERM);
    if (!process_->Wait(std::chrono::seconds(10)).ok()) process_->Signal(SIGKILL);
  }
}

http::TlsConfig LocalApiServer::tls() const {
  return {
      .ca_pem = ca_pem_, .client_cert_pem = client_cert_pem_, .client_key_pem = client_key_pem_};
}

StatusOr<http::Response> LocalApiServer::Request(const std::string& method, const std::string& path,
                                                 const std::string& body,
                                                 const std::string& content_type) {
  http::Request req;
  req.method = method;
  req.url = base_url_ + path;
  req.body = body;
  if (!token_.empty()) req.headers.Set("Authorization", "Bearer " + token_);
  if (!body.empty()) req.headers.Set("Content-Type", content_type);
  req.headers.Set("Accept", "application/json");
  return client_->Send(req);
}

StatusOr<std::unique_ptr<http::Stream>> LocalApiServer::OpenStream(
    const std::string& path, std::chrono::milliseconds timeout) {
  http::Request req;
  req.url = base_url_ + path;
  req.timeout = timeout;
  if (!token_.empty()) req.headers.Set("Authorization", "Bearer " + token_);
  req.headers.Set("Accept", "application/json");
  return client_->Open(req);
}

Status LocalApiServer::Admin(const std::string& path, const std::string& body) {
  ASSIGN_OR_RETURN(http::Response r, Request("POST", path, body));
  if (r.status != 200)
    return InternalError("POST " + path + " answered " + std::to_string(r.status) + ": " + r.body);
  return Status::Ok();
}

Status LocalApiServer::SetFaults(const nlohmann::json& faults) {
  return Admin("/admin/faults", faults.dump());
}
Status LocalApiServer::DropWatches() { return Admin("/admin/drop-watches", "{}"); }
Status LocalApiServer::Compact() { return Admin("/admin/compact", "{}"); }

Env LocalApiServer::KubectlEnv() const {
  return {{"KUBECONFIG", kubeconfig_}, {"HOME", dir_->Join("home")}};
}

CommandResult LocalApiServer::Kubectl(const std::vector<std::string>& args,
                                      const std::string& stdin_data,
                                      std::chrono::milliseconds timeout) {
  std::vector<std::string> argv = {ToolPath("kubectl")};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv, KubectlEnv(), stdin_data, timeout);
}

std::string LocalApiServer::log() const { return ReadFile(log_path_); }

}  // namespace vmrelease::testing

#include "tests/support/apiserver/server.h"

#include <algorithm>
#include <filesystem>

#include "controller/api/manifest.h"
#include "controller/common/crypto.h"
#include "controller/common/log.h"
#include "tests/support/testing/certs.h"
#include "tests/support/testing/process.h"

namespace vmrelease::apiserver {
namespace {

using nlohmann::json;

// Records the status code a handler answered with, for the request log.
class RecordingResponder final : public http::Responder {
 public:
  explicit RecordingResponder(http::Responder& inner) : inner_(inner) {}
  void Send(int status, const http::Headers& headers, std::string body) override {
    status_ = status;
    inner_.Send(status, headers, std::move(body));
  }
  std::shared_ptr<http::ChunkWriter> Stream(int status, const http::Headers& headers) override {
    status_ = status;
    streamed_ = true;
    return inner_.Stream(status, headers);
  }
  void Abort() override {
    status_ = -1;
    inner_.Abort();
  }
  int status() const { return status_; }
  bool streamed() const { return streamed_; }

 private:
  http::Responder& inner_;
  int status_ = 0;
  bool streamed_ = false;
};

std::string FaultMessage(int code) {
  switch (code) {
    case 429:
      return "Too many requests, please try again later.";
    case 500:
      return "Internal error occurred: injected fault";
    case 503:
      return "the server is currently unable to handle the request (injected fault)";
    case 504:
      return "the server was unable to return a response in the time allotted (injected fault)";
    default:
      return "injected fault";
  }
}

bool IsApiPath(const std::string& path) {
  return path == "/api" || path == "/apis" || path.rfind("/api/", 0) == 0 ||
         path.rfind("/apis/", 0) == 0;
}

}  // namespace

json Faults::ToJson() const {
  return {{"failRate", fail_rate},   {"failCodes", fail_codes},
          {"failNext", fail_next},   {"failNextCode", fail_next_code},
          {"latencyMs", latency_ms}, {"dropWatchesEveryMs", drop_watches_every_ms}};
}

StatusOr<Faults> Faults::FromJson(const json& j) {
  if (!j.is_object()) return InvalidArgumentError("faults must be a JSON object");
  Faults f;
  try {
    f.fail_rate = j.value("failRate", 0.0);
    if (j.contains("failCodes")) f.fail_codes = j["failCodes"].get<std::vector<int>>();
    f.fail_next = j.value("failNext", 0);
    f.fail_next_code = j.value("failNextCode", 500);
    f.latency_ms = j.value("latencyMs", 0);
    f.drop_watches_every_ms = j.value("dropWatchesEveryMs", 0);
  } catch (const json::exception& e) {
    return InvalidArgumentError(std::string("bad faults: ") + e.what());
  }
  if (f.fail_rate < 0 || f.fail_rate > 1) return InvalidArgumentError("failRate must be in [0, 1]");
  if (f.fail_codes.empty()) f.fail_codes = {500};
  for (int c : f.fail_codes)
    if (c < 400 || c > 599) return InvalidArgumentError("failCodes must be 4xx/5xx");
  if (f.fail_next_code < 400 || f.fail_next_code > 599)
    return InvalidArgumentError("failNextCode must be 4xx/5xx");
  if (f.fail_next < 0 || f.latency_ms < 0 || f.drop_watches_every_ms < 0)
    return InvalidArgumentError("counts and durations must not be negative");
  return f;
}

StatusOr<std::unique_ptr<ApiServer>> ApiServer::Start(Options options) {
  std::unique_ptr<ApiServer> s(new ApiServer());
  s->options_ = options;
  // The same checks and normalisation (no codes = 500) as /admin/faults.
  ASSIGN_OR_RETURN(s->faults_, Faults::FromJson(options.faults.ToJson()));
  s->token_ = options.token.empty() ? RandomHex(48) : options.token;
  log::RegisterSecret(s->token_);
  ASSIGN_OR_RETURN(testing::CertKey ca, testing::GenerateCa("vmrelease-local-ca"));
  ASSIGN_OR_RETURN(testing::CertKey serving, testing::IssueCert(ca, "localhost",
                                                                {"DNS:localhost", "IP:127.0.0.1",
                                                                 "DNS:kubernetes.default.svc"},
                                                                /*server=*/true));
  s->ca_pem_ = ca.cert_pem;
  http::ServerTls tls{serving.cert_pem + ca.cert_pem, serving.key_pem, ""};
  if (options.client_cert_auth) {
    ASSIGN_OR_RETURN(
        testing::CertKey client,
        testing::IssueCert(ca, "vmrelease-admin", {}, /*server=*/false, "system:masters"));
    s->client_cert_pem_ = client.cert_pem;
    s->client_key_pem_ = client.key_pem;
    tls.client_ca_pem = ca.cert_pem;
  }
  s->store_ = std::make_unique<Store>(RealClock::Get(), Store::Options{options.history_size});
  if (!options.crds_dir.empty()) RETURN_IF_ERROR(s->LoadCrds(options.crds_dir), "loading --crds");
  ApiServer* raw = s.get();
  // The handler exists before the listener so no request can see it missing;
  // the advertised address is filled in once the port is known.
  ResourceHandler::Options ho;
  ho.bookmark_interval = options.bookmark_interval;
  s->handler_ = std::make_unique<ResourceHandler>(*s->store_, ho);
  auto http = http::Server::Start(
      {.host = options.listen_host, .port = options.listen_port, .tls = tls},
      [raw](const http::ServerRequest& req, http::Responder& res) { raw->Handle(req, res); });
  if (!http.ok()) return http.status().WithContext("starting HTTPS listener");
  s->http_ = std::move(http.value());
  s->fault_thread_ = std::thread(&ApiServer::FaultLoop, raw);
  log::Info("apiserver", "serving",
            {{"url", s->base_url()}, {"auth", options.client_cert_auth ? "client-cert" : "token"}});
  return s;
}

ApiServer::~ApiServer() { Stop(); }

void ApiServer::Stop() {
  if (stopped_.exchange(true)) return;
  {
    std::lock_guard lock(faults_mu_);
    stopping_ = true;
  }
  faults_cv_.notify_all();
  if (fault_thread_.joinable()) fault_thread_.join();
  if (handler_) handler_->Shutdown();
  if (http_) http_->Stop();
}

std::string ApiServer::base_url() const { return http_->base_url(); }
int ApiServer::port() const { return http_->port(); }

std::string ApiServer::Kubeconfig() const {
  std::string user;
  if (options_.client_cert_auth) {
    user = "    client-certificate-data: " + Base64Encode(client_cert_pem_) +
           "\n    client-key-data: " + Base64Encode(client_key_pem_) + "\n";
  } else {
    user = "    token: " + token_ + "\n";
  }
  return "apiVersion: v1\n"
         "kind: Config\n"
         "clusters:\n"
         "- name: vmrelease-local\n"
         "  cluster:\n"
         "    server: " +
         base_url() +
         "\n"
         "    certificate-authority-data: " +
         Base64Encode(ca_pem_) +
         "\n"
         "users:\n"
         "- name: vmrelease-local\n"
         "  user:\n" +
         user +
         "contexts:\n"
         "- name: vmrelease-local\n"
         "  context:\n"
         "    cluster: vmrelease-local\n"
         "    user: vmrelease-local\n"
         "    namespace: default\n"
         "current-context: vmrelease-local\n"
         "preferences: {}\n";
}

Status ApiServer::LoadCrds(const std::string& dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) return NotFoundError("not a directory: " + dir);
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    const std::string ext = e.path().extension().string();
    if (e.is_regular_file() && (ext == ".yaml" || ext == ".yml" || ext == ".json"))
      files.push_back(e.path().string());
  }
  std::sort(files.begin(), files.end());
  auto rt = store_->Lookup("apiextensions.k8s.io", "v1", "customresourcedefinitions");
  for (const auto& f : files) {
    ASSIGN_OR_RETURN(auto docs, api::ParseYamlDocuments(testing::ReadFile(f)));
    for (auto& doc : docs) {
      if (!doc.is_object() || doc.value("kind", "") != "CustomResourceDefinition") continue;
      auto r = store_->Create(*rt, "", doc, {.field_validation = "Strict"});
      if (!r.ok()) return InvalidArgumentError(f + ": " + r.error().message);
      log::Info("apiserver", "loaded CRD",
                {{"name", doc["metadata"].value("name", "")}, {"file", f}});
    }
  }
  return Status::Ok();
}

void ApiServer::FaultLoop() {
  std::unique_lock lock(faults_mu_);
  auto next = std::chrono::steady_clock::now();
  while (!stopping_) {
    const int every = faults_.drop_watches_every_ms;
    if (every <= 0) {
      faults_cv_.wait(lock);
      next = std::chrono::steady_clock::now() +
             std::chrono::milliseconds(faults_.drop_watches_every_ms);
      continue;
    }
    if (faults_cv_.wait_until(lock, next) == std::cv_status::timeout) {
      lock.unlock();
      store_->DropWatches();
      lock.lock();
      next = std::chrono::steady_clock::now() +
             std::chrono::milliseconds(faults_.drop_watches_every_ms);
    } else {
      // Settings changed: restart the period from now.
      next = std::chrono::steady_clock::now() +
             std::chrono::milliseconds(std::max(1, faults_.drop_watches_every_ms));
    }
  }
}

bool ApiServer::MaybeFail(http::Responder& res) {
  int code = 0;
  int latency = 0;
  {
    std::lock_guard lock(faults_mu_);
    latency = faults_.latency_ms;
    if (faults_.fail_next > 0) {
      --faults_.fail_next;
      code = faults_.fail_next_code;
    } else if (faults_.fail_rate > 0 &&
               std::uniform_real_distribution<double>(0, 1)(rng_) < faults_.fail_rate) {
      code = faults_.fail_codes[std::uniform_int_distribution<size_t>(
          0, faults_.fail_codes.size() - 1)(rng_)];
    }
  }
  if (latency > 0) std::this_thread::sleep_for(std::chrono::milliseconds(latency));
  if (code == 0) return false;
  SendError(res, ApiError::FromCode(code, FaultMessage(code)));
  return true;
}

void ApiServer::HandleAdmin(const http::ServerRequest& req, http::Responder& res) {
  if (req.path == "/admin/faults" && req.method == "GET") {
    std::lock_guard lock(faults_mu_);
    return SendJson(res, 200, faults_.ToJson().dump());
  }
  if (req.path == "/admin/faults" && req.method == "POST") {
    json body;
    try {
      body = req.body.empty() ? json::object() : json::parse(req.body);
    } catch (const json::exception& e) {
      return SendError(res, ApiError::BadRequest(std::string("invalid JSON: ") + e.what()));
    }
    auto f = Faults::FromJson(body);
    if (!f.ok()) return SendError(res, ApiError::BadRequest(f.status().message()));
    {
      std::lock_guard lock(faults_mu_);
      faults_ = *f;
    }
    faults_cv_.notify_all();
    log::Info("apiserver", "faults set", {{"faults", f->ToJson()}});
    return SendJson(res, 200, f->ToJson().dump());
  }
  if (req.path == "/admin/drop-watches" && req.method == "POST") {
    const size_t n = store_->WatcherCount();
    store_->DropWatches();
    return SendJson(res, 200, json({{"dropped", n}}).dump());
  }
  if (req.path == "/admin/compact" && req.method == "POST") {
    store_->Compact();
    return SendJson(res, 200,
                    json({{"resourceVersion", std::to_string(store_->CurrentRv())}}).dump());
  }
  // POST /admin/pods/{namespace}/{name}/log?uid=&container=&restart=&offset=&final=
  const std::string pods_prefix = "/admin/pods/";
  if (req.path.rfind(pods_prefix, 0) == 0 && req.method == "POST" && req.path.size() > 4 &&
      req.path.compare(req.path.size() - 4, 4, "/log") == 0) {
    const std::string rest =
        req.path.substr(pods_prefix.size(), req.path.size() - 4 - pods_prefix.size());
    const size_t slash = rest.find('/');
    auto param = [&](const char* k) {
      auto it = req.params.find(k);
      return it == req.params.end() ? std::string() : it->second;
    };
    if (slash == std::string::npos || rest.find('/', slash + 1) != std::string::npos)
      return SendError(res, ApiError::BadRequest("want /admin/pods/{namespace}/{name}/log"));
    LogKey key{rest.substr(0, slash), rest.substr(slash + 1), param("uid"), param("container")};
    int64_t offset = 0, restart = 0;
    try {
      offset = std::stoll(param("offset").empty() ? "0" : param("offset"));
      restart = std::stoll(param("restart").empty() ? "0" : param("restart"));
    } catch (const std::exception&) {
      return SendError(res, ApiError::BadRequest("offset and restart must be integers"));
    }
    if (key.uid.empty() || key.container.empty() || offset < 0)
      return SendError(res, ApiError::BadRequest("uid, container and offset >= 0 are required"));
    auto rt = store_->Lookup("", "v1", "pods");
    auto pod = store_->Get(*rt, key.ns, key.pod);
    if (!pod.ok() || (*pod)->obj["metadata"].value("uid", "") != key.uid)
      return SendError(res, ApiError::NotFound("pods", "", key.pod));
    const bool final = param("final") == "true";
    PodLogs::AppendResult r = handler_->logs().Append(key, restart, offset, req.body, final);
    if (!r.ok)
      return SendError(res, ApiError{409, "Conflict",
                                     "log upload gap: the server holds " + std::to_string(r.size) +
                                         " bytes, the upload starts at " + std::to_string(offset),
                                     json({{"size", r.size}})});
    return SendJson(res, 200, json({{"size", r.size}}).dump());
  }
  SendError(res,
            ApiError{404, "NotFound", "no admin endpoint " + req.method + " " + req.path, nullptr});
}

void ApiServer::Handle(const http::ServerRequest& req, http::Responder& inner) {
  RecordingResponder res(inner);
  const auto start = std::chrono::steady_clock::now();
  if (!options_.client_cert_auth) {
    const std::string auth = req.headers.Get("Authorization");
    if (auth != "Bearer " + token_) {
      SendError(res, ApiError::Unauthorized());
      log::Info("apiserver", "request",
                {{"verb", req.method}, {"path", req.raw_path}, {"code", 401}});
      return;
    }
  }
  if (req.path.rfind("/admin/", 0) == 0) {
    HandleAdmin(req, res);
  } else if (req.path == "/healthz" || req.path == "/livez" || req.path == "/readyz") {
    res.Send(200, {{"Content-Type", "text/plain"}}, "ok");
  } else if (req.path == "/version") {
    SendJson(res, 200,
             json({{"major", "1"},
                   {"minor", "32"},
                   {"gitVersion", "v1.32.0-vmrelease-local"},
                   {"gitCommit", "0000000000000000000000000000000000000000"},
                   {"gitTreeState", "clean"},
                   {"buildDate", "2025-01-01T00:00:00Z"},
                   {"goVersion", "go1.23.0"},
                   {"compiler", "gc"},
                   {"platform", "linux/amd64"}})
                 .dump());
  } else if (req.path.rfind("/openapi/", 0) == 0) {
    handler_->HandleOpenApi(req, res);
  } else if (IsApiPath(req.path)) {
    if (!MaybeFail(res)) handler_->Handle(req, res);
  } else {
    SendError(res, ApiError{404, "NotFound", "the server could not find the requested resource",
                            json::object()});
  }
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - start)
                      .count();
  log::Info("apiserver", "request",
            {{"verb", req.method},
             {"path", req.raw_path + (req.query.empty() ? "" : "?" + req.query)},
             {"code", res.status()},
             {"ms", ms},
             {"watch", res.streamed()}});
}

}  // namespace vmrelease::apiserver

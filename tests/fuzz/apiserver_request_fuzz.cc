// libFuzzer target for the local API server's request decoding
// (tests/support/apiserver): JSON, YAML and protobuf bodies, the four PATCH
// flavours and DeleteOptions, against built-in kinds and the project's CRDs,
// through the same ResourceHandler the HTTPS server calls.
//
// Input layout: byte 0 picks the method and content type, byte 1 the resource,
// the rest is the body. Besides "no crash, no sanitizer report", every answer
// must be a single response whose status is one a real server gives for a
// malformed or refused write, with a kube Status body for errors; a 5xx is only
// ever etcd's "request is too large".
#include <pthread.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>

#include "controller/api/manifest.h"
#include "controller/common/clock.h"
#include "controller/common/log.h"
#include "tests/support/apiserver/handler.h"
#include "tests/support/apiserver/store.h"
#include "tests/support/testing/process.h"

namespace {

using nlohmann::json;
using vmrelease::apiserver::ResourceHandler;
using vmrelease::apiserver::Store;

void Check(bool ok) {
  if (!ok) std::abort();
}

class CaptureResponder final : public vmrelease::http::Responder {
 public:
  void Send(int status, const vmrelease::http::Headers&, std::string body) override {
    ++responses;
    code = status;
    body_ = std::move(body);
  }
  std::shared_ptr<vmrelease::http::ChunkWriter> Stream(int,
                                                       const vmrelease::http::Headers&) override {
    std::abort();  // writes never stream
  }
  void Abort() override { std::abort(); }
  int responses = 0;
  int code = 0;
  std::string body_;
};

struct Server {
  Store store{vmrelease::RealClock::Get(), Store::Options{.history_size = 64}};
  std::unique_ptr<ResourceHandler> handler;
  json release_seed;
};

// The object PUT, PATCH and DELETE act on ("fuzz"), created again when an input removed it.
void EnsureSeed(Server& s, const std::string& kind) {
  json seed;
  std::string group, version = "v1", plural;
  if (kind == "ConfigMap") {
    seed = {{"metadata", {{"name", "fuzz"}}}, {"data", {{"k", "v"}}}};
    plural = "configmaps";
  } else if (kind == "Secret") {
    seed = {{"metadata", {{"name", "fuzz"}}}, {"stringData", {{"k", "v"}}}};
    plural = "secrets";
  } else if (kind == "ImageRelease") {
    seed = s.release_seed;
    group = "vmrelease.io";
    version = "v1alpha1";
    plural = "imagereleases";
  } else {
    return;
  }
  auto rt = s.store.Lookup(group, version, plural);
  Check(rt != nullptr);
  if (s.store.Get(*rt, "default", "fuzz").ok()) return;
  Check(s.store.Create(*rt, "default", seed, {}).ok());
}

Server& Instance() {
  static Server* s = [] {
    // As in vmrelease-apiserver's main(): stacks that hold what a real server accepts.
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, size_t{256} << 20);
    pthread_setattr_default_np(&attr);
    pthread_attr_destroy(&attr);
    vmrelease::log::Init(vmrelease::log::Format::kJson, vmrelease::log::Level::kError);
    auto* srv = new Server();
    auto crd_rt = srv->store.Lookup("apiextensions.k8s.io", "v1", "customresourcedefinitions");
    for (const auto& e : std::filesystem::directory_iterator(VMRELEASE_FUZZ_CRDS_DIR)) {
      auto docs = vmrelease::api::ParseYamlDocuments(vmrelease::testing::ReadFile(e.path()));
      Check(docs.ok());
      for (auto& d : *docs) Check(srv->store.Create(*crd_rt, "", d, {}).ok());
    }
    srv->handler = std::make_unique<ResourceHandler>(srv->store, ResourceHandler::Options{});
    auto release = vmrelease::api::ParseYamlDocument(
        vmrelease::testing::ReadFile(VMRELEASE_FUZZ_RELEASE_EXAMPLE));
    Check(release.ok());
    srv->release_seed = *release;
    srv->release_seed["metadata"]["name"] = "fuzz";
    return srv;
  }();
  return *s;
}

struct Route {
  const char* collection;
  const char* kind;
};
constexpr Route kRoutes[] = {
    {"/api/v1/namespaces/default/configmaps", "ConfigMap"},
    {"/api/v1/namespaces/default/secrets", "Secret"},
    {"/api/v1/namespaces/default/pods", "Pod"},
    {"/apis/batch/v1/namespaces/default/jobs", "Job"},
    {"/apis/vmrelease.io/v1alpha1/namespaces/default/imagereleases", "ImageRelease"},
    {"/apis/vmrelease.io/v1alpha1/namespaces/default/environmentpins", "EnvironmentPin"},
};

struct Verb {
  const char* method;
  const char* content_type;
  bool named;  // on /{name}
};
constexpr Verb kVerbs[] = {
    {"POST", "application/json", false},
    {"POST", "application/yaml", false},
    {"POST", "application/vnd.kubernetes.protobuf", false},
    {"PUT", "application/json", true},
    {"PATCH", "application/merge-patch+json", true},
    {"PATCH", "application/json-patch+json", true},
    {"PATCH", "application/strategic-merge-patch+json", true},
    {"PATCH", "application/apply-patch+yaml", true},
    {"DELETE", "application/json", true},
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  Server& s = Instance();
  const Verb& verb = kVerbs[data[0] % std::size(kVerbs)];
  const Route& route = kRoutes[data[1] % std::size(kRoutes)];
  vmrelease::http::ServerRequest req;
  if (verb.named) EnsureSeed(s, route.kind);
  req.method = verb.method;
  req.path = std::string(route.collection) + (verb.named ? "/fuzz" : "");
  req.raw_path = req.path;
  req.headers.Set("Content-Type", verb.content_type);
  req.body.assign(reinterpret_cast<const char*>(data) + 2, size - 2);
  CaptureResponder res;
  // On a thread like the server's request threads (see Instance()).
  std::thread([&] { s.handler->Handle(req, res); }).join();
  Check(res.responses == 1);
  static const std::set<int> kCodes = {200, 201, 202, 400, 404, 405, 409, 413, 415, 422, 500};
  Check(kCodes.count(res.code) == 1);
  if (res.code >= 400) {
    const json st = json::parse(res.body_, nullptr, false);
    Check(st.is_object() && st.value("kind", "") == "Status" && st.value("code", 0) == res.code);
    if (res.code == 500) Check(st.value("message", "") == "etcdserver: request is too large");
  }
  // Whatever was created goes again, so the store stays small.
  if (res.code == 201) {
    vmrelease::http::ServerRequest del;
    del.method = "DELETE";
    const json obj = json::parse(res.body_, nullptr, false);
    del.path = std::string(route.collection) + "/" +
               (obj.is_object() ? obj["metadata"].value("name", "") : std::string());
    del.raw_path = del.path;
    CaptureResponder ignored;
    std::thread([&] { s.handler->Handle(del, ignored); }).join();
  }
  return 0;
}

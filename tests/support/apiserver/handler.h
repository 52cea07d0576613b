// HTTP handling of Kubernetes API paths (/api, /apis and their resources) on
// top of a Store: discovery, get/list/create/update/patch/delete, Table output
// for kubectl, and watch streams (one thread per open watch, which never holds
// the store lock while writing to the network), and pods/log from PodLogs.
//
//   ResourceHandler h(store, {.bookmark_interval = 5s, .server_address = "127.0.0.1:6443"});
//   h.Handle(request, responder);    // request.path starts with /api or /apis
//   h.Shutdown();                    // ends every watch stream and waits for its thread
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>

#include "controller/http/server.h"
#include "tests/support/apiserver/pod_logs.h"
#include "tests/support/apiserver/store.h"

namespace vmrelease::apiserver {

// Writes a kube Status error (with Retry-After when it has one).
void SendError(http::Responder& res, const ApiError& error);
void SendJson(http::Responder& res, int code, std::string body,
              const std::vector<std::string>& warnings = {});

class ResourceHandler {
 public:
  struct Options {
    std::chrono::milliseconds bookmark_interval{std::chrono::seconds(5)};
    std::string server_address;  // host:port for APIVersions
    // Upper bound for a watch without timeoutSeconds (the real server uses ~30-60 min).
    std::chrono::seconds max_watch{std::chrono::minutes(30)};
  };
  ResourceHandler(Store& store, Options options);
  ~ResourceHandler();
  ResourceHandler(const ResourceHandler&) = delete;
  ResourceHandler& operator=(const ResourceHandler&) = delete;

  void Handle(const http::ServerRequest& req, http::Responder& res);
  // Discovery/OpenAPI documents under /openapi.
  void HandleOpenApi(const http::ServerRequest& req, http::Responder& res);
  void Shutdown();
  int active_watches() const { return active_watches_.load(); }
  // Container output uploaded through the admin API, served as pods/log.
  PodLogs& logs() { return logs_; }

 private:
  struct Target;
  void HandleList(const Target& t, const http::ServerRequest& req, http::Responder& res);
  void HandleWatch(const Target& t, const http::ServerRequest& req, http::Responder& res);
  void HandleWrite(const Target& t, const http::ServerRequest& req, http::Responder& res);
  void HandleLog(const Target& t, const http::ServerRequest& req, http::Responder& res);
  void RunLogFollow(LogKey key, int64_t size, int64_t limit_left,
                    std::shared_ptr<http::ChunkWriter> writer);
  void RunWatch(std::shared_ptr<Watcher> watcher, std::shared_ptr<http::ChunkWriter> writer,
                std::shared_ptr<const ResourceType> rt, bool table, IncludeObject include,
                bool bookmarks, std::chrono::steady_clock::time_point deadline);

  Store& store_;
  Options options_;
  PodLogs logs_;
  std::atomic<int> active_watches_{0};  // watch and log-follow streams
  std::atomic<bool> shutting_down_{false};
  std::mutex mu_;
  std::condition_variable done_cv_;
};

}  // namespace vmrelease::apiserver

// RestClient: KubeClient over HTTPS/JSON (see client.h for the operations).
//
//   ASSIGN_OR_RETURN(ClusterConfig cfg, LoadKubeconfig({}));
//   ASSIGN_OR_RETURN(auto client, RestClient::FromConfig(std::move(cfg)));
//   auto lease = client->Get(LeaseType(), {"kube-system", "vmrelease"});
//
// Retries: reads (get, list, watch establishment is left to the watcher) are
// retried on 429, 5xx and transport errors with exponential backoff that honours
// Retry-After, up to `max_read_attempts`. Writes are retried only on 429 (the
// server rejected them before doing anything), never on 5xx or transport errors,
// whose outcome is unknown. Any request answered 401 with a rotating token is
// retried once after re-reading the token.
// Guarantees: thread-safe; the token never appears in logs or errors.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "controller/common/backoff.h"
#include "controller/common/clock.h"
#include "controller/http/client.h"
#include "controller/kube/client.h"
#include "controller/kube/config.h"

namespace vmrelease::kube {

class RestClient final : public KubeClient {
 public:
  struct Options {
    int max_read_attempts = 5;
    BackoffPolicy read_backoff{.initial = std::chrono::milliseconds(100),
                               .max = std::chrono::seconds(5)};
    // The longest wait between attempts inside a call: a longer Retry-After is
    // cut to this (the next attempt may be throttled again and come back).
    Duration max_retry_after = std::chrono::seconds(10);
    std::chrono::milliseconds request_timeout{std::chrono::seconds(30)};
    Clock* clock = nullptr;  // RealClock when null
    std::string user_agent = "vmrelease-controller/0.1";
  };

  static StatusOr<std::unique_ptr<RestClient>> FromConfig(ClusterConfig config, Options options);
  static StatusOr<std::unique_ptr<RestClient>> FromConfig(ClusterConfig config) {
    return FromConfig(std::move(config), Options());
  }

  StatusOr<Json> Get(const ResourceType& type, const ObjectRef& ref) override;
  StatusOr<ObjectList> List(const ResourceType& type, const ListOptions& options) override;
  StatusOr<Json> Create(const ResourceType& type, const Json& object,
                        const WriteOptions& options = {}) override;
  StatusOr<Json> Update(const ResourceType& type, const Json& object,
                        const WriteOptions& options = {}) override;
  StatusOr<Json> UpdateStatus(const ResourceType& type, const Json& object,
                              const WriteOptions& options = {}) override;
  StatusOr<Json> Patch(const ResourceType& type, const ObjectRef& ref, PatchType patch_type,
                       const Json& patch, const PatchOptions& options = {}) override;
  StatusOr<Json> Delete(const ResourceType& type, const ObjectRef& ref,
                        const DeleteOptions& options = {}) override;
  StatusOr<std::unique_ptr<WatchStream>> Watch(const ResourceType& type,
                                               const WatchOptions& options) override;

  using Query = std::vector<std::pair<std::string, std::string>>;
  enum class Retry { kReads, kWrites };
  // A raw request to `path` (e.g. "/version"); the decoded JSON body on 2xx.
  StatusOr<Json> Request(const std::string& method, const std::string& path, const Query& query,
                         const std::string& body, const std::string& content_type, Retry retry,
                         const std::string& what);

  const ClusterConfig& config() const { return config_; }

 private:
  RestClient(ClusterConfig config, Options options);
  // Sets the bearer token, when the config has one, on `req`.
  Status Authorize(http::Request& req);
  // A 401 that re-reading a rotating token may cure (the server did nothing
  // with the request): invalidates the token and returns true.
  bool Reauthenticate(const Status& err);
  StatusOr<Json> Put(const ResourceType& type, const Json& object, const WriteOptions& options,
                     const std::string& subresource);

  ClusterConfig config_;
  Options options_;
  Clock* clock_;
  std::unique_ptr<http::Client> http_;
};

}  // namespace vmrelease::kube

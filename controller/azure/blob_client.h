// BlobClient: the REST implementation of BlobStore (x-ms-version 2021-12-02).
//
//   ASSIGN_OR_RETURN(SharedKeySigner key, SharedKeySigner::Create("devstoreaccount1", key_b64));
//   ASSIGN_OR_RETURN(auto client, BlobClient::Create(
//       {.account_url = "http://127.0.0.1:10000/devstoreaccount1"},
//       SharedKeyAuth(std::move(key))));
//   RETURN_IF_ERROR(client->CreateContainer("images"));
//
// Retries: each call is retried (fresh x-ms-date and signature per attempt) on
// connection errors, timeouts, 408, 429, 500, 502, 503 and 504, waiting for the
// server's Retry-After when given (capped) and exponential backoff with jitter
// otherwise, up to `retry.max_attempts` attempts; a rejected bearer token
// (401, or 403 AuthenticationFailed) is refreshed and the call retried once.
// Guarantees: thread-safe; requests are logged as method + path (never the
// query or headers); errors keep the storage error code (blob_error.h).
// Caveats: a retried create-only write whose first attempt did reach the
// service comes back kAlreadyExists; callers that need exactly-once creation
// tag their blob (metadata) and check it, as the VHD uploader does.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "controller/azure/blob_store.h"
#include "controller/azure/storage_auth.h"
#include "controller/common/backoff.h"
#include "controller/common/clock.h"
#include "controller/http/client.h"

namespace vmrelease::azure {

inline constexpr const char* kStorageApiVersion = "2021-12-02";

struct BlobRetryPolicy {
  int max_attempts = 6;
  BackoffPolicy backoff{.initial = std::chrono::milliseconds(500), .max = std::chrono::seconds(30)};
  // Longest server-requested wait honoured; longer Retry-After values are capped.
  std::chrono::milliseconds max_retry_after{std::chrono::seconds(60)};
};

struct BlobClientOptions {
  std::string account_url;   // virtual-host or path-style (storage_account.h)
  std::string account_name;  // optional override of the name derived from the URL
  std::string api_version = kStorageApiVersion;
  BlobRetryPolicy retry;
  // Per-attempt deadline (a 4 MiB page on a slow link needs more than the HTTP default).
  std::chrono::milliseconds timeout{std::chrono::seconds(120)};
  http::TlsConfig tls;
  Clock* clock = nullptr;  // RealClock when null
  // Called after every HTTP attempt with its status code (0: no answer), e.g. for
  // vmrelease_azure_requests_total. Must be thread-safe and must not block.
  std::function<void(int http_status)> on_response;
};

class BlobClient final : public BlobStore {
 public:
  // Errors: kInvalidArgument for a bad account URL.
  static StatusOr<std::unique_ptr<BlobClient>> Create(BlobClientOptions options,
                                                      std::unique_ptr<StorageAuth> auth);
  ~BlobClient() override;

  Status CreateContainer(const std::string& container) override;
  StatusOr<BlobWriteResult> CreatePageBlob(const BlobRef& ref, int64_t size,
                                           const PutBlobOptions& options) override;
  StatusOr<BlobWriteResult> PutPages(const BlobRef& ref, int64_t offset, std::string_view data,
                                     const BlobConditions& conditions = {}) override;
  StatusOr<BlobWriteResult> ClearPages(const BlobRef& ref, ByteRange range,
                                       const BlobConditions& conditions = {}) override;
  StatusOr<BlobWriteResult> PutBlockBlob(const BlobRef& ref, std::string_view data,
                                         const PutBlobOptions& options) override;
  Status PutBlock(const BlobRef& ref, const std::string& block_id, std::string_view data) override;
  StatusOr<BlobWriteResult> PutBlockList(const BlobRef& ref,
                                         const std::vector<std::string>& block_ids,
                                         const PutBlobOptions& options) override;
  StatusOr<std::string> GetBlob(const BlobRef& ref,
                                std::optional<ByteRange> range = std::nullopt) override;
  StatusOr<BlobProperties> GetProperties(const BlobRef& ref) override;
  StatusOr<BlobWriteResult> SetMetadata(const BlobRef& ref, const BlobMetadata& metadata,
                                        const BlobConditions& conditions = {}) override;
  Status SetTags(const BlobRef& ref, const BlobTags& tags) override;
  StatusOr<BlobTags> GetTags(const BlobRef& ref) override;
  StatusOr<CopyStatus> StartCopyFromUrl(const BlobRef& dest, const std::string& source_url,
                                        const PutBlobOptions& options) override;
  Status Delete(const BlobRef& ref, const BlobConditions& conditions = {}) override;
  StatusOr<std::vector<std::string>> ListBlobs(const std::string& container,
                                               const std::string& prefix = "") override;
  Status SetImmutabilityPolicy(const BlobRef& ref, const ImmutabilityPolicy& policy) override;
  std::string BlobUrl(const BlobRef& ref) const override { return account_.BlobUrl(ref); }
  StatusOr<std::string> GenerateSasUrl(const BlobRef& ref, const SasRequest& request) override;

  // Get User Delegation Key (bearer auth only). The key value is a secret.
  StatusOr<UserDelegationKey> GetUserDelegationKey(WallTime start, WallTime expiry);

  const StorageAccountUrl& account() const { return account_; }
  const StorageAuth& auth() const { return *auth_; }
  // Attempts beyond the first, over the client's lifetime (tests, metrics).
  int64_t retries() const { return retries_.load(); }

  struct Call;  // one REST operation (blob_client.cc)

 private:
  BlobClient(BlobClientOptions options, StorageAccountUrl account,
             std::unique_ptr<StorageAuth> auth);
  // Sends `call` with retries; returns the final response (any status) or a transport error.
  StatusOr<http::Response> Execute(const Call& call);
  // Execute + map any status outside `expected` to a Status.
  StatusOr<http::Response> ExecuteExpect(const Call& call, std::initializer_list<int> expected);

  BlobClientOptions options_;
  StorageAccountUrl account_;
  std::unique_ptr<StorageAuth> auth_;
  Clock& clock_;
  http::Client http_;
  std::atomic<int64_t> retries_{0};
  std::mutex udk_mu_;
  std::optional<UserDelegationKey> udk_;  // cached for SAS generation with a bearer
  WallTime udk_expiry_{};
};

// Validation shared with fakes so both refuse the same input.
Status ValidateMetadata(const BlobMetadata& metadata);
Status ValidateTags(const BlobTags& tags);
// Builds the tag-set XML body of Set Blob Tags, and parses Get Blob Tags.
std::string TagsToXml(const BlobTags& tags);
StatusOr<BlobTags> TagsFromXml(std::string_view xml);

}  // namespace vmrelease::azure

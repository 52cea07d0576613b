// FakeBlobStore: an in-memory BlobStore with the same contracts as the REST
// client (create-only writes, ETags, If-Match, metadata/tag validation, copy
// status), plus fault injection and call accounting. For unit tests of code
// that consumes a BlobStore (the VHD uploader, reconcilers); anything about
// the wire format is tested against Azurite instead.
//
//   FakeBlobStore store;
//   store.SetFault([](const FakeBlobStore::Op& op) -> Status {
//     if (op.name == "PutPages" && op.offset == 8 << 20) return UnavailableError("boom");
//     return Status::Ok();
//   });
//   ... UploadVhd(store, {"c", "disk.vhd"}, path, {}) ...
//   store.max_concurrent_put_pages();
//
// Thread-safe. Page blobs keep their full content in memory: keep disks small.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "controller/azure/blob_store.h"

namespace vmrelease::testing {

class FakeBlobStore final : public azure::BlobStore {
 public:
  struct Op {
    std::string name;  // "CreatePageBlob", "PutPages", "SetMetadata", ...
    azure::BlobRef ref;
    int64_t offset = 0;
    int64_t length = 0;
  };
  // Runs before every operation (outside the store's lock, so it may block);
  // a non-OK result is returned instead of performing the operation.
  using Fault = std::function<Status(const Op&)>;

  explicit FakeBlobStore(std::string base_url = "https://fake.blob.example/acct");

  void SetFault(Fault fault);
  void set_immutability_supported(bool v) { immutability_supported_ = v; }
  // Copies started from now on stay pending for this many GetProperties calls.
  void set_copy_pending_polls(int n) { copy_pending_polls_ = n; }

  // Direct access for assertions.
  bool Exists(const azure::BlobRef& ref) const;
  std::string Content(const azure::BlobRef& ref) const;
  int64_t put_page_calls() const { return put_page_calls_.load(); }
  int max_concurrent_put_pages() const { return max_concurrent_.load(); }
  // Offsets of every successful Put Page, ascending.
  std::set<int64_t> put_page_offsets() const;
  std::map<std::string, int> op_counts() const;

  // BlobStore
  Status CreateContainer(const std::string& container) override;
  StatusOr<azure::BlobWriteResult> CreatePageBlob(const azure::BlobRef& ref, int64_t size,
                                                  const azure::PutBlobOptions& options) override;
  StatusOr<azure::BlobWriteResult> PutPages(const azure::BlobRef& ref, int64_t offset,
                                            std::string_view data,
                                            const azure::BlobConditions& conditions = {}) override;
  StatusOr<azure::BlobWriteResult> ClearPages(
      const azure::BlobRef& ref, azure::ByteRange range,
      const azure::BlobConditions& conditions = {}) override;
  StatusOr<azure::BlobWriteResult> PutBlockBlob(const azure::BlobRef& ref, std::string_view data,
                                                const azure::PutBlobOptions& options) override;
  Status PutBlock(const azure::BlobRef& ref, const std::string& block_id,
                  std::string_view data) override;
  StatusOr<azure::BlobWriteResult> PutBlockList(const azure::BlobRef& ref,
                                                const std::vector<std::string>& block_ids,
                                                const azure::PutBlobOptions& options) override;
  StatusOr<std::string> GetBlob(const azure::BlobRef& ref,
                                std::optional<azure::ByteRange> range = std::nullopt) override;
  StatusOr<azure::BlobProperties> GetProperties(const azure::BlobRef& ref) override;
  StatusOr<azure::BlobWriteResult> SetMetadata(
      const azure::BlobRef& ref, const azure::BlobMetadata& metadata,
      const azure::BlobConditions& conditions = {}) override;
  Status SetTags(const azure::BlobRef& ref, const azure::BlobTags& tags) override;
  StatusOr<azure::BlobTags> GetTags(const azure::BlobRef& ref) override;
  StatusOr<azure::CopyStatus> StartCopyFromUrl(const azure::BlobRef& dest,
                                               const std::string& source_url,
                                               const azure::PutBlobOptions& options) override;
  Status Delete(const azure::BlobRef& ref, const azure::BlobConditions& conditions = {}) override;
  StatusOr<std::vector<std::string>> ListBlobs(const std::string& container,
                                               const std::string& prefix = "") override;
  Status SetImmutabilityPolicy(const azure::BlobRef& ref,
                               const azure::ImmutabilityPolicy& policy) override;
  std::string BlobUrl(const azure::BlobRef& ref) const override;
  StatusOr<std::string> GenerateSasUrl(const azure::BlobRef& ref,
                                       const azure::SasRequest& request) override;

 private:
  struct Blob {
    std::string type;  // PageBlob | BlockBlob
    std::string content;
    std::string content_type;
    azure::BlobMetadata metadata;
    azure::BlobTags tags;
    std::string etag;
    azure::CopyStatus copy;
    int copy_polls_left = 0;
    std::optional<azure::ImmutabilityPolicy> immutability;
  };
  Status Hook(const Op& op);
  void Count(const std::string& name);
  std::string NextEtag();
  // Requires mu_. Applies create-only / If-Match rules for a write to `key`.
  Status CheckWrite(const std::string& key, const std::string& if_match, bool overwrite,
                    const std::string& what) const;
  Status CheckConditions(const std::string& key, const azure::BlobConditions& c,
                         const std::string& what) const;
  StatusOr<Blob*> Find(const azure::BlobRef& ref, const std::string& what);

  const std::string base_url_;
  mutable std::mutex mu_;
  Fault fault_;
  std::set<std::string> containers_;
  std::map<std::string, Blob> blobs_;                                 // "container/name"
  std::map<std::string, std::map<std::string, std::string>> staged_;  // uncommitted blocks
  std::map<std::string, int> op_counts_;
  std::set<int64_t> put_offsets_;
  int64_t etag_counter_ = 0;
  bool immutability_supported_ = true;
  int copy_pending_polls_ = 0;
  std::atomic<int64_t> put_page_calls_{0};
  std::atomic<int> concurrent_{0};
  std::atomic<int> max_concurrent_{0};
};

}  // namespace vmrelease::testing

// BlobStore: what reconcilers and the VHD uploader see of Azure Blob Storage.
// BlobClient (blob_client.h) is the REST implementation; tests use
// tests/support/azurite (a real Azurite) or FakeBlobStore (in memory).
//
//   BlobStore& store = ...;
//   RETURN_IF_ERROR(store.CreateContainer("images"));
//   ASSIGN_OR_RETURN(auto created, store.CreatePageBlob({"images", "app/1.0.vhd"}, size, {}));
//   // a second CreatePageBlob on the same name fails with kAlreadyExists:
//   // published images are never overwritten unless `overwrite` is set.
//
// Contracts shared by every implementation:
// - Writes default to "create only" (If-None-Match: *). A refused write leaves
//   the existing blob untouched (same ETag, same content).
// - Errors are Status values classified by ClassifyBlobError (blob_error.h);
//   the storage error code is in detail().reason.
// - Thread-safe: the uploader calls PutPages from several threads at once.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "controller/azure/sas.h"
#include "controller/azure/storage_account.h"
#include "controller/common/clock.h"
#include "controller/common/status.h"

namespace vmrelease::azure {

using BlobMetadata = std::map<std::string, std::string>;
using BlobTags = std::map<std::string, std::string>;

// Conditions on the target of a write (or a read).
struct BlobConditions {
  std::string if_match;       // an ETag: the write only applies to that exact version
  std::string if_none_match;  // "*" = only if the blob does not exist, or an ETag
};

struct PutBlobOptions {
  std::string content_type = "application/octet-stream";
  BlobMetadata metadata;
  BlobTags tags;
  // false (default): If-None-Match: * — an existing blob is never replaced.
  bool overwrite = false;
  // When set, replace only this exact version (implies overwrite).
  std::string if_match;
};

// What a successful write returns.
struct BlobWriteResult {
  std::string etag;
  std::string last_modified;
};

struct ByteRange {
  int64_t offset = 0;
  int64_t length = 0;  // > 0
};

enum class CopyState { kNone, kPending, kSuccess, kAborted, kFailed };
const char* CopyStateName(CopyState s);

struct CopyStatus {
  CopyState state = CopyState::kNone;
  std::string copy_id;
  std::string progress;     // "bytes copied/total"
  std::string description;  // why it failed, from x-ms-copy-status-description
};

struct BlobProperties {
  std::string etag;
  std::string last_modified;
  int64_t content_length = 0;
  std::string blob_type;  // "PageBlob" | "BlockBlob" | "AppendBlob"
  std::string content_type;
  int64_t sequence_number = 0;
  BlobMetadata metadata;  // names lower-cased as the service returns them
  int tag_count = 0;
  CopyStatus copy;
};

struct ImmutabilityPolicy {
  WallTime until;
  bool locked = false;  // Locked policies can only be extended, never removed
};

// Which SAS a BlobStore hands out (GenerateSasUrl) for build jobs and copies.
struct SasRequest {
  std::string permissions;  // e.g. "r" for a copy source, "cw" for a build job's output
  std::optional<WallTime> start;
  WallTime expiry;
  std::string protocol = "https";  // "" allows http (Azurite)
  std::string ip;
};

class BlobStore {
 public:
  virtual ~BlobStore() = default;

  // Creates a private container (no public access). Idempotent: an existing
  // container is success.
  virtual Status CreateContainer(const std::string& container) = 0;

  // Put Blob (PageBlob): allocates `size` bytes (multiple of 512), all zero.
  virtual StatusOr<BlobWriteResult> CreatePageBlob(const BlobRef& ref, int64_t size,
                                                   const PutBlobOptions& options) = 0;
  // Put Page (update): `data.size()` ≤ 4 MiB, offset and size multiples of 512.
  // `data` is only read during the call.
  virtual StatusOr<BlobWriteResult> PutPages(const BlobRef& ref, int64_t offset,
                                             std::string_view data,
                                             const BlobConditions& conditions = {}) = 0;
  // Put Page (clear): zeroes a 512-aligned range.
  virtual StatusOr<BlobWriteResult> ClearPages(const BlobRef& ref, ByteRange range,
                                               const BlobConditions& conditions = {}) = 0;

  // Put Blob (BlockBlob) with the whole content in one request.
  virtual StatusOr<BlobWriteResult> PutBlockBlob(const BlobRef& ref, std::string_view data,
                                                 const PutBlobOptions& options) = 0;
  // Put Block: stages one block; `block_id` is raw (it is base64-encoded here),
  // and all ids of one blob must have the same length.
  virtual Status PutBlock(const BlobRef& ref, const std::string& block_id,
                          std::string_view data) = 0;
  // Put Block List: commits staged blocks (raw ids, in order) as the blob content.
  virtual StatusOr<BlobWriteResult> PutBlockList(const BlobRef& ref,
                                                 const std::vector<std::string>& block_ids,
                                                 const PutBlobOptions& options) = 0;

  // Get Blob: the whole blob or one range.
  virtual StatusOr<std::string> GetBlob(const BlobRef& ref,
                                        std::optional<ByteRange> range = std::nullopt) = 0;
  virtual StatusOr<BlobProperties> GetProperties(const BlobRef& ref) = 0;
  // Replaces all metadata (names must be C# identifiers). Changes the ETag.
  virtual StatusOr<BlobWriteResult> SetMetadata(const BlobRef& ref, const BlobMetadata& metadata,
                                                const BlobConditions& conditions = {}) = 0;
  // Replaces the tag set (≤ 10 tags). Does not change the ETag.
  virtual Status SetTags(const BlobRef& ref, const BlobTags& tags) = 0;
  virtual StatusOr<BlobTags> GetTags(const BlobRef& ref) = 0;

  // Copy Blob: starts a server-side copy of `source_url` (which may carry a
  // SAS) into `dest`. Returns the initial status (kSuccess when the service
  // copied synchronously); poll GetProperties().copy or use WaitForCopy().
  // Respects options.overwrite / if_match like Put Blob.
  virtual StatusOr<CopyStatus> StartCopyFromUrl(const BlobRef& dest, const std::string& source_url,
                                                const PutBlobOptions& options) = 0;

  virtual Status Delete(const BlobRef& ref, const BlobConditions& conditions = {}) = 0;

  // List Blobs: the names of the blobs in `container` whose name starts with
  // `prefix`, in name order (all pages). A missing container is kNotFound.
  virtual StatusOr<std::vector<std::string>> ListBlobs(const std::string& container,
                                                       const std::string& prefix = "") = 0;

  // Set Blob Immutability Policy. Errors: kUnimplemented (BlobErrorKind::kUnsupported)
  // with a clear message where the endpoint does not support it (Azurite, or
  // accounts without version-level immutability); callers log and continue.
  virtual Status SetImmutabilityPolicy(const BlobRef& ref, const ImmutabilityPolicy& policy) = 0;

  // The blob's URL without any query string: safe to log and store in status.
  virtual std::string BlobUrl(const BlobRef& ref) const = 0;
  // A URL with a SAS for exactly this blob (service SAS with Shared Key, user
  // delegation SAS with a bearer credential). The result is a secret.
  // Errors: kFailedPrecondition when the store's auth cannot sign.
  virtual StatusOr<std::string> GenerateSasUrl(const BlobRef& ref, const SasRequest& request) = 0;
};

// Polls GetProperties every `poll` until the copy leaves kPending or
// `timeout` passes (kDeadlineExceeded). A copy that ends kFailed/kAborted is
// an error (kAborted) carrying the service's description.
StatusOr<CopyStatus> WaitForCopy(BlobStore& store, const BlobRef& dest, Clock& clock,
                                 Duration poll = std::chrono::seconds(2),
                                 Duration timeout = std::chrono::hours(1));

}  // namespace vmrelease::azure

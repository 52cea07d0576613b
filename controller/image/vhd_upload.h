// Uploads a raw or fixed-VHD disk file as an Azure page blob that is a valid
// fixed VHD, in one sequential read of the file and without a converted copy.
//
//   VhdUploadOptions o{.parallelism = 8, .metadata = {{"image", "sql"}}};
//   ASSIGN_OR_RETURN(VhdUploadResult r, UploadVhd(store, {"staging", "sql-1.3.0.vhd"}, path, o));
//   r.sha256;   // == sha256sum of the downloaded blob
//
// Algorithm (see docs/vhd.md):
//  1. InspectDisk: raw or fixed VHD; the blob is RoundUpToMiB(data) + 512 bytes.
//  2. Put Blob (PageBlob) of that size with If-None-Match: * — an existing
//     blob is never overwritten (kAlreadyExists), unless it is this upload's
//     own unfinished blob (same upload_id and source), which is resumed.
//  3. Read the data sequentially in `range_size` pieces. Holes (SEEK_HOLE) are
//     not read; all-zero pieces are not sent (unwritten pages read as zero);
//     every other piece goes to one of `parallelism` Put Page workers. The
//     SHA-256 of the final VHD bytes is updated on the way, in file order.
//  4. Padding to the MiB boundary is implicit (zero pages); the footer is
//     written last, only after all data succeeded, so an interrupted upload
//     never looks like a valid VHD.
//  5. Metadata records sha256 and the upload state ("complete").
// Memory: at most parallelism + 1 buffers of range_size bytes.
// Guarantees: the result's sha256 equals the SHA-256 of the blob's bytes.
// Errors: those of InspectDisk and the BlobStore (first error wins; the blob
// is left in state "uploading" and can be resumed with the same upload_id);
// kCancelled when `cancel` becomes true.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include "controller/azure/blob_store.h"
#include "controller/common/clock.h"
#include "controller/common/status.h"
#include "controller/image/disk_source.h"

namespace vmrelease::image {

inline constexpr int64_t kMaxPutPage = 4 * kMiB;

// Metadata names this engine writes (lower case, as the service returns them).
inline constexpr const char* kMetaSha256 = "sha256";
inline constexpr const char* kMetaUploadId = "vmrelease_upload_id";
inline constexpr const char* kMetaUploadState = "vmrelease_upload_state";  // uploading | complete
inline constexpr const char* kMetaSource = "vmrelease_source";          // DiskSource::fingerprint
inline constexpr const char* kMetaCheckpoint = "vmrelease_checkpoint";  // bytes known written

struct UploadProgress {
  int64_t total_bytes = 0;     // data bytes in the file
  int64_t bytes_read = 0;      // data bytes scanned so far (holes included)
  int64_t bytes_uploaded = 0;  // bytes acknowledged by Put Page
  int64_t bytes_skipped = 0;   // zero bytes not sent
};

struct VhdUploadOptions {
  int parallelism = 8;               // Put Page calls in flight
  int64_t range_size = kMaxPutPage;  // multiple of 512, at most 4 MiB
  bool overwrite = false;            // replace an existing blob (never for published images)
  // Identifies this upload across restarts: a blob in state "uploading" with the
  // same id and source fingerprint is resumed. Random when empty.
  std::string upload_id;
  // How often (in data bytes) the resume checkpoint is saved to blob metadata.
  int64_t checkpoint_interval = int64_t{1} << 30;
  azure::BlobMetadata metadata;  // extra metadata (names must be C# identifiers)
  azure::BlobTags tags;          // set after the upload completes
  std::string content_type = "application/octet-stream";
  // Called on the calling thread after every range.
  std::function<void(const UploadProgress&)> progress;
  const std::atomic<bool>* cancel = nullptr;
  Clock* clock = nullptr;  // footer timestamp; RealClock when null
};

struct VhdUploadResult {
  int64_t blob_size = 0;
  int64_t virtual_size = 0;
  std::string sha256;          // lower-case hex of the whole blob
  std::string etag;            // after the final metadata update
  int64_t bytes_uploaded = 0;  // data bytes sent with Put Page (footer excluded)
  int64_t bytes_skipped = 0;   // zero bytes not sent (holes and zero ranges)
  int64_t bytes_resumed = 0;   // bytes below a resume checkpoint, not sent again
  int64_t put_page_calls = 0;  // including the footer
  bool resumed = false;
  SourceFormat source_format = SourceFormat::kRaw;
  bool footer_reused = false;
  VhdFooter footer;
};

StatusOr<VhdUploadResult> UploadVhd(azure::BlobStore& store, const azure::BlobRef& dest,
                                    const std::string& path, const VhdUploadOptions& options);

// The SHA-256 UploadVhd would record for `path` (data + padding + `source`'s
// footer), by the same single sequential read, without uploading.
StatusOr<std::string> ComputeVhdSha256(const DiskSource& source, int64_t range_size = kMaxPutPage);

}  // namespace vmrelease::image

// Checks that a blob is a complete fixed VHD Azure will accept, without
// trusting whoever uploaded it: size, footer (last 512 bytes parsed and
// validated), upload state and, optionally, the recorded and actual SHA-256.
//
//   ASSIGN_OR_RETURN(VhdVerifyResult v, VerifyVhdBlob(store, ref, {.expected_sha256 = sha}));
//   v.footer.current_size;   // the disk's virtual size
//
// Errors: kFailedPrecondition when the blob is not a page blob, is not
// N MiB + 512 bytes, or its upload is unfinished; kDataLoss for a corrupt
// footer, a footer size that disagrees with the blob, or a SHA-256 mismatch;
// BlobStore errors otherwise (kNotFound for a missing blob).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "controller/azure/blob_store.h"
#include "controller/common/status.h"
#include "controller/image/vhd_footer.h"

namespace vmrelease::image {

struct VhdVerifyOptions {
  std::optional<int64_t> expected_virtual_size;
  // Compared with the blob's "sha256" metadata (and the content hash, if computed).
  std::string expected_sha256;
  // Download the whole blob and hash it: proves the content, costs a full read.
  bool hash_content = false;
  int64_t download_range = 32 * kMiB;
};

struct VhdVerifyResult {
  int64_t blob_size = 0;
  VhdFooter footer;
  std::string etag;
  std::string metadata_sha256;  // "" when the blob has none
  std::string content_sha256;   // set when hash_content
};

StatusOr<VhdVerifyResult> VerifyVhdBlob(azure::BlobStore& store, const azure::BlobRef& ref,
                                        const VhdVerifyOptions& options = {});

}  // namespace vmrelease::image

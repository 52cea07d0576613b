#include "controller/image/vhd_verify.h"

#include "controller/common/crypto.h"
#include "controller/image/vhd_upload.h"

namespace vmrelease::image {

StatusOr<VhdVerifyResult> VerifyVhdBlob(azure::BlobStore& store, const azure::BlobRef& ref,
                                        const VhdVerifyOptions& options) {
  const std::string what = "verifying " + ref.ToString();
  StatusOr<azure::BlobProperties> got = store.GetProperties(ref);
  if (!got.ok()) return got.status().WithContext(what);
  const azure::BlobProperties& props = *got;
  VhdVerifyResult out;
  out.blob_size = props.content_length;
  out.etag = props.etag;
  if (props.blob_type != "PageBlob") {
    return FailedPreconditionError(
        what + ": a VHD must be a page blob, this is a " +
        (props.blob_type.empty() ? "blob of unknown type" : props.blob_type));
  }
  if (props.content_length < kMiB + kVhdFooterSize ||
      (props.content_length - kVhdFooterSize) % kMiB != 0) {
    return FailedPreconditionError(what + ": size " + std::to_string(props.content_length) +
                                   " is not N MiB + 512 bytes");
  }
  if (auto it = props.metadata.find(kMetaUploadState);
      it != props.metadata.end() && it->second != "complete") {
    return FailedPreconditionError(what + ": upload state is \"" + it->second + "\"");
  }
  StatusOr<std::string> tail =
      store.GetBlob(ref, azure::ByteRange{props.content_length - kVhdFooterSize, kVhdFooterSize});
  if (!tail.ok()) return tail.status().WithContext(what + ": reading the footer");
  StatusOr<VhdFooter> footer = ParseFooter(*tail);
  if (!footer.ok()) {
    return Status(StatusCode::kDataLoss, what + ": last 512 bytes: " + footer.status().message());
  }
  RETURN_IF_ERROR(ValidateForAzure(*footer), what);
  const int64_t virtual_size = props.content_length - kVhdFooterSize;
  if (static_cast<int64_t>(footer->current_size) != virtual_size) {
    return DataLossError(what + ": footer says " + std::to_string(footer->current_size) +
                         " bytes but the blob holds " + std::to_string(virtual_size));
  }
  if (options.expected_virtual_size && *options.expected_virtual_size != virtual_size) {
    return DataLossError(what + ": virtual size " + std::to_string(virtual_size) + ", expected " +
                         std::to_string(*options.expected_virtual_size));
  }
  out.footer = *footer;
  if (auto it = props.metadata.find(kMetaSha256); it != props.metadata.end()) {
    out.metadata_sha256 = it->second;
  }
  if (!options.expected_sha256.empty() && !out.metadata_sha256.empty() &&
      out.metadata_sha256 != options.expected_sha256) {
    return DataLossError(what + ": recorded sha256 " + out.metadata_sha256 + ", expected " +
                         options.expected_sha256);
  }
  if (options.hash_content) {
    if (options.download_range <= 0) return InvalidArgumentError("download range must be > 0");
    Sha256 h;
    for (int64_t off = 0; off < props.content_length; off += options.download_range) {
      const int64_t len = std::min(options.download_range, props.content_length - off);
      StatusOr<std::string> chunk = store.GetBlob(ref, azure::ByteRange{off, len});
      if (!chunk.ok()) return chunk.status().WithContext(what);
      if (static_cast<int64_t>(chunk->size()) != len) {
        return DataLossError(what + ": short read at " + std::to_string(off));
      }
      h.Update(*chunk);
    }
    out.content_sha256 = h.FinishHex();
    const std::string& want =
        !options.expected_sha256.empty() ? options.expected_sha256 : out.metadata_sha256;
    if (!want.empty() && out.content_sha256 != want) {
      return DataLossError(what + ": content sha256 " + out.content_sha256 + " differs from " +
                           want);
    }
  }
  return out;
}

}  // namespace vmrelease::image

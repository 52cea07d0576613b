// What an input disk file is and how it maps onto a fixed-VHD page blob,
// decided from its size and its first and last sectors (nothing is converted).
//
//   ASSIGN_OR_RETURN(DiskSource src, InspectDisk("/var/lib/build/disk.raw", clock.WallNow()));
//   src.blob_size();   // RoundUpToMiB(raw size) + 512
//
// Rules:
// - A file ending in a valid fixed-VHD footer whose current size is a whole
//   number of MiB is uploaded as is; its footer is reused.
// - A fixed VHD whose size is not MiB-aligned is treated as raw data of its
//   current size and gets a new footer (same unique id) for the padded size.
// - Anything else without a VHD signature is raw: data, zero padding to the
//   next MiB, then a new footer.
// Errors: kFailedPrecondition for dynamic/differencing VHDs, VHDX and qcow2
// (with the qemu-img command that converts them), kDataLoss for a corrupt
// footer or one whose size disagrees with the file, kNotFound / kInvalidArgument
// for missing or empty files.
#pragma once

#include <cstdint>
#include <string>

#include "controller/common/clock.h"
#include "controller/common/status.h"
#include "controller/image/vhd_footer.h"

namespace vmrelease::image {

enum class SourceFormat { kRaw, kFixedVhd };
const char* SourceFormatName(SourceFormat f);

struct DiskSource {
  std::string path;
  SourceFormat format = SourceFormat::kRaw;
  int64_t file_size = 0;
  int64_t data_size = 0;     // bytes of disk data in the file (without a footer)
  int64_t virtual_size = 0;  // data_size rounded up to 1 MiB: the VHD's disk size
  VhdFooter footer;          // the footer the blob will end with
  bool footer_reused = false;
  // Identity of the file's content for resume checks: "size:mtime_ns:inode".
  std::string fingerprint;
  int64_t blob_size() const { return virtual_size + kVhdFooterSize; }
};

StatusOr<DiskSource> InspectDisk(const std::string& path, WallTime now);

}  // namespace vmrelease::image

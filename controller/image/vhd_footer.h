// The fixed-VHD footer: the 512 bytes after the raw disk data that make a raw
// image a VHD Azure accepts (Virtual Hard Disk Image Format Specification,
// "Hard Disk Footer Format"; all fields big-endian).
//
//   VhdFooter f = NewFixedFooter(RoundUpToMiB(raw_size), clock.WallNow());
//   std::array<uint8_t, 512> bytes = EncodeFooter(f);     // checksum filled in
//   ASSIGN_OR_RETURN(VhdFooter back, ParseFooter(bytes_view));  // validates everything
//
// Azure rules (blob-rest.md §9): fixed type only, virtual size a whole number
// of MiB, file = data + footer. We write creator application "win " (what
// Hyper-V writes): readers such as qemu then take the size from the
// current-size field instead of the CHS geometry, which cannot represent most
// sizes exactly.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "controller/common/clock.h"
#include "controller/common/status.h"

namespace vmrelease::image {

inline constexpr int64_t kVhdFooterSize = 512;
inline constexpr int64_t kSectorSize = 512;
inline constexpr int64_t kMiB = 1024 * 1024;
inline constexpr uint64_t kFixedDataOffset = 0xFFFFFFFFFFFFFFFFULL;
inline constexpr uint32_t kVhdFormatVersion = 0x00010000;
inline constexpr uint32_t kVhdFeaturesReserved = 0x00000002;

enum class VhdDiskType : uint32_t { kNone = 0, kFixed = 2, kDynamic = 3, kDifferencing = 4 };
const char* VhdDiskTypeName(uint32_t type);

struct ChsGeometry {
  uint16_t cylinders = 0;
  uint8_t heads = 0;
  uint8_t sectors_per_track = 0;
  bool operator==(const ChsGeometry&) const = default;
};

// The spec's CHS algorithm (appendix "CHS Calculation"), capped at 65535/16/255.
ChsGeometry ComputeChsGeometry(int64_t disk_size_bytes);

struct VhdFooter {
  uint32_t features = kVhdFeaturesReserved;
  uint32_t format_version = kVhdFormatVersion;
  uint64_t data_offset = kFixedDataOffset;
  uint32_t timestamp = 0;  // seconds since 2000-01-01 00:00:00 UTC
  std::array<char, 4> creator_app = {'w', 'i', 'n', ' '};
  uint32_t creator_version = 0x000A0000;
  uint32_t creator_host_os = 0x5769326B;  // "Wi2k"
  uint64_t original_size = 0;
  uint64_t current_size = 0;
  ChsGeometry geometry;
  uint32_t disk_type = static_cast<uint32_t>(VhdDiskType::kFixed);
  uint32_t checksum = 0;  // as read by ParseFooter; EncodeFooter computes its own
  std::array<uint8_t, 16> unique_id{};
  uint8_t saved_state = 0;
};

// A fixed-disk footer for `virtual_size` bytes (must be a multiple of 512),
// stamped `now`, with a random (version 4) unique id.
VhdFooter NewFixedFooter(int64_t virtual_size, WallTime now);
// Serialises `footer`, computing the checksum.
std::array<uint8_t, 512> EncodeFooter(const VhdFooter& footer);
// Parses and validates 512 bytes: cookie, format version, checksum, disk type,
// data offset for fixed disks, size alignment.
// Errors: kInvalidArgument ("not a VHD footer: cookie ...") when the bytes are
// not a footer at all; kDataLoss for a footer that is corrupt (checksum,
// impossible fields), each with the offending values in the message.
StatusOr<VhdFooter> ParseFooter(std::string_view bytes);
// True when `bytes` (≥ 8) starts with the "conectix" cookie.
bool HasVhdCookie(std::string_view bytes);

// One's complement of the byte sum of a 512-byte footer, skipping the checksum field.
uint32_t FooterChecksum(const uint8_t* footer);

// Checks what Azure requires of a footer: fixed disk, current size a whole
// number of MiB. Errors: kFailedPrecondition with the reason.
Status ValidateForAzure(const VhdFooter& footer);

int64_t RoundUpToMiB(int64_t bytes);
uint32_t VhdTimestamp(WallTime t);
WallTime VhdTimestampToWall(uint32_t t);
// "8c3a...-..." form of the unique id.
std::string FormatUuid(const std::array<uint8_t, 16>& id);

}  // namespace vmrelease::image

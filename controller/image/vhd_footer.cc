#include "controller/image/vhd_footer.h"

#include <cstdio>
#include <cstring>

#include "controller/common/crypto.h"

namespace vmrelease::image {
namespace {

constexpr char kCookie[8] = {'c', 'o', 'n', 'e', 'c', 't', 'i', 'x'};
constexpr int64_t kVhdEpoch = 946684800;  // 2000-01-01T00:00:00Z in Unix seconds
constexpr size_t kChecksumOffset = 64;

void Put32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}
void Put64(uint8_t* p, uint64_t v) {
  Put32(p, static_cast<uint32_t>(v >> 32));
  Put32(p + 4, static_cast<uint32_t>(v));
}
uint32_t Get32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}
uint64_t Get64(const uint8_t* p) { return (uint64_t{Get32(p)} << 32) | Get32(p + 4); }

std::string Hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "0x%08X", v);
  return buf;
}

}  // namespace

const char* VhdDiskTypeName(uint32_t type) {
  switch (type) {
    case 0:
      return "none";
    case 2:
      return "fixed";
    case 3:
      return "dynamic";
    case 4:
      return "differencing";
    default:
      return "unknown";
  }
}

ChsGeometry ComputeChsGeometry(int64_t disk_size_bytes) {
  int64_t total_sectors = disk_size_bytes / kSectorSize;
  if (total_sectors > 65535LL * 16 * 255) total_sectors = 65535LL * 16 * 255;
  int64_t sectors_per_track = 0;
  int64_t heads = 0;
  int64_t cylinder_times_heads = 0;
  if (total_sectors >= 65535LL * 16 * 63) {
    sectors_per_track = 255;
    heads = 16;
    cylinder_times_heads = total_sectors / sectors_per_track;
  } else {
    sectors_per_track = 17;
    cylinder_times_heads = total_sectors / sectors_per_track;
    heads = (cylinder_times_heads + 1023) / 1024;
    if (heads < 4) heads = 4;
    if (cylinder_times_heads >= heads * 1024 || heads > 16) {
      sectors_per_track = 31;
      heads = 16;
      cylinder_times_heads = total_sectors / sectors_per_track;
    }
    if (cylinder_times_heads >= heads * 1024) {
      sectors_per_track = 63;
      heads = 16;
      cylinder_times_heads = total_sectors / sectors_per_track;
    }
  }
  return ChsGeometry{static_cast<uint16_t>(cylinder_times_heads / heads),
                     static_cast<uint8_t>(heads), static_cast<uint8_t>(sectors_per_track)};
}

uint32_t VhdTimestamp(WallTime t) {
  const int64_t unix_secs =
      std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
  return unix_secs <= kVhdEpoch ? 0 : static_cast<uint32_t>(unix_secs - kVhdEpoch);
}

WallTime VhdTimestampToWall(uint32_t t) {
  return WallTime(std::chrono::seconds(kVhdEpoch + int64_t{t}));
}

int64_t RoundUpToMiB(int64_t bytes) { return (bytes + kMiB - 1) / kMiB * kMiB; }

VhdFooter NewFixedFooter(int64_t virtual_size, WallTime now) {
  VhdFooter f;
  f.timestamp = VhdTimestamp(now);
  f.original_size = static_cast<uint64_t>(virtual_size);
  f.current_size = static_cast<uint64_t>(virtual_size);
  f.geometry = ComputeChsGeometry(virtual_size);
  const std::string random = RandomBytes(16);
  std::memcpy(f.unique_id.data(), random.data(), 16);
  f.unique_id[6] = static_cast<uint8_t>((f.unique_id[6] & 0x0F) | 0x40);  // version 4
  f.unique_id[8] = static_cast<uint8_t>((f.unique_id[8] & 0x3F) | 0x80);  // RFC 4122 variant
  return f;
}

uint32_t FooterChecksum(const uint8_t* footer) {
  uint32_t sum = 0;
  for (size_t i = 0; i < kVhdFooterSize; ++i) {
    if (i >= kChecksumOffset && i < kChecksumOffset + 4) continue;
    sum += footer[i];
  }
  return ~sum;
}

std::array<uint8_t, 512> EncodeFooter(const VhdFooter& f) {
  std::array<uint8_t, 512> b{};
  uint8_t* p = b.data();
  std::memcpy(p, kCookie, 8);
  Put32(p + 8, f.features);
  Put32(p + 12, f.format_version);
  Put64(p + 16, f.data_offset);
  Put32(p + 24, f.timestamp);
  std::memcpy(p + 28, f.creator_app.data(), 4);
  Put32(p + 32, f.creator_version);
  Put32(p + 36, f.creator_host_os);
  Put64(p + 40, f.original_size);
  Put64(p + 48, f.current_size);
  p[56] = static_cast<uint8_t>(f.geometry.cylinders >> 8);
  p[57] = static_cast<uint8_t>(f.geometry.cylinders);
  p[58] = f.geometry.heads;
  p[59] = f.geometry.sectors_per_track;
  Put32(p + 60, f.disk_type);
  std::memcpy(p + 68, f.unique_id.data(), 16);
  p[84] = f.saved_state;
  Put32(p + kChecksumOffset, FooterChecksum(p));
  return b;
}

bool HasVhdCookie(std::string_view bytes) {
  return bytes.size() >= 8 && std::memcmp(bytes.data(), kCookie, 8) == 0;
}

StatusOr<VhdFooter> ParseFooter(std::string_view bytes) {
  if (bytes.size() != static_cast<size_t>(kVhdFooterSize)) {
    return InvalidArgumentError("not a VHD footer: " + std::to_string(bytes.size()) +
                                " bytes instead of 512");
  }
  if (!HasVhdCookie(bytes)) {
    return InvalidArgumentError("not a VHD footer: cookie is not \"conectix\"");
  }
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  VhdFooter f;
  f.features = Get32(p + 8);
  f.format_version = Get32(p + 12);
  f.data_offset = Get64(p + 16);
  f.timestamp = Get32(p + 24);
  std::memcpy(f.creator_app.data(), p + 28, 4);
  f.creator_version = Get32(p + 32);
  f.creator_host_os = Get32(p + 36);
  f.original_size = Get64(p + 40);
  f.current_size = Get64(p + 48);
  f.geometry.cylinders = static_cast<uint16_t>((p[56] << 8) | p[57]);
  f.geometry.heads = p[58];
  f.geometry.sectors_per_track = p[59];
  f.disk_type = Get32(p + 60);
  f.checksum = Get32(p + kChecksumOffset);
  std::memcpy(f.unique_id.data(), p + 68, 16);
  f.saved_state = p[84];

  const uint32_t computed = FooterChecksum(p);
  if (computed != f.checksum) {
    return DataLossError("VHD footer checksum mismatch: stored " + Hex32(f.checksum) +
                         ", computed " + Hex32(computed));
  }
  if (f.format_version != kVhdFormatVersion) {
    return DataLossError("VHD footer has file format version " + Hex32(f.format_version) +
                         ", expected 0x00010000");
  }
  if ((f.features & kVhdFeaturesReserved) == 0) {
    return DataLossError("VHD footer features " + Hex32(f.features) +
                         " lack the reserved bit 0x00000002 that must always be set");
  }
  if (f.disk_type != 2 && f.disk_type != 3 && f.disk_type != 4) {
    return DataLossError("VHD footer has unknown disk type " + std::to_string(f.disk_type));
  }
  if (f.disk_type == 2 && f.data_offset != kFixedDataOffset) {
    return DataLossError("fixed VHD footer has data offset " + std::to_string(f.data_offset) +
                         " instead of 0xFFFFFFFFFFFFFFFF");
  }
  if (f.current_size % kSectorSize != 0) {
    return DataLossError("VHD current size " + std::to_string(f.current_size) +
                         " is not a multiple of 512");
  }
  return f;
}

Status ValidateForAzure(const VhdFooter& f) {
  if (f.disk_type != static_cast<uint32_t>(VhdDiskType::kFixed)) {
    return FailedPreconditionError(std::string("Azure accepts only fixed VHDs, this one is ") +
                                   VhdDiskTypeName(f.disk_type) +
                                   " (convert with qemu-img convert -O vpc -o subformat=fixed)");
  }
  if (f.current_size == 0 || f.current_size % kMiB != 0) {
    return FailedPreconditionError("VHD virtual size " + std::to_string(f.current_size) +
                                   " is not a whole number of MiB, which Azure requires");
  }
  return Status::Ok();
}

std::string FormatUuid(const std::array<uint8_t, 16>& id) {
  std::string hex = HexEncode(std::string_view(reinterpret_cast<const char*>(id.data()), 16));
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" +
         hex.substr(16, 4) + "-" + hex.substr(20);
}

}  // namespace vmrelease::image

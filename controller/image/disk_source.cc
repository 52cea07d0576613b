#include "controller/image/disk_source.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "controller/common/log.h"

namespace vmrelease::image {
namespace {

Status ReadAt(int fd, void* buf, size_t n, int64_t offset, const std::string& path) {
  auto* p = static_cast<char*>(buf);
  while (n > 0) {
    const ssize_t r = pread(fd, p, n, offset);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return InternalError("reading " + path + ": " + std::strerror(errno));
    if (r == 0) return DataLossError("reading " + path + ": unexpected end of file");
    p += r;
    n -= static_cast<size_t>(r);
    offset += r;
  }
  return Status::Ok();
}

}  // namespace

const char* SourceFormatName(SourceFormat f) {
  return f == SourceFormat::kFixedVhd ? "fixed-vhd" : "raw";
}

StatusOr<DiskSource> InspectDisk(const std::string& path, WallTime now) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    const std::string msg = "opening disk " + path + ": " + std::strerror(err);
    return err == ENOENT ? NotFoundError(msg) : InternalError(msg);
  }
  struct FdCloser {
    int fd;
    ~FdCloser() { close(fd); }
  } closer{fd};
  struct stat st {};
  if (fstat(fd, &st) != 0) return InternalError("stat " + path + ": " + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) return InvalidArgumentError(path + " is not a regular file");
  DiskSource src;
  src.path = path;
  src.file_size = st.st_size;
  src.fingerprint = std::to_string(st.st_size) + ":" +
                    std::to_string(int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec) +
                    ":" + std::to_string(st.st_ino);
  if (src.file_size == 0) return InvalidArgumentError("disk " + path + " is empty");

  char head[512] = {};
  const size_t head_len = static_cast<size_t>(std::min<int64_t>(512, src.file_size));
  RETURN_IF_ERROR(ReadAt(fd, head, head_len, 0, path));
  const std::string_view head_view(head, head_len);
  if (head_view.substr(0, 8) == "vhdxfile") {
    return FailedPreconditionError(path +
                                   " is a VHDX image; Azure needs a fixed VHD (convert: "
                                   "qemu-img convert -O raw " +
                                   path + " disk.raw)");
  }
  if (head_len >= 4 && std::memcmp(head, "QFI\xfb", 4) == 0) {
    return FailedPreconditionError(path +
                                   " is a qcow2 image; Azure needs a fixed VHD (convert: "
                                   "qemu-img convert -O raw " +
                                   path + " disk.raw)");
  }

  if (src.file_size >= kVhdFooterSize + kSectorSize) {
    char tail[512];
    RETURN_IF_ERROR(ReadAt(fd, tail, sizeof(tail), src.file_size - kVhdFooterSize, path));
    if (HasVhdCookie(std::string_view(tail, 8))) {
      StatusOr<VhdFooter> footer = ParseFooter(std::string_view(tail, sizeof(tail)));
      if (!footer.ok()) return footer.status().WithContext(path + " ends with a VHD footer that");
      if (footer->disk_type != static_cast<uint32_t>(VhdDiskType::kFixed)) {
        return FailedPreconditionError(
            path + " is a " + VhdDiskTypeName(footer->disk_type) +
            " VHD; Azure needs a fixed VHD (convert: qemu-img convert -O vpc -o subformat=fixed " +
            path + " fixed.vhd)");
      }
      const int64_t data = src.file_size - kVhdFooterSize;
      if (static_cast<int64_t>(footer->current_size) != data) {
        return DataLossError(path + ": VHD footer says the disk is " +
                             std::to_string(footer->current_size) + " bytes but the file holds " +
                             std::to_string(data) + " bytes of data");
      }
      src.format = SourceFormat::kFixedVhd;
      src.data_size = data;
      src.virtual_size = RoundUpToMiB(data);
      src.footer = *footer;
      if (src.virtual_size == data) {
        src.footer_reused = true;
      } else {
        // Keep the disk's identity, describe the padded size.
        src.footer.original_size = src.footer.current_size =
            static_cast<uint64_t>(src.virtual_size);
        src.footer.geometry = ComputeChsGeometry(src.virtual_size);
        log::Info("image.vhd", "fixed VHD is not MiB-aligned; padding it and writing a new footer",
                  {{"path", path}, {"size", data}, {"padded_size", src.virtual_size}});
      }
      return src;
    }
  }
  if (HasVhdCookie(head_view)) {
    return FailedPreconditionError(
        path +
        " starts with a VHD header copy but has no fixed-VHD footer (a dynamic VHD?); "
        "convert: qemu-img convert -O vpc -o subformat=fixed " +
        path + " fixed.vhd");
  }
  src.format = SourceFormat::kRaw;
  src.data_size = src.file_size;
  src.virtual_size = RoundUpToMiB(src.file_size);
  src.footer = NewFixedFooter(src.virtual_size, now);
  return src;
}

}  // namespace vmrelease::image

#include "controller/image/sparse.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace vmrelease::image {

bool IsAllZero(const void* data, size_t n) {
  const auto* p = static_cast<const unsigned char*>(data);
  // Unaligned head, byte by byte.
  while (n > 0 && (reinterpret_cast<uintptr_t>(p) % alignof(uint64_t)) != 0) {
    if (*p != 0) return false;
    ++p;
    --n;
  }
  // 64-byte blocks: OR eight words, test once (the compiler vectorises this).
  while (n >= 64) {
    uint64_t w[8];
    std::memcpy(w, p, 64);
    if ((w[0] | w[1] | w[2] | w[3] | w[4] | w[5] | w[6] | w[7]) != 0) return false;
    p += 64;
    n -= 64;
  }
  while (n > 0) {
    if (*p != 0) return false;
    ++p;
    --n;
  }
  return true;
}

std::vector<Extent> DataExtents(int fd, int64_t size) {
  std::vector<Extent> out;
  if (size <= 0) return out;
  const std::vector<Extent> whole = {Extent{0, size}};
  off_t pos = 0;
  while (pos < size) {
    const off_t data = lseek(fd, pos, SEEK_DATA);
    if (data < 0) {
      // ENXIO: no data after pos (the rest is a hole). Anything else: no
      // SEEK_DATA support, so assume data everywhere.
      if (errno == ENXIO) break;
      return whole;
    }
    if (data >= size) break;
    off_t hole = lseek(fd, data, SEEK_HOLE);
    if (hole < 0) return whole;
    if (hole > size) hole = size;
    out.push_back(Extent{data, hole - data});
    pos = hole;
  }
  return out;
}

bool ExtentCursor::Overlaps(int64_t offset, int64_t length) {
  const int64_t end = offset + length;
  while (next_ < extents_.size() && extents_[next_].end() <= offset) ++next_;
  return next_ < extents_.size() && extents_[next_].offset < end;
}

}  // namespace vmrelease::image

// Finding the parts of a disk image that need no upload: a page blob reads
// unwritten pages as zero, so all-zero ranges are skipped.
//
//   std::vector<Extent> data = DataExtents(fd, size);    // holes never touch the disk
//   if (!Overlaps(data, off, len)) { /* hole: zero without reading */ }
//   else if (IsAllZero(buf, len)) { /* allocated but zero: skip the upload too */ }
//
// Guarantees: DataExtents never reports less than the real data (on file
// systems without SEEK_DATA/SEEK_HOLE it reports the whole file as data).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace vmrelease::image {

// True when all `n` bytes at `data` are zero. Vectorisable; stops at the first
// non-zero 64-byte block.
bool IsAllZero(const void* data, size_t n);

struct Extent {
  int64_t offset = 0;
  int64_t length = 0;
  int64_t end() const { return offset + length; }
};

// The data (non-hole) extents of the first `size` bytes of open file `fd`,
// ascending and non-overlapping, via lseek(SEEK_DATA/SEEK_HOLE).
std::vector<Extent> DataExtents(int fd, int64_t size);

// Walks ascending, non-overlapping ranges against sorted extents in O(total).
class ExtentCursor {
 public:
  explicit ExtentCursor(const std::vector<Extent>& extents) : extents_(extents) {}
  // True when [offset, offset+length) intersects a data extent. Calls must
  // come with non-decreasing offsets.
  bool Overlaps(int64_t offset, int64_t length);

 private:
  const std::vector<Extent>& extents_;
  size_t next_ = 0;
};

}  // namespace vmrelease::image

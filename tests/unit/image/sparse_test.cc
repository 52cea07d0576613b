// Zero-range detection and hole discovery, and the streaming SHA-256 the
// uploader relies on (hashing in pieces == hashing the whole).
#include "controller/image/sparse.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include "controller/common/crypto.h"
#include "tests/support/testing/process.h"

namespace vmrelease::image {
namespace {

constexpr int64_t kMiB = 1024 * 1024;

TEST(SparseTest, IsAllZeroFindsASingleByteAnywhereAtAnyAlignment) {
  std::string buf(4096 + 64, '\0');
  for (size_t start : {0, 1, 3, 7, 8, 63}) {
    for (size_t len : {0, 1, 7, 63, 64, 65, 1000, 4096}) {
      const char* p = buf.data() + start;
      ASSERT_TRUE(IsAllZero(p, len)) << start << "/" << len;
      for (size_t i = 0; i < len; i += (len < 130 ? 1 : 61)) {
        buf[start + i] = 1;
        ASSERT_FALSE(IsAllZero(p, len)) << "start " << start << " len " << len << " at " << i;
        buf[start + i] = 0;
      }
      if (len > 0) {  // the very last byte, the classic off-by-one
        buf[start + len - 1] = '\x80';
        ASSERT_FALSE(IsAllZero(p, len));
        buf[start + len - 1] = 0;
      }
      // A non-zero byte just outside the range does not count.
      buf[start + len] = 1;
      ASSERT_TRUE(IsAllZero(p, len));
      buf[start + len] = 0;
    }
  }
}

TEST(SparseTest, DataExtentsOfASparseFile) {
  testing::TempDir dir;
  const std::string path = dir.Join("sparse.raw");
  const int fd = open(path.c_str(), O_CREAT | O_RDWR, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(ftruncate(fd, 64 * kMiB), 0);
  const std::string data(4096, 'x');
  ASSERT_EQ(pwrite(fd, data.data(), data.size(), 10 * kMiB), 4096);
  ASSERT_EQ(pwrite(fd, data.data(), data.size(), 40 * kMiB + 4096), 4096);
  fsync(fd);
  const std::vector<Extent> extents = DataExtents(fd, 64 * kMiB);
  close(fd);
  ASSERT_FALSE(extents.empty());
  // Whatever granularity the file system uses, both writes are covered and most of the file is
  // reported as holes (where SEEK_DATA is unsupported the whole file is data, which is also safe).
  int64_t covered = 0;
  for (const Extent& e : extents) covered += e.length;
  auto inside = [&](int64_t off) {
    for (const Extent& e : extents) {
      if (off >= e.offset && off < e.end()) return true;
    }
    return false;
  };
  EXPECT_TRUE(inside(10 * kMiB));
  EXPECT_TRUE(inside(40 * kMiB + 4096 + 4095));
  if (extents.size() > 1 || covered < 64 * kMiB) {
    EXPECT_LT(covered, 8 * kMiB);
    EXPECT_FALSE(inside(20 * kMiB));
  }
  for (size_t i = 1; i < extents.size(); ++i) {
    EXPECT_GE(extents[i].offset, extents[i - 1].end()) << "extents must ascend without overlap";
  }
}

TEST(SparseTest, ExtentCursorWalksRangesInOrder) {
  const std::vector<Extent> extents = {{100, 50}, {1000, 10}};
  ExtentCursor c(extents);
  EXPECT_FALSE(c.Overlaps(0, 100));
  EXPECT_TRUE(c.Overlaps(100, 1));
  EXPECT_TRUE(c.Overlaps(149, 10));
  EXPECT_FALSE(c.Overlaps(150, 850));
  EXPECT_TRUE(c.Overlaps(150, 851));
  EXPECT_TRUE(c.Overlaps(1009, 1));
  EXPECT_FALSE(c.Overlaps(1010, 5000));
  const std::vector<Extent> none;
  ExtentCursor empty(none);
  EXPECT_FALSE(empty.Overlaps(0, 1 << 30));
}

TEST(SparseTest, StreamingSha256EqualsOneShotAndSha256sum) {
  const std::string data = RandomBytes(3 * 1000 * 1000 + 17);
  Sha256 h;
  size_t pos = 0;
  for (size_t step : {1, 63, 64, 65, 4096, 1 << 20}) {
    h.Update(data.data() + pos, std::min(step, data.size() - pos));
    pos += std::min(step, data.size() - pos);
  }
  h.Update(data.data() + pos, data.size() - pos);
  const std::string streamed = h.FinishHex();
  EXPECT_EQ(streamed, Sha256Hex(data));
  testing::TempDir dir;
  testing::WriteFile(dir.Join("d"), data);
  auto r = testing::RunCommand({"sha256sum", dir.Join("d")});
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out.substr(0, 64), streamed);
  // Known answer: SHA-256 of 1 MiB of zeros.
  EXPECT_EQ(Sha256Hex(std::string(kMiB, '\0')),
            "30e14955ebf1352266dc2ff8067e68104607e750abb9d3b36582b8af909fcb58");
}

}  // namespace
}  // namespace vmrelease::image

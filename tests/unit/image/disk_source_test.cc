// What InspectDisk decides for raw files, fixed VHDs and the formats Azure
// refuses (dynamic VHD, qcow2 created by qemu-img), and its error messages.
#include "controller/image/disk_source.h"

#include <gtest/gtest.h>

#include "tests/support/testing/process.h"

namespace vmrelease::image {
namespace {

std::string FooterBytes(const VhdFooter& f) {
  const auto b = EncodeFooter(f);
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

TEST(DiskSourceTest, RawFileIsPaddedToMiB) {
  testing::TempDir dir;
  testing::WriteFile(dir.Join("d.raw"), std::string(kMiB + 1, 'r'));
  auto s = InspectDisk(dir.Join("d.raw"), WallTime(std::chrono::seconds(1751364000)));
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->format, SourceFormat::kRaw);
  EXPECT_EQ(s->data_size, kMiB + 1);
  EXPECT_EQ(s->virtual_size, 2 * kMiB);
  EXPECT_EQ(s->blob_size(), 2 * kMiB + 512);
  EXPECT_EQ(s->footer.current_size, static_cast<uint64_t>(2 * kMiB));
  EXPECT_FALSE(s->footer_reused);
  EXPECT_FALSE(s->fingerprint.empty());
}

TEST(DiskSourceTest, AlignedFixedVhdKeepsItsFooter) {
  testing::TempDir dir;
  const VhdFooter f = NewFixedFooter(kMiB, WallTime{});
  testing::WriteFile(dir.Join("f.vhd"), std::string(kMiB, 'v') + FooterBytes(f));
  auto s = InspectDisk(dir.Join("f.vhd"), WallTime{});
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->format, SourceFormat::kFixedVhd);
  EXPECT_TRUE(s->footer_reused);
  EXPECT_EQ(s->data_size, kMiB);
  EXPECT_EQ(FooterBytes(s->footer), FooterBytes(f));
}

TEST(DiskSourceTest, FooterThatDisagreesWithTheFileIsDataLoss) {
  testing::TempDir dir;
  testing::WriteFile(dir.Join("f.vhd"),
                     std::string(2 * kMiB, 'v') + FooterBytes(NewFixedFooter(kMiB, WallTime{})));
  EXPECT_EQ(InspectDisk(dir.Join("f.vhd"), WallTime{}).status().code(), StatusCode::kDataLoss);
  std::string corrupt = FooterBytes(NewFixedFooter(kMiB, WallTime{}));
  corrupt[45] ^= 0x10;
  testing::WriteFile(dir.Join("c.vhd"), std::string(kMiB, 'v') + corrupt);
  auto st = InspectDisk(dir.Join("c.vhd"), WallTime{}).status();
  EXPECT_EQ(st.code(), StatusCode::kDataLoss);
  EXPECT_NE(st.message().find("checksum"), std::string::npos) << st.message();
}

TEST(DiskSourceTest, DynamicVhdAndQcow2AreRefusedWithTheConversionCommand) {
  testing::TempDir dir;
  for (const auto& [fmt, opts, word] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {"vpc", "subformat=dynamic", "dynamic"}, {"qcow2", "cluster_size=65536", "qcow2"}}) {
    const std::string path = dir.Join("img." + fmt);
    auto r = testing::RunCommand({"qemu-img", "create", "-q", "-f", fmt, "-o", opts, path, "64M"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto st = InspectDisk(path, WallTime{}).status();
    EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition) << fmt << ": " << st.ToString();
    EXPECT_NE(st.message().find(word), std::string::npos) << st.message();
    EXPECT_NE(st.message().find("qemu-img convert"), std::string::npos) << st.message();
  }
}

TEST(DiskSourceTest, MissingAndEmptyFiles) {
  testing::TempDir dir;
  EXPECT_EQ(InspectDisk(dir.Join("nope"), WallTime{}).status().code(), StatusCode::kNotFound);
  testing::WriteFile(dir.Join("empty"), "");
  EXPECT_EQ(InspectDisk(dir.Join("empty"), WallTime{}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(InspectDisk(dir.path(), WallTime{}).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace vmrelease::image

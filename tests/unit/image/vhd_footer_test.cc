// Fixed-VHD footers: geometry and checksum against footers written by
// qemu-img (`qemu-img create -f vpc -o subformat=fixed,force_size=on`, qemu-utils),
// an independent implementation of the VHD spec; plus parsing and validation.
#include "controller/image/vhd_footer.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "tests/support/testing/process.h"

namespace vmrelease::image {
namespace {

std::string_view View(const std::array<uint8_t, 512>& b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

// The footer of `qemu-img create -f vpc -o subformat=fixed x.vhd 1G` (qemu 7.2), recorded:
// the first 85 bytes (the rest is zero). qemu rounds 1 GiB up to a CHS-exact size
// (2081 x 16 x 63 sectors = 1073995776 bytes) and stores that geometry.
constexpr const char* kQemu1GFooterHex =
    "636f6e65637469780000000200010000ffffffffffffffff329be7fc71656d75000500035769326b00000000"
    "4003e000000000004003e0000821103f00000002ffffe4e3d6a491d7d65b4d609135fc361952080c00";

std::string FromHex(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

// Our writer, given qemu's free choices (time stamp, creator, UUID) and size.
VhdFooter OursLike(const VhdFooter& qemu) {
  VhdFooter ours = NewFixedFooter(static_cast<int64_t>(qemu.current_size), WallTime{});
  ours.timestamp = qemu.timestamp;
  ours.creator_app = qemu.creator_app;
  ours.creator_version = qemu.creator_version;
  ours.creator_host_os = qemu.creator_host_os;
  ours.unique_id = qemu.unique_id;
  return ours;
}

TEST(VhdFooterTest, GeometryFollowsTheSpecAlgorithm) {
  // One case per branch of the spec's CHS algorithm.
  EXPECT_EQ(ComputeChsGeometry(3 * kMiB), (ChsGeometry{90, 4, 17}));        // heads raised to 4
  EXPECT_EQ(ComputeChsGeometry(20 * kMiB), (ChsGeometry{602, 4, 17}));      // 17 sectors/track
  EXPECT_EQ(ComputeChsGeometry(1024 * kMiB), (ChsGeometry{2080, 16, 63}));  // 63 sectors/track
  EXPECT_EQ(ComputeChsGeometry(60LL * 1024 * kMiB), (ChsGeometry{30840, 16, 255}));
  // Capped at 65535 cylinders, 16 heads, 255 sectors (~127 GiB and beyond).
  EXPECT_EQ(ComputeChsGeometry(130LL * 1024 * kMiB), (ChsGeometry{65535, 16, 255}));
}

TEST(VhdFooterTest, MatchesRecordedQemuFooter) {
  std::string qemu = FromHex(kQemu1GFooterHex);
  qemu.resize(512, '\0');
  auto parsed = ParseFooter(qemu);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->current_size, 1073995776u);
  EXPECT_EQ(parsed->geometry, (ChsGeometry{2081, 16, 63}));
  EXPECT_EQ(View(EncodeFooter(OursLike(*parsed))), qemu);
}

TEST(VhdFooterTest, EncodeParseRoundTrip) {
  VhdFooter f = NewFixedFooter(30LL * 1024 * kMiB, WallTime(std::chrono::seconds(1751364000)));
  EXPECT_EQ(f.timestamp, 1751364000u - 946684800u);
  EXPECT_EQ(f.unique_id[6] >> 4, 4);  // random UUID, version 4
  const auto bytes = EncodeFooter(f);
  EXPECT_EQ(View(bytes).substr(0, 8), "conectix");
  auto back = ParseFooter(View(bytes));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->current_size, 30ULL * 1024 * kMiB);
  EXPECT_EQ(back->original_size, 30ULL * 1024 * kMiB);
  EXPECT_EQ(back->disk_type, 2u);
  EXPECT_EQ(back->data_offset, kFixedDataOffset);
  EXPECT_EQ(back->geometry, ComputeChsGeometry(30LL * 1024 * kMiB));
  EXPECT_EQ(back->unique_id, f.unique_id);
  EXPECT_EQ(back->checksum, FooterChecksum(bytes.data()));
  EXPECT_EQ(std::string(back->creator_app.data(), 4), "win ");
  EXPECT_EQ(EncodeFooter(*back), bytes);
  EXPECT_TRUE(ValidateForAzure(*back).ok());
  EXPECT_EQ(VhdTimestampToWall(back->timestamp), WallTime(std::chrono::seconds(1751364000)));
}

TEST(VhdFooterTest, MatchesQemuImgForSeveralSizes) {
  // Without force_size qemu rounds each size up to a CHS-exact one, so the
  // comparison covers every branch of the geometry algorithm and, at 130 GiB,
  // the capped geometry with the size taken from the footer.
  testing::TempDir dir;
  for (const char* size : {"3M", "20M", "127M", "1G", "60G", "130G"}) {
    SCOPED_TRACE(size);
    const std::string path = dir.Join(std::string("q") + size + ".vhd");
    auto r = testing::RunCommand(
        {"qemu-img", "create", "-q", "-f", "vpc", "-o", "subformat=fixed", path, size});
    ASSERT_EQ(r.exit_code, 0) << "qemu-img (Debian qemu-utils) is required: " << r.err;
    const std::string tail = testing::RunCommand({"tail", "-c", "512", path}).out;
    ASSERT_EQ(tail.size(), 512u);
    auto parsed = ParseFooter(tail);
    ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
    EXPECT_EQ(parsed->geometry, ComputeChsGeometry(static_cast<int64_t>(parsed->current_size)));
    EXPECT_EQ(View(EncodeFooter(OursLike(*parsed))), tail);
    unlink(path.c_str());
  }
}

TEST(VhdFooterTest, DetectsCorruptionWithClearErrors) {
  auto bytes = EncodeFooter(NewFixedFooter(20 * kMiB, WallTime{}));
  std::string s(View(bytes));

  std::string flipped = s;
  flipped[50] ^= 0x01;  // current size changed, checksum not updated
  auto st = ParseFooter(flipped).status();
  EXPECT_EQ(st.code(), StatusCode::kDataLoss);
  EXPECT_NE(st.message().find("checksum mismatch"), std::string::npos) << st.message();

  std::string cookie = s;
  cookie[0] = 'C';
  EXPECT_EQ(ParseFooter(cookie).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseFooter(s.substr(0, 511)).status().code(), StatusCode::kInvalidArgument);

  auto reencode = [](VhdFooter f) { return std::string(View(EncodeFooter(f))); };
  VhdFooter f = *ParseFooter(s);
  VhdFooter bad = f;
  bad.format_version = 0x00020000;
  EXPECT_NE(ParseFooter(reencode(bad)).status().message().find("format version"),
            std::string::npos);
  bad = f;
  bad.data_offset = 512;
  EXPECT_NE(ParseFooter(reencode(bad)).status().message().find("data offset"), std::string::npos);
  bad = f;
  bad.disk_type = 7;
  EXPECT_NE(ParseFooter(reencode(bad)).status().message().find("disk type"), std::string::npos);
  bad = f;
  bad.features = 0;
  EXPECT_NE(ParseFooter(reencode(bad)).status().message().find("reserved bit"), std::string::npos);
  bad = f;
  bad.current_size = 1000;
  EXPECT_EQ(ParseFooter(reencode(bad)).status().code(), StatusCode::kDataLoss);
}

TEST(VhdFooterTest, AzureRules) {
  VhdFooter f = NewFixedFooter(20 * kMiB, WallTime{});
  EXPECT_TRUE(ValidateForAzure(f).ok());
  f.current_size = 20 * kMiB + 512;
  EXPECT_EQ(ValidateForAzure(f).code(), StatusCode::kFailedPrecondition);
  f.current_size = 20 * kMiB;
  f.disk_type = 3;
  EXPECT_NE(ValidateForAzure(f).message().find("dynamic"), std::string::npos);
  EXPECT_EQ(RoundUpToMiB(1), kMiB);
  EXPECT_EQ(RoundUpToMiB(kMiB), kMiB);
  EXPECT_EQ(RoundUpToMiB(kMiB + 1), 2 * kMiB);
}

TEST(VhdFooterTest, ChecksumIsOnesComplementOfByteSum) {
  std::array<uint8_t, 512> zeros{};
  EXPECT_EQ(FooterChecksum(zeros.data()), 0xFFFFFFFFu);
  zeros[0] = 1;
  zeros[64] = 0xFF;  // inside the checksum field: ignored
  EXPECT_EQ(FooterChecksum(zeros.data()), 0xFFFFFFFEu);
}

}  // namespace
}  // namespace vmrelease::image

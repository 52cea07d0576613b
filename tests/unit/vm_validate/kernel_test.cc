// The PVH shortcut: finding the payload of a bzImage, decompressing it on the host and
// accepting the result only when it is a complete x86-64 ELF with a PVH entry note.
#include "tools/vm-validate/kernel.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <string>

#include "tests/support/testing/process.h"

namespace vmrelease::vmvalidate {
namespace {

namespace fs = std::filesystem;
using vmrelease::testing::ReadFile;
using vmrelease::testing::TempDir;
using vmrelease::testing::WriteFile;

void PutLe(std::string& s, size_t off, uint64_t v, int bytes) {
  if (s.size() < off + static_cast<size_t>(bytes)) s.resize(off + static_cast<size_t>(bytes), '\0');
  for (int i = 0; i < bytes; ++i)
    s[off + static_cast<size_t>(i)] = static_cast<char>((v >> (8 * i)) & 0xff);
}

// A minimal ELF64 x86-64 file with one PT_NOTE segment holding `note_name`/`note_type`.
std::string Elf(const std::string& note_name, uint32_t note_type) {
  std::string e(64, '\0');
  e.replace(0, 4,
            "\x7f"
            "ELF");
  e[4] = 2;  // 64-bit
  e[5] = 1;  // little endian
  PutLe(e, 0x12, 62, 2);
  PutLe(e, 0x20, 64, 8);  // e_phoff
  PutLe(e, 0x36, 56, 2);  // e_phentsize
  PutLe(e, 0x38, 1, 2);   // e_phnum
  std::string note;
  PutLe(note, 0, note_name.size(), 4);
  PutLe(note, 4, 4, 4);
  PutLe(note, 8, note_type, 4);
  note += note_name;
  note.resize((note.size() + 3) & ~size_t{3}, '\0');
  note += std::string("\x00\x00\x00\x01", 4);  // the entry point
  std::string ph(56, '\0');
  PutLe(ph, 0, 4, 4);             // PT_NOTE
  PutLe(ph, 8, 64 + 56, 8);       // p_offset
  PutLe(ph, 32, note.size(), 8);  // p_filesz
  return e + ph + note;
}

TEST(PvhKernelTest, RecognisesTheXenPhys32EntryNote) {
  EXPECT_EQ(WhyNotPvhElf(Elf(std::string("Xen\0", 4), 18)), "");
  EXPECT_NE(WhyNotPvhElf(Elf(std::string("Xen\0", 4), 17)).find("no PVH entry note"),
            std::string::npos);
  EXPECT_NE(WhyNotPvhElf(Elf(std::string("GNU\0", 4), 18)).find("no PVH entry note"),
            std::string::npos);
  std::string truncated = Elf(std::string("Xen\0", 4), 18);
  truncated.resize(truncated.size() - 8);
  EXPECT_NE(WhyNotPvhElf(truncated).find("truncated"), std::string::npos);
  EXPECT_EQ(WhyNotPvhElf("MZ not an elf at all, but long enough to have a header......"),
            "not an ELF file");
  std::string wrong_machine = Elf(std::string("Xen\0", 4), 18);
  PutLe(wrong_machine, 0x12, 183, 2);  // aarch64
  EXPECT_EQ(WhyNotPvhElf(wrong_machine), "not an x86-64 ELF");
}

TEST(PvhKernelTest, RefusesWhatIsNotABzImage) {
  TempDir dir;
  WriteFile(dir.Join("junk"), std::string(4096, 'x'));
  Status s = ExtractPvhKernel(dir.Join("junk"), dir.Join("out"), dir.path());
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();

  // A setup header whose payload points past the end of the file.
  std::string bz(0x400, '\0');
  bz.replace(0x202, 4, "HdrS");
  PutLe(bz, 0x206, 0x20f, 2);
  bz[0x1f1] = 1;
  PutLe(bz, 0x248, 0x100, 4);
  PutLe(bz, 0x24c, 0x100000, 4);
  WriteFile(dir.Join("bz"), bz);
  s = ExtractPvhKernel(dir.Join("bz"), dir.Join("out"), dir.path());
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();

  // A payload in a format we do not decompress.
  PutLe(bz, 0x24c, 0x40, 4);
  bz.resize(0x1000, 'Q');  // the payload starts at (1 + 1) * 512 + 0x100
  WriteFile(dir.Join("bz"), bz);
  s = ExtractPvhKernel(dir.Join("bz"), dir.Join("out"), dir.path());
  EXPECT_EQ(s.code(), StatusCode::kUnimplemented) << s.ToString();
  EXPECT_NE(s.message().find("magic 51 51 51 51"), std::string::npos) << s.message();
}

TEST(PvhKernelTest, UnpacksTheHostsDebianKernel) {
  // The kernel the demo recipe puts into its images.
  std::string kernel;
  for (const auto& e : fs::directory_iterator("/boot"))
    if (e.path().filename().string().rfind("vmlinuz-", 0) == 0) kernel = e.path().string();
  if (kernel.empty()) GTEST_SKIP() << "no /boot/vmlinuz-* on this host";
  TempDir dir;
  Status s = ExtractPvhKernel(kernel, dir.Join("vmlinux"), dir.path());
  ASSERT_TRUE(s.ok()) << s.ToString();
  std::string elf = ReadFile(dir.Join("vmlinux"));
  EXPECT_GT(elf.size(), fs::file_size(kernel)) << "uncompressed is larger";
  EXPECT_EQ(WhyNotPvhElf(elf), "");
  EXPECT_FALSE(fs::exists(dir.Join("kernel-payload"))) << "scratch payload removed";
}

}  // namespace
}  // namespace vmrelease::vmvalidate

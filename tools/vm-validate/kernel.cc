#include "tools/vm-validate/kernel.h"

#include <array>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <vector>

#include "controller/common/strings.h"
#include "tools/vm-validate/process.h"

namespace vmrelease::vmvalidate {
namespace {

// Little-endian reads that never run past the end (the caller checks sizes first; this is
// the second line of defence against a crafted image).
uint64_t Le(std::string_view d, uint64_t off, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) {
    uint64_t at = off + static_cast<uint64_t>(i);
    v = (v << 8) | (at < d.size() ? static_cast<unsigned char>(d[at]) : 0);
  }
  return v;
}

struct Decompressor {
  std::string_view magic;
  std::vector<std::string> argv;
};

const std::array<Decompressor, 4>& Decompressors() {
  static const std::array<Decompressor, 4> kAll = {{
      {std::string_view("\x1f\x8b", 2), {"gzip", "-dc"}},
      {std::string_view("\xfd"
                        "7zXZ\0",
                        6),
       {"xz", "-dc"}},
      {std::string_view("\x02\x21\x4c\x18", 4),
       {"lz4", "-dc"}},  // legacy frame, as the kernel writes it
      {std::string_view("\x28\xb5\x2f\xfd", 4), {"zstd", "-dc"}},
  }};
  return kAll;
}

std::string Hex(std::string_view bytes) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    if (!out.empty()) out += ' ';
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

}  // namespace

std::string WhyNotPvhElf(std::string_view elf) {
  const uint64_t size = elf.size();
  if (size < 64 || elf.substr(0, 4) !=
                       "\x7f"
                       "ELF")
    return "not an ELF file";
  if (elf[4] != 2 || elf[5] != 1) return "not a little-endian 64-bit ELF";
  if (Le(elf, 0x12, 2) != 62) return "not an x86-64 ELF";
  const uint64_t phoff = Le(elf, 0x20, 8);
  const uint64_t phentsize = Le(elf, 0x36, 2);
  const uint64_t phnum = Le(elf, 0x38, 2);
  if (phentsize < 56 || phnum == 0 || phoff > size || phnum * phentsize > size - phoff)
    return "bad ELF program headers";
  bool pvh = false;
  for (uint64_t i = 0; i < phnum; ++i) {
    const uint64_t ph = phoff + i * phentsize;
    const uint64_t type = Le(elf, ph, 4);
    const uint64_t offset = Le(elf, ph + 8, 8);
    const uint64_t filesz = Le(elf, ph + 32, 8);
    if (offset > size || filesz > size - offset)
      return "truncated: segment " + std::to_string(i) + " ends beyond the file";
    if (type != 4) continue;  // PT_NOTE
    uint64_t at = offset;
    const uint64_t end = offset + filesz;
    while (end - at >= 12) {
      const uint64_t namesz = Le(elf, at, 4);
      const uint64_t descsz = Le(elf, at + 4, 4);
      const uint64_t note_type = Le(elf, at + 8, 4);
      const uint64_t name_at = at + 12;
      const uint64_t desc_at = name_at + ((namesz + 3) & ~uint64_t{3});
      const uint64_t next = desc_at + ((descsz + 3) & ~uint64_t{3});
      if (namesz > end - name_at || next > end || next <= at) break;
      if (namesz == 4 && elf.substr(name_at, 4) == std::string_view("Xen\0", 4) &&
          note_type == 18)  // XEN_ELFNOTE_PHYS32_ENTRY
        pvh = true;
      at = next;
    }
  }
  return pvh ? "" : "no PVH entry note (a kernel built without CONFIG_PVH)";
}

Status ExtractPvhKernel(const std::string& bzimage_path, const std::string& out_path,
                        const std::string& scratch_dir) {
  ASSIGN_OR_RETURN(std::string image, ReadFileToString(bzimage_path));
  if (image.size() < 0x250 || image.compare(0x202, 4, "HdrS") != 0)
    return InvalidArgumentError("not a bzImage (no HdrS setup header)");
  if (Le(image, 0x206, 2) < 0x208)
    return InvalidArgumentError("boot protocol older than 2.08 (no payload fields)");
  uint64_t setup_sects = static_cast<unsigned char>(image[0x1f1]);
  if (setup_sects == 0) setup_sects = 4;
  const uint64_t start = (setup_sects + 1) * 512 + Le(image, 0x248, 4);
  const uint64_t length = Le(image, 0x24c, 4);
  if (length < 16 || start > image.size() || length > image.size() - start)
    return InvalidArgumentError("the bzImage's payload lies outside the file");
  std::string_view payload = std::string_view(image).substr(start, length);

  const Decompressor* tool = nullptr;
  for (const auto& d : Decompressors())
    if (payload.substr(0, d.magic.size()) == d.magic) tool = &d;
  if (tool == nullptr)
    return UnimplementedError("payload compressed with an unhandled format (magic " +
                              Hex(payload.substr(0, 4)) + ")");

  const std::string payload_path = scratch_dir + "/kernel-payload";
  {
    std::ofstream out(payload_path, std::ios::binary | std::ios::trunc);
    out.write(payload.data(), static_cast<std::streamsize>(payload.size()));
    if (!out) return UnavailableError("cannot write " + payload_path);
  }
  image.clear();
  image.shrink_to_fit();
  std::vector<std::string> argv = tool->argv;
  argv.push_back(payload_path);
  auto run = RunProgram(argv, std::chrono::seconds(120), {.stdout_path = out_path});
  std::error_code ec;
  std::filesystem::remove(payload_path, ec);
  if (!run.ok()) {
    if (run.status().code() == StatusCode::kNotFound)
      return UnimplementedError(argv[0] + " is not installed");
    return run.status();
  }
  // The kernel appends the uncompressed size after some formats, which decompressors call
  // trailing garbage: the exit code says little; the result is checked instead.
  ASSIGN_OR_RETURN(std::string elf, ReadFileToString(out_path));
  if (std::string why = WhyNotPvhElf(elf); !why.empty()) {
    std::string detail = run->exit_code == 0
                             ? ""
                             : " (" + argv[0] + " exited " + std::to_string(run->exit_code) + ")";
    return FailedPreconditionError("the decompressed kernel: " + why + detail);
  }
  return Status::Ok();
}

}  // namespace vmrelease::vmvalidate

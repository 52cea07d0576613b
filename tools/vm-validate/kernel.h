// Faster TCG boots: the uncompressed kernel for QEMU's PVH entry instead of the bzImage.
//
//   Status s = ExtractPvhKernel(run_dir + "/vmlinuz", run_dir + "/vmlinux", run_dir);
//   std::string kernel = s.ok() ? run_dir + "/vmlinux" : run_dir + "/vmlinuz";
//
// A bzImage starts with real-mode setup code and a compressed payload that the kernel's own
// decompressor unpacks — emulated instruction by instruction under TCG, which costs more than a
// second of a ~6 s boot (measured, Debian 6.1 cloud kernel, LZ4). Kernels built with CONFIG_PVH
// carry an ELF note (XEN_ELFNOTE_PHYS32_ENTRY) that lets QEMU load the uncompressed vmlinux
// directly with -kernel. The payload's location comes from the boot protocol's setup header
// (payload_offset/payload_length, protocol >= 2.08); it is decompressed on the host by gzip, xz,
// lz4 or zstd, chosen by its magic bytes.
//
// Errors (the caller then boots the bzImage as is): kInvalidArgument when the file is not a
// bzImage with a payload, kUnimplemented for a compression we do not handle or a missing
// decompressor, kFailedPrecondition when the result is not a complete x86-64 ELF with a PVH
// entry note.
#pragma once

#include <string>
#include <string_view>

#include "controller/common/status.h"

namespace vmrelease::vmvalidate {

Status ExtractPvhKernel(const std::string& bzimage_path, const std::string& out_path,
                        const std::string& scratch_dir);

// Whether `elf` (a whole file's bytes) is a complete ELF64 x86-64 executable whose PT_NOTE
// segments hold a "Xen" note of type 18 (XEN_ELFNOTE_PHYS32_ENTRY). Empty string when it is,
// else why not.
std::string WhyNotPvhElf(std::string_view elf);

}  // namespace vmrelease::vmvalidate

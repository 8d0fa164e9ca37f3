/* bzimage.h: the uncompressed kernel inside an x86 bzImage, for a PVH boot.
 * A bzImage is real-mode setup code, a setup header (the Linux boot
 * protocol, Documentation/x86/boot.rst in the kernel's tree) and a
 * decompressor whose payload, at payload_offset/payload_length, is the
 * compressed ELF vmlinux. A vmlinux that carries the PVH entry note
 * (XEN_ELFNOTE_PHYS32_ENTRY) is booted by QEMU straight through libvirt's
 * <kernel>, without the kernel's real-mode setup or its in-guest
 * decompression (docs/performance.md). The image carries it compacted to
 * what QEMU loads (pvh_elf_compact): `mlvm up` hashes every kernel byte
 * again on each boot.
 *
 * The kernel comes from a downloaded package: every header field, block
 * size and ELF offset is input. Each is checked before it is used, every
 * size is capped before anything is allocated, and a bad image is a
 * one-line error, never an out-of-bounds read (tests/fuzz/fuzz-bzimage.c). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define BZIMAGE_MAX       (256u << 20)  /* a bzImage we read */
#define BZIMAGE_VMLINUX_MAX (256u << 20) /* its decompressed payload: the manifest's kernel cap */
#define BZIMAGE_MIN_VERSION 0x208       /* boot protocol 2.08: payload_offset and payload_length */
#define PVH_ELF_MAX_PHDRS 64
#define PVH_ELF_MAX_NOTES 256           /* notes walked in all PT_NOTE segments together */

/* Where the payload is: an offset into the bzImage and its length. */
int bzimage_payload(const void *img, size_t len, size_t *ret_off, size_t *ret_len, struct mlvm_err *e);

/* Decompress an LZ4 payload (the kernel's legacy format, or an LZ4 frame),
 * at most MAX bytes out. The kernel's build appends the decompressed size
 * as 4 little-endian bytes (what its own decompressor sizes its buffer by):
 * the output must have exactly that size. Caller frees *RET. */
int bzimage_decompress(const void *payload, size_t len, size_t max, void **ret, size_t *ret_len,
                       struct mlvm_err *e);

struct pvh_elf {
        uint64_t entry;      /* the PVH entry point (guest physical, below 4 GiB) */
};

/* Check that ELF is a 64-bit little-endian x86-64 executable whose program
 * headers and notes lie inside it, with a PVH entry note that points into
 * the file part of a loaded segment. Section headers are not read. */
int pvh_elf_check(const void *elf, size_t len, struct pvh_elf *ret, struct mlvm_err *e);

/* The same ELF with only what QEMU loads: the ELF and program headers,
 * then each PT_LOAD's bytes without their trailing zeroes (memsz keeps
 * them: the loader zero-fills past filesz), each at the next 4 KiB
 * boundary congruent to its address. The section table goes (QEMU never
 * reads it), as do the bytes of no segment: the 2 MiB alignment padding
 * and the relocation table appended for the bzImage's decompressor. Any
 * segment with file bytes other than PT_LOAD and PT_NOTE is refused; a
 * PT_NOTE outside every PT_LOAD is copied after them. Caller frees *RET. */
int pvh_elf_compact(const void *elf, size_t len, void **ret, size_t *ret_len, struct mlvm_err *e);

/* All of it: the bzImage's payload, decompressed, checked, compacted and
 * checked again (same entry). Caller frees *RET. */
int bzimage_to_pvh(const void *img, size_t len, void **ret, size_t *ret_len, struct pvh_elf *ret_info,
                   struct mlvm_err *e);

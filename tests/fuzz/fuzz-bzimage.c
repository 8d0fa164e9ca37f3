/* fuzz-bzimage.c: libFuzzer target for the bzImage setup header, its LZ4
 * payload and the ELF checks of the PVH vmlinux (bzimage.c). The kernel
 * comes from a downloaded package: every header field, block size and ELF
 * offset is input. Each input is tried as a bzImage and as an ELF on its
 * own, so that ELF seeds reach the note walker and the compaction without
 * an LZ4 wrapper. */
#include "mlvm-build.h"

#include <stddef.h>
#include <stdint.h>

#include "bzimage.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Small enough that a hostile size trailer cannot exhaust the fuzzer's memory. */
#define FUZZ_VMLINUX_MAX (16u << 20)

/* What compacting makes of an ELF that passed the check: it cannot fail
 * but on a segment type it refuses, and is checked again as the build does. */
static void compact(const void *elf, size_t len, const struct pvh_elf *info)
{
        void *small = NULL;
        size_t small_len = 0;
        struct pvh_elf again;

        if (pvh_elf_compact(elf, len, &small, &small_len, NULL) < 0)
                return;
        if (small_len < 64 || small_len > len + PVH_ELF_MAX_PHDRS * 4096 + 64)
                __builtin_trap();
        if (pvh_elf_check(small, small_len, &again, NULL) == 0 && again.entry != info->entry)
                __builtin_trap();
        free(small);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct pvh_elf info;
        size_t off, len;

        if (pvh_elf_check(data, size, &info, NULL) == 0) {
                if (info.entry == 0 || info.entry > UINT32_MAX)
                        __builtin_trap();
                compact(data, size, &info);
        }
        if (bzimage_payload(data, size, &off, &len, NULL) < 0)
                return 0;
        /* What was accepted lies inside the input. */
        if (off > size || len > size - off || len < 8)
                __builtin_trap();
        void *elf = NULL;
        size_t elf_len = 0;
        if (bzimage_decompress(data + off, len, FUZZ_VMLINUX_MAX, &elf, &elf_len, NULL) < 0)
                return 0;
        if (elf_len > FUZZ_VMLINUX_MAX)
                __builtin_trap();
        if (pvh_elf_check(elf, elf_len, &info, NULL) == 0)
                compact(elf, elf_len, &info);
        free(elf);
        return 0;
}

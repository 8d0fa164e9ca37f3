/* fuzz-bzimage.c: libFuzzer target for the bzImage setup header, its LZ4
 * payload and the ELF checks of the PVH vmlinux (bzimage.c). The kernel
 * comes from a downloaded package: every header field, block size and ELF
 * offset is input. Each input is tried as a bzImage and as an ELF on its
 * own, so that ELF seeds reach the note walker without an LZ4 wrapper. */
#include "mlvm-build.h"

#include <stddef.h>
#include <stdint.h>

#include "bzimage.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Small enough that a hostile size trailer cannot exhaust the fuzzer's memory. */
#define FUZZ_VMLINUX_MAX (16u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct pvh_elf info;
        size_t off, len;

        if (pvh_elf_check(data, size, &info, NULL) == 0 && (info.extent > size || info.entry > UINT32_MAX))
                __builtin_trap();
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
        if (pvh_elf_check(elf, elf_len, &info, NULL) == 0 && info.extent > elf_len)
                __builtin_trap();
        free(elf);
        return 0;
}

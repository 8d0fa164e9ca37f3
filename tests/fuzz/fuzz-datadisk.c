/* fuzz-datadisk.c: libFuzzer target for the data disk's tarball path
 * (src/lib/virt/disk-iso.c): a user-supplied archive, maybe compressed, validated and
 * written as an ISO 9660 image that is hashed and thrown away. The caps are
 * lowered so that one input stays fast; the checks are the same. */
#include "mlvm-build.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "disk-iso.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static const struct disk_iso_limits lim = {
                .max_entries = 512, .max_dir_entries = 256, .max_bytes = 1 << 20, .max_path = 1024, .max_depth = 64,
        };
        char hex[SHA256_HEX_LEN + 1];
        struct mlvm_err e = { 0 };
        uint64_t n = 0;
        int r = disk_iso_write_tar_memory(data, size, "fuzz.tar", -1, &lim, hex, &n, &e);

        /* A refusal is one non-empty line; an image is whole 2 KiB sectors. */
        if (r < 0 && (!e.msg[0] || strchr(e.msg, '\n') || e.code != r))
                __builtin_trap();
        if (r == 0 && (n < 16 * 2048 || n % 2048 != 0 || strlen(hex) != SHA256_HEX_LEN))
                __builtin_trap();
        return 0;
}

/* fuzz-kmod.c: libFuzzer target for the ELF .modinfo reader. The .ko files
 * come from a downloaded package: every offset in them is input. The bytes
 * are passed as they are (no copy, no terminator), as deb_read_entry does. */
#include "mlvm-build.h"

#include <stddef.h>
#include <stdint.h>

#include "kmod.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char **deps = NULL;

        if (kmod_depends(data, size, &deps, NULL) < 0)
                return 0;
        /* Names are non-empty, canonical ('-' became '_') and split at ','. */
        for (size_t i = 0; deps[i]; i++)
                if (!deps[i][0] || strpbrk(deps[i], "-,"))
                        __builtin_trap();
        kmod_strv_free(deps);
        return 0;
}

/* fuzz-kconfig.c: libFuzzer target for a recipe's kernel config fragment
 * (kbuild-kconfig.c): the parser, then the check against a .config, with
 * the input also as that .config (it is what `make allnoconfig` wrote,
 * from a tree the package index vouches for, but it is read with the same
 * care). */
#include "mlvm-build.h"

#include <stddef.h>
#include <stdint.h>

#include "kbuild.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct kconfig_fragment f;
        const char *text = (const char *)data;

        (void)kconfig_verify("fuzz/.config", &(struct kconfig_fragment){ 0 }, text, size, NULL);
        if (kconfig_parse("fuzz/kernel.config", text, size, &f, NULL) < 0)
                return 0;
        /* What was accepted is what make is given and what is checked. */
        if (f.n == 0 || f.n > KCONFIG_MAX_LINES || size > KCONFIG_MAX_BYTES)
                __builtin_trap();
        for (size_t i = 0; i < f.n; i++) {
                const char *n = f.v[i].name, *v = f.v[i].value;
                if (!n[0] || strspn(n, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") != strlen(n) || !v[0] ||
                    streq(v, "m") || strchr(v, '\n') || (streq(n, "MODULES") && streq(v, "y")))
                        __builtin_trap();
                for (size_t j = 0; j < i; j++)
                        if (streq(f.v[j].name, n))
                                __builtin_trap();
        }
        /* The fragment checked against itself: every line took. */
        if (kconfig_verify("fuzz/kernel.config", &f, text, size, NULL) < 0) {
                bool has_not_set = false, has_cr = memchr(text, '\r', size) != NULL;
                for (size_t i = 0; i < f.n; i++)
                        has_not_set |= streq(f.v[i].value, "n");
                if (!has_not_set && !has_cr && !memchr(text, ' ', size) && !memchr(text, '\t', size))
                        __builtin_trap();
        }
        kconfig_fragment_clear(&f);
        return 0;
}

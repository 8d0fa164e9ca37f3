/* fuzz-recipe.c: libFuzzer target for the image recipe parser. Recipes come
 * from the user's tree but also from shared image repositories. */
#include "mlvm-build.h"

#include <stddef.h>
#include <stdint.h>

#include "recipe.h"
#include "units.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define DIR_ "/srv/images/fuzz"

static bool printable_line(const char *s)
{
        for (; *s; s++)
                if ((unsigned char)*s < 0x20 || *s == 0x7f)
                        return false;
        return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct recipe r;

        /* As recipe_load: read_file_capped refuses more than RECIPE_MAX_BYTES
         * and NUL-terminates; the text ends at its first NUL byte. */
        if (size > RECIPE_MAX_BYTES)
                return 0;
        _cleanup_free_ char *text = xmalloc(size + 1);
        memcpy(text, data, size);
        text[size] = '\0';
        if (recipe_parse("fuzz/recipe", DIR_, text, &r, NULL) < 0)
                return 0;
        /* What was accepted is what the build relies on. */
        if (!name_is_valid(r.name) || !r.kernel_package == !r.kernel_source || !r.kernel_source != !r.kernel_config ||
            (r.kernel_source && (r.modules || !recipe_kernel_pvh(&r) || !strstartswith(r.kernel_config, DIR_ "/") ||
                                 strchr(r.kernel_config + sizeof(DIR_), '/'))) ||
            !r.cmdline || strlen(r.cmdline) > 2048 ||
            !printable_line(r.cmdline) || (r.applets && !r.busybox) || !streq(r.dir, DIR_) ||
            (r.rootfs_script && (!strstartswith(r.rootfs_script, DIR_ "/") || strchr(r.rootfs_script + sizeof(DIR_), '/'))))
                __builtin_trap();
        if (r.kernel_boot && !streq(r.kernel_boot, "bzimage") && !streq(r.kernel_boot, "pvh"))
                __builtin_trap();
        for (char **v = r.modules; v && *v; v++)
                if (!**v || strlen(*v) > 64 || strpbrk(*v, "/ \t"))
                        __builtin_trap();
        recipe_clear(&r);
        return 0;
}

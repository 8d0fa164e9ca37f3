/* kmod.h: kernel modules for the guest, taken from a kernel .deb: each
 * module's dependencies are read from its ELF .modinfo section
 * ("depends="), and the modules the recipe asks for are ordered so that
 * every module comes after what it depends on. Modules built into the
 * kernel (modules.builtin) count as present. */
#pragma once

#include <stddef.h>

#include "err.h"

#define KMOD_MAX_SIZE (16u << 20)    /* one .ko */
#define KMOD_MAX_MODULES 64          /* in one image */

/* Dependencies named in a module's .modinfo (ELF64 little-endian).
 * Returns a NULL-terminated array (possibly empty) in *ret. */
int kmod_depends(const void *ko, size_t len, char ***ret, struct mlvm_err *e);
void kmod_strv_free(char **v);

struct kmod {
        char *name;        /* canonical: '-' becomes '_' */
        void *data;        /* the .ko, once loaded */
        size_t len;
};

struct kmod_set {
        struct kmod *mods; /* in load order */
        size_t n;
        char *release;     /* kernel release, e.g. 6.1.0-56-cloud-amd64 */
        void *kernel;      /* boot/vmlinuz-RELEASE */
        size_t kernel_len;
        long long newest_mtime; /* of the package's entries: a reproducible build time */
};

/* Read the kernel and the closure of ROOTS (module names) from a kernel
 * package, in load order. */
int kmod_from_deb(const char *deb, char *const *roots, struct kmod_set *ret, struct mlvm_err *e);
void kmod_set_clear(struct kmod_set *s);

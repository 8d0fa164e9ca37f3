/* kbuild.h: a guest kernel built for mlvm from Debian's kernel source
 * package (linux-source-X.Y, fetched and checked against apt's signed
 * index like every other package) with the recipe's config fragment on top
 * of `make allnoconfig`: every driver built in, no modules.
 *
 * Reproducible: the tree is built in place (the kernel's own
 * -fmacro-prefix-map makes paths relative), with KBUILD_BUILD_TIMESTAMP,
 * _USER, _HOST and _VERSION fixed, so the same inputs give the same
 * vmlinux wherever the state directory is. Cached by the digest of its
 * inputs (the source package's SHA-256, the fragment's bytes, the compiler
 * and linker versions): a rebuild with nothing changed reads the cache.
 *
 * The result is the compacted PVH ELF (bzimage.h) that the image signs as
 * its kernel part. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "digest.h"
#include "err.h"

#define KCONFIG_MAX_BYTES (64u << 10)     /* a recipe's fragment */
#define KCONFIG_MAX_LINES 4096
#define KCONFIG_LINE_MAX 1024
#define KBUILD_DOTCONFIG_MAX (4u << 20)   /* the configured kernel's .config */
#define KBUILD_TREE_MAX (4ULL << 30)      /* bytes unpacked from the source tarball */
#define KBUILD_TREE_ENTRIES 200000
#define KBUILD_LOG_KEEP (64u << 20)       /* build.log past this is cut */

/* One line of a fragment: CONFIG_NAME=VALUE, or "# CONFIG_NAME is not set"
 * (VALUE "n"). */
struct kconfig_want {
        char *name;     /* without CONFIG_ */
        char *value;    /* y, n, a number or a quoted string */
        unsigned line;
};

struct kconfig_fragment {
        struct kconfig_want *v;
        size_t n;
};

/* Parse a fragment. Comments and blank lines are skipped; "=m" and
 * CONFIG_MODULES=y are refused (an mlvm kernel has no modules). Errors are
 * FILE:LINE: and name the line. */
int kconfig_parse(const char *file, const char *text, size_t len, struct kconfig_fragment *ret, struct mlvm_err *e);
/* Check that every line of the fragment took in DOTCONFIG (the .config
 * that `make allnoconfig` wrote): a symbol whose dependencies are off is
 * silently dropped by Kconfig, which must not go unnoticed. */
int kconfig_verify(const char *file, const struct kconfig_fragment *f, const char *dotconfig, size_t len,
                   struct mlvm_err *e);
void kconfig_fragment_clear(struct kconfig_fragment *f);

struct kbuild_opts {
        const char *source_deb;      /* the linux-source .deb, already checked */
        const char *source_sha256;   /* its SHA-256 */
        const char *config_file;     /* the recipe's fragment */
        const char *cache_dir;       /* built kernels by input digest, and the build tree */
        void (*progress)(void *u, const char *line);
        void *progress_u;
};

struct kbuild_result {
        void *vmlinux;               /* the compacted PVH ELF */
        size_t len;
        char *release;               /* e.g. 6.1.192 */
        long long source_mtime;      /* newest entry in the source package: a reproducible time */
        char key[SHA256_HEX_LEN + 1];
        char config_sha256[SHA256_HEX_LEN + 1];   /* of the fragment's bytes */
        bool cached;
};

int kbuild_kernel(const struct kbuild_opts *o, struct kbuild_result *ret, struct mlvm_err *e);
void kbuild_result_clear(struct kbuild_result *r);

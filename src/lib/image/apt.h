/* apt.h: fetch Debian packages for image builds through apt, into a cache,
 * each checked against the SHA-256 in apt's (signed) package index. */
#pragma once

#include <stdbool.h>

#include "err.h"

struct apt_pkg {
        char *name, *version, *sha256, *path;   /* path: the .deb in the cache */
        bool cached;                             /* already there (and verified) */
};

/* Fetch PKG (the candidate version) into CACHE_DIR unless a copy with the
 * index's SHA-256 is already there. */
int apt_fetch(const char *pkg, const char *cache_dir, struct apt_pkg *ret, struct mlvm_err *e);
/* The first dependency of PKG's candidate that starts with PREFIX (how a
 * metapackage like linux-image-cloud-amd64 names its real package). */
int apt_first_dep(const char *pkg, const char *prefix, char **ret, struct mlvm_err *e);
/* Describe a local .deb given by the user: name, version, sha256. */
int apt_describe_local(const char *path, struct apt_pkg *ret, struct mlvm_err *e);
void apt_pkg_clear(struct apt_pkg *p);

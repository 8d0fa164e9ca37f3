/* deb.h: reading Debian packages with libarchive, no dpkg and no root.
 * A .deb is an ar archive holding control.tar.* and data.tar.*; both are
 * streamed (never unpacked to disk) under size caps. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <archive.h>
#include <archive_entry.h>

#include "err.h"

#define DEB_MEMBER_MAX  (2ULL << 30)   /* data.tar.* of one package */
#define DEB_CONTROL_MAX (1 << 20)      /* the control file */

/* Called for each regular file of data.tar.*; PATH has no leading "./".
 * Return 0 to go on, 1 to stop early, negative to fail. */
typedef int (*deb_file_fn)(const char *path, struct archive *a, struct archive_entry *entry, void *u,
                           struct mlvm_err *e);

int deb_each_file(const char *deb, deb_file_fn fn, void *u, struct mlvm_err *e);
/* The current entry of OUTER read as a (compressed) tar archive: a .deb's
 * data.tar.*, or a source tarball inside one (kbuild.c). At most MAX bytes
 * of the entry are read; WHAT names it in errors. */
struct deb_inner;
int deb_inner_open(struct archive *outer, const char *what, uint64_t max, struct deb_inner **ret, struct mlvm_err *e);
struct archive *deb_inner_archive(struct deb_inner *d);
void deb_inner_free(struct deb_inner *d);
/* The text of ./control from control.tar.*. */
int deb_control(const char *deb, char **ret, struct mlvm_err *e);
/* One field of a control file ("Depends", "Version"), or NULL. Caller frees. */
char *deb_control_field(const char *control, const char *field);
/* Read the current entry's data (at most MAX bytes, else -EFBIG). */
int deb_read_entry(struct archive *a, struct archive_entry *entry, size_t max, void **ret, size_t *ret_len,
                   struct mlvm_err *e);

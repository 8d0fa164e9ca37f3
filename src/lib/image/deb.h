/* deb.h: reading Debian packages with libarchive, no dpkg and no root.
 * A .deb is an ar archive holding control.tar.* and data.tar.*; both are
 * streamed (never unpacked to disk) under size caps. */
#pragma once

#include <stddef.h>

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
/* The text of ./control from control.tar.*. */
int deb_control(const char *deb, char **ret, struct mlvm_err *e);
/* One field of a control file ("Depends", "Version"), or NULL. Caller frees. */
char *deb_control_field(const char *control, const char *field);
/* Read the current entry's data (at most MAX bytes, else -EFBIG). */
int deb_read_entry(struct archive *a, struct archive_entry *entry, size_t max, void **ret, size_t *ret_len,
                   struct mlvm_err *e);

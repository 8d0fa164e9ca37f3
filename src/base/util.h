/* util.h: small helpers shared by every file, and (through cleanup.h)
 * the cleanup attributes that keep every error path short. */
#pragma once

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static inline bool streq(const char *a, const char *b) { return strcmp(a, b) == 0; }
static inline bool strstartswith(const char *s, const char *prefix)
{
        return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Allocation failure is not recoverable in a CLI; abort loudly rather than
 * spreading NULL checks for ENOMEM through every parser. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xreallocarray(void *p, size_t n, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* snprintf into a fixed buffer whose truncation is acceptable (a reason
 * shown to people): never fails, always terminated. */
void text_set(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void text_vset(char *buf, size_t len, const char *fmt, va_list ap) __attribute__((format(printf, 3, 0)));

/* read(2) that retries on EINTR: bytes read, 0 at the end, -errno. */
ssize_t read_retry(int fd, void *buf, size_t len);
/* Write all LEN bytes, retrying on EINTR and short writes: 0 or -errno. */
int write_full(int fd, const void *buf, size_t len);

/* Read a whole regular file of at most max bytes (fails with -EFBIG past it). */
int read_file_capped(const char *path, size_t max, char **ret_buf, size_t *ret_len);
/* Write a file atomically (temp file in the same directory, fsync, rename). */
int write_file_atomic(const char *path, const void *buf, size_t len, mode_t mode);
/* A helper binary of mlvm: $ENV_VAR if set, else REL next to the running
 * mlvm (the build tree), else INSTALLED. Caller frees. */
char *find_helper_binary(const char *env_var, const char *rel, const char *installed);
/* S for a one-line message: control characters become '?', and past
 * SHOWN_MAX - 4 bytes it ends in "...". Returns OUT. */
#define SHOWN_MAX 160
const char *shown(const char *s, char out[SHOWN_MAX]);
/* The same with at most MAX bytes of S; OUT holds MAX + 4. */
const char *shown_cap(const char *s, size_t max, char *out);

/* rm -rf PATH: depth first, symlinks removed not followed, the file
 * system not left. 0 when it is gone (or never was), else -errno. */
int remove_tree(const char *path);
/* mkdir -p with the given mode for directories it creates. */
int mkdir_p(const char *path, mode_t mode);

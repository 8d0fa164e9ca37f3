/* disk-iso-internal.h: shared by disk-iso.c (the rules every entry obeys,
 * the ISO writer and the public calls) and disk-iso-source.c (the directory
 * walk and the tar source that feed it). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "disk-iso.h"
#include "err.h"

struct archive;
struct archive_entry;

#define ISO_COPY_BUF_SIZE (256 * 1024)

struct builder {
        const char *what;      /* the source, for messages */
        const struct disk_iso_limits *lim;
        struct archive *out;
        struct archive_entry *entry;
        void *seen;            /* tsearch() tree of struct node (disk-iso-source.c) */
        uint64_t entries, bytes, root_children;
        char *buf;
        struct mlvm_err *e;
};

/* The rules (disk-iso.c). The int ones return 0, or a negative errno with B->e set
 * to a one-line message naming the source and PATH. */
int iso_refuse(struct builder *b, int code, const char *path, const char *why);
int iso_count_entry(struct builder *b);                                   /* one more entry, within max_entries */
int iso_count_bytes(struct builder *b, const char *path, uint64_t size);  /* SIZE more bytes, within max_bytes */
int iso_check_path(struct builder *b, const char *path);                  /* names, length and depth of "a/b/c" */
const char *iso_type_name(mode_t type);                                   /* "symbolic link", "FIFO", ... */
int iso_refuse_type(struct builder *b, const char *path, const char *type);
int iso_refuse_dir_full(struct builder *b, const char *dir);
/* Writing into the image: the header of PATH, then its bytes. */
int iso_put_header(struct builder *b, const char *path, bool dir, mode_t mode, uint64_t size, int64_t mtime);
int iso_put_bytes(struct builder *b, const char *path, const void *buf, size_t n);

/* The sources (disk-iso-source.c). */
int iso_walk(struct builder *b, int fd, const char *rel);                 /* the directory at FD (taken), below REL */
int iso_from_tar(struct builder *b, struct archive *in);                  /* every member of IN */
int iso_in_error(struct builder *b, struct archive *in);                  /* IN's error, as a refusal */
void iso_node_free(void *p);                                              /* tdestroy() of B->seen */

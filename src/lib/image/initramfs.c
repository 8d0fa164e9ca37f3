/* initramfs.c: reproducible cpio newc archives; see initramfs.h. */
#include "mlvm-build.h"

#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <archive.h>
#include <archive_entry.h>

#include "initramfs.h"
#include "util.h"

struct node {
        char *path;
        mode_t mode;       /* type and permissions */
        void *data;
        size_t len;
        char *target;      /* symlinks */
        dev_t rdev;
};

struct initramfs {
        struct node *v;
        size_t n;
};

struct initramfs *initramfs_new(void) { return xcalloc(1, sizeof(struct initramfs)); }

void initramfs_free(struct initramfs *ir)
{
        if (!ir)
                return;
        for (size_t i = 0; i < ir->n; i++) {
                free(ir->v[i].path);
                free(ir->v[i].data);
                free(ir->v[i].target);
        }
        free(ir->v);
        free(ir);
}

static int add(struct initramfs *ir, struct node n)
{
        if (!n.path[0] || n.path[0] == '/' || strstr(n.path, "..")) {
                free(n.path);
                free(n.data);
                free(n.target);
                return -EINVAL;
        }
        for (size_t i = 0; i < ir->n; i++)
                if (streq(ir->v[i].path, n.path)) {
                        free(n.path);
                        free(n.data);
                        free(n.target);
                        return -EEXIST;
                }
        ir->v = xreallocarray(ir->v, ir->n + 1, sizeof(*ir->v));
        ir->v[ir->n++] = n;
        return 0;
}

int initramfs_add_dir(struct initramfs *ir, const char *path, mode_t perm)
{
        return add(ir, (struct node){ .path = xstrdup(path), .mode = S_IFDIR | (perm & 07777) });
}

int initramfs_add_file(struct initramfs *ir, const char *path, mode_t perm, const void *data, size_t len)
{
        void *copy = xmalloc(len);
        memcpy(copy, data, len);
        return add(ir, (struct node){ .path = xstrdup(path), .mode = S_IFREG | (perm & 07777), .data = copy, .len = len });
}

int initramfs_add_symlink(struct initramfs *ir, const char *path, const char *target)
{
        return add(ir, (struct node){ .path = xstrdup(path), .mode = S_IFLNK | 0777, .target = xstrdup(target) });
}

int initramfs_add_chardev(struct initramfs *ir, const char *path, mode_t perm, unsigned major, unsigned minor)
{
        return add(ir, (struct node){ .path = xstrdup(path), .mode = S_IFCHR | (perm & 07777),
                                      .rdev = makedev(major, minor) });
}

static int cmp_node(const void *a, const void *b)
{
        return strcmp(((const struct node *)a)->path, ((const struct node *)b)->path);
}

static void archive_write_freep(struct archive **a) { if (*a) archive_write_free(*a); }
static void archive_entry_freep(struct archive_entry **e) { if (*e) archive_entry_free(*e); }

int initramfs_write(struct initramfs *ir, int fd, struct mlvm_err *e)
{
        __attribute__((cleanup(archive_write_freep))) struct archive *a = archive_write_new();
        __attribute__((cleanup(archive_entry_freep))) struct archive_entry *entry = archive_entry_new();

        /* Sorted: parents before children, and the same order every time. */
        if (ir->n)   /* qsort's base must not be NULL, even for 0 entries */
                qsort(ir->v, ir->n, sizeof(*ir->v), cmp_node);
        if (archive_write_set_format_cpio_newc(a) != ARCHIVE_OK || archive_write_add_filter_none(a) != ARCHIVE_OK ||
            archive_write_set_bytes_in_last_block(a, 1) != ARCHIVE_OK || archive_write_open_fd(a, fd) != ARCHIVE_OK)
                return err_setx(e, -EIO, "initramfs: %s", archive_error_string(a));
        for (size_t i = 0; i < ir->n; i++) {
                const struct node *n = &ir->v[i];
                archive_entry_clear(entry);
                archive_entry_set_pathname(entry, n->path);
                archive_entry_set_mode(entry, n->mode);
                archive_entry_set_uid(entry, 0);
                archive_entry_set_gid(entry, 0);
                archive_entry_set_mtime(entry, 0, 0);
                archive_entry_set_ino64(entry, (la_int64_t)i + 1);
                archive_entry_set_dev(entry, 0);
                archive_entry_set_nlink(entry, S_ISDIR(n->mode) ? 2 : 1);
                archive_entry_set_size(entry, S_ISREG(n->mode) ? (la_int64_t)n->len : 0);
                if (S_ISLNK(n->mode))
                        archive_entry_set_symlink(entry, n->target);  /* libarchive writes it as the body */
                if (S_ISCHR(n->mode))
                        archive_entry_set_rdev(entry, n->rdev);
                if (archive_write_header(a, entry) != ARCHIVE_OK)
                        return err_setx(e, -EIO, "initramfs: %s: %s", n->path, archive_error_string(a));
                if (S_ISREG(n->mode) && n->len &&
                    archive_write_data(a, n->data, n->len) != (la_ssize_t)n->len)
                        return err_setx(e, -EIO, "initramfs: %s: %s", n->path, archive_error_string(a));
        }
        if (archive_write_close(a) != ARCHIVE_OK)
                return err_setx(e, -EIO, "initramfs: %s", archive_error_string(a));
        return 0;
}

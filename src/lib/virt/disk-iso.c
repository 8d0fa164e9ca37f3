/* disk-iso.c: data disks as ISO 9660 images written with libarchive; see
 * disk-iso.h. This file holds the rules every entry obeys (names, caps,
 * modes, written through struct builder) and the ISO writer around them;
 * disk-iso-source.c feeds it from a directory or a tarball.
 *
 * Why ISO 9660 rather than ext4 (mke2fs -d) or erofs (mkfs.erofs): it is
 * written in-process by libarchive, which mlvm already links (no child
 * process, no root, no loop device, no extra package); it is read-only by
 * nature, so no guest can write a data disk back; level 3 stores files over
 * 4 GiB as multi-extent files and Rock Ridge carries long names, modes and
 * mtimes. Speed is not the issue (measured here: a 200 MiB directory in 1.9 s
 * where mke2fs -d takes 3.0 s; a 4.5 GiB file in 23 s). Its costs: libarchive
 * spools file data into a temporary file ($TMPDIR, else /tmp) before it lays
 * out the image, so building needs the data's size twice in temporary space;
 * and the guest needs isofs.ko, which images/minimal loads. */
#include "mlvm-build.h"

#include <fcntl.h>
#include <locale.h>
#include <search.h>
#include <sys/stat.h>
#include <archive.h>
#include <archive_entry.h>
#include <openssl/evp.h>

#include "disk-iso-internal.h"
#include "util.h"

const struct disk_iso_limits disk_iso_default_limits = {
        .max_entries = 100000,
        /* libarchive tells apart ISO 9660 identifiers that collide once names
         * are truncated (to 30 characters) with a 3-character base-36 counter,
         * and loops forever once 46,656 of them collide. A directory of fewer
         * entries always leaves a free number (measured: 50,000 such names hang,
         * 40,000 take 0.8 s of CPU). */
        .max_dir_entries = 40000,
        .max_bytes = 64ULL << 30,
        .max_path = 1024,
        .max_depth = 64,
};

#define NAME_MAX_BYTES 255            /* one path component, as in Linux and Rock Ridge */
#define MTIME_MAX 4102444800LL        /* 2100-01-01: ISO 9660 dates stop at 2155 */

struct sink {
        int fd;                /* -1: hash only */
        EVP_MD_CTX *md;
        uint64_t size;
        bool failed;           /* refuse every write: the image is not wanted */
};

/* Names come from user input: show them on one line, bounded. */
int iso_refuse(struct builder *b, int code, const char *path, const char *why)
{
        char s1[SHOWN_MAX], s2[SHOWN_MAX];
        return err_setx(b->e, code, "data disk %s: %s: %s", shown(b->what, s1), shown(path, s2), why);
}

static int out_error(struct builder *b, const char *path)
{
        char s1[SHOWN_MAX], s2[SHOWN_MAX], s3[SHOWN_MAX];
        const char *why = archive_error_string(b->out);
        return err_setx(b->e, -EIO, "data disk %s: %s: writing the image: %s", shown(b->what, s1), shown(path, s2),
                        shown(why ? why : "unknown error", s3));
}

int iso_count_entry(struct builder *b)
{
        char s1[SHOWN_MAX];
        if (b->entries >= b->lim->max_entries)
                return err_setx(b->e, -E2BIG, "data disk %s: more than %llu files and directories",
                                shown(b->what, s1), (unsigned long long)b->lim->max_entries);
        b->entries++;
        return 0;
}

int iso_count_bytes(struct builder *b, const char *path, uint64_t size)
{
        char s1[SHOWN_MAX], s2[SHOWN_MAX];
        if (size > b->lim->max_bytes - b->bytes)
                return err_setx(b->e, -EFBIG, "data disk %s: %s: the files add up to more than %llu bytes",
                                shown(b->what, s1), shown(path, s2), (unsigned long long)b->lim->max_bytes);
        b->bytes += size;
        return 0;
}

/* One path component as it will appear in the guest. */
static int check_component(struct builder *b, const char *path, const char *c, size_t n)
{
        if (n == 0)
                return iso_refuse(b, -EINVAL, path, "empty path component");
        if ((n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
                return iso_refuse(b, -EINVAL, path, "'.' or '..' in a path (it could leave the disk's root)");
        if (n > NAME_MAX_BYTES)
                return iso_refuse(b, -ENAMETOOLONG, path, "name longer than 255 bytes");
        for (size_t i = 0; i < n; i++)
                if ((unsigned char)c[i] < 0x20 || c[i] == 0x7f)
                        return iso_refuse(b, -EINVAL, path, "control character in a name");
        return 0;
}

/* A relative path "a/b/c": every component, the total length and depth. */
int iso_check_path(struct builder *b, const char *path)
{
        unsigned depth = 0;
        int r;

        if (path[0] == '/')
                return iso_refuse(b, -EINVAL, path, "absolute path (it could leave the disk's root)");
        if (strlen(path) > b->lim->max_path) {
                char why[64];
                (void)snprintf(why, sizeof(why), "path longer than %zu bytes", b->lim->max_path);
                return iso_refuse(b, -ENAMETOOLONG, path, why);
        }
        for (const char *p = path;; depth++) {
                const char *slash = strchr(p, '/');
                size_t n = slash ? (size_t)(slash - p) : strlen(p);
                if ((r = check_component(b, path, p, n)) < 0)
                        return r;
                if (!slash)
                        break;
                p = slash + 1;
        }
        if (depth > b->lim->max_depth) {
                char why[64];
                (void)snprintf(why, sizeof(why), "more than %u directory levels deep", b->lim->max_depth);
                return iso_refuse(b, -ELOOP, path, why);
        }
        return 0;
}

const char *iso_type_name(mode_t type)
{
        switch (type & S_IFMT) {
        case S_IFLNK: return "symbolic link";
        case S_IFCHR: return "character device";
        case S_IFBLK: return "block device";
        case S_IFIFO: return "FIFO";
        case S_IFSOCK: return "socket";
        default: return "unknown file type";
        }
}

int iso_refuse_type(struct builder *b, const char *path, const char *type)
{
        char why[128];
        (void)snprintf(why, sizeof(why), "%s: only regular files and directories go on a data disk", type);
        return iso_refuse(b, -EINVAL, path, why);
}

int iso_refuse_dir_full(struct builder *b, const char *dir)
{
        char why[80];
        (void)snprintf(why, sizeof(why), "more than %llu entries in one directory",
                       (unsigned long long)b->lim->max_dir_entries);
        return iso_refuse(b, -E2BIG, *dir ? dir : ".", why);
}

/* The guest's workload runs as an unprivileged uid that means nothing on the
 * host, and the disk is read-only: everything is root's and world-readable,
 * and only the execute bit survives from the source's mode. */
int iso_put_header(struct builder *b, const char *path, bool dir, mode_t mode, uint64_t size, int64_t mtime)
{
        archive_entry_clear(b->entry);
        archive_entry_copy_pathname(b->entry, path);
        archive_entry_set_filetype(b->entry, dir ? AE_IFDIR : AE_IFREG);
        archive_entry_set_perm(b->entry, dir || (mode & 0111) ? 0555 : 0444);
        archive_entry_set_uid(b->entry, 0);
        archive_entry_set_gid(b->entry, 0);
        archive_entry_set_size(b->entry, dir ? 0 : (la_int64_t)size);
        archive_entry_set_mtime(b->entry, mtime < 0 ? 0 : mtime > MTIME_MAX ? MTIME_MAX : mtime, 0);
        /* ARCHIVE_WARN too: the ISO writer warns when it drops an entry. */
        if (archive_write_header(b->out, b->entry) != ARCHIVE_OK)
                return out_error(b, path);
        return 0;
}

int iso_put_bytes(struct builder *b, const char *path, const void *buf, size_t n)
{
        if (archive_write_data(b->out, buf, n) != (la_ssize_t)n)
                return out_error(b, path);
        return 0;
}

static la_ssize_t sink_write(struct archive *a, void *opaque, const void *buf, size_t len)
{
        struct sink *s = opaque;

        if (s->failed) {
                archive_set_error(a, ECANCELED, "cancelled");
                return -1;
        }
        if (EVP_DigestUpdate(s->md, buf, len) != 1) {
                archive_set_error(a, EIO, "hashing failed");
                return -1;
        }
        for (size_t off = 0; s->fd >= 0 && off < len;) {
                ssize_t n = write(s->fd, (const char *)buf + off, len - off);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        archive_set_error(a, errno, "%s", strerror(errno));
                        return -1;
                }
                off += (size_t)n;
        }
        s->size += len;
        return (la_ssize_t)len;
}

/* Level 3: files over 4 GiB as multi-extent files. Rock Ridge "strict":
 * names, modes and mtimes exactly as iso_put_header() set them. No Joliet (a
 * second, UTF-16 name tree that Linux does not need), no relocation of
 * directories deeper than 8 levels (Linux reads them in place), no 300 KiB
 * of CD padding. */
static const char *const iso_options[] = {
        "iso9660:iso-level=3", "iso9660:rockridge=strict", "iso9660:!joliet",
        "iso9660:!limit-depth", "iso9660:!pad", "iso9660:volume-id=MLVM_DATA",
};

/* Build the image from a directory (DIRFD, taken) or a tar reader (IN). */
static int build(const char *what, int dir_fd, struct archive *in, int out_fd, const struct disk_iso_limits *lim,
                 char ret_sha256[SHA256_HEX_LEN + 1], uint64_t *ret_size, struct mlvm_err *e)
{
        struct sink s = { .fd = out_fd, .md = EVP_MD_CTX_new() };
        struct builder b = { .what = what, .lim = lim, .e = e, .out = archive_write_new(),
                             .entry = archive_entry_new(), .buf = xmalloc(ISO_COPY_BUF_SIZE) };
        char s1[SHOWN_MAX];
        int r = 0;

        if (!s.md || EVP_DigestInit_ex(s.md, EVP_sha256(), NULL) != 1 || !b.out || !b.entry) {
                r = err_setx(e, -ENOMEM, "data disk %s: cannot set up the image writer", shown(what, s1));
                if (dir_fd >= 0)
                        (void)close(dir_fd);
                goto out;
        }
        bool ok = archive_write_set_format_iso9660(b.out) == ARCHIVE_OK &&
                  archive_write_set_bytes_in_last_block(b.out, 1) == ARCHIVE_OK;
        for (size_t i = 0; ok && i < ARRAY_SIZE(iso_options); i++)
                ok = archive_write_set_options(b.out, iso_options[i]) == ARCHIVE_OK;
        if (!ok || archive_write_open(b.out, &s, NULL, sink_write, NULL) != ARCHIVE_OK) {
                r = out_error(&b, ".");
                if (dir_fd >= 0)
                        (void)close(dir_fd);
                goto out;
        }
        r = in ? iso_from_tar(&b, in) : iso_walk(&b, dir_fd, "");
        if (r == 0 && archive_write_close(b.out) != ARCHIVE_OK)
                r = out_error(&b, ".");
        if (r == 0) {
                unsigned char md[EVP_MAX_MD_SIZE];
                unsigned int mdlen = 0;
                if (EVP_DigestFinal_ex(s.md, md, &mdlen) != 1 || mdlen != 32) {
                        r = err_setx(e, -EIO, "data disk %s: hashing failed", shown(what, s1));
                        goto out;
                }
                for (unsigned i = 0; i < 32; i++)
                        (void)snprintf(ret_sha256 + 2 * i, 3, "%02x", md[i]);
                if (ret_size)
                        *ret_size = s.size;
        }
out:
        /* After a failure, a plain close would first pad a member cut short
         * with zeros, as long as its header said (up to the byte cap):
         * archive_write_fail() skips that. Close is still called because
         * libarchive 3.6 frees its output buffer only there; the sink refuses
         * whatever the ISO writer still tries to write. */
        if (b.out && r < 0) {
                s.failed = true;
                (void)archive_write_fail(b.out);
                (void)archive_write_close(b.out);
        }
        if (b.out)
                (void)archive_write_free(b.out);
        archive_entry_free(b.entry);
        tdestroy(b.seen, iso_node_free);
        free(b.buf);
        EVP_MD_CTX_free(s.md);
        return r;
}

static struct archive *tar_reader(void)
{
        struct archive *in = archive_read_new();
        if (!in)
                return NULL;
        /* tar (ustar, pax, GNU) only; compressed with gzip, xz or zstd, or not at all. */
        if (archive_read_support_format_tar(in) != ARCHIVE_OK || archive_read_support_filter_gzip(in) != ARCHIVE_OK ||
            archive_read_support_filter_xz(in) != ARCHIVE_OK || archive_read_support_filter_zstd(in) != ARCHIVE_OK) {
                (void)archive_read_free(in);
                return NULL;
        }
        return in;
}

/* Member names are UTF-8 in pax headers, and libarchive converts them to
 * the locale's charset: in the C locale (mlvm never calls setlocale) every
 * non-ASCII name would fail. Read and write under C.UTF-8, in this thread only
 * and before any archive object exists (each caches the charset it saw). */
struct utf8_scope {
        locale_t l, old;
};

static void utf8_begin(struct utf8_scope *u)
{
        u->l = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
        u->old = u->l ? uselocale(u->l) : (locale_t)0;
        if (u->l && !u->old) {
                freelocale(u->l);
                u->l = (locale_t)0;
        }
}

static void utf8_end(struct utf8_scope *u)
{
        if (u->l) {
                (void)uselocale(u->old);
                freelocale(u->l);
        }
}

static int iso_write(const char *source, int out_fd, const struct disk_iso_limits *lim,
                     char ret_sha256[SHA256_HEX_LEN + 1], uint64_t *ret_size, struct mlvm_err *e)
{
        char s1[SHOWN_MAX];
        struct stat st;
        int r;

        /* The source itself may be a symlink (the user named it); nothing below it is followed. */
        int fd = open(source, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return err_set(e, -errno, "data disk %s", shown(source, s1));
        if (fstat(fd, &st) < 0) {
                r = err_set(e, -errno, "data disk %s", shown(source, s1));
                (void)close(fd);
                return r;
        }
        if (S_ISDIR(st.st_mode))
                return build(source, fd, NULL, out_fd, lim, ret_sha256, ret_size, e);
        _cleanup_close_ int tarfd = fd;
        if (!S_ISREG(st.st_mode))
                return err_setx(e, -EINVAL, "data disk %s: neither a directory nor a tar archive", shown(source, s1));
        struct archive *in = tar_reader();
        if (!in)
                return err_setx(e, -ENOMEM, "data disk %s: cannot set up the tar reader", shown(source, s1));
        if (archive_read_open_fd(in, tarfd, 64 * 1024) != ARCHIVE_OK) {
                struct builder b = { .what = source, .e = e };
                r = iso_in_error(&b, in);
        } else
                r = build(source, -1, in, out_fd, lim, ret_sha256, ret_size, e);
        (void)archive_read_free(in);
        return r;
}

static int iso_write_tar_memory(const void *buf, size_t len, const char *what, int out_fd,
                                const struct disk_iso_limits *lim, char ret_sha256[SHA256_HEX_LEN + 1],
                                uint64_t *ret_size, struct mlvm_err *e)
{
        struct archive *in = tar_reader();
        char s1[SHOWN_MAX];
        int r;

        if (!in)
                return err_setx(e, -ENOMEM, "data disk %s: cannot set up the tar reader", shown(what, s1));
        if (archive_read_open_memory(in, buf, len) != ARCHIVE_OK) {
                struct builder b = { .what = what, .e = e };
                r = iso_in_error(&b, in);
        } else
                r = build(what, -1, in, out_fd, lim, ret_sha256, ret_size, e);
        (void)archive_read_free(in);
        return r;
}

int disk_iso_write(const char *source, int out_fd, const struct disk_iso_limits *lim,
                   char ret_sha256[SHA256_HEX_LEN + 1], uint64_t *ret_size, struct mlvm_err *e)
{
        struct utf8_scope u;
        utf8_begin(&u);
        int r = iso_write(source, out_fd, lim, ret_sha256, ret_size, e);
        utf8_end(&u);
        return r;
}

int disk_iso_write_tar_memory(const void *buf, size_t len, const char *what, int out_fd,
                              const struct disk_iso_limits *lim, char ret_sha256[SHA256_HEX_LEN + 1],
                              uint64_t *ret_size, struct mlvm_err *e)
{
        struct utf8_scope u;
        utf8_begin(&u);
        int r = iso_write_tar_memory(buf, len, what, out_fd, lim, ret_sha256, ret_size, e);
        utf8_end(&u);
        return r;
}

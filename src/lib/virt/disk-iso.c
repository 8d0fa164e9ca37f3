/* disk-iso.c: data disks as ISO 9660 images written with libarchive; see
 * disk-iso.h.
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
 * and the guest needs isofs.ko, which images/minimal loads.
 *
 * Trust: the source, a directory or (worse) a tarball, is user input. Only
 * regular files and directories are taken; symlinks are never followed below
 * the source; member names that could leave the root are refused; entries
 * (in all and per directory), bytes, path length and depth are capped before
 * anything is spooled. */
#include "mlvm-build.h"

#include <dirent.h>
#include <fcntl.h>
#include <locale.h>
#include <search.h>
#include <sys/stat.h>
#include <archive.h>
#include <archive_entry.h>
#include <openssl/evp.h>

#include "disk-iso.h"
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
#define COPY_BUF_SIZE (256 * 1024)
#define MTIME_MAX 4102444800LL        /* 2100-01-01: ISO 9660 dates stop at 2155 */

enum kind { KIND_IMPLICIT_DIR = 1, KIND_DIR, KIND_FILE };

/* A path seen in a tarball (duplicates, members below a regular file,
 * entries per directory). A search tree, not a hash table: member names are
 * chosen by whoever made the tarball, and a tree has no bad case to aim at. */
struct node {
        const char *path;      /* not NUL-terminated in lookup keys */
        size_t len;
        enum kind kind;
        uint64_t children;     /* directories: entries directly below */
};

struct sink {
        int fd;                /* -1: hash only */
        EVP_MD_CTX *md;
        uint64_t size;
        bool failed;           /* refuse every write: the image is not wanted */
};

struct builder {
        const char *what;      /* the source, for messages */
        const struct disk_iso_limits *lim;
        struct archive *out;
        struct archive_entry *entry;
        void *seen;            /* tsearch() tree of struct node */
        uint64_t entries, bytes, root_children;
        char *buf;
        struct mlvm_err *e;
};

/* Names come from user input: show them on one line, bounded. */
static int refuse(struct builder *b, int code, const char *path, const char *why)
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

static int node_cmp(const void *a, const void *b)
{
        const struct node *x = a, *y = b;
        int c = memcmp(x->path, y->path, x->len < y->len ? x->len : y->len);
        return c ? c : (x->len > y->len) - (x->len < y->len);
}

static struct node *seen_find(struct builder *b, const char *path, size_t n)
{
        struct node key = { .path = path, .len = n };
        struct node **found = tfind(&key, &b->seen, node_cmp);
        return found ? *found : NULL;
}

static void seen_add(struct builder *b, const char *path, size_t n, enum kind kind)
{
        struct node *nd = xmalloc(sizeof(*nd));
        *nd = (struct node){ .path = xstrndup(path, n), .len = n, .kind = kind };
        if (!tsearch(nd, &b->seen, node_cmp))
                abort(); /* out of memory, as xmalloc() */
}

static void node_free(void *p)
{
        struct node *nd = p;
        free((char *)nd->path);
        free(nd);
}

static int count_entry(struct builder *b)
{
        char s1[SHOWN_MAX];
        if (b->entries >= b->lim->max_entries)
                return err_setx(b->e, -E2BIG, "data disk %s: more than %llu files and directories",
                                shown(b->what, s1), (unsigned long long)b->lim->max_entries);
        b->entries++;
        return 0;
}

static int count_bytes(struct builder *b, const char *path, uint64_t size)
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
                return refuse(b, -EINVAL, path, "empty path component");
        if ((n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
                return refuse(b, -EINVAL, path, "'.' or '..' in a path (it could leave the disk's root)");
        if (n > NAME_MAX_BYTES)
                return refuse(b, -ENAMETOOLONG, path, "name longer than 255 bytes");
        for (size_t i = 0; i < n; i++)
                if ((unsigned char)c[i] < 0x20 || c[i] == 0x7f)
                        return refuse(b, -EINVAL, path, "control character in a name");
        return 0;
}

/* A relative path "a/b/c": every component, the total length and depth. */
static int check_path(struct builder *b, const char *path)
{
        unsigned depth = 0;
        int r;

        if (path[0] == '/')
                return refuse(b, -EINVAL, path, "absolute path (it could leave the disk's root)");
        if (strlen(path) > b->lim->max_path) {
                char why[64];
                (void)snprintf(why, sizeof(why), "path longer than %zu bytes", b->lim->max_path);
                return refuse(b, -ENAMETOOLONG, path, why);
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
                return refuse(b, -ELOOP, path, why);
        }
        return 0;
}

static const char *type_name(mode_t type)
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

static int refuse_type(struct builder *b, const char *path, const char *type)
{
        char why[128];
        (void)snprintf(why, sizeof(why), "%s: only regular files and directories go on a data disk", type);
        return refuse(b, -EINVAL, path, why);
}

static int refuse_dir_full(struct builder *b, const char *dir)
{
        char why[80];
        (void)snprintf(why, sizeof(why), "more than %llu entries in one directory",
                       (unsigned long long)b->lim->max_dir_entries);
        return refuse(b, -E2BIG, *dir ? dir : ".", why);
}

/* The guest's workload runs as an unprivileged uid that means nothing on the
 * host, and the disk is read-only: everything is root's and world-readable,
 * and only the execute bit survives from the source's mode. */
static int put_header(struct builder *b, const char *path, bool dir, mode_t mode, uint64_t size, int64_t mtime)
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

static int put_bytes(struct builder *b, const char *path, const void *buf, size_t n)
{
        if (archive_write_data(b->out, buf, n) != (la_ssize_t)n)
                return out_error(b, path);
        return 0;
}

static int copy_fd(struct builder *b, const char *path, int fd, uint64_t size)
{
        for (uint64_t left = size; left > 0;) {
                ssize_t n = read(fd, b->buf, left < COPY_BUF_SIZE ? (size_t)left : COPY_BUF_SIZE);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        char s1[SHOWN_MAX], s2[SHOWN_MAX];
                        return err_set(b->e, -errno, "data disk %s: %s", shown(b->what, s1), shown(path, s2));
                }
                if (n == 0)
                        return refuse(b, -EIO, path, "the file shrank while it was read");
                int r = put_bytes(b, path, b->buf, (size_t)n);
                if (r < 0)
                        return r;
                left -= (uint64_t)n;
        }
        return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void free_names(char **v, size_t n)
{
        for (size_t i = 0; i < n; i++)
                free(v[i]);
        free(v);
}

static int walk(struct builder *b, int fd, const char *rel);

static int walk_one(struct builder *b, int dfd, const char *rel, const char *name)
{
        _cleanup_free_ char *path = *rel ? xasprintf("%s/%s", rel, name) : xstrdup(name);
        char s1[SHOWN_MAX], s2[SHOWN_MAX];
        struct stat st;
        int r;

        if ((r = check_path(b, path)) < 0)
                return r;
        if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return err_set(b->e, -errno, "data disk %s: %s", shown(b->what, s1), shown(path, s2));
        if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
                return refuse_type(b, path, type_name(st.st_mode));
        /* O_NOFOLLOW, then fstat of what was opened: a name swapped for a
         * symlink or a FIFO after the fstatat above is refused, not followed. */
        int flags = O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | (S_ISDIR(st.st_mode) ? O_DIRECTORY : 0);
        _cleanup_close_ int fd = openat(dfd, name, flags);
        if (fd < 0 || fstat(fd, &st) < 0)
                return errno == ELOOP ? refuse_type(b, path, "symbolic link")
                                      : err_set(b->e, -errno, "data disk %s: %s", shown(b->what, s1), shown(path, s2));
        if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
                return refuse_type(b, path, type_name(st.st_mode));
        if ((r = count_entry(b)) < 0)
                return r;
        if (S_ISDIR(st.st_mode)) {
                if ((r = put_header(b, path, true, st.st_mode, 0, st.st_mtim.tv_sec)) < 0)
                        return r;
                return walk(b, TAKE_FD(fd), path);
        }
        if ((r = count_bytes(b, path, (uint64_t)st.st_size)) < 0 ||
            (r = put_header(b, path, false, st.st_mode, (uint64_t)st.st_size, st.st_mtim.tv_sec)) < 0)
                return r;
        return copy_fd(b, path, fd, (uint64_t)st.st_size);
}

/* Walk the directory open at FD (taken), below REL. Names are sorted so that
 * errors and caps hit the same entry on every run. */
static int walk(struct builder *b, int fd, const char *rel)
{
        char s1[SHOWN_MAX], s2[SHOWN_MAX];
        DIR *d = fdopendir(fd);
        struct dirent *de;
        char **names = NULL;
        size_t n = 0;
        int r = 0;

        if (!d) {
                r = err_set(b->e, -errno, "data disk %s: %s", shown(b->what, s1), shown(*rel ? rel : ".", s2));
                (void)close(fd);
                return r;
        }
        while ((errno = 0, de = readdir(d))) {
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                /* Cap before collecting: a directory of millions of names fails here. */
                if (n >= b->lim->max_dir_entries) {
                        r = refuse_dir_full(b, rel);
                        goto out;
                }
                if (b->entries + n >= b->lim->max_entries) {
                        b->entries += n;
                        r = count_entry(b);
                        goto out;
                }
                names = xreallocarray(names, n + 1, sizeof(*names));
                names[n++] = xstrdup(de->d_name);
        }
        if (errno) {
                r = err_set(b->e, -errno, "data disk %s: %s", shown(b->what, s1), shown(*rel ? rel : ".", s2));
                goto out;
        }
        if (n)
                qsort(names, n, sizeof(*names), cmp_str);
        for (size_t i = 0; i < n && r == 0; i++)
                r = walk_one(b, dirfd(d), rel, names[i]);
out:
        free_names(names, n);
        closedir(d);
        return r;
}

/* A member name as "a/b/c", or "" for the archive's root ("./"). */
static char *member_path(const char *raw)
{
        while (raw[0] == '.' && raw[1] == '/')
                raw += 2;
        if (streq(raw, "."))
                raw = "";
        size_t n = strlen(raw);
        while (n > 1 && raw[n - 1] == '/')
                n--;
        return xstrndup(raw, n);
}

/* Record PATH[0..N) below its parent, which is already recorded. */
static int add_node(struct builder *b, const char *path, size_t n, enum kind kind)
{
        uint64_t *children = &b->root_children;
        size_t plen = n;
        int r;

        while (plen > 0 && path[plen - 1] != '/')
                plen--;
        if (plen > 0) {
                struct node *parent = seen_find(b, path, plen - 1);
                if (!parent || parent->kind == KIND_FILE) /* note_member() made sure */
                        return refuse(b, -EINVAL, path, "parent is not a directory");
                children = &parent->children;
        }
        if (*children >= b->lim->max_dir_entries) {
                _cleanup_free_ char *dir = xstrndup(path, plen ? plen - 1 : 0);
                return refuse_dir_full(b, dir);
        }
        if ((r = count_entry(b)) < 0)
                return r;
        (*children)++;
        seen_add(b, path, n, kind);
        return 0;
}

/* Tarballs may list a path twice, or put a member below a regular file, or
 * name a directory only after its contents (implicit parents count as entries). */
static int note_member(struct builder *b, const char *path, bool dir)
{
        struct node *nd;
        int r;

        for (const char *s = strchr(path, '/'); s; s = strchr(s + 1, '/')) {
                size_t n = (size_t)(s - path);
                nd = seen_find(b, path, n);
                if (nd && nd->kind == KIND_FILE)
                        return refuse(b, -EINVAL, path, "below a member that is a regular file");
                if (!nd && (r = add_node(b, path, n, KIND_IMPLICIT_DIR)) < 0)
                        return r;
        }
        if ((nd = seen_find(b, path, strlen(path)))) {
                if (nd->kind == KIND_IMPLICIT_DIR && dir) {
                        nd->kind = KIND_DIR;
                        return 0;
                }
                return refuse(b, -EEXIST, path, "listed twice in the archive");
        }
        return add_node(b, path, strlen(path), dir ? KIND_DIR : KIND_FILE);
}

static int in_error(struct builder *b, struct archive *in)
{
        char s1[SHOWN_MAX], s2[SHOWN_MAX];
        const char *why = archive_error_string(in);
        return err_setx(b->e, -EINVAL, "data disk %s: not a readable tar archive: %s", shown(b->what, s1),
                        shown(why ? why : "unknown error", s2));
}

static int copy_member(struct builder *b, struct archive *in, const char *path, uint64_t size)
{
        uint64_t got = 0;
        for (;;) {
                la_ssize_t n = archive_read_data(in, b->buf, COPY_BUF_SIZE);
                if (n < 0)
                        return in_error(b, in);
                if (n == 0)
                        break;
                if ((uint64_t)n > size - got)
                        return refuse(b, -EINVAL, path, "member longer than its header says");
                int r = put_bytes(b, path, b->buf, (size_t)n);
                if (r < 0)
                        return r;
                got += (uint64_t)n;
        }
        return got == size ? 0 : refuse(b, -EINVAL, path, "member truncated");
}

static int from_tar(struct builder *b, struct archive *in)
{
        struct archive_entry *ent;
        int r;

        for (;;) {
                r = archive_read_next_header(in, &ent);
                if (r == ARCHIVE_EOF)
                        return 0;
                if (r != ARCHIVE_OK) /* ARCHIVE_WARN too: fail closed on what libarchive doubts */
                        return in_error(b, in);
                const char *raw = archive_entry_pathname(ent);
                if (!raw)
                        return refuse(b, -EINVAL, "?", "member name cannot be read");
                _cleanup_free_ char *path = member_path(raw);
                const char *named = *path ? path : raw;
                mode_t type = archive_entry_filetype(ent);
                if (archive_entry_hardlink(ent))
                        return refuse_type(b, named, "hard link");
                if (type == AE_IFLNK || archive_entry_symlink(ent))
                        return refuse_type(b, named, "symbolic link");
                if (type != AE_IFREG && type != AE_IFDIR)
                        return refuse_type(b, named, type_name(type));
                if (!*path) {
                        if (type == AE_IFDIR)
                                continue; /* "./": the root itself */
                        return refuse(b, -EINVAL, raw, "empty member name");
                }
                if ((r = check_path(b, path)) < 0 || (r = note_member(b, path, type == AE_IFDIR)) < 0)
                        return r;
                int64_t mtime = archive_entry_mtime_is_set(ent) ? archive_entry_mtime(ent) : 0;
                if (type == AE_IFDIR) {
                        if ((r = put_header(b, path, true, archive_entry_perm(ent), 0, mtime)) < 0)
                                return r;
                        continue;
                }
                la_int64_t size = archive_entry_size_is_set(ent) ? archive_entry_size(ent) : 0;
                if (size < 0)
                        return refuse(b, -EINVAL, path, "negative size");
                if ((r = count_bytes(b, path, (uint64_t)size)) < 0 ||
                    (r = put_header(b, path, false, archive_entry_perm(ent), (uint64_t)size, mtime)) < 0 ||
                    (r = copy_member(b, in, path, (uint64_t)size)) < 0)
                        return r;
        }
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
 * names, modes and mtimes exactly as put_header() set them. No Joliet (a
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
                             .entry = archive_entry_new(), .buf = xmalloc(COPY_BUF_SIZE) };
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
        r = in ? from_tar(&b, in) : walk(&b, dir_fd, "");
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
        tdestroy(b.seen, node_free);
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
                r = in_error(&b, in);
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
                r = in_error(&b, in);
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

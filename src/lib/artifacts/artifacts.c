/* artifacts.c: the artifact tar stream from the guest, checked and
 * extracted under the rules of artifacts.h.
 *
 * Trust: every byte of the stream, and the report, come from a guest that
 * ran an arbitrary workload. libarchive parses the tar format only (no
 * filters, no other format); every byte it consumes passes through
 * src_read(), which hashes it, and which never asks the source for more
 * than the reported size, so a stream that runs on is not read past it.
 * No skip callback: skipped bytes are read, and so hashed, too. Entries are
 * judged before anything is written (type, path, declared size, report),
 * files are created with openat() below a directory this call made, and any
 * failure removes that directory with everything in it. */
#include "mlvm-build.h"

#include <fcntl.h>
#include <locale.h>
#include <search.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <archive.h>
#include <archive_entry.h>
#include <openssl/evp.h>

#include "artifact-path.h"
#include "artifacts.h"
#include "util.h"

const struct artifact_limits artifact_default_limits = {
        .max_entries = 10000,
        .max_file = 16ULL << 30,
        .max_total = 64ULL << 30,
};

#define SRC_BUF_SIZE (64 * 1024)
#define COPY_BUF_SIZE (256 * 1024)


static void hex32(const unsigned char *md, char hex[SHA256_HEX_LEN + 1])
{
        static const char digits[] = "0123456789abcdef";
        for (int i = 0; i < 32; i++) {
                hex[2 * i] = digits[md[i] >> 4];
                hex[2 * i + 1] = digits[md[i] & 15];
        }
        hex[SHA256_HEX_LEN] = '\0';
}

static int md_final(EVP_MD_CTX *md, char hex[SHA256_HEX_LEN + 1])
{
        unsigned char out[EVP_MAX_MD_SIZE];
        unsigned int n = 0;
        if (EVP_DigestFinal_ex(md, out, &n) != 1 || n != 32)
                return -EIO;
        hex32(out, hex);
        return 0;
}

/* The stream: at most WANT bytes from RD, every one hashed. */
struct source {
        artifact_read_fn rd;
        void *opaque;
        uint64_t want, got;
        EVP_MD_CTX *md;
        bool ended;             /* RD ended before WANT bytes */
        int err;                /* RD failed (negative errno), or hashing did */
        struct mlvm_err rd_err;
        char *buf;
};

static ssize_t pull(struct source *s)
{
        if (s->err || s->ended || s->got >= s->want)
                return s->err;
        uint64_t left = s->want - s->got;
        size_t len = left < SRC_BUF_SIZE ? (size_t)left : SRC_BUF_SIZE;
        ssize_t n = s->rd(s->opaque, s->buf, len, &s->rd_err);
        if (n < 0) {
                if (!s->rd_err.msg[0])
                        (void)err_set(&s->rd_err, (int)n, "read");
                return s->err = (int)n;
        }
        if (n == 0) {
                s->ended = true;
                return 0;
        }
        if ((size_t)n > len)
                return s->err = err_setx(&s->rd_err, -EIO, "the reader returned %zd bytes where %zu were asked for",
                                         n, len);
        if (EVP_DigestUpdate(s->md, s->buf, (size_t)n) != 1)
                return s->err = err_setx(&s->rd_err, -EIO, "hashing failed");
        s->got += (uint64_t)n;
        return n;
}

static la_ssize_t src_read(struct archive *a, void *opaque, const void **ret)
{
        struct source *s = opaque;
        ssize_t n = pull(s);
        *ret = s->buf;
        if (n < 0) {
                archive_set_error(a, EIO, "reading the stream failed");
                return ARCHIVE_FATAL;
        }
        return n;
}

/* One extraction. */
struct ctx {
        const struct artifact_report *rep;
        const struct artifact_limits *lim;
        const struct artifact **sorted; /* the report, by path */
        bool *matched;                  /* parallel to SORTED */
        void *seen;                     /* tsearch() tree of the paths of entries */
        uint64_t entries, total;
        int root;
        EVP_MD_CTX *md;                 /* one file's digest */
        char *buf;
        struct source src;
        struct mlvm_err *e;
};

static int refuse(struct ctx *c, const char *path, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int refuse(struct ctx *c, const char *path, const char *fmt, ...)
{
        char why[512], s[SHOWN_MAX];
        va_list ap;
        va_start(ap, fmt);
        (void)vsnprintf(why, sizeof(why), fmt, ap);
        va_end(ap);
        return err_setx(c->e, -EBADMSG, "artifact %s: %s", shown(path, s), why);
}

static int cmp_art(const void *a, const void *b)
{
        return strcmp((*(const struct artifact *const *)a)->path, (*(const struct artifact *const *)b)->path);
}

/* The report is from the guest too: the same rules, before anything is read. */
static int check_report(struct ctx *c)
{
        const struct artifact_report *rep = c->rep;
        uint64_t total = 0;

        if (!is_sha256_hex(rep->tar_sha256))
                return refuse(c, "report", "the stream's SHA-256 is not 64 lowercase hex digits");
        if (rep->n > c->lim->max_entries)
                return refuse(c, "report", "%zu files, more than the cap of %llu", rep->n,
                              (unsigned long long)c->lim->max_entries);
        c->sorted = xcalloc(rep->n ? rep->n : 1, sizeof(*c->sorted));
        c->matched = xcalloc(rep->n ? rep->n : 1, sizeof(*c->matched));
        for (size_t i = 0; i < rep->n; i++) {
                const struct artifact *a = &rep->files[i];
                if (!memchr(a->path, '\0', sizeof(a->path)))
                        return refuse(c, "report", "a path longer than 255 bytes");
                const char *why = artifact_path_problem(a->path);
                if (why)
                        return refuse(c, a->path, "%s (in the agent's report)", why);
                if (!memchr(a->sha256, '\0', sizeof(a->sha256)) || !is_sha256_hex(a->sha256))
                        return refuse(c, a->path, "the reported SHA-256 is not 64 lowercase hex digits");
                if (a->size > c->lim->max_file)
                        return refuse(c, a->path, "reported as %llu bytes, more than the cap of %llu per file",
                                      (unsigned long long)a->size, (unsigned long long)c->lim->max_file);
                if (a->size > c->lim->max_total - total)
                        return refuse(c, a->path, "the reported files add up to more than the cap of %llu bytes",
                                      (unsigned long long)c->lim->max_total);
                total += a->size;
                c->sorted[i] = a;
        }
        if (rep->n)
                qsort(c->sorted, rep->n, sizeof(*c->sorted), cmp_art);
        for (size_t i = 1; i < rep->n; i++)
                if (streq(c->sorted[i - 1]->path, c->sorted[i]->path))
                        return refuse(c, c->sorted[i]->path, "reported twice by the agent");
        return 0;
}

static ssize_t report_find(struct ctx *c, const char *path)
{
        struct artifact key;
        const struct artifact *k = &key;
        (void)snprintf(key.path, sizeof(key.path), "%s", path);
        const struct artifact **hit = c->rep->n ? bsearch(&k, c->sorted, c->rep->n, sizeof(*c->sorted), cmp_art) : NULL;
        return hit ? hit - c->sorted : -1;
}

static int stream_error(struct ctx *c, struct archive *a, const char *path)
{
        char s[SHOWN_MAX];
        if (c->src.err) {
                *c->e = c->src.rd_err;
                return err_prefix(c->e, "artifact stream");
        }
        if (c->src.ended)
                return refuse(c, "stream", "it ended after %llu bytes, but the agent reported %llu",
                              (unsigned long long)c->src.got, (unsigned long long)c->src.want);
        const char *why = archive_error_string(a);
        if (path && c->src.got == c->src.want)
                return refuse(c, path, "truncated: the stream ends inside it, after %llu bytes",
                              (unsigned long long)c->src.got);
        if (path)
                return refuse(c, path, "%s", shown(why ? why : "unreadable", s));
        return refuse(c, "stream", "not a valid tar stream after %llu bytes: %s", (unsigned long long)c->src.got,
                      shown(why ? why : "unknown error", s));
}

static const char *type_name(mode_t type)
{
        switch (type) {
        case AE_IFLNK: return "a symbolic link";
        case AE_IFCHR: return "a character device";
        case AE_IFBLK: return "a block device";
        case AE_IFIFO: return "a FIFO";
        case AE_IFSOCK: return "a socket";
        default: return "an unknown file type";
        }
}

static int open_parent(struct ctx *c, const char *path)
{
        size_t bad = 0;
        int fd = artifact_open_parent(c->root, path, true, &bad);
        if (fd == -ENOTDIR || fd == -ELOOP || fd == -EEXIST)
                return refuse(c, path, "%.*s is not a directory", (int)bad, path);
        if (fd < 0) {
                char s[SHOWN_MAX];
                return err_set(c->e, fd, "artifact %s: create its directory", shown(path, s));
        }
        return fd;
}

static const char *base_name(const char *path)
{
        const char *slash = strrchr(path, '/');
        return slash ? slash + 1 : path;
}

static int make_dir(struct ctx *c, const char *path)
{
        _cleanup_close_ int pfd = open_parent(c, path);
        struct stat st;

        if (pfd < 0)
                return pfd;
        if (mkdirat(pfd, base_name(path), 0755) == 0)
                return 0;
        /* Made already as the parent of an earlier entry. */
        if (errno == EEXIST && fstatat(pfd, base_name(path), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode))
                return 0;
        if (errno == EEXIST)
                return refuse(c, path, "a regular file of that name came earlier");
        char s[SHOWN_MAX];
        return err_set(c->e, -errno, "artifact %s: mkdir", shown(path, s));
}

static int extract_file(struct ctx *c, struct archive *a, const char *path, uint64_t size, size_t idx)
{
        const struct artifact *want = c->sorted[idx];
        char s[SHOWN_MAX], hex[SHA256_HEX_LEN + 1];
        _cleanup_close_ int pfd = open_parent(c, path);
        _cleanup_close_ int fd = -1;
        uint64_t got = 0;
        int r;

        if (pfd < 0)
                return pfd;
        fd = openat(pfd, base_name(path), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd < 0 && errno == EEXIST)
                return refuse(c, path, "a directory of that name came earlier");
        if (fd < 0)
                return err_set(c->e, -errno, "artifact %s: create", shown(path, s));
        if (EVP_DigestInit_ex(c->md, EVP_sha256(), NULL) != 1)
                return err_setx(c->e, -EIO, "artifact %s: hashing failed", shown(path, s));
        for (;;) {
                la_ssize_t n = archive_read_data(a, c->buf, COPY_BUF_SIZE);
                if (n < 0)
                        return stream_error(c, a, path);
                if (n == 0)
                        break;
                if ((uint64_t)n > size - got || (uint64_t)n > c->lim->max_file - got)
                        return refuse(c, path, "longer than its header says");
                if (EVP_DigestUpdate(c->md, c->buf, (size_t)n) != 1)
                        return err_setx(c->e, -EIO, "artifact %s: hashing failed", shown(path, s));
                if ((r = write_full(fd, c->buf, (size_t)n)) < 0)
                        return err_set(c->e, r, "artifact %s: write", shown(path, s));
                got += (uint64_t)n;
        }
        if (got != size)
                return refuse(c, path, "truncated: %llu of %llu bytes", (unsigned long long)got,
                              (unsigned long long)size);
        if (md_final(c->md, hex) < 0)
                return err_setx(c->e, -EIO, "artifact %s: hashing failed", shown(path, s));
        if (!streq(hex, want->sha256))
                return refuse(c, path, "SHA-256 %s but the agent reported %s", hex, want->sha256);
        c->matched[idx] = true;
        return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(a, b); }

/* A tree, not a hash table: the names are the guest's, and a tree has no bad case to aim at. */
static int note_path(struct ctx *c, const char *path)
{
        char *dup = xstrdup(path);
        char **found = tsearch(dup, &c->seen, cmp_str);
        if (!found)
                abort(); /* out of memory, as xmalloc() */
        if (*found != dup) {
                free(dup);
                return refuse(c, path, "listed twice in the stream");
        }
        return 0;
}

static int one_entry(struct ctx *c, struct archive *a, struct archive_entry *ent)
{
        char where[32];
        int r;

        (void)snprintf(where, sizeof(where), "entry %llu", (unsigned long long)c->entries + 1);
        if (c->entries >= c->lim->max_entries)
                return refuse(c, "stream", "more than %llu entries, the cap", (unsigned long long)c->lim->max_entries);
        c->entries++;
        const char *raw = archive_entry_pathname(ent);
        if (!raw || !*raw)
                return refuse(c, where, "its name is empty or cannot be read");
        mode_t type = archive_entry_filetype(ent);
        if (archive_entry_hardlink(ent))
                return refuse(c, raw, "a hard link (only regular files and directories are allowed)");
        if (type == AE_IFLNK || archive_entry_symlink(ent))
                return refuse(c, raw, "a symbolic link (only regular files and directories are allowed)");
        if (type != AE_IFREG && type != AE_IFDIR)
                return refuse(c, raw, "%s (only regular files and directories are allowed)", type_name(type));
        if (archive_entry_sparse_count(ent) != 0)
                return refuse(c, raw, "a sparse file (only plain regular files are allowed)");

        size_t n = strlen(raw);
        if (raw[n - 1] == '/' && type != AE_IFDIR)
                return refuse(c, raw, "a trailing '/' on a regular file");
        if (raw[n - 1] == '/' && n > 1)
                n--;
        _cleanup_free_ char *path = xstrndup(raw, n);
        const char *why = artifact_path_problem(path);
        if (why)
                return refuse(c, raw, "%s", why);
        if ((r = note_path(c, path)) < 0)
                return r;
        if (type == AE_IFDIR)
                return make_dir(c, path);

        la_int64_t size = archive_entry_size_is_set(ent) ? archive_entry_size(ent) : 0;
        if (size < 0)
                return refuse(c, path, "a negative size");
        if ((uint64_t)size > c->lim->max_file)
                return refuse(c, path, "%lld bytes, more than the cap of %llu per file", (long long)size,
                              (unsigned long long)c->lim->max_file);
        if ((uint64_t)size > c->lim->max_total - c->total)
                return refuse(c, path, "the files add up to more than the cap of %llu bytes",
                              (unsigned long long)c->lim->max_total);
        c->total += (uint64_t)size;
        ssize_t idx = report_find(c, path);
        if (idx < 0)
                return refuse(c, path, "a regular file the agent did not report");
        if ((uint64_t)size != c->sorted[idx]->size)
                return refuse(c, path, "%lld bytes but the agent reported %llu", (long long)size,
                              (unsigned long long)c->sorted[idx]->size);
        return extract_file(c, a, path, (uint64_t)size, (size_t)idx);
}

static int read_stream(struct ctx *c, struct archive *a)
{
        struct archive_entry *ent;
        char hex[SHA256_HEX_LEN + 1];
        int r;

        if (archive_read_support_format_tar(a) != ARCHIVE_OK ||
            archive_read_open(a, &c->src, NULL, src_read, NULL) != ARCHIVE_OK)
                return stream_error(c, a, NULL);
        for (;;) {
                r = archive_read_next_header(a, &ent);
                if (r == ARCHIVE_EOF)
                        break;
                if (r != ARCHIVE_OK) /* ARCHIVE_WARN too: fail closed on what libarchive doubts */
                        return stream_error(c, a, NULL);
                if ((r = one_entry(c, a, ent)) < 0)
                        return r;
        }
        /* libarchive may have stopped at the end-of-archive blocks or read
         * some way past them: the rest, up to the reported size, is hashed. */
        while (pull(&c->src) > 0)
                ;
        if (c->src.err || c->src.ended)
                return stream_error(c, a, NULL);
        for (size_t i = 0; i < c->rep->n; i++)
                if (!c->matched[i])
                        return refuse(c, c->sorted[i]->path, "reported by the agent but not in the stream");
        if (md_final(c->src.md, hex) < 0)
                return err_setx(c->e, -EIO, "artifact stream: hashing failed");
        if (!streq(hex, c->rep->tar_sha256))
                return refuse(c, "stream", "SHA-256 %s but the agent reported %s", hex, c->rep->tar_sha256);
        return 0;
}

/* Pax names are UTF-8, which libarchive converts to the locale's charset:
 * in the C locale (mlvm never calls setlocale) any non-ASCII name would
 * fail. Parse under C.UTF-8, in this thread only (as disk-iso.c does). */
static locale_t utf8_begin(locale_t *old)
{
        locale_t l = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
        *old = l ? uselocale(l) : (locale_t)0;
        if (l && !*old) {
                freelocale(l);
                return (locale_t)0;
        }
        return l;
}

static void utf8_end(locale_t l, locale_t old)
{
        if (l) {
                (void)uselocale(old);
                freelocale(l);
        }
}

int artifacts_extract(artifact_read_fn rd, void *opaque, const struct artifact_report *rep,
                      const struct artifact_limits *lim, const char *dest_dir, struct mlvm_err *e)
{
        struct ctx c = {
                .rep = rep, .lim = lim, .root = -1, .e = e,
                .src = { .rd = rd, .opaque = opaque, .want = rep->tar_size },
        };
        char s[SHOWN_MAX];
        struct archive *a = NULL;
        locale_t old, l;
        int r;

        if ((r = check_report(&c)) < 0)
                goto out;
        if (mkdir(dest_dir, 0700) < 0) {
                r = err_set(e, -errno, "artifact directory %s", shown(dest_dir, s));
                goto out;
        }
        c.root = open(dest_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (c.root < 0) {
                r = err_set(e, -errno, "artifact directory %s", shown(dest_dir, s));
                (void)rmdir(dest_dir);
                goto out;
        }
        c.md = EVP_MD_CTX_new();
        c.src.md = EVP_MD_CTX_new();
        c.src.buf = xmalloc(SRC_BUF_SIZE);
        c.buf = xmalloc(COPY_BUF_SIZE);
        a = archive_read_new();
        if (!a || !c.md || !c.src.md || EVP_DigestInit_ex(c.src.md, EVP_sha256(), NULL) != 1)
                r = err_setx(e, -ENOMEM, "artifact stream: cannot set up the reader");
        else {
                l = utf8_begin(&old);
                r = read_stream(&c, a);
                utf8_end(l, old);
        }
        if (r < 0) {
                (void)artifact_remove_tree(c.root);
                (void)rmdir(dest_dir);
        }
out:
        if (a)
                (void)archive_read_free(a);
        if (c.root >= 0)
                (void)close(c.root);
        tdestroy(c.seen, free);
        free(c.sorted);
        free(c.matched);
        free(c.buf);
        free(c.src.buf);
        EVP_MD_CTX_free(c.md);
        EVP_MD_CTX_free(c.src.md);
        return r;
}

/* ---- from a libvirt volume ------------------------------------------- */

static void virStreamFreep(virStreamPtr *s) { if (*s) (void)virStreamFree(*s); }

struct vol_reader {
        virStreamPtr st;
        bool failed;
};

/* A blocking stream: virStreamRecv returns what it has; fill LEN or stop at its end. */
static ssize_t vol_read(void *opaque, void *buf, size_t len, struct mlvm_err *e)
{
        struct vol_reader *v = opaque;
        size_t got = 0;

        while (got < len) {
                size_t want = len - got < COPY_BUF_SIZE ? len - got : COPY_BUF_SIZE;
                int n = virStreamRecv(v->st, (char *)buf + got, want);
                if (n < 0) {
                        v->failed = true;
                        return err_virt(e, "read the artifact volume");
                }
                if (n == 0)
                        break;
                got += (size_t)n;
        }
        return (ssize_t)got;
}

static ssize_t no_bytes(void *opaque, void *buf, size_t len, struct mlvm_err *e) { return 0; }

int artifacts_collect(virStorageVolPtr vol, const struct artifact_report *rep, const struct artifact_limits *lim,
                      const char *dest_dir, struct mlvm_err *e)
{
        __attribute__((cleanup(virStreamFreep))) virStreamPtr st = NULL;
        virStorageVolInfo info;
        char one;
        int r;

        if (virStorageVolGetInfo(vol, &info) < 0)
                return err_virt(e, "artifact volume");
        if (rep->tar_size > info.capacity)
                return err_setx(e, -EBADMSG, "artifact stream: %llu bytes reported, more than the artifact volume's %llu",
                                (unsigned long long)rep->tar_size, (unsigned long long)info.capacity);
        /* A length of 0 would mean "to the end of the volume". */
        if (rep->tar_size == 0)
                return artifacts_extract(no_bytes, NULL, rep, lim, dest_dir, e);
        st = virStreamNew(virStorageVolGetConnect(vol), 0);
        if (!st || virStorageVolDownload(vol, st, 0, rep->tar_size, 0) < 0)
                return err_virt(e, "read the artifact volume");
        struct vol_reader v = { .st = st };
        r = artifacts_extract(vol_read, &v, rep, lim, dest_dir, e);
        /* Exactly tar_size bytes were read: the stream must be at its end now. */
        if (r == 0) {
                int n = virStreamRecv(st, &one, 1);
                if (n != 0 || virStreamFinish(st) < 0) {
                        r = n > 0 ? err_setx(e, -EIO, "read the artifact volume: more bytes than asked for")
                                  : err_virt(e, "read the artifact volume");
                        _cleanup_close_ int fd = open(dest_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (fd >= 0 && artifact_remove_tree(fd) == 0)
                                (void)rmdir(dest_dir);
                        (void)virStreamAbort(st);
                }
        } else
                (void)virStreamAbort(st);
        return r;
}

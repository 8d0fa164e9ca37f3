/* artifacts.c: the artifact tar stream from the guest, checked and
 * extracted under the rules of artifacts.h: the privileged side, which
 * reads the stream, writes the files and checks them.
 *
 * Trust: every byte of the stream, and the report, come from a guest that
 * ran an arbitrary workload, and the parser's records (artrec.h) from a
 * process that parsed them, as hostile as the guest. Every byte of the
 * stream passes through pull(), which hashes it, and which never asks
 * the source for more than the reported size, so a stream that runs on is
 * not read past it; the parser is never trusted to say where the stream
 * ends. Each record is judged again before anything is written (path,
 * duplicates, caps, report), each file is hashed here from the bytes
 * written, files are created with openat() below a directory this call
 * made, and any failure removes that directory with everything in it. */
#include "mlvm-build.h"

#include <fcntl.h>
#include <search.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <openssl/evp.h>

#include "artifact-path.h"
#include "artifacts-internal.h"
#include "util.h"

const struct artifact_limits artifact_default_limits = {
        .max_entries = 10000,
        .max_file = 16ULL << 30,
        .max_total = 64ULL << 30,
};

#define SRC_BUF_SIZE (64 * 1024)
#define COPY_BUF_SIZE (256 * 1024)   /* a libvirt read */


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

/* One extraction. */
struct ctx {
        const struct artifact_report *rep;
        const struct artifact_limits *lim;
        const struct artifact **sorted; /* the report, by path */
        bool *matched;                  /* parallel to SORTED */
        void *seen;                     /* tsearch() tree of the paths of entries */
        uint64_t entries, total;
        int root;
        EVP_MD_CTX *md;                 /* the open file's digest */
        int fd;                         /* the open file, or -1 */
        ssize_t idx;                    /* its place in SORTED */
        uint64_t left;                  /* its bytes still to come */
        char path[ARTIFACT_PATH_MAX + 1];
        bool ended;                     /* the parser sent END */
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

static int stream_error(struct ctx *c)
{
        if (c->src.err) {
                *c->e = c->src.rd_err;
                return err_prefix(c->e, "artifact stream");
        }
        return refuse(c, "stream", "it ended after %llu bytes, but the agent reported %llu",
                      (unsigned long long)c->src.got, (unsigned long long)c->src.want);
}

/* The pump's source: the stream's next bytes, hashed; its early end is an error. */
static ssize_t stream_pull(void *opaque, const void **ret_buf, struct mlvm_err *e)
{
        struct ctx *c = opaque;
        ssize_t n = pull(&c->src);
        if (n < 0 || (n == 0 && c->src.ended))
                return stream_error(c);
        *ret_buf = c->src.buf;
        return n;
}

static int note_path(struct ctx *c, const char *path)
{
        return artifact_seen_add(&c->seen, path) < 0 ? refuse(c, path, "listed twice in the stream") : 0;
}

/* Every entry: the cap on their number, and no path twice. */
static int note_entry(struct ctx *c, const char *path)
{
        if (c->entries >= c->lim->max_entries)
                return refuse(c, "stream", "more than %llu entries, the cap", (unsigned long long)c->lim->max_entries);
        c->entries++;
        return note_path(c, path);
}

static int close_file(struct ctx *c)
{
        char hex[SHA256_HEX_LEN + 1], s[SHOWN_MAX];
        const struct artifact *want = c->sorted[c->idx];
        int fd = TAKE_FD(c->fd);

        if (close(fd) < 0)
                return err_set(c->e, -errno, "artifact %s: write", shown(c->path, s));
        if (md_final(c->md, hex) < 0)
                return err_setx(c->e, -EIO, "artifact %s: hashing failed", shown(c->path, s));
        if (!streq(hex, want->sha256))
                return refuse(c, c->path, "SHA-256 %s but the agent reported %s", hex, want->sha256);
        c->matched[c->idx] = true;
        return 0;
}

static int open_file(struct ctx *c, const char *path, uint64_t size)
{
        char s[SHOWN_MAX];
        int r;

        if ((r = note_entry(c, path)) < 0)
                return r;
        if (size > c->lim->max_file)
                return refuse(c, path, "%llu bytes, more than the cap of %llu per file", (unsigned long long)size,
                              (unsigned long long)c->lim->max_file);
        if (size > c->lim->max_total - c->total)
                return refuse(c, path, "the files add up to more than the cap of %llu bytes",
                              (unsigned long long)c->lim->max_total);
        c->total += size;
        ssize_t idx = report_find(c, path);
        if (idx < 0)
                return refuse(c, path, "a regular file the agent did not report");
        if (size != c->sorted[idx]->size)
                return refuse(c, path, "%llu bytes but the agent reported %llu", (unsigned long long)size,
                              (unsigned long long)c->sorted[idx]->size);
        _cleanup_close_ int pfd = open_parent(c, path);
        if (pfd < 0)
                return pfd;
        c->fd = openat(pfd, base_name(path), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (c->fd < 0 && errno == EEXIST)
                return refuse(c, path, "a directory of that name came earlier");
        if (c->fd < 0)
                return err_set(c->e, -errno, "artifact %s: create", shown(path, s));
        if (EVP_DigestInit_ex(c->md, EVP_sha256(), NULL) != 1)
                return err_setx(c->e, -EIO, "artifact %s: hashing failed", shown(path, s));
        (void)snprintf(c->path, sizeof(c->path), "%s", path);
        c->idx = idx;
        c->left = size;
        return size == 0 ? close_file(c) : 0;
}

static int file_data(struct ctx *c, const uint8_t *data, size_t len)
{
        char s[SHOWN_MAX];
        int r;

        /* The decoder keeps DATA within the file's size and after its FILE. */
        if (c->fd < 0 || len > c->left)
                return err_setx(c->e, -EPROTO, "artifact parser: data outside a file");
        if (EVP_DigestUpdate(c->md, data, len) != 1)
                return err_setx(c->e, -EIO, "artifact %s: hashing failed", shown(c->path, s));
        if ((r = write_full(c->fd, data, len)) < 0)
                return err_set(c->e, r, "artifact %s: write", shown(c->path, s));
        c->left -= len;
        return c->left == 0 ? close_file(c) : 0;
}

/* One record from the parser, already checked by the decoder (artrec.h). */
static int on_record(const struct artrec *rec, void *opaque)
{
        struct ctx *c = opaque;
        int r;

        switch (rec->kind) {
        case ARTREC_DIR:
                if ((r = note_entry(c, rec->path)) < 0)
                        return r;
                return make_dir(c, rec->path);
        case ARTREC_FILE:
                return open_file(c, rec->path, rec->size);
        case ARTREC_DATA:
                return file_data(c, rec->data, rec->len);
        case ARTREC_END:
                c->ended = true;
                return 0;
        case ARTREC_ERROR:
                /* The parser's reason, one line of printable ASCII by the decoder. */
                return err_setx(c->e, -EBADMSG, "%s", rec->msg);
        default:
                return 0;       /* READY */
        }
}

static int read_stream(struct ctx *c, const struct artifact_parser *parser)
{
        char hex[SHA256_HEX_LEN + 1];
        int r;

        if ((r = artifact_pump(parser, c->lim, stream_pull, on_record, c, c->e)) < 0)
                return r;
        if (!c->ended || c->fd >= 0)
                return err_setx(c->e, -EPROTO, "artifact parser: no END");
        /* The parser said END: whatever it did not take of the stream, up
         * to the reported size, is hashed still (it has no say in where the
         * stream ends). */
        while (pull(&c->src) > 0)
                ;
        if (c->src.err || c->src.ended)
                return stream_error(c);
        for (size_t i = 0; i < c->rep->n; i++)
                if (!c->matched[i])
                        return refuse(c, c->sorted[i]->path, "reported by the agent but not in the stream");
        if (md_final(c->src.md, hex) < 0)
                return err_setx(c->e, -EIO, "artifact stream: hashing failed");
        if (!streq(hex, c->rep->tar_sha256))
                return refuse(c, "stream", "SHA-256 %s but the agent reported %s", hex, c->rep->tar_sha256);
        return 0;
}

int artifacts_extract(artifact_read_fn rd, void *opaque, const struct artifact_report *rep,
                      const struct artifact_limits *lim, const struct artifact_parser *parser, const char *dest_dir,
                      struct mlvm_err *e)
{
        struct ctx c = {
                .rep = rep, .lim = lim, .root = -1, .fd = -1, .e = e,
                .src = { .rd = rd, .opaque = opaque, .want = rep->tar_size },
        };
        char s[SHOWN_MAX];
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
        if (!c.md || !c.src.md || EVP_DigestInit_ex(c.src.md, EVP_sha256(), NULL) != 1)
                r = err_setx(e, -ENOMEM, "artifact stream: cannot set up the reader");
        else
                r = read_stream(&c, parser);
        if (c.fd >= 0)
                (void)close(c.fd);
        if (r < 0) {
                (void)artifact_remove_tree(c.root);
                (void)rmdir(dest_dir);
        }
out:
        if (c.root >= 0)
                (void)close(c.root);
        tdestroy(c.seen, free);
        free(c.sorted);
        free(c.matched);
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
        const struct artifact_progress *pr;
        uint64_t done, total;
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
        v->done += got;
        if (v->pr && v->pr->bytes && got)
                v->pr->bytes(v->pr->u, v->done, v->total);
        return (ssize_t)got;
}

static ssize_t no_bytes(void *opaque, void *buf, size_t len, struct mlvm_err *e) { return 0; }

int artifacts_collect(virStorageVolPtr vol, const struct artifact_report *rep, const struct artifact_limits *lim,
                      const struct artifact_parser *parser, const struct artifact_progress *pr, const char *dest_dir,
                      struct mlvm_err *e)
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
                return artifacts_extract(no_bytes, NULL, rep, lim, parser, dest_dir, e);
        st = virStreamNew(virStorageVolGetConnect(vol), 0);
        if (!st || virStorageVolDownload(vol, st, 0, rep->tar_size, 0) < 0)
                return err_virt(e, "read the artifact volume");
        struct vol_reader v = { .st = st, .pr = pr, .total = rep->tar_size };
        r = artifacts_extract(vol_read, &v, rep, lim, parser, dest_dir, e);
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

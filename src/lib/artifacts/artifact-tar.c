/* artifact-tar.c: the artifact tar parser; see artifact-tar.h.
 *
 * Trust: every byte of IN_FD comes from a guest that ran an arbitrary
 * workload. libarchive parses the tar format only (no filters, no other
 * format); entries are judged before anything of them is sent (type,
 * path, declared size against the caps), and nothing here touches a file:
 * the privileged writer (artifacts.c) checks everything again. */
#include "mlvm-build.h"

#include <errno.h>
#include <locale.h>
#include <search.h>
#include <stdarg.h>
#include <unistd.h>
#include <archive.h>
#include <archive_entry.h>

#include "artifact-tar.h"
#include "artrec.h"
#include "util.h"

#define IN_BUF_SIZE (64 * 1024)

struct tctx {
        int in, out;
        const struct artifact_limits *lim;
        uint64_t got, entries, total;
        bool eof;
        int rd_err;
        void *seen;             /* tsearch() tree of the paths of entries */
        uint8_t *inbuf, *data, *rec;
        char msg[ARTREC_MSG_MAX + 1];
};

static la_ssize_t in_read(struct archive *a, void *opaque, const void **ret)
{
        struct tctx *c = opaque;
        ssize_t n;

        *ret = c->inbuf;
        while ((n = read(c->in, c->inbuf, IN_BUF_SIZE)) < 0 && errno == EINTR)
                ;
        if (n < 0) {
                c->rd_err = errno;
                archive_set_error(a, EIO, "reading the stream failed");
                return ARCHIVE_FATAL;
        }
        c->eof = n == 0;
        c->got += (uint64_t)n;
        return n;
}

static int send_rec(struct tctx *c, uint8_t kind, uint64_t size, const char *path, const void *data, size_t len)
{
        size_t n = artrec_encode(kind, size, path, data, len, c->msg, c->rec);
        if (n == 0)
                return -EINVAL;
        return write_full(c->out, c->rec, n);
}

/* The reason, kept for the ERROR record; always -EBADMSG. */
static int refuse(struct tctx *c, const char *path, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int refuse(struct tctx *c, const char *path, const char *fmt, ...)
{
        char why[512], s[SHOWN_MAX];
        va_list ap;
        va_start(ap, fmt);
        (void)vsnprintf(why, sizeof(why), fmt, ap);
        va_end(ap);
        (void)snprintf(c->msg, sizeof(c->msg), "artifact %s: %s", shown(path, s), why);
        return -EBADMSG;
}

static int stream_error(struct tctx *c, struct archive *a, const char *path)
{
        char s[SHOWN_MAX];
        const char *why = archive_error_string(a);
        if (c->rd_err)
                return refuse(c, "stream", "reading it failed: %s", strerror(c->rd_err));
        if (path && c->eof)
                return refuse(c, path, "truncated: the stream ends inside it, after %llu bytes",
                              (unsigned long long)c->got);
        if (path)
                return refuse(c, path, "%s", shown(why ? why : "unreadable", s));
        return refuse(c, "stream", "not a valid tar stream after %llu bytes: %s", (unsigned long long)c->got,
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

static int note_path(struct tctx *c, const char *path)
{
        return artifact_seen_add(&c->seen, path) < 0 ? refuse(c, path, "listed twice in the stream") : 0;
}

static int send_file(struct tctx *c, struct archive *a, const char *path, uint64_t size)
{
        uint64_t got = 0;
        int r;

        if ((r = send_rec(c, ARTREC_FILE, size, path, NULL, 0)) < 0)
                return r;
        for (;;) {
                la_ssize_t n = archive_read_data(a, c->data, ARTREC_DATA_MAX);
                if (n < 0)
                        return stream_error(c, a, path);
                if (n == 0)
                        break;
                if ((uint64_t)n > size - got || (uint64_t)n > c->lim->max_file - got)
                        return refuse(c, path, "longer than its header says");
                if ((r = send_rec(c, ARTREC_DATA, 0, NULL, c->data, (size_t)n)) < 0)
                        return r;
                got += (uint64_t)n;
        }
        if (got != size)
                return refuse(c, path, "truncated: %llu of %llu bytes", (unsigned long long)got,
                              (unsigned long long)size);
        return 0;
}

static int one_entry(struct tctx *c, struct archive *a, struct archive_entry *ent)
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
                return send_rec(c, ARTREC_DIR, 0, path, NULL, 0);

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
        return send_file(c, a, path, (uint64_t)size);
}

static int read_stream(struct tctx *c, struct archive *a)
{
        struct archive_entry *ent;
        int r;

        if (archive_read_open(a, c, NULL, in_read, NULL) != ARCHIVE_OK)
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
        /* libarchive may have stopped at the end-of-archive blocks: the
         * rest is the writer's to hash; take it so that it can send it. */
        while (!c->eof && !c->rd_err)
                (void)in_read(a, c, &(const void *){ NULL });
        if (c->rd_err)
                return stream_error(c, a, NULL);
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

int artifact_tar_parse(int in_fd, int out_fd, const struct artifact_limits *lim, int (*confine)(void *opaque),
                       void *opaque)
{
        struct tctx c = { .in = in_fd, .out = out_fd, .lim = lim };
        struct archive *a;
        locale_t old, l;
        int r;

        l = utf8_begin(&old);
        c.inbuf = xmalloc(IN_BUF_SIZE);
        c.data = xmalloc(ARTREC_DATA_MAX);
        c.rec = xmalloc(ARTREC_MAX);
        a = archive_read_new();
        bool ok = a && archive_read_support_format_tar(a) == ARCHIVE_OK;
        if (ok && confine && (r = confine(opaque)) < 0)
                goto out;
        if ((r = send_rec(&c, ARTREC_READY, 0, NULL, NULL, 0)) < 0)
                goto out;
        r = ok ? read_stream(&c, a) : refuse(&c, "stream", "cannot set up the reader");
        if (r == -EBADMSG)
                r = send_rec(&c, ARTREC_ERROR, 0, NULL, NULL, 0) < 0 ? -EPIPE : 1;
        else if (r == 0)
                r = send_rec(&c, ARTREC_END, 0, NULL, NULL, 0);
out:
        if (a)
                (void)archive_read_free(a);
        utf8_end(l, old);
        tdestroy(c.seen, free);
        free(c.inbuf);
        free(c.data);
        free(c.rec);
        return r;
}

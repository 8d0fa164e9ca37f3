/* deb.c: stream the members of a .deb with libarchive; see deb.h.
 * The outer ar archive is read once; the inner tar is decoded straight
 * from the outer archive's data through read callbacks. */
#include "mlvm-build.h"

#include "deb.h"
#include "util.h"

struct nested {
        struct archive *outer;
        char buf[64 * 1024];
        uint64_t total, max;
};

struct deb_inner {
        struct archive *a;
        struct nested n;
};

static la_ssize_t nested_read(struct archive *inner, void *u, const void **buf)
{
        struct nested *n = u;
        la_ssize_t r = archive_read_data(n->outer, n->buf, sizeof(n->buf));
        if (r < 0) {
                archive_set_error(inner, EIO, "%s", archive_error_string(n->outer));
                return -1;
        }
        n->total += (uint64_t)r;
        if (n->total > n->max) {
                archive_set_error(inner, EFBIG, "archive member larger than %llu bytes", (unsigned long long)n->max);
                return -1;
        }
        *buf = n->buf;
        return r;
}

int deb_inner_open(struct archive *outer, const char *what, uint64_t max, struct deb_inner **ret, struct mlvm_err *e)
{
        struct deb_inner *d = xcalloc(1, sizeof(*d));
        d->n.outer = outer;
        d->n.max = max;
        d->a = archive_read_new();
        archive_read_support_format_tar(d->a);
        archive_read_support_filter_xz(d->a);
        archive_read_support_filter_gzip(d->a);
        archive_read_support_filter_zstd(d->a);
        if (archive_read_open(d->a, &d->n, NULL, nested_read, NULL) != ARCHIVE_OK) {
                int r = err_setx(e, -EINVAL, "%s: %s", what, archive_error_string(d->a));
                deb_inner_free(d);
                return r;
        }
        *ret = d;
        return 0;
}

struct archive *deb_inner_archive(struct deb_inner *d)
{
        return d->a;
}

void deb_inner_free(struct deb_inner *d)
{
        if (!d)
                return;
        archive_read_free(d->a);
        free(d);
}

static void deb_inner_freep(struct deb_inner **d) { deb_inner_free(*d); }

static void archive_read_freep(struct archive **a) { if (*a) archive_read_free(*a); }
#define _cleanup_archive_ __attribute__((cleanup(archive_read_freep)))

static const char *strip_dot(const char *p)
{
        while (p[0] == '.' && p[1] == '/')
                p += 2;
        return p;
}

/* Open DEB and position OUTER at the member whose name starts with PREFIX. */
static int open_member(const char *deb, const char *prefix, struct archive **ret, struct mlvm_err *e)
{
        _cleanup_archive_ struct archive *a = archive_read_new();
        struct archive_entry *entry;

        archive_read_support_format_ar(a);
        if (archive_read_open_filename(a, deb, 64 * 1024) != ARCHIVE_OK)
                return err_setx(e, -EINVAL, "%s: %s", deb, archive_error_string(a));
        for (;;) {
                int r = archive_read_next_header(a, &entry);
                if (r == ARCHIVE_EOF)
                        return err_setx(e, -ENOENT, "%s: no %s* member: not a Debian package", deb, prefix);
                if (r != ARCHIVE_OK)
                        return err_setx(e, -EINVAL, "%s: %s", deb, archive_error_string(a));
                if (strstartswith(archive_entry_pathname(entry), prefix)) {
                        *ret = TAKE_PTR(a);
                        return 0;
                }
        }
}

static int each_in_member(const char *deb, const char *prefix, deb_file_fn fn, void *u, struct mlvm_err *e)
{
        _cleanup_archive_ struct archive *outer = NULL;
        __attribute__((cleanup(deb_inner_freep))) struct deb_inner *d = NULL;
        _cleanup_free_ char *what = xasprintf("%s: %s", deb, prefix);
        struct archive_entry *entry;
        int r;

        if ((r = open_member(deb, prefix, &outer, e)) < 0 || (r = deb_inner_open(outer, what, DEB_MEMBER_MAX, &d, e)) < 0)
                return r;
        for (;;) {
                r = archive_read_next_header(d->a, &entry);
                if (r == ARCHIVE_EOF)
                        return 0;
                if (r != ARCHIVE_OK)
                        return err_setx(e, -EINVAL, "%s: %s", what, archive_error_string(d->a));
                if (archive_entry_filetype(entry) != AE_IFREG)
                        continue;
                r = fn(strip_dot(archive_entry_pathname(entry)), d->a, entry, u, e);
                if (r < 0)
                        return r;
                if (r > 0)
                        return 0;
        }
}

int deb_each_file(const char *deb, deb_file_fn fn, void *u, struct mlvm_err *e)
{
        return each_in_member(deb, "data.tar", fn, u, e);
}

int deb_read_entry(struct archive *a, struct archive_entry *entry, size_t max, void **ret, size_t *ret_len,
                   struct mlvm_err *e)
{
        la_int64_t size = archive_entry_size(entry);
        if (size < 0 || (uint64_t)size > max)
                return err_setx(e, -EFBIG, "%s: larger than %zu bytes", archive_entry_pathname(entry), max);
        _cleanup_free_ char *buf = xmalloc((size_t)size + 1);
        size_t off = 0;
        for (;;) {
                la_ssize_t n = archive_read_data(a, buf + off, (size_t)size + 1 - off);
                if (n < 0)
                        return err_setx(e, -EIO, "%s: %s", archive_entry_pathname(entry), archive_error_string(a));
                if (n == 0)
                        break;
                off += (size_t)n;
                if (off > (size_t)size)
                        return err_setx(e, -EINVAL, "%s: more data than its header says", archive_entry_pathname(entry));
        }
        if (off != (size_t)size)
                return err_setx(e, -EINVAL, "%s: truncated", archive_entry_pathname(entry));
        buf[off] = '\0';
        *ret = TAKE_PTR(buf);
        *ret_len = off;
        return 0;
}

struct control_ctx {
        char *text;
};

static int take_control(const char *path, struct archive *a, struct archive_entry *entry, void *u,
                        struct mlvm_err *e)
{
        struct control_ctx *c = u;
        size_t len;
        if (!streq(path, "control"))
                return 0;
        int r = deb_read_entry(a, entry, DEB_CONTROL_MAX, (void **)&c->text, &len, e);
        if (r < 0)
                return r;
        if (strlen(c->text) != len)
                return err_setx(e, -EINVAL, "control file contains a NUL byte");
        return 1;
}

int deb_control(const char *deb, char **ret, struct mlvm_err *e)
{
        struct control_ctx c = { 0 };
        int r = each_in_member(deb, "control.tar", take_control, &c, e);
        if (r < 0) {
                free(c.text);
                return r;
        }
        if (!c.text)
                return err_setx(e, -ENOENT, "%s: no control file", deb);
        *ret = c.text;
        return 0;
}

char *deb_control_field(const char *control, const char *field)
{
        size_t flen = strlen(field);
        for (const char *line = control; line && *line;) {
                const char *end = strchrnul(line, '\n');
                if ((size_t)(end - line) > flen && strncmp(line, field, flen) == 0 && line[flen] == ':') {
                        const char *v = line + flen + 1;
                        while (*v == ' ' || *v == '\t')
                                v++;
                        return xstrndup(v, (size_t)(end - v));
                }
                line = *end ? end + 1 : NULL;
        }
        return NULL;
}

/* artrec.c: the artifact parser's records; see artrec.h. */
#include "mlvm-build.h"

#include <errno.h>
#include <string.h>

#include "artrec.h"

size_t artrec_encode(uint8_t kind, uint64_t size, const char *path, const void *data, size_t len, const char *msg,
                     uint8_t *buf)
{
        struct artrec_hdr h = { .kind = kind };
        uint8_t *p = buf + sizeof(h);
        size_t n = 0, pl = path ? strlen(path) : 0;

        switch (kind) {
        case ARTREC_READY:
        case ARTREC_END:
                break;
        case ARTREC_DIR:
        case ARTREC_FILE:
                if (pl < 1 || pl > ARTIFACT_PATH_MAX)
                        return 0;
                if (kind == ARTREC_FILE) {
                        memcpy(p, &size, sizeof(size));
                        n = sizeof(size);
                }
                memcpy(p + n, path, pl);
                n += pl;
                break;
        case ARTREC_DATA:
                if (len < 1 || len > ARTREC_DATA_MAX)
                        return 0;
                memcpy(p, data, len);
                n = len;
                break;
        case ARTREC_ERROR:
                for (; msg && msg[n] && n < ARTREC_MSG_MAX; n++)
                        p[n] = msg[n] >= 0x20 && msg[n] < 0x7f ? (uint8_t)msg[n] : '?';
                if (n == 0)
                        return 0;
                break;
        default:
                return 0;
        }
        h.len = (uint32_t)n;
        memcpy(buf, &h, sizeof(h));
        return sizeof(h) + n;
}

/* The guest chose the tar's names and the child may be compromised: the
 * path must be one the rules allow, as the writer will use it. */
static int take_path(const uint8_t *p, size_t n, char out[ARTIFACT_PATH_MAX + 1], struct mlvm_err *e)
{
        if (n < 1 || n > ARTIFACT_PATH_MAX || memchr(p, 0, n))
                return err_setx(e, -EPROTO, "artifact parser: a path of %zu bytes", n);
        memcpy(out, p, n);
        out[n] = '\0';
        const char *why = artifact_path_problem(out);
        if (why) {
                char s[SHOWN_MAX];
                return err_setx(e, -EPROTO, "artifact parser: path %s: %s", shown(out, s), why);
        }
        return 0;
}

static const char *kind_name(uint8_t k)
{
        static const char *const names[] = { "?", "READY", "DIR", "FILE", "DATA", "END", "ERROR" };
        return k <= ARTREC_ERROR ? names[k] : "?";
}

/* Check the whole record in D->buf and fill R. */
static int decode_one(struct artrec_decoder *d, const struct artrec_hdr *h, struct artrec *r, struct mlvm_err *e)
{
        const uint8_t *p = d->buf + sizeof(*h);
        size_t n = h->len;
        int x;

        if (h->kind != ARTREC_READY && !d->ready)
                return err_setx(e, -EPROTO, "artifact parser: %s before READY", kind_name(h->kind));
        if (d->in_file && h->kind != ARTREC_DATA && h->kind != ARTREC_ERROR)
                return err_setx(e, -EPROTO, "artifact parser: %s with %llu bytes of a file still to come",
                                kind_name(h->kind), (unsigned long long)d->left);
        r->kind = h->kind;
        r->size = 0;
        r->path[0] = r->msg[0] = '\0';
        r->data = NULL;
        r->len = 0;
        switch (h->kind) {
        case ARTREC_READY:
                if (n || d->ready)
                        return err_setx(e, -EPROTO, "artifact parser: a bad READY");
                d->ready = true;
                break;
        case ARTREC_END:
                if (n)
                        return err_setx(e, -EPROTO, "artifact parser: END with %zu bytes", n);
                d->finished = true;
                break;
        case ARTREC_DIR:
                if ((x = take_path(p, n, r->path, e)) < 0)
                        return x;
                break;
        case ARTREC_FILE:
                if (n < sizeof(uint64_t))
                        return err_setx(e, -EPROTO, "artifact parser: FILE of %zu bytes", n);
                memcpy(&r->size, p, sizeof(r->size));
                if ((x = take_path(p + sizeof(uint64_t), n - sizeof(uint64_t), r->path, e)) < 0)
                        return x;
                d->in_file = r->size > 0;
                d->left = r->size;
                break;
        case ARTREC_DATA:
                if (!d->in_file || n < 1 || n > d->left)
                        return err_setx(e, -EPROTO, "artifact parser: DATA of %zu bytes where %llu were due", n,
                                        (unsigned long long)d->left);
                r->data = p;
                r->len = n;
                d->left -= n;
                d->in_file = d->left > 0;
                break;
        case ARTREC_ERROR:
                if (n < 1 || n > ARTREC_MSG_MAX)
                        return err_setx(e, -EPROTO, "artifact parser: ERROR of %zu bytes", n);
                for (size_t i = 0; i < n; i++)
                        if (p[i] < 0x20 || p[i] >= 0x7f)
                                return err_setx(e, -EPROTO, "artifact parser: ERROR with byte 0x%02x", p[i]);
                memcpy(r->msg, p, n);
                r->msg[n] = '\0';
                d->in_file = false;
                d->finished = true;
                break;
        default:
                return err_setx(e, -EPROTO, "artifact parser: unknown record kind %u", h->kind);
        }
        return 0;
}

int artrec_feed(struct artrec_decoder *d, const uint8_t *in, size_t n,
                int (*emit)(const struct artrec *r, void *opaque), void *opaque, struct mlvm_err *e)
{
        struct artrec_hdr h;
        struct artrec r;
        int x;

        while (n > 0) {
                if (d->finished)
                        return err_setx(e, -EPROTO, "artifact parser: bytes after its last record");
                /* The header first, checked before its payload is taken. */
                size_t want = sizeof(h);
                if (d->have >= sizeof(h)) {
                        memcpy(&h, d->buf, sizeof(h));
                        want += h.len;
                }
                size_t take = n < want - d->have ? n : want - d->have;
                memcpy(d->buf + d->have, in, take);
                d->have += take;
                in += take;
                n -= take;
                if (d->have == sizeof(h)) {
                        memcpy(&h, d->buf, sizeof(h));
                        if (h.reserved[0] || h.reserved[1] || h.reserved[2] || h.len > ARTREC_MAX - sizeof(h)) {
                                d->finished = true;
                                return err_setx(e, -EPROTO, "artifact parser: a bad record header (kind %u, %u bytes)",
                                                h.kind, h.len);
                        }
                }
                if (d->have < sizeof(h))
                        continue;
                memcpy(&h, d->buf, sizeof(h));
                if (d->have < sizeof(h) + h.len)
                        continue;
                d->have = 0;
                if ((x = decode_one(d, &h, &r, e)) < 0) {
                        d->finished = true;   /* nothing more is taken */
                        return x;
                }
                if ((x = emit(&r, opaque)) < 0)
                        return x;
        }
        return 0;
}

bool artrec_complete(const struct artrec_decoder *d)
{
        return d->finished && d->have == 0;
}

/* fuzz-artrec.c: libFuzzer target for the records the artifact tar
 * parser sends the privileged side (src/lib/artifacts/artrec.h). The
 * parser reads the guest's tar and may be compromised, so the decoder,
 * artrec_feed, reads untrusted input.
 *
 * The input is the parser's output, fed once whole and once in uneven
 * pieces. Beyond memory errors, it traps when the two feeds differ (in
 * records or verdict), when what was accepted does not re-encode, with
 * the parser's own artrec_encode, to exactly the bytes it came from, when
 * an accepted path breaks the artifact path rules or a message is not
 * printable ASCII, when a file gets more or fewer data bytes than its
 * size before the next record, or when a refusal does not say why. */
#include "mlvm-build.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "artrec.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct check {
        uint8_t *out;           /* the accepted records, re-encoded */
        size_t out_len, out_cap;
        size_t n;               /* records */
        uint64_t left;          /* the open file's bytes to come */
};

static int on_rec(const struct artrec *r, void *opaque)
{
        struct check *c = opaque;
        if (c->left && r->kind != ARTREC_DATA && r->kind != ARTREC_ERROR)
                __builtin_trap();
        if ((r->kind == ARTREC_DIR || r->kind == ARTREC_FILE) && !artifact_path_is_valid(r->path))
                __builtin_trap();
        for (const char *m = r->msg; *m; m++)
                if (*m < 0x20 || *m >= 0x7f)
                        __builtin_trap();
        if (r->kind == ARTREC_FILE)
                c->left = r->size;
        if (r->kind == ARTREC_DATA) {
                if (r->len == 0 || r->len > c->left)
                        __builtin_trap();
                c->left -= r->len;
        }
        if (c->out_len + ARTREC_MAX > c->out_cap) {
                c->out_cap = (c->out_cap + ARTREC_MAX) * 2;
                c->out = xreallocarray(c->out, c->out_cap, 1);
        }
        size_t k = artrec_encode(r->kind, r->size, r->path, r->data, r->len, r->msg, c->out + c->out_len);
        if (k == 0)
                __builtin_trap();
        c->out_len += k;
        c->n++;
        return 0;
}

static int run(const uint8_t *data, size_t size, size_t piece, struct check *c, bool *complete)
{
        static struct artrec_decoder d;
        struct mlvm_err e = { 0 };
        int r = 0;

        memset(&d, 0, sizeof(d));
        for (size_t off = 0, i = 0; off < size && r == 0; i++) {
                size_t n = piece ? 1 + (i * 7919 + piece) % piece : size;
                n = n < size - off ? n : size - off;
                r = artrec_feed(&d, data + off, n, on_rec, c, &e);
                off += n;
        }
        if (r < 0 && (!e.msg[0] || strchr(e.msg, '\n') || e.code != r))
                __builtin_trap();
        *complete = artrec_complete(&d);
        return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct check whole = { 0 }, pieces = { 0 };
        bool cw, cp;

        int rw = run(data, size, 0, &whole, &cw);
        int rp = run(data, size, 1 + size % 97, &pieces, &cp);
        if (rw != rp || cw != cp || whole.n != pieces.n || whole.out_len != pieces.out_len ||
            (whole.out_len && memcmp(whole.out, pieces.out, whole.out_len) != 0))
                __builtin_trap();
        /* What was accepted is the input's prefix, byte for byte. */
        if (whole.out_len > size || (whole.out_len && memcmp(whole.out, data, whole.out_len) != 0))
                __builtin_trap();
        if (rw == 0 && cw && whole.out_len != size)
                __builtin_trap();
        free(whole.out);
        free(pieces.out);
        return 0;
}

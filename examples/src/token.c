/* token.c: base64url and just enough JSON to read two claims of a JWT
 * payload (RFC 7519), with no library. The token is input: every length is
 * capped, the JSON is walked as JSON (a "run_id" inside another string or a
 * nested object is not the claim), nesting is bounded, and a claim is kept
 * only if it is short and plain, so it can be printed and written to
 * metrics.json as it is. */
#include <stdint.h>
#include <string.h>

#include "token.h"

#define PAYLOAD_MAX (TOKEN_MAX / 4 * 3)
#define DEPTH_MAX 16

static int b64url_val(unsigned char c)
{
        if (c >= 'A' && c <= 'Z')
                return c - 'A';
        if (c >= 'a' && c <= 'z')
                return c - 'a' + 26;
        if (c >= '0' && c <= '9')
                return c - '0' + 52;
        if (c == '-')
                return 62;
        if (c == '_')
                return 63;
        return -1;
}

/* Unpadded base64url, as JWTs use it; the unused low bits must be zero. */
static int b64url_decode(const char *s, size_t n, unsigned char *out, size_t cap, size_t *ret_len)
{
        uint32_t acc = 0;
        int bits = 0;
        size_t o = 0;

        if (n == 0 || n % 4 == 1)
                return -1;
        for (size_t i = 0; i < n; i++) {
                int v = b64url_val((unsigned char)s[i]);
                if (v < 0)
                        return -1;
                acc = ((acc << 6) | (uint32_t)v) & 0xffffu;
                bits += 6;
                if (bits >= 8) {
                        bits -= 8;
                        if (o == cap)
                                return -1;
                        out[o++] = (unsigned char)(acc >> bits);
                }
        }
        if (acc & ((1u << bits) - 1))
                return -1;
        *ret_len = o;
        return 0;
}

static int b64url_chars(const char *s, size_t n)
{
        if (n == 0)
                return 0;
        for (size_t i = 0; i < n; i++)
                if (b64url_val((unsigned char)s[i]) < 0)
                        return 0;
        return 1;
}

struct scan {
        const unsigned char *p;
        size_t n, i;
};

static void ws(struct scan *s)
{
        while (s->i < s->n && (s->p[s->i] == ' ' || s->p[s->i] == '\t' || s->p[s->i] == '\n' || s->p[s->i] == '\r'))
                s->i++;
}

static int is_hex(unsigned char c)
{
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* A JSON string at s->i; its raw bytes (between the quotes) in *ret. */
static int string(struct scan *s, const unsigned char **ret, size_t *ret_len, int *ret_escaped)
{
        int escaped = 0;

        if (s->i >= s->n || s->p[s->i] != '"')
                return -1;
        size_t start = ++s->i;
        while (s->i < s->n) {
                unsigned char c = s->p[s->i];
                if (c == '"') {
                        *ret = s->p + start;
                        *ret_len = s->i - start;
                        *ret_escaped = escaped;
                        s->i++;
                        return 0;
                }
                if (c < 0x20)
                        return -1;
                if (c == '\\') {
                        escaped = 1;
                        if (++s->i >= s->n || !strchr("\"\\/bfnrtu", s->p[s->i]) || s->p[s->i] == 0)
                                return -1;
                        if (s->p[s->i] == 'u') {
                                if (s->n - s->i < 5)
                                        return -1;
                                for (int k = 1; k <= 4; k++)
                                        if (!is_hex(s->p[s->i + k]))
                                                return -1;
                                s->i += 4;
                        }
                }
                s->i++;
        }
        return -1;
}

static int value(struct scan *s, int depth);

/* The members of an object or the elements of an array, after its '{' or '['. */
static int members(struct scan *s, int depth, int object)
{
        const unsigned char *k;
        size_t kl;
        int esc;

        ws(s);
        if (s->i < s->n && s->p[s->i] == (object ? '}' : ']')) {
                s->i++;
                return 0;
        }
        for (;;) {
                if (object) {
                        ws(s);
                        if (string(s, &k, &kl, &esc) < 0)
                                return -1;
                        ws(s);
                        if (s->i >= s->n || s->p[s->i++] != ':')
                                return -1;
                }
                if (value(s, depth + 1) < 0)
                        return -1;
                ws(s);
                if (s->i >= s->n)
                        return -1;
                unsigned char c = s->p[s->i++];
                if (c == (object ? '}' : ']'))
                        return 0;
                if (c != ',')
                        return -1;
        }
}

/* Skips one JSON value, nested at most DEPTH_MAX deep. */
static int value(struct scan *s, int depth)
{
        const unsigned char *v;
        size_t vl;
        int esc;

        if (depth > DEPTH_MAX)
                return -1;
        ws(s);
        if (s->i >= s->n)
                return -1;
        unsigned char c = s->p[s->i];
        if (c == '"')
                return string(s, &v, &vl, &esc);
        if (c == '{' || c == '[') {
                s->i++;
                return members(s, depth, c == '{');
        }
        size_t start = s->i;
        while (s->i < s->n && strchr("+-.0123456789eEabcdefghijklmnopqrstuvwxyz", s->p[s->i]) && s->p[s->i])
                s->i++;
        vl = s->i - start;
        v = s->p + start;
        if ((vl == 4 && memcmp(v, "true", 4) == 0) || (vl == 5 && memcmp(v, "false", 5) == 0) ||
            (vl == 4 && memcmp(v, "null", 4) == 0))
                return 0;
        if (vl == 0 || !(v[0] == '-' || (v[0] >= '0' && v[0] <= '9')))
                return -1;
        for (size_t i = 0; i < vl; i++)
                if (v[i] >= 'a' && v[i] <= 'z' && v[i] != 'e')
                        return -1;
        return 0;
}

static int claim_ok(const unsigned char *v, size_t n)
{
        if (n == 0 || n > CLAIM_MAX)
                return 0;
        for (size_t i = 0; i < n; i++) {
                unsigned char c = v[i];
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '.' || c == '_' || c == '-'))
                        return 0;
        }
        return 1;
}

static int claims(const unsigned char *p, size_t n, struct token_claims *out, const char **why)
{
        struct scan s = { .p = p, .n = n, .i = 0 };
        const unsigned char *k, *v;
        size_t kl, vl;
        int esc, vesc;

        *why = "payload is not a JSON object";
        ws(&s);
        if (s.i >= s.n || s.p[s.i++] != '{')
                return -1;
        ws(&s);
        if (s.i < s.n && s.p[s.i] == '}') {
                s.i++;
        } else {
                for (;;) {
                        ws(&s);
                        if (string(&s, &k, &kl, &esc) < 0)
                                return -1;
                        ws(&s);
                        if (s.i >= s.n || s.p[s.i++] != ':')
                                return -1;
                        char *dst = NULL;
                        if (!esc && kl == 6 && memcmp(k, "run_id", 6) == 0)
                                dst = out->run_id;
                        else if (!esc && kl == 5 && memcmp(k, "model", 5) == 0)
                                dst = out->model;
                        ws(&s);
                        if (dst && s.i < s.n && s.p[s.i] == '"') {
                                if (string(&s, &v, &vl, &vesc) < 0)
                                        return -1;
                                if (dst[0]) {
                                        *why = "a claim appears twice";
                                        return -1;
                                }
                                if (vesc || !claim_ok(v, vl)) {
                                        *why = "run_id or model is not [A-Za-z0-9._-]{1,64}";
                                        return -1;
                                }
                                memcpy(dst, v, vl);
                                dst[vl] = 0;
                        } else if (dst) {
                                *why = "run_id or model is not a string";
                                return -1;
                        } else if (value(&s, 1) < 0) {
                                return -1;
                        }
                        ws(&s);
                        if (s.i >= s.n)
                                return -1;
                        unsigned char c = s.p[s.i++];
                        if (c == '}')
                                break;
                        if (c != ',')
                                return -1;
                }
        }
        ws(&s);
        if (s.i != s.n)
                return -1;
        if (!out->run_id[0] || !out->model[0]) {
                *why = "no run_id or model claim";
                return -1;
        }
        return 0;
}

int token_claims(const char *tok, size_t len, struct token_claims *ret, const char **why)
{
        static unsigned char payload[PAYLOAD_MAX];
        struct token_claims c;
        size_t plen;

        memset(&c, 0, sizeof(c));
        while (len > 0 && (tok[len - 1] == '\n' || tok[len - 1] == '\r'))
                len--;
        if (len == 0 || len > TOKEN_MAX) {
                *why = "empty, or longer than 8192 bytes";
                return -1;
        }
        const char *d1 = memchr(tok, '.', len);
        const char *d2 = d1 ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - tok)) : NULL;
        if (!d2 || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - tok))) {
                *why = "not three dot-separated parts (header.payload.signature)";
                return -1;
        }
        size_t hl = (size_t)(d1 - tok), pl = (size_t)(d2 - d1 - 1), sl = len - (size_t)(d2 + 1 - tok);
        if (!b64url_chars(tok, hl) || !b64url_chars(d2 + 1, sl) ||
            b64url_decode(d1 + 1, pl, payload, sizeof(payload), &plen) < 0) {
                *why = "a part is not base64url";
                return -1;
        }
        if (claims(payload, plen, &c, why) < 0)
                return -1;
        *ret = c;
        return 0;
}

/* jwt.c: compact JWS tokens signed with Ed25519 (alg EdDSA); see jwt.h.
 * A token handed to jwt_verify is untrusted input: it is length-capped,
 * decoded strictly, and its signature checked before its claims are read. */
#include "mlvm-build.h"

#include <inttypes.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "json-util.h"
#include "jwt.h"
#include "keys.h"
#include "cleanup.h"
#include "util.h"

#define JWT_MAX (16 * 1024)                 /* bytes of a token */
#define JWT_TTL_MAX (366 * 24 * 3600ull)    /* a token older than a year is a mistake */
#define JSON_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

char *b64url_encode(const void *data, size_t len)
{
        char *s = xmalloc(4 * ((len + 2) / 3) + 1);
        int n = EVP_EncodeBlock((unsigned char *)s, data, (int)len);

        while (n > 0 && s[n - 1] == '=')
                n--;
        s[n] = '\0';
        for (char *p = s; *p; p++)
                *p = *p == '+' ? '-' : *p == '/' ? '_' : *p;
        return s;
}

/* Strict base64url: its alphabet only, no padding, zero pad bits (so each
 * byte string has exactly one spelling). Returns the length, or -EINVAL. */
static int b64url_decode(const char *s, size_t len, uint8_t **ret)
{
        static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

        if (len == 0 || len % 4 == 1 || len > JWT_MAX)
                return -EINVAL;
        _cleanup_free_ char *std = xmalloc(len + 3);
        for (size_t i = 0; i < len; i++) {
                if (!memchr(alphabet, s[i], sizeof(alphabet) - 1))
                        return -EINVAL;
                std[i] = s[i] == '-' ? '+' : s[i] == '_' ? '/' : s[i];
        }
        size_t pad = (4 - len % 4) % 4, out = len / 4 * 3 + (len % 4 ? len % 4 - 1 : 0);
        memset(std + len, '=', pad);
        _cleanup_free_ uint8_t *raw = xmalloc(len + pad);
        if (EVP_DecodeBlock(raw, (const unsigned char *)std, (int)(len + pad)) != (int)((len + pad) / 4 * 3))
                return -EINVAL;
        _cleanup_free_ char *again = b64url_encode(raw, out);
        if (strlen(again) != len || memcmp(again, s, len) != 0)
                return -EINVAL;
        *ret = TAKE_PTR(raw);
        return (int)out;
}

/* RFC 6749 scope-token: 1*( %x21 / %x23-5B / %x5D-7E ). */
static bool scope_token_is_valid(const char *s)
{
        if (!s || !*s)
                return false;
        for (const unsigned char *p = (const unsigned char *)s; *p; p++)
                if (*p < 0x21 || *p > 0x7e || *p == '"' || *p == '\\')
                        return false;
        return true;
}

static json_object *make_claims(const char *kid, const struct jwt_claims *c)
{
        json_object *o = json_object_new_object();
        _cleanup_free_ char *iss = xasprintf("mlvm:%s", kid);
        size_t n = 1;

        for (size_t i = 0; i < c->n_scope; i++)
                n += strlen(c->scope[i]) + 1;
        _cleanup_free_ char *scope = xcalloc(n, 1);
        for (size_t i = 0, at = 0; i < c->n_scope; i++) {
                size_t l = strlen(c->scope[i]);
                if (i)
                        scope[at++] = ' ';
                memcpy(scope + at, c->scope[i], l);
                at += l;
        }
        json_object_object_add(o, "iss", json_object_new_string(iss));
        json_object_object_add(o, "sub", json_object_new_string(c->run_id));
        json_object_object_add(o, "aud", json_object_new_string("mlvm"));
        json_object_object_add(o, "iat", json_object_new_int64(c->iat));
        json_object_object_add(o, "nbf", json_object_new_int64(c->iat));
        json_object_object_add(o, "exp", json_object_new_int64(c->iat + (int64_t)c->ttl_s));
        json_object_object_add(o, "jti", json_object_new_string(c->lease));
        json_object_object_add(o, "run_id", json_object_new_string(c->run_id));
        json_object_object_add(o, "model", json_object_new_string(c->model));
        json_object_object_add(o, "scope", json_object_new_string(scope));
        return o;
}

int jwt_mint(EVP_PKEY *key, const char *kid, const struct jwt_claims *c, char **ret, struct mlvm_err *e)
{
        uint8_t sig[KEY_SIG_LEN];
        int r;

        if (!key || EVP_PKEY_get_id(key) != EVP_PKEY_ED25519)
                return err_setx(e, -EINVAL, "JWT: the signing key is not Ed25519");
        if (!kid || !*kid || !c->run_id || !*c->run_id || !c->model || !*c->model || !c->lease || !*c->lease)
                return err_setx(e, -EINVAL, "JWT: kid, run id, model and lease must not be empty");
        if (c->iat < 0 || c->ttl_s == 0 || c->ttl_s > JWT_TTL_MAX)
                return err_setx(e, -EINVAL, "JWT: iat %" PRId64 " or ttl %" PRIu64 "s out of range", c->iat,
                                c->ttl_s);
        if (c->iat > INT64_MAX - (int64_t)c->ttl_s)
                return err_setx(e, -EINVAL, "JWT: iat %" PRId64 " + ttl overflows", c->iat);
        for (size_t i = 0; i < c->n_scope; i++)
                if (!scope_token_is_valid(c->scope[i]))
                        return err_setx(e, -EINVAL, "JWT: scope \"%.64s\" is not a scope token (RFC 6749 3.3)",
                                        c->scope[i] ? c->scope[i] : "");

        _cleanup_json_ json_object *h = json_object_new_object();
        json_object_object_add(h, "alg", json_object_new_string("EdDSA"));
        json_object_object_add(h, "typ", json_object_new_string("JWT"));
        json_object_object_add(h, "kid", json_object_new_string(kid));
        _cleanup_json_ json_object *p = make_claims(kid, c);
        const char *hs = json_object_to_json_string_ext(h, JSON_FLAGS);
        const char *ps = json_object_to_json_string_ext(p, JSON_FLAGS);
        _cleanup_free_ char *h64 = b64url_encode(hs, strlen(hs)), *p64 = b64url_encode(ps, strlen(ps));
        _cleanup_free_ char *input = xasprintf("%s.%s", h64, p64);
        if ((r = key_sign(key, input, strlen(input), sig, e)) < 0)
                return err_prefix(e, "JWT");
        _cleanup_free_ char *s64 = b64url_encode(sig, sizeof(sig));
        *ret = xasprintf("%s.%s", input, s64);
        /* The signature completes the token: no copy of it is left behind. */
        OPENSSL_cleanse(s64, strlen(s64));
        OPENSSL_cleanse(sig, sizeof(sig));
        return 0;
}


/* One JSON object, the whole of BUF, nothing after it. */
static json_object *parse_object(const uint8_t *buf, size_t len)
{
        return json_parse_object(buf, len, 8);
}

static int decode_part(const char *s, size_t len, const char *what, json_object **ret, struct mlvm_err *e)
{
        _cleanup_free_ uint8_t *raw = NULL;
        int n = b64url_decode(s, len, &raw);

        if (n < 0)
                return err_setx(e, -EBADMSG, "JWT: the %s is not base64url", what);
        if (!(*ret = parse_object(raw, (size_t)n)))
                return err_setx(e, -EBADMSG, "JWT: the %s is not a JSON object", what);
        return 0;
}

static bool get_int(json_object *o, const char *key, int64_t *ret)
{
        json_object *v;
        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
                return false;
        *ret = json_object_get_int64(v);
        return true;
}

int jwt_verify(EVP_PKEY *pub, const char *token, int64_t now, json_object **ret_claims, struct mlvm_err *e)
{
        _cleanup_json_ json_object *h = NULL, *p = NULL;
        _cleanup_free_ uint8_t *sig = NULL;
        json_object *v;
        int64_t exp = 0, nbf = INT64_MIN;     /* no nbf: valid from the start */
        int r;

        if (!pub || EVP_PKEY_get_id(pub) != EVP_PKEY_ED25519)
                return err_setx(e, -EINVAL, "JWT: the verifying key is not Ed25519");
        size_t len = token ? strnlen(token, JWT_MAX + 1) : 0;
        if (len == 0 || len > JWT_MAX)
                return err_setx(e, -EBADMSG, "JWT: the token is empty or longer than %d bytes", JWT_MAX);
        const char *d1 = strchr(token, '.'), *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
        if (!d2 || strchr(d2 + 1, '.'))
                return err_setx(e, -EBADMSG, "JWT: the token is not three dot-separated parts");

        if ((r = decode_part(token, (size_t)(d1 - token), "header", &h, e)) < 0)
                return r;
        if (!json_object_object_get_ex(h, "alg", &v) || !json_object_is_type(v, json_type_string))
                return err_setx(e, -EBADMSG, "JWT: the header has no alg");
        if (!streq(json_object_get_string(v), "EdDSA"))
                return err_setx(e, -EBADMSG, "JWT: alg \"%.32s\" is not EdDSA", json_object_get_string(v));
        /* RFC 7515 4.1.11: extensions we do not know must not be ignored. */
        if (json_object_object_get_ex(h, "crit", NULL))
                return err_setx(e, -EBADMSG, "JWT: the header has crit extensions");
        if (b64url_decode(d2 + 1, strlen(d2 + 1), &sig) != KEY_SIG_LEN)
                return err_setx(e, -EBADMSG, "JWT: the signature is not %d bytes of base64url", KEY_SIG_LEN);
        if (key_verify(pub, token, (size_t)(d2 - token), sig) < 0)
                return err_setx(e, -EBADMSG, "JWT: the signature does not verify");

        /* Signed by the key: now the claims may be read. */
        if ((r = decode_part(d1 + 1, (size_t)(d2 - d1 - 1), "payload", &p, e)) < 0)
                return r;
        if (!get_int(p, "exp", &exp))
                return err_setx(e, -EBADMSG, "JWT: no integer exp claim");
        if (json_object_object_get_ex(p, "nbf", NULL) && !get_int(p, "nbf", &nbf))
                return err_setx(e, -EBADMSG, "JWT: the nbf claim is not an integer");
        if (now >= exp)
                return err_setx(e, -EBADMSG, "JWT: expired at %" PRId64 " (now %" PRId64 ")", exp, now);
        if (now < nbf)
                return err_setx(e, -EBADMSG, "JWT: not valid before %" PRId64 " (now %" PRId64 ")", nbf, now);
        *ret_claims = TAKE_PTR(p);
        return 0;
}

/* test-jwt.c: per-run JWTs (src/lib/trust/jwt.c). Tokens are taken apart here with
 * an independent base64url decoder and checked with the public key as
 * `mlvm key export` prints it; forged tokens are built by hand. When a
 * Python with PyJWT (Debian's python3-jwt) is present, it must accept our
 * tokens too. */
#include "mlvm-build.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <sys/wait.h>
#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <json-c/json.h>

#include "jwt.h"
#include "keys.h"
#include "util.h"
#include "virt.h"

#define IAT 1795400000

struct fixture {
        char *dir;
        char *pem;
        EVP_PKEY *key, *pub;
        char kid[KEY_ID_LEN + 1];
};

static int setup(void **state)
{
        char tmpl[] = "/tmp/mlvm-test-jwt-XXXXXX";
        struct fixture *f = xcalloc(1, sizeof(*f));
        struct mlvm_err e = { 0 };

        assert_non_null(mkdtemp(tmpl));
        f->dir = xstrdup(tmpl);
        assert_int_equal(key_load_private(f->dir, KEY_HOST, true, &f->key, &e), 0);
        assert_int_equal(key_id(f->key, f->kid), 0);
        assert_int_equal(key_export_public(f->dir, KEY_HOST, &f->pem, &e), 0);
        BIO *b = BIO_new_mem_buf(f->pem, -1);
        f->pub = PEM_read_bio_PUBKEY(b, NULL, NULL, NULL);
        BIO_free(b);
        assert_non_null(f->pub);
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        struct fixture *f = *state;
        _cleanup_free_ char *cmd = xasprintf("rm -rf -- '%s'", f->dir);
        assert_int_equal(system(cmd), 0);
        EVP_PKEY_free(f->key);
        EVP_PKEY_free(f->pub);
        free(f->pem);
        free(f->dir);
        free(f);
        return 0;
}

static const char *const scope[] = { "secrets:read", "model:load", "x" };

static char *mint(struct fixture *f, int64_t iat, uint64_t ttl)
{
        const struct jwt_claims c = { .run_id = "r-20261123-abcd", .model = "llama-3", .lease = "lease-42",
                                      .scope = scope, .n_scope = ARRAY_SIZE(scope), .iat = iat, .ttl_s = ttl };
        struct mlvm_err e = { 0 };
        char *tok = NULL;
        if (jwt_mint(f->key, f->kid, &c, &tok, &e) < 0)
                fail_msg("jwt_mint: %s", e.msg);
        return tok;
}

/* base64url (RFC 4648 section 5), written out by hand. */
static size_t b64url_dec(const char *s, size_t len, uint8_t *out)
{
        static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        uint32_t acc = 0;
        int bits = 0;
        size_t n = 0;

        for (size_t i = 0; i < len; i++) {
                const char *p = memchr(a, s[i], 64);
                assert_non_null(p);
                acc = (acc << 6) | (uint32_t)(p - a);
                bits += 6;
                if (bits >= 8) {
                        bits -= 8;
                        out[n++] = (uint8_t)(acc >> bits);
                }
        }
        return n;
}

static json_object *part_json(const char *s, size_t len)
{
        uint8_t buf[4096];
        size_t n = b64url_dec(s, len, buf);
        buf[n] = '\0';
        json_object *o = json_tokener_parse((const char *)buf);
        assert_non_null(o);
        return o;
}

static int verify(struct fixture *f, EVP_PKEY *k, const char *tok, int64_t now, const char *want_msg)
{
        struct mlvm_err e = { 0 };
        json_object *claims = NULL;
        int r = jwt_verify(k ? k : f->pub, tok, now, &claims, &e);
        if (want_msg)
                assert_string_equal(e.msg, want_msg);
        if (r == 0)
                assert_non_null(claims);
        else
                assert_null(claims);
        json_object_put(claims);
        return r;
}

static void test_b64url(void **state)
{
        /* RFC 4648 section 10 vectors, and the two characters that differ. */
        const struct { const char *in; const char *out; } v[] = {
                { "", "" }, { "f", "Zg" }, { "fo", "Zm8" }, { "foo", "Zm9v" }, { "foob", "Zm9vYg" },
                { "fooba", "Zm9vYmE" }, { "foobar", "Zm9vYmFy" }, { "\xfb\xff", "-_8" }, { "\xff\xfe", "__4" },
        };
        for (size_t i = 0; i < ARRAY_SIZE(v); i++) {
                _cleanup_free_ char *s = b64url_encode(v[i].in, strlen(v[i].in));
                assert_string_equal(s, v[i].out);
        }
}

static void test_mint_verify(void **state)
{
        struct fixture *f = *state;
        _cleanup_free_ char *tok = mint(f, IAT, 900), *iss = xasprintf("mlvm:%s", f->kid);
        struct mlvm_err e = { 0 };
        json_object *v;

        assert_null(strpbrk(tok, "=+/ \n"));
        const char *d1 = strchr(tok, '.'), *d2 = strrchr(tok, '.');
        assert_true(d1 && d2 && d1 < d2 && !memchr(d1 + 1, '.', (size_t)(d2 - d1 - 1)));

        /* Header and claims, decoded independently. */
        _cleanup_json_ json_object *h = part_json(tok, (size_t)(d1 - tok));
        _cleanup_free_ char *hwant = xasprintf("{\"alg\":\"EdDSA\",\"typ\":\"JWT\",\"kid\":\"%s\"}", f->kid);
        assert_string_equal(json_object_to_json_string_ext(h, JSON_C_TO_STRING_PLAIN), hwant);
        _cleanup_json_ json_object *p = part_json(d1 + 1, (size_t)(d2 - d1 - 1));
        const struct { const char *k; const char *want; } strs[] = {
                { "iss", iss }, { "sub", "r-20261123-abcd" }, { "aud", "mlvm" }, { "jti", "lease-42" },
                { "run_id", "r-20261123-abcd" }, { "model", "llama-3" }, { "scope", "secrets:read model:load x" },
        };
        for (size_t i = 0; i < ARRAY_SIZE(strs); i++) {
                assert_true(json_object_object_get_ex(p, strs[i].k, &v));
                assert_string_equal(json_object_get_string(v), strs[i].want);
        }
        int64_t iat = json_object_get_int64(json_object_object_get(p, "iat"));
        assert_int_equal(iat, IAT);
        assert_int_equal(json_object_get_int64(json_object_object_get(p, "nbf")), IAT);
        assert_int_equal(json_object_get_int64(json_object_object_get(p, "exp")) - iat, 900);
        assert_int_equal(json_object_object_length(p), 10);

        /* The signature is Ed25519 over "header.payload". */
        uint8_t sig[128];
        assert_int_equal(b64url_dec(d2 + 1, strlen(d2 + 1), sig), KEY_SIG_LEN);
        assert_int_equal(key_verify(f->pub, tok, (size_t)(d2 - tok), sig), 0);

        /* jwt_verify with the exported public key returns the claims. */
        json_object *claims = NULL;
        assert_int_equal(jwt_verify(f->pub, tok, IAT, &claims, &e), 0);
        assert_true(json_object_equal(claims, p));
        json_object_put(claims);
        assert_int_equal(verify(f, NULL, tok, IAT + 899, NULL), 0);
}

static void test_time(void **state)
{
        struct fixture *f = *state;
        _cleanup_free_ char *tok = mint(f, IAT, 60), *msg = NULL;

        msg = xasprintf("JWT: expired at %d (now %d)", IAT + 60, IAT + 60);
        assert_int_equal(verify(f, NULL, tok, IAT + 60, msg), -EBADMSG);
        assert_int_equal(verify(f, NULL, tok, IAT + 100000, NULL), -EBADMSG);
        free(msg);
        msg = xasprintf("JWT: not valid before %d (now %d)", IAT, IAT - 1);
        assert_int_equal(verify(f, NULL, tok, IAT - 1, msg), -EBADMSG);
        assert_int_equal(verify(f, NULL, tok, IAT + 59, NULL), 0);
}

static void test_tampered(void **state)
{
        struct fixture *f = *state;
        _cleanup_free_ char *tok = mint(f, IAT, 900);
        const char *d1 = strchr(tok, '.'), *d2 = strrchr(tok, '.');
        static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

        /* Any one character of the payload or signature changed fails. */
        for (size_t i = (size_t)(d1 - tok) + 1; tok[i]; i++) {
                if (tok + i == d2)
                        continue;
                char old = tok[i];
                tok[i] = alphabet[(strchr(alphabet, old) - alphabet + 1) % 64];
                assert_int_equal(verify(f, NULL, tok, IAT, NULL), -EBADMSG);
                tok[i] = old;
        }
        assert_int_equal(verify(f, NULL, tok, IAT, NULL), 0);

        /* The same token checked with another key. */
        _cleanup_pkey_ EVP_PKEY *other = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
        assert_int_equal(verify(f, other, tok, IAT, "JWT: the signature does not verify"), -EBADMSG);
        _cleanup_pkey_ EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
        assert_int_equal(verify(f, ec, tok, IAT, "JWT: the verifying key is not Ed25519"), -EINVAL);
}

/* HEADER (JSON) + the real payload + SIG (base64url). */
static char *forge(const char *tok, const char *header, const char *sig)
{
        _cleanup_free_ char *h = b64url_encode(header, strlen(header));
        const char *d1 = strchr(tok, '.'), *d2 = strrchr(tok, '.');
        return xasprintf("%s.%.*s.%s", h, (int)(d2 - d1 - 1), d1 + 1, sig);
}

static void test_forged(void **state)
{
        struct fixture *f = *state;
        _cleanup_free_ char *tok = mint(f, IAT, 900);
        const char *sig = strrchr(tok, '.') + 1;
        const struct { const char *header; const char *sig; const char *msg; } cases[] = {
                { "{\"alg\":\"none\",\"typ\":\"JWT\"}", "", "JWT: alg \"none\" is not EdDSA" },
                { "{\"alg\":\"none\",\"typ\":\"JWT\"}", sig, "JWT: alg \"none\" is not EdDSA" },
                { "{\"alg\":\"HS256\",\"typ\":\"JWT\"}", sig, "JWT: alg \"HS256\" is not EdDSA" },
                { "{\"typ\":\"JWT\"}", sig, "JWT: the header has no alg" },
                { "{\"alg\":\"EdDSA\",\"crit\":[\"x\"]}", sig, "JWT: the header has crit extensions" },
                { "{\"alg\":\"EdDSA\"}", sig, "JWT: the signature does not verify" },
                { "{\"alg\":\"EdDSA\"} x", sig, "JWT: the header is not a JSON object" },
                { "[\"EdDSA\"]", sig, "JWT: the header is not a JSON object" },
        };
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                _cleanup_free_ char *t = forge(tok, cases[i].header, cases[i].sig);
                assert_int_equal(verify(f, NULL, t, IAT, cases[i].msg), -EBADMSG);
        }
}

static void test_malformed(void **state)
{
        struct fixture *f = *state;
        _cleanup_free_ char *tok = mint(f, IAT, 900);
        const char *d1 = strchr(tok, '.'), *d2 = strrchr(tok, '.');
        int hl = (int)(d1 - tok), pl = (int)(d2 - d1 - 1);
        _cleanup_free_ char *sig63 = NULL, *big = xmalloc(16 * 1024 + 2);
        uint8_t raw[64];

        assert_int_equal(b64url_dec(d2 + 1, strlen(d2 + 1), raw), 64);
        sig63 = b64url_encode(raw, 63);
        memset(big, 'A', 16 * 1024 + 1);
        big[16 * 1024 + 1] = '\0';
        big[10] = big[20] = '.';
        char *cases[] = {
                xstrdup(""),
                xstrdup("abc"),
                xasprintf("%.*s.%.*s", hl, tok, pl, d1 + 1),                   /* one dot */
                xasprintf("%s.", tok),                                           /* three dots */
                xasprintf("%.*s..%s", hl, tok, d2 + 1),                          /* empty payload */
                xasprintf("%.*s=.%.*s.%s", hl, tok, pl, d1 + 1, d2 + 1),         /* padding */
                xasprintf("%.*s.%.*s.%s==", hl, tok, pl, d1 + 1, d2 + 1),
                xasprintf("%.*s.%.*s.%s", hl, tok, pl, d1 + 1, sig63),           /* 63-byte signature */
                xasprintf("%.*s.%.*s+.%s", hl, tok, pl - 1, d1 + 1, d2 + 1),     /* standard alphabet */
                xasprintf("%.*s.%.*s/.%s", hl, tok, pl - 1, d1 + 1, d2 + 1),
                xasprintf("%.*s .%.*s.%s", hl, tok, pl, d1 + 1, d2 + 1),         /* blank */
                xstrdup(big),
        };
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                assert_int_equal(verify(f, NULL, cases[i], IAT, NULL), -EBADMSG);
                free(cases[i]);
        }
        assert_int_equal(verify(f, NULL, big, IAT, "JWT: the token is empty or longer than 16384 bytes"), -EBADMSG);
}

static void test_mint_refuses(void **state)
{
        struct fixture *f = *state;
        const char *const bad_scope[] = { "a b" }, *const empty_scope[] = { "" }, *const quote[] = { "a\"b" };
        struct jwt_claims ok = { .run_id = "r", .model = "m", .lease = "l", .iat = IAT, .ttl_s = 60 };
        struct mlvm_err e = { 0 };
        char *tok = NULL;
        _cleanup_pkey_ EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");

        struct jwt_claims c = ok;
        c.scope = bad_scope, c.n_scope = 1;
        assert_int_equal(jwt_mint(f->key, f->kid, &c, &tok, &e), -EINVAL);
        assert_string_equal(e.msg, "JWT: scope \"a b\" is not a scope token (RFC 6749 3.3)");
        c.scope = empty_scope;
        assert_int_equal(jwt_mint(f->key, f->kid, &c, &tok, &e), -EINVAL);
        c.scope = quote;
        assert_int_equal(jwt_mint(f->key, f->kid, &c, &tok, &e), -EINVAL);
        c = ok, c.ttl_s = 0;
        assert_int_equal(jwt_mint(f->key, f->kid, &c, &tok, &e), -EINVAL);
        c = ok, c.run_id = "";
        assert_int_equal(jwt_mint(f->key, f->kid, &c, &tok, &e), -EINVAL);
        c = ok, c.iat = INT64_MAX - 10;
        assert_int_equal(jwt_mint(f->key, f->kid, &c, &tok, &e), -EINVAL);
        assert_int_equal(jwt_mint(ec, f->kid, &ok, &tok, &e), -EINVAL);
        assert_string_equal(e.msg, "JWT: the signing key is not Ed25519");
        assert_null(tok);
        /* No scope at all is an empty scope string. */
        assert_int_equal(jwt_mint(f->key, f->kid, &ok, &tok, &e), 0);
        json_object *claims = NULL;
        assert_int_equal(jwt_verify(f->pub, tok, IAT, &claims, &e), 0);
        assert_string_equal(json_object_get_string(json_object_object_get(claims, "scope")), "");
        json_object_put(claims);
        free(tok);
}

/* PyJWT, as a relying party would use it: the PEM, alg EdDSA, audience mlvm. */
static void test_pyjwt(void **state)
{
        struct fixture *f = *state;
        _cleanup_free_ char *tok = mint(f, (int64_t)time(NULL), 600);
        _cleanup_free_ char *tpath = xasprintf("%s/token", f->dir), *ppath = xasprintf("%s/host.pem", f->dir);
        const char *env = getenv("PYTHON3");
        const char *const pythons[] = { "/usr/bin/python3", env && *env ? env : "python3" };
        static const char script[] =
                "import sys\n"
                "try:\n"
                "    import jwt\n"
                "except ImportError:\n"
                "    sys.exit(77)\n"
                "c = jwt.decode(open(sys.argv[1]).read(), open(sys.argv[2]).read(), algorithms=['EdDSA'],\n"
                "               audience='mlvm')\n"
                "assert c['model'] == 'llama-3' and c['scope'] == 'secrets:read model:load x', c\n"
                "t = open(sys.argv[1]).read()\n"
                "t = t[:-2] + ('BA' if t.endswith('AA') else 'AA')\n"
                "try:\n"
                "    jwt.decode(t, open(sys.argv[2]).read(), algorithms=['EdDSA'], audience='mlvm')\n"
                "    sys.exit(3)\n"
                "except jwt.InvalidSignatureError:\n"
                "    pass\n";
        _cleanup_free_ char *spath = xasprintf("%s/check.py", f->dir);

        assert_int_equal(write_file_atomic(tpath, tok, strlen(tok), 0600), 0);
        assert_int_equal(write_file_atomic(ppath, f->pem, strlen(f->pem), 0600), 0);
        assert_int_equal(write_file_atomic(spath, script, strlen(script), 0600), 0);
        for (size_t i = 0; i < ARRAY_SIZE(pythons); i++) {
                _cleanup_free_ char *cmd = xasprintf("'%s' '%s' '%s' '%s' >/dev/null 2>&1", pythons[i], spath,
                                                     tpath, ppath);
                int st = system(cmd);
                if (WIFEXITED(st) && WEXITSTATUS(st) == 77)
                        continue;
                if (WIFEXITED(st) && WEXITSTATUS(st) == 127)
                        continue;       /* no such python */
                _cleanup_free_ char *again = xasprintf("'%s' '%s' '%s' '%s'", pythons[i], spath, tpath, ppath);
                if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
                        fail_msg("PyJWT refused the token (%s): run %s", pythons[i], again);
                return;
        }
        const char *ci = getenv("CI");
        if (ci && streq(ci, "true"))
                fail_msg("CI=true but no python3 with PyJWT (python3-jwt) to check tokens against");
        skip();
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_b64url),
                cmocka_unit_test_setup_teardown(test_mint_verify, setup, teardown),
                cmocka_unit_test_setup_teardown(test_time, setup, teardown),
                cmocka_unit_test_setup_teardown(test_tampered, setup, teardown),
                cmocka_unit_test_setup_teardown(test_forged, setup, teardown),
                cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
                cmocka_unit_test_setup_teardown(test_mint_refuses, setup, teardown),
                cmocka_unit_test_setup_teardown(test_pyjwt, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test-keys.c: Ed25519 key pairs and the trusted set (src/lib/trust/keys.c). Key ids
 * are recomputed here from the raw public key and a hand-built DER
 * SubjectPublicKeyInfo, so a change in what the id covers shows. Every test
 * gets its own state directory, removed afterwards. */
#include "mlvm-build.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "keys.h"
#include "util.h"

#define NAME_RULE "must match [a-z0-9][a-z0-9-]{0,62}"

static int setup(void **state)
{
        char tmpl[] = "/tmp/mlvm-test-keys-XXXXXX";
        assert_non_null(mkdtemp(tmpl));
        *state = xstrdup(tmpl);
        return 0;
}

static int teardown(void **state)
{
        _cleanup_free_ char *cmd = xasprintf("rm -rf -- '%s'", (char *)*state);
        assert_int_equal(system(cmd), 0);
        free(*state);
        return 0;
}

/* RFC 8410: an Ed25519 SubjectPublicKeyInfo is this 12-byte prefix and the
 * 32-byte key. The id is the first 8 bytes of its SHA-256, in hex. */
static void independent_id(EVP_PKEY *k, char id[KEY_ID_LEN + 1])
{
        static const uint8_t prefix[] = { 0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00 };
        uint8_t der[sizeof(prefix) + 32], md[EVP_MAX_MD_SIZE];
        size_t rawlen = 32;
        unsigned int mdlen = 0;

        memcpy(der, prefix, sizeof(prefix));
        assert_int_equal(EVP_PKEY_get_raw_public_key(k, der + sizeof(prefix), &rawlen), 1);
        assert_int_equal(rawlen, 32);
        assert_int_equal(EVP_Digest(der, sizeof(der), md, &mdlen, EVP_sha256(), NULL), 1);
        assert_int_equal(mdlen, 32);
        for (int i = 0; i < KEY_ID_LEN / 2; i++)
                (void)snprintf(id + 2 * i, 3, "%02x", md[i]);
}

static EVP_PKEY *read_pub(const char *path)
{
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        assert_non_null(f);
        EVP_PKEY *k = PEM_read_PUBKEY(f, NULL, NULL, NULL);
        assert_non_null(k);
        return k;
}

static void write_pub(const char *path, EVP_PKEY *k)
{
        _cleanup_fclose_ FILE *f = fopen(path, "we");
        assert_non_null(f);
        assert_int_equal(PEM_write_PUBKEY(f, k), 1);
}

static void write_text(const char *path, const char *text)
{
        assert_int_equal(write_file_atomic(path, text, strlen(text), 0644), 0);
}

static mode_t mode_of(const char *path)
{
        struct stat st;
        assert_int_equal(lstat(path, &st), 0);
        return st.st_mode;
}

static void gen(const char *dir, const char *name, char id[KEY_ID_LEN + 1])
{
        struct mlvm_err e = { 0 };
        if (key_gen(dir, name, id, &e) < 0)
                fail_msg("key_gen %s: %s", name, e.msg);
}

static void test_gen(void **state)
{
        const char *dir = *state;
        _cleanup_free_ char *priv = xasprintf("%s/keys/builder.key", dir), *pub = xasprintf("%s/keys/builder.pub", dir);
        _cleanup_free_ char *keys = xasprintf("%s/keys", dir), *text = NULL, *msg = NULL;
        _cleanup_pkey_ EVP_PKEY *pk = NULL, *sk = NULL;
        char id[KEY_ID_LEN + 1] = "", want[KEY_ID_LEN + 1], again[KEY_ID_LEN + 1];
        uint8_t raw_pub[32], raw_priv_pub[32];
        size_t n = 32;
        struct mlvm_err e = { 0 };

        gen(dir, "builder", id);
        assert_int_equal(strlen(id), KEY_ID_LEN);
        assert_int_equal(strspn(id, "0123456789abcdef"), KEY_ID_LEN);
        assert_true(S_ISDIR(mode_of(keys)));
        assert_int_equal(mode_of(keys) & 07777, 0700);
        assert_true(S_ISREG(mode_of(priv)));
        assert_int_equal(mode_of(priv) & 07777, 0600);
        assert_int_equal(mode_of(pub) & 07777, 0644);

        /* NAME.pub is the public half of NAME.key, and the id is its SPKI's. */
        pk = read_pub(pub);
        assert_int_equal(EVP_PKEY_get_id(pk), EVP_PKEY_ED25519);
        independent_id(pk, want);
        assert_string_equal(id, want);
        assert_int_equal(key_id(pk, again), 0);
        assert_string_equal(again, want);
        assert_int_equal(key_load_private(dir, "builder", false, &sk, &e), 0);
        assert_int_equal(EVP_PKEY_get_raw_public_key(pk, raw_pub, &n), 1);
        assert_int_equal(EVP_PKEY_get_raw_public_key(sk, raw_priv_pub, &n), 1);
        assert_memory_equal(raw_pub, raw_priv_pub, 32);
        assert_int_equal(read_file_capped(priv, 4096, &text, NULL), 0);
        assert_true(strstartswith(text, "-----BEGIN PRIVATE KEY-----\n"));

        /* A second key is a different key; the first is never overwritten. */
        gen(dir, "other", again);
        assert_string_not_equal(again, id);
        assert_int_equal(key_gen(dir, "builder", NULL, &e), -EEXIST);
        msg = xasprintf("key builder already exists (%s)", priv);
        assert_string_equal(e.msg, msg);
        EVP_PKEY_free(pk);
        pk = read_pub(pub);
        independent_id(pk, again);
        assert_string_equal(again, id);
}

static void test_sign_verify(void **state)
{
        const char *dir = *state;
        _cleanup_free_ char *pub = xasprintf("%s/keys/builder.pub", dir);
        _cleanup_pkey_ EVP_PKEY *sk = NULL, *pk = NULL, *other = NULL;
        uint8_t data[300], sig[KEY_SIG_LEN], sig2[KEY_SIG_LEN];
        struct mlvm_err e = { 0 };

        for (size_t i = 0; i < sizeof(data); i++)
                data[i] = (uint8_t)(i * 31);
        gen(dir, "builder", NULL);
        gen(dir, "other", NULL);
        assert_int_equal(key_load_private(dir, "builder", false, &sk, &e), 0);
        assert_int_equal(key_load_private(dir, "other", false, &other, &e), 0);
        pk = read_pub(pub);

        assert_int_equal(key_sign(sk, data, sizeof(data), sig, &e), 0);
        assert_int_equal(key_verify(pk, data, sizeof(data), sig), 0);
        assert_int_equal(key_verify(sk, data, sizeof(data), sig), 0);
        /* Ed25519 is deterministic. */
        assert_int_equal(key_sign(sk, data, sizeof(data), sig2, &e), 0);
        assert_memory_equal(sig, sig2, KEY_SIG_LEN);

        /* Any flipped byte, in the signature or the data, fails. */
        for (size_t i = 0; i < KEY_SIG_LEN; i += 9) {
                sig[i] ^= 0x01;
                assert_int_equal(key_verify(pk, data, sizeof(data), sig), -EBADMSG);
                sig[i] ^= 0x01;
        }
        data[0] ^= 0x80;
        assert_int_equal(key_verify(pk, data, sizeof(data), sig), -EBADMSG);
        data[0] ^= 0x80;
        assert_int_equal(key_verify(pk, data, sizeof(data) - 1, sig), -EBADMSG);
        assert_int_equal(key_verify(other, data, sizeof(data), sig), -EBADMSG);
        assert_int_equal(key_verify(pk, data, sizeof(data), sig), 0);

        /* Empty data signs and verifies too. */
        assert_int_equal(key_sign(sk, "", 0, sig, &e), 0);
        assert_int_equal(key_verify(pk, "", 0, sig), 0);
}

static void test_verify_trusted(void **state)
{
        const char *dir = *state;
        _cleanup_pkey_ EVP_PKEY *sk = NULL;
        char id[KEY_ID_LEN + 1], msg[256];
        static const char data[] = "{\"schema\": \"mlvm.image.v1\"}\n";
        uint8_t sig[KEY_SIG_LEN];
        struct mlvm_err e = { 0 };

        gen(dir, "builder", id);
        assert_int_equal(key_load_private(dir, "builder", false, &sk, &e), 0);
        assert_int_equal(key_sign(sk, data, sizeof(data) - 1, sig, &e), 0);

        /* Our own key pair is not trusted until said so. */
        assert_int_equal(key_verify_trusted(dir, id, data, sizeof(data) - 1, sig, &e), -EPERM);
        (void)snprintf(msg, sizeof(msg), "signed by key %s, which is not trusted (see mlvm key trust)", id);
        assert_string_equal(e.msg, msg);
        assert_int_equal(key_trust_own(dir, "builder", &e), 0);
        _cleanup_free_ char *tpath = xasprintf("%s/keys/trusted/%s.pub", dir, id);
        assert_int_equal(mode_of(tpath) & 07777, 0644);
        assert_int_equal(key_verify_trusted(dir, id, data, sizeof(data) - 1, sig, &e), 0);

        sig[10] ^= 0x04;
        assert_int_equal(key_verify_trusted(dir, id, data, sizeof(data) - 1, sig, &e), -EBADMSG);
        (void)snprintf(msg, sizeof(msg), "signature does not verify with trusted key %s", id);
        assert_string_equal(e.msg, msg);
        sig[10] ^= 0x04;

        /* Key ids are exactly 16 lowercase hex digits: never a path. */
        static const char *const bad_ids[] = { "", "0123456789abcde", "0123456789abcdef0", "0123456789ABCDEF",
                                               "../../../tmp/xx/", "0123456789abcde/" };
        for (size_t i = 0; i < ARRAY_SIZE(bad_ids); i++) {
                assert_int_equal(key_verify_trusted(dir, bad_ids[i], data, sizeof(data) - 1, sig, &e), -EINVAL);
                (void)snprintf(msg, sizeof(msg), "key id \"%s\" is not 16 hex digits", bad_ids[i]);
                assert_string_equal(e.msg, msg);
        }
        /* A trusted file that is not a key. */
        write_text(tpath, "garbage\n");
        assert_int_equal(key_verify_trusted(dir, id, data, sizeof(data) - 1, sig, &e), -EINVAL);
        (void)snprintf(msg, sizeof(msg), "%s: not a PEM public key", tpath);
        assert_string_equal(e.msg, msg);
}

static void test_private_mode(void **state)
{
        const char *dir = *state;
        _cleanup_free_ char *priv = xasprintf("%s/keys/builder.key", dir), *msg = NULL;
        _cleanup_pkey_ EVP_PKEY *k = NULL;
        struct mlvm_err e = { 0 };

        gen(dir, "builder", NULL);
        assert_int_equal(chmod(priv, 0644), 0);
        assert_int_equal(key_load_private(dir, "builder", false, &k, &e), -EPERM);
        msg = xasprintf("%s: mode 644 is readable by others; chmod 600 it", priv);
        assert_string_equal(e.msg, msg);
        assert_null(k);
        free(msg);
        assert_int_equal(chmod(priv, 0604), 0);
        assert_int_equal(key_load_private(dir, "builder", false, &k, &e), -EPERM);
        msg = xasprintf("%s: mode 604 is readable by others; chmod 600 it", priv);
        assert_string_equal(e.msg, msg);
        assert_int_equal(chmod(priv, 0400), 0);     /* owner-only is fine */
        assert_int_equal(key_load_private(dir, "builder", false, &k, &e), 0);
        assert_non_null(k);
}

static void test_load_missing_and_create(void **state)
{
        const char *dir = *state;
        _cleanup_free_ char *priv = xasprintf("%s/keys/host.key", dir), *msg = NULL;
        _cleanup_pkey_ EVP_PKEY *k = NULL, *again = NULL;
        char id1[KEY_ID_LEN + 1], id2[KEY_ID_LEN + 1];
        struct mlvm_err e = { 0 };

        assert_int_equal(key_load_private(dir, KEY_HOST, false, &k, &e), -ENOENT);
        msg = xasprintf("key host: %s: No such file or directory", priv);
        assert_string_equal(e.msg, msg);
        assert_null(k);
        /* Created on first use, then the same key every time. */
        assert_int_equal(key_load_private(dir, KEY_HOST, true, &k, &e), 0);
        assert_int_equal(mode_of(priv) & 07777, 0600);
        assert_int_equal(key_load_private(dir, KEY_HOST, true, &again, &e), 0);
        assert_int_equal(key_id(k, id1), 0);
        assert_int_equal(key_id(again, id2), 0);
        assert_string_equal(id1, id2);
}

static void test_trust_file(void **state)
{
        const char *dir = *state;
        _cleanup_free_ char *ec = xasprintf("%s/ec.pub", dir), *x = xasprintf("%s/x25519.pub", dir);
        _cleanup_free_ char *junk = xasprintf("%s/junk.pub", dir), *empty = xasprintf("%s/empty.pub", dir);
        _cleanup_free_ char *good = xasprintf("%s/publisher.pub", dir), *missing = xasprintf("%s/nope.pub", dir);
        _cleanup_free_ char *priv = xasprintf("%s/keys/builder.key", dir);
        _cleanup_pkey_ EVP_PKEY *eck = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
        _cleanup_pkey_ EVP_PKEY *xk = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
        _cleanup_pkey_ EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
        char id[KEY_ID_LEN + 1] = "unchanged", want[KEY_ID_LEN + 1], msg[512];
        struct mlvm_err e = { 0 };

        assert_non_null(eck);
        assert_non_null(xk);
        assert_non_null(ed);
        write_pub(ec, eck);
        write_pub(x, xk);
        write_pub(good, ed);
        write_text(junk, "-----BEGIN PUBLIC KEY-----\nnot base64 at all\n-----END PUBLIC KEY-----\n");
        write_text(empty, "");
        gen(dir, "builder", NULL);

        const struct { const char *path; int code; const char *msg; } cases[] = {
                { ec, -EINVAL, "not an Ed25519 key" },
                { x, -EINVAL, "not an Ed25519 key" },
                { junk, -EINVAL, "not a PEM public key" },
                { empty, -EINVAL, "not a PEM public key" },
                { priv, -EINVAL, "not a PEM public key" },      /* a private key is not a public one */
                { missing, -ENOENT, "No such file or directory" },
        };
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                assert_int_equal(key_trust_file(dir, cases[i].path, id, &e), cases[i].code);
                (void)snprintf(msg, sizeof(msg), "%s: %s", cases[i].path, cases[i].msg);
                assert_string_equal(e.msg, msg);
                assert_string_equal(id, "unchanged");
        }
        _cleanup_free_ char *tdir = xasprintf("%s/keys/trusted", dir);
        struct stat st;
        assert_int_equal(stat(tdir, &st), -1);     /* nothing was trusted */

        assert_int_equal(key_trust_file(dir, good, id, &e), 0);
        independent_id(ed, want);
        assert_string_equal(id, want);
        _cleanup_free_ char *tpath = xasprintf("%s/%s.pub", tdir, id);
        assert_int_equal(mode_of(tdir) & 07777, 0700);
        _cleanup_pkey_ EVP_PKEY *stored = read_pub(tpath);
        assert_int_equal(EVP_PKEY_eq(stored, ed), 1);
}

static void test_list(void **state)
{
        const char *dir = *state;
        _cleanup_free_ char *pub = xasprintf("%s/publisher.pem", dir);
        _cleanup_pkey_ EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
        char builder[KEY_ID_LEN + 1], alpha[KEY_ID_LEN + 1], lone[KEY_ID_LEN + 1], ext[KEY_ID_LEN + 1];
        struct key_info *v = NULL;
        size_t n = 99;
        struct mlvm_err e = { 0 };

        /* Nothing yet: an empty list, not an error. */
        assert_int_equal(key_list(dir, &v, &n, &e), 0);
        assert_int_equal(n, 0);
        key_list_free(v, n);

        gen(dir, "builder", builder);
        gen(dir, "alpha", alpha);
        gen(dir, "lone", lone);
        assert_int_equal(key_trust_own(dir, "builder", &e), 0);
        write_pub(pub, ed);
        assert_int_equal(key_trust_file(dir, pub, ext, &e), 0);
        /* A public half only; and files that are not keys or not named as keys. */
        _cleanup_free_ char *lone_key = xasprintf("%s/keys/lone.key", dir);
        assert_int_equal(unlink(lone_key), 0);
        _cleanup_free_ char *junk = xasprintf("%s/keys/junk.pub", dir), *upper = xasprintf("%s/keys/Bad.pub", dir);
        _cleanup_free_ char *upper_src = xasprintf("%s/keys/alpha.pub", dir), *notes = xasprintf("%s/keys/notes", dir);
        _cleanup_free_ char *tjunk = xasprintf("%s/keys/trusted/README", dir);
        _cleanup_free_ char *alpha_pem = NULL;
        write_text(junk, "junk\n");
        assert_int_equal(read_file_capped(upper_src, 4096, &alpha_pem, NULL), 0);
        write_text(upper, alpha_pem);
        write_text(notes, "x\n");
        write_text(tjunk, "x\n");

        assert_int_equal(key_list(dir, &v, &n, &e), 0);
        _cleanup_free_ char *ext_name = xasprintf("(trusted:%s)", ext);
        assert_int_equal(n, 4);
        /* Sorted by name; "(" sorts first. */
        assert_string_equal(v[0].name, ext_name);
        assert_string_equal(v[0].id, ext);
        assert_false(v[0].has_private);
        assert_true(v[0].trusted);
        assert_string_equal(v[1].name, "alpha");
        assert_string_equal(v[1].id, alpha);
        assert_true(v[1].has_private);
        assert_false(v[1].trusted);
        assert_string_equal(v[2].name, "builder");
        assert_string_equal(v[2].id, builder);
        assert_true(v[2].has_private);
        assert_true(v[2].trusted);
        assert_string_equal(v[3].name, "lone");
        assert_string_equal(v[3].id, lone);
        assert_false(v[3].has_private);
        assert_false(v[3].trusted);
        key_list_free(v, n);
}

static void test_invalid_names(void **state)
{
        const char *dir = *state;
        char long_ok[64], too_long[65], msg[256];
        _cleanup_pkey_ EVP_PKEY *k = NULL;
        char *pem = NULL;
        struct mlvm_err e = { 0 };

        memset(long_ok, 'k', 63);
        long_ok[63] = '\0';
        memset(too_long, 'k', 64);
        too_long[64] = '\0';
        const char *const bad[] = { "", "Builder", "-x", "a_b", "a.b", "a/b", "../x", "..", "a b", too_long };
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                (void)snprintf(msg, sizeof(msg), "key name \"%s\": " NAME_RULE, bad[i]);
                assert_int_equal(key_gen(dir, bad[i], NULL, &e), -EINVAL);
                assert_string_equal(e.msg, msg);
                err_clear(&e);
                assert_int_equal(key_load_private(dir, bad[i], true, &k, &e), -EINVAL);
                assert_string_equal(e.msg, msg);
                err_clear(&e);
                assert_int_equal(key_export_public(dir, bad[i], &pem, &e), -EINVAL);
                assert_string_equal(e.msg, msg);
                assert_null(pem);
        }
        /* Nothing was created for any of them. */
        _cleanup_free_ char *keys = xasprintf("%s/keys", dir);
        struct stat st;
        assert_int_equal(stat(keys, &st), -1);

        gen(dir, long_ok, NULL);
        gen(dir, "0", NULL);
        assert_int_equal(key_export_public(dir, "0", &pem, &e), 0);
        _cleanup_free_ char *path = xasprintf("%s/keys/0.pub", dir), *text = NULL;
        assert_int_equal(read_file_capped(path, 4096, &text, NULL), 0);
        assert_string_equal(pem, text);
        assert_true(strstartswith(pem, "-----BEGIN PUBLIC KEY-----\n"));
        free(pem);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
        static const struct CMUnitTest tests[] = {
                T(test_gen),
                T(test_sign_verify),
                T(test_verify_trusted),
                T(test_private_mode),
                T(test_load_missing_and_create),
                T(test_trust_file),
                T(test_list),
                T(test_invalid_names),
        };
        return cmocka_run_group_tests_name("keys", tests, NULL, NULL);
}

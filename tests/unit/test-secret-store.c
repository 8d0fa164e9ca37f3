/* test-secret-store.c: the encrypted secret store (src/lib/creds/secret-store.c).
 * Files are edited here with json-c and the fingerprint is recomputed with
 * HMAC from the key file, so the tests check the documented format, not
 * just that the code agrees with itself. Each test gets its own state
 * directory, removed afterwards. */
#include "mlvm-build.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <dirent.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <json-c/json.h>

#include "secret-store.h"
#include "util.h"
#include "virt.h"

static int setup(void **state)
{
        char tmpl[] = "/tmp/mlvm-test-secret-XXXXXX";
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

static mode_t mode_of(const char *path)
{
        struct stat st;
        assert_int_equal(lstat(path, &st), 0);
        return st.st_mode & 07777;
}

static void set(const char *dir, const char *name, const char *value)
{
        struct mlvm_err e = { 0 };
        if (secret_set(dir, name, value, strlen(value), NULL, &e) < 0)
                fail_msg("secret_set %s: %s", name, e.msg);
}

/* Get NAME and expect CODE; on success, expect VALUE. */
static void expect_get(const char *dir, const char *name, int code, const void *value, size_t len)
{
        struct mlvm_err e = { 0 };
        uint8_t *v = NULL;
        size_t n = 0;
        int r = secret_get(dir, name, &v, &n, NULL, &e);

        if (r != code)
                fail_msg("secret_get %s: %d (%s), expected %d", name, r, e.msg, code);
        if (code == 0) {
                assert_int_equal(n, len);
                assert_memory_equal(v, value, len);
                secret_wipe(v, n);
        } else
                assert_null(v);
}

static json_object *load(const char *path)
{
        json_object *o = json_object_from_file(path);
        assert_non_null(o);
        return o;
}

static void save(const char *path, json_object *o)
{
        const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        assert_int_equal(write_file_atomic(path, s, strlen(s), 0600), 0);
}

/* Flip bit 0 of byte I of the base64 field KEY of the file at PATH. */
static void flip(const char *path, const char *key, size_t i)
{
        _cleanup_json_ json_object *o = load(path);
        json_object *v;
        uint8_t raw[1024];
        char b64[2048];

        assert_true(json_object_object_get_ex(o, key, &v));
        const char *s = json_object_get_string(v);
        int n = EVP_DecodeBlock(raw, (const unsigned char *)s, (int)strlen(s));
        assert_true(n > (int)i);
        raw[i] ^= 1;
        size_t pad = strlen(s) - strcspn(s, "=");
        (void)EVP_EncodeBlock((unsigned char *)b64, raw, n - (int)pad);
        json_object_object_add(o, key, json_object_new_string(b64));
        save(path, o);
}

static void copy_file(const char *from, const char *to)
{
        _cleanup_free_ char *buf = NULL;
        size_t len;
        assert_int_equal(read_file_capped(from, 1 << 20, &buf, &len), 0);
        assert_int_equal(write_file_atomic(to, buf, len, 0600), 0);
}

static size_t unb64(json_object *o, const char *key, uint8_t *raw)
{
        const char *s = json_object_get_string(json_object_object_get(o, key));
        int n = EVP_DecodeBlock(raw, (const unsigned char *)s, (int)strlen(s));
        assert_true(n >= 0);
        return (size_t)n - (strlen(s) - strcspn(s, "="));
}

/* Decrypt the file as secret-store.h documents it: AES-256-GCM under
 * store.key with AAD "mlvm-secret-v1\n" NAME "\n" <created_at> "\n". */
static void independent_decrypt(const char *dir, const char *name, const void *want, size_t len)
{
        _cleanup_free_ char *kpath = xasprintf("%s/secrets/store.key", dir), *key = NULL;
        _cleanup_free_ char *path = xasprintf("%s/secrets/%s.secret", dir, name);
        _cleanup_json_ json_object *o = load(path);
        uint8_t nonce[32], tag[32], ct[256], pt[256];
        size_t klen;
        int n = 0;

        assert_int_equal(read_file_capped(kpath, 64, &key, &klen), 0);
        assert_int_equal(unb64(o, "nonce", nonce), 12);
        assert_int_equal(unb64(o, "tag", tag), 16);
        assert_int_equal(unb64(o, "ciphertext", ct), len);
        _cleanup_free_ char *aad = xasprintf("mlvm-secret-v1\n%s\n%lld\n", name,
                                             (long long)json_object_get_int64(json_object_object_get(o, "created_at")));
        EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
        assert_int_equal(EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, (uint8_t *)key, nonce), 1);
        assert_int_equal(EVP_DecryptUpdate(ctx, NULL, &n, (uint8_t *)aad, (int)strlen(aad)), 1);
        assert_int_equal(EVP_DecryptUpdate(ctx, pt, &n, ct, (int)len), 1);
        assert_int_equal(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16, tag), 1);
        assert_int_equal(EVP_DecryptFinal_ex(ctx, pt + n, &n), 1);
        EVP_CIPHER_CTX_free(ctx);
        assert_memory_equal(pt, want, len);
}

static void test_round_trip(void **state)
{
        const char *dir = *state;
        _cleanup_free_ char *sdir = xasprintf("%s/secrets", dir), *key = xasprintf("%s/store.key", sdir);
        _cleanup_free_ char *path = xasprintf("%s/API_KEY.secret", sdir);
        static const uint8_t bin[] = { 0, 'a', '\n', 0xff, 0, '\r', '\n' };
        struct secret_info info, got;
        struct mlvm_err e = { 0 };
        uint8_t *v = NULL;
        size_t n = 0;
        struct stat st;

        assert_int_equal(stat(sdir, &st), -1);      /* created on first use */
        int64_t before = (int64_t)time(NULL);
        assert_int_equal(secret_set(dir, "API_KEY", bin, sizeof(bin), &info, &e), 0);
        assert_string_equal(info.name, "API_KEY");
        assert_int_equal(info.size, sizeof(bin));
        assert_true(info.created_at >= before && info.created_at <= (int64_t)time(NULL));
        assert_int_equal(mode_of(sdir), 0700);
        assert_int_equal(mode_of(key), 0600);
        assert_int_equal(mode_of(path), 0600);
        assert_int_equal(stat(key, &st), 0);
        assert_int_equal(st.st_size, 32);

        /* Bytes come back exactly: NULs, no newline added or stripped. */
        assert_int_equal(secret_get(dir, "API_KEY", &v, &n, &got, &e), 0);
        assert_int_equal(n, sizeof(bin));
        assert_memory_equal(v, bin, sizeof(bin));
        secret_wipe(v, n);
        assert_memory_equal(&got, &info, sizeof(info));

        /* The file holds exactly the documented fields. */
        _cleanup_json_ json_object *o = load(path);
        assert_int_equal(json_object_object_length(o), 8);
        json_object *f;
        assert_true(json_object_object_get_ex(o, "version", &f) && json_object_get_int(f) == 1);
        assert_true(json_object_object_get_ex(o, "name", &f));
        assert_string_equal(json_object_get_string(f), "API_KEY");
        assert_true(json_object_object_get_ex(o, "created_at", &f) && json_object_get_int64(f) == info.created_at);
        assert_true(json_object_object_get_ex(o, "size", &f) && json_object_get_int(f) == (int)sizeof(bin));
        assert_true(json_object_object_get_ex(o, "fingerprint", &f));
        assert_string_equal(json_object_get_string(f), info.fingerprint);
        assert_true(json_object_object_get_ex(o, "nonce", &f) && strlen(json_object_get_string(f)) == 16);
        assert_true(json_object_object_get_ex(o, "tag", &f) && strlen(json_object_get_string(f)) == 24);
        assert_true(json_object_object_get_ex(o, "ciphertext", &f) && strlen(json_object_get_string(f)) == 12);
        independent_decrypt(dir, "API_KEY", bin, sizeof(bin));

        /* Replacing keeps the key and gives a fresh nonce. */
        _cleanup_free_ char *nonce1 = xstrdup(json_object_get_string(json_object_object_get(o, "nonce")));
        set(dir, "API_KEY", "second value");
        expect_get(dir, "API_KEY", 0, "second value", 12);
        _cleanup_json_ json_object *o2 = load(path);
        assert_string_not_equal(json_object_get_string(json_object_object_get(o2, "nonce")), nonce1);

        /* The largest value. */
        _cleanup_free_ uint8_t *big = xmalloc(SECRET_VALUE_MAX);
        for (size_t i = 0; i < SECRET_VALUE_MAX; i++)
                big[i] = (uint8_t)(i * 7);
        assert_int_equal(secret_set(dir, "big", big, SECRET_VALUE_MAX, NULL, &e), 0);
        expect_get(dir, "big", 0, big, SECRET_VALUE_MAX);
}

static void test_refused_values_and_names(void **state)
{
        const char *dir = *state;
        _cleanup_free_ uint8_t *big = xcalloc(SECRET_VALUE_MAX + 1, 1);
        char name64[65], name65[66], msg[256];
        struct mlvm_err e = { 0 };
        struct stat st;

        assert_int_equal(secret_set(dir, "X", "", 0, NULL, &e), -EINVAL);
        assert_string_equal(e.msg, "secret X: the value is empty");
        assert_int_equal(secret_set(dir, "X", big, SECRET_VALUE_MAX + 1, NULL, &e), -EFBIG);
        assert_string_equal(e.msg, "secret X: the value is 65537 bytes, more than 65536");

        memset(name64, 'n', 64);
        name64[64] = '\0';
        memset(name65, 'n', 65);
        name65[65] = '\0';
        const char *const bad[] = { "", ".x", "-x", "..", ".", "a/b", "../x", "a b", "a\nb", "é", name65 };
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                assert_false(secret_name_is_valid(bad[i]));
                assert_int_equal(secret_set(dir, bad[i], "v", 1, NULL, &e), -EINVAL);
                (void)snprintf(msg, sizeof(msg), "secret name \"%s\": must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,63}",
                               bad[i]);
                assert_string_equal(e.msg, msg);
                assert_int_equal(secret_rm(dir, bad[i], &e), -EINVAL);
        }
        _cleanup_free_ char *sdir = xasprintf("%s/secrets", dir);
        assert_int_equal(stat(sdir, &st), -1);     /* refusals create nothing */

        const char *const good[] = { "A", "_x", "a.b-c_D9", "9lives", name64 };
        for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
                assert_true(secret_name_is_valid(good[i]));
                set(dir, good[i], "v");
                expect_get(dir, good[i], 0, "v", 1);
        }
}

static void test_wrong_key(void **state)
{
        const char *dir = *state;
        _cleanup_free_ char *a = xasprintf("%s/a", dir), *b = xasprintf("%s/b", dir);
        _cleanup_free_ char *from = xasprintf("%s/secrets/TOKEN.secret", a), *to = xasprintf("%s/secrets/TOKEN.secret", b);
        _cleanup_free_ char *msg = xasprintf("secret TOKEN: %s fails authentication (tampered, or another store's key)",
                                             to);
        struct mlvm_err e = { 0 };
        uint8_t *v = NULL;
        size_t n;

        set(a, "TOKEN", "value of a");
        set(b, "OTHER", "makes b's key");
        copy_file(from, to);
        assert_int_equal(secret_get(b, "TOKEN", &v, &n, NULL, &e), -EBADMSG);
        assert_string_equal(e.msg, msg);
        assert_null(v);

        /* The same file under a replaced key fails too; the right key works. */
        _cleanup_free_ char *akey = xasprintf("%s/secrets/store.key", a), *bkey = xasprintf("%s/secrets/store.key", b);
        copy_file(akey, bkey);
        expect_get(b, "TOKEN", 0, "value of a", 10);
        expect_get(b, "OTHER", -EBADMSG, NULL, 0);
}

static void test_tamper(void **state)
{
        const char *dir = *state;
        _cleanup_free_ char *path = xasprintf("%s/secrets/A.secret", dir), *pathb = xasprintf("%s/secrets/B.secret", dir);
        _cleanup_free_ char *orig = NULL, *msg = NULL;
        size_t len;

        set(dir, "A", "a fairly long secret value");
        assert_int_equal(read_file_capped(path, 1 << 20, &orig, &len), 0);
        const struct { const char *key; size_t byte; } flips[] = {
                { "ciphertext", 0 }, { "ciphertext", 25 }, { "tag", 0 }, { "tag", 15 }, { "nonce", 5 },
        };
        for (size_t i = 0; i < ARRAY_SIZE(flips); i++) {
                flip(path, flips[i].key, flips[i].byte);
                expect_get(dir, "A", -EBADMSG, NULL, 0);
                assert_int_equal(write_file_atomic(path, orig, len, 0600), 0);
                expect_get(dir, "A", 0, "a fairly long secret value", 26);
        }

        /* Metadata: created_at is in the AAD; the fingerprint is checked. */
        _cleanup_json_ json_object *o = load(path);
        int64_t t = json_object_get_int64(json_object_object_get(o, "created_at"));
        json_object_object_add(o, "created_at", json_object_new_int64(t + 1));
        save(path, o);
        struct mlvm_err e = { 0 };
        uint8_t *v = NULL;
        size_t n;
        assert_int_equal(secret_get(dir, "A", &v, &n, NULL, &e), -EBADMSG);
        msg = xasprintf("secret A: %s fails authentication (tampered, or another store's key)", path);
        assert_string_equal(e.msg, msg);
        json_object_object_add(o, "created_at", json_object_new_int64(t));
        json_object_object_add(o, "fingerprint", json_object_new_string("hmac-sha256:00000000000000000000000000000000"));
        save(path, o);
        expect_get(dir, "A", -EBADMSG, NULL, 0);

        /* Renamed to another secret's name: as is, and with "name" edited. */
        assert_int_equal(write_file_atomic(path, orig, len, 0600), 0);
        assert_int_equal(rename(path, pathb), 0);
        assert_int_equal(secret_get(dir, "B", &v, &n, NULL, &e), -EBADMSG);
        free(msg);
        msg = xasprintf("secret B: %s is damaged: holds another secret's name (renamed?)", pathb);
        assert_string_equal(e.msg, msg);
        _cleanup_json_ json_object *r = load(pathb);
        json_object_object_add(r, "name", json_object_new_string("B"));
        save(pathb, r);
        assert_int_equal(secret_get(dir, "B", &v, &n, NULL, &e), -EBADMSG);
        free(msg);
        msg = xasprintf("secret B: %s fails authentication (tampered, or another store's key)", pathb);
        assert_string_equal(e.msg, msg);
        expect_get(dir, "A", -ENOENT, NULL, 0);
}

static void test_damaged_files(void **state)
{
        const char *dir = *state;
        _cleanup_free_ char *path = xasprintf("%s/secrets/D.secret", dir), *msg = NULL;
        struct mlvm_err e = { 0 };
        uint8_t *v = NULL;
        size_t n;

        set(dir, "D", "value");
        _cleanup_json_ json_object *o = load(path);
        const struct { const char *text; const char *why; } cases[] = {
                { "", "not a JSON object" },
                { "[1]", "not a JSON object" },
                { "{\"version\":1} x", "not a JSON object" },
                { "{\"version\":1}", "unexpected fields" },
        };
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                assert_int_equal(write_file_atomic(path, cases[i].text, strlen(cases[i].text), 0600), 0);
                assert_int_equal(secret_get(dir, "D", &v, &n, NULL, &e), -EBADMSG);
                free(msg);
                msg = xasprintf("secret D: %s is damaged: %s", path, cases[i].why);
                assert_string_equal(e.msg, msg);
        }
        /* One field more, or a nonce/size that does not decode to its length. */
        json_object_object_add(o, "extra", json_object_new_int(1));
        save(path, o);
        expect_get(dir, "D", -EBADMSG, NULL, 0);
        json_object_object_del(o, "extra");
        json_object_object_add(o, "size", json_object_new_int(6));
        save(path, o);
        expect_get(dir, "D", -EBADMSG, NULL, 0);
        json_object_object_add(o, "size", json_object_new_int(5));
        json_object_object_add(o, "nonce", json_object_new_string("AAAA AAAAAAAAAAA"));
        save(path, o);
        expect_get(dir, "D", -EBADMSG, NULL, 0);

        /* Over the file cap: refused before parsing. */
        _cleanup_free_ char *huge = xmalloc(SECRET_FILE_MAX + 2);
        memset(huge, ' ', SECRET_FILE_MAX + 1);
        assert_int_equal(write_file_atomic(path, huge, SECRET_FILE_MAX + 1, 0600), 0);
        assert_int_equal(secret_get(dir, "D", &v, &n, NULL, &e), -EBADMSG);
        free(msg);
        msg = xasprintf("secret D: %s is larger than %d bytes", path, SECRET_FILE_MAX);
        assert_string_equal(e.msg, msg);

        /* A damaged secret can still be removed. */
        assert_int_equal(secret_rm(dir, "D", &e), 0);
        assert_int_equal(secret_get(dir, "D", &v, &n, NULL, &e), -ENOENT);
        assert_string_equal(e.msg, "secret D: no such secret");
}

static void test_modes(void **state)
{
        const char *dir = *state;
        _cleanup_free_ char *sdir = xasprintf("%s/secrets", dir), *key = xasprintf("%s/store.key", sdir);
        _cleanup_free_ char *path = xasprintf("%s/M.secret", sdir), *msg = NULL;
        struct mlvm_err e = { 0 };
        uint8_t *v = NULL;
        size_t n;

        set(dir, "M", "value");
        assert_int_equal(chmod(key, 0644), 0);
        assert_int_equal(secret_get(dir, "M", &v, &n, NULL, &e), -EPERM);
        msg = xasprintf("secret store key %s has mode 644: group or others can read it; chmod 600 it", key);
        assert_string_equal(e.msg, msg);
        assert_int_equal(secret_set(dir, "M", "x", 1, NULL, &e), -EPERM);
        assert_int_equal(chmod(key, 0640), 0);
        expect_get(dir, "M", -EPERM, NULL, 0);
        assert_int_equal(chmod(key, 0400), 0);     /* owner-only is fine */
        expect_get(dir, "M", 0, "value", 5);
        assert_int_equal(chmod(key, 0600), 0);

        /* A key of the wrong size is refused, not padded or truncated. */
        _cleanup_free_ char *saved = NULL;
        size_t klen;
        assert_int_equal(read_file_capped(key, 64, &saved, &klen), 0);
        assert_int_equal(write_file_atomic(key, saved, 31, 0600), 0);
        assert_int_equal(secret_get(dir, "M", &v, &n, NULL, &e), -EINVAL);
        free(msg);
        msg = xasprintf("secret store key %s is 31 bytes, not 32 (damaged?)", key);
        assert_string_equal(e.msg, msg);
        assert_int_equal(secret_set(dir, "M", "x", 1, NULL, &e), -EINVAL);     /* never replaced */
        assert_int_equal(write_file_atomic(key, saved, klen, 0600), 0);
        expect_get(dir, "M", 0, "value", 5);

        assert_int_equal(chmod(path, 0644), 0);
        expect_get(dir, "M", -EPERM, NULL, 0);
        assert_int_equal(chmod(path, 0600), 0);

        assert_int_equal(chmod(sdir, 0755), 0);
        assert_int_equal(secret_get(dir, "M", &v, &n, NULL, &e), -EPERM);
        free(msg);
        msg = xasprintf("secret store %s has mode 0755: group and others can reach it; run 'chmod 700 %s'", sdir, sdir);
        assert_string_equal(e.msg, msg);
        assert_int_equal(secret_set(dir, "N", "x", 1, NULL, &e), -EPERM);
        struct secret_info *l = NULL;
        assert_int_equal(secret_list(dir, &l, &n, &e), -EPERM);
        assert_int_equal(chmod(sdir, 0700), 0);
        expect_get(dir, "M", 0, "value", 5);
}

/* Independently: HMAC-SHA256(HMAC-SHA256(store.key, domain), value)[:16]. */
static void expected_fp(const char *dir, const void *value, size_t len, char ret[SECRET_FP_LEN + 1])
{
        _cleanup_free_ char *kpath = xasprintf("%s/secrets/store.key", dir), *key = NULL;
        uint8_t k2[32], mac[32];
        unsigned int l = 0;
        size_t klen;

        assert_int_equal(read_file_capped(kpath, 64, &key, &klen), 0);
        assert_int_equal(klen, 32);
        assert_non_null(HMAC(EVP_sha256(), key, 32, (const uint8_t *)"mlvm fingerprint v1", 19, k2, &l));
        assert_non_null(HMAC(EVP_sha256(), k2, 32, value, len, mac, &l));
        memcpy(ret, "hmac-sha256:", 12);
        for (int i = 0; i < 16; i++)
                (void)snprintf(ret + 12 + 2 * i, 3, "%02x", mac[i]);
}

static void test_fingerprint(void **state)
{
        const char *dir = *state;
        _cleanup_free_ char *other = xasprintf("%s/other", dir);
        static const char value[] = "\x01\x02\x03\x04 secret";
        char fp1[SECRET_FP_LEN + 1], fp2[SECRET_FP_LEN + 1], fp3[SECRET_FP_LEN + 1], want[SECRET_FP_LEN + 1];
        struct secret_info info;
        struct mlvm_err e = { 0 };

        assert_int_equal(secret_fingerprint(dir, value, sizeof(value) - 1, fp1, &e), 0);
        assert_int_equal(strlen(fp1), SECRET_FP_LEN);
        assert_true(strstartswith(fp1, "hmac-sha256:"));
        assert_int_equal(strspn(fp1 + 12, "0123456789abcdef"), 32);
        expected_fp(dir, value, sizeof(value) - 1, want);
        assert_string_equal(fp1, want);

        assert_int_equal(secret_fingerprint(dir, value, sizeof(value) - 1, fp2, &e), 0);
        assert_string_equal(fp1, fp2);
        assert_int_equal(secret_set(dir, "S", value, sizeof(value) - 1, &info, &e), 0);
        assert_string_equal(info.fingerprint, fp1);
        assert_int_equal(secret_fingerprint(dir, value, sizeof(value) - 2, fp3, &e), 0);
        assert_string_not_equal(fp1, fp3);
        /* Another store (another key) fingerprints the same value differently. */
        assert_int_equal(secret_fingerprint(other, value, sizeof(value) - 1, fp3, &e), 0);
        assert_string_not_equal(fp1, fp3);
        /* A fingerprint is not the value's hex. */
        assert_null(strstr(fp1, "01020304"));
}

static bool file_contains(const char *path, const void *needle, size_t len)
{
        _cleanup_free_ char *buf = NULL;
        size_t n;
        assert_int_equal(read_file_capped(path, 1 << 22, &buf, &n), 0);
        return memmem(buf, n, needle, len) != NULL;
}

static void test_nothing_in_clear(void **state)
{
        const char *dir = *state;
        _cleanup_free_ char *sdir = xasprintf("%s/secrets", dir);
        static const char value[] = "sk-live-0123456789abcdefQRSTUVWXYZ";
        char hex[2 * sizeof(value)], hexu[2 * sizeof(value)], b64[128];
        const size_t len = sizeof(value) - 1;

        for (size_t i = 0; i < len; i++) {
                (void)snprintf(hex + 2 * i, 3, "%02x", (unsigned char)value[i]);
                (void)snprintf(hexu + 2 * i, 3, "%02X", (unsigned char)value[i]);
        }
        (void)EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)value, (int)len);
        b64[strcspn(b64, "=")] = '\0';
        set(dir, "LIVE", value);
        set(dir, "LIVE2", value);
        DIR *d = opendir(sdir);
        assert_non_null(d);
        struct dirent *de;
        int files = 0;
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                _cleanup_free_ char *p = xasprintf("%s/%s", sdir, de->d_name);
                /* The whole value, and any 8-byte piece of it. */
                for (size_t i = 0; i + 8 <= len; i++)
                        assert_false(file_contains(p, value + i, 8));
                assert_false(file_contains(p, hex, 16));
                assert_false(file_contains(p, hexu, 16));
                for (size_t i = 0; i + 12 <= strlen(b64); i += 4)
                        assert_false(file_contains(p, b64 + i, 12));
                files++;
        }
        closedir(d);
        assert_int_equal(files, 3);
}

static void test_list_and_rm(void **state)
{
        const char *dir = *state;
        _cleanup_free_ char *sdir = xasprintf("%s/secrets", dir);
        struct secret_info *v = NULL, info;
        struct mlvm_err e = { 0 };
        size_t n = 99;
        struct stat st;

        assert_int_equal(secret_list(dir, &v, &n, &e), 0);
        assert_int_equal(n, 0);
        assert_int_equal(stat(sdir, &st), -1);     /* listing creates nothing */
        assert_int_equal(secret_rm(dir, "nope", &e), -ENOENT);
        assert_string_equal(e.msg, "secret nope: no such secret");
        expect_get(dir, "nope", -ENOENT, NULL, 0);

        set(dir, "zeta", "1");
        set(dir, "Alpha", "22");
        set(dir, "mid.dle", "333");
        /* Not secrets: other suffixes, bad names, leftovers. */
        static const char *const junk[] = { "notes.txt", "bad name.secret", ".secret", "x.secret.tmp.1",
                                            "y.secretx" };
        for (size_t i = 0; i < ARRAY_SIZE(junk); i++) {
                _cleanup_free_ char *p = xasprintf("%s/%s", sdir, junk[i]);
                assert_int_equal(write_file_atomic(p, "x", 1, 0600), 0);
        }
        /* Metadata only: the key is not needed. */
        _cleanup_free_ char *key = xasprintf("%s/store.key", sdir), *saved = xasprintf("%s/key.saved", dir);
        assert_int_equal(rename(key, saved), 0);
        assert_int_equal(secret_list(dir, &v, &n, &e), 0);
        assert_int_equal(rename(saved, key), 0);
        assert_int_equal(n, 3);
        assert_string_equal(v[0].name, "Alpha");
        assert_int_equal(v[0].size, 2);
        assert_string_equal(v[1].name, "mid.dle");
        assert_int_equal(v[1].size, 3);
        assert_string_equal(v[2].name, "zeta");
        assert_int_equal(v[2].size, 1);
        assert_int_equal(secret_stat(dir, "zeta", &info, &e), 0);
        assert_memory_equal(&info, &v[2], sizeof(info));
        free(v);

        assert_int_equal(secret_rm(dir, "mid.dle", &e), 0);
        expect_get(dir, "mid.dle", -ENOENT, NULL, 0);
        assert_int_equal(secret_rm(dir, "mid.dle", &e), -ENOENT);
        assert_int_equal(secret_list(dir, &v, &n, &e), 0);
        assert_int_equal(n, 2);
        free(v);
        expect_get(dir, "zeta", 0, "1", 1);
}

/* Processes that race to create the store all end up with one key. */
static void test_key_race(void **state)
{
        const char *dir = *state;
        char fps[8][SECRET_FP_LEN + 1];
        int fds[8][2];

        for (int i = 0; i < 8; i++) {
                assert_int_equal(pipe(fds[i]), 0);
                pid_t pid = fork();
                assert_true(pid >= 0);
                if (pid == 0) {
                        char fp[SECRET_FP_LEN + 1];
                        struct mlvm_err e = { 0 };
                        int ok = secret_fingerprint(dir, "v", 1, fp, &e) == 0 &&
                                 write(fds[i][1], fp, SECRET_FP_LEN) == SECRET_FP_LEN;
                        _exit(ok ? 0 : 1);
                }
                close(fds[i][1]);
        }
        for (int i = 0; i < 8; i++) {
                int status;
                assert_int_equal(read(fds[i][0], fps[i], SECRET_FP_LEN), SECRET_FP_LEN);
                fps[i][SECRET_FP_LEN] = '\0';
                close(fds[i][0]);
                assert_true(wait(&status) > 0);
                assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        }
        for (int i = 1; i < 8; i++)
                assert_string_equal(fps[i], fps[0]);
        char want[SECRET_FP_LEN + 1];
        expected_fp(dir, "v", 1, want);
        assert_string_equal(fps[0], want);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
                cmocka_unit_test_setup_teardown(test_refused_values_and_names, setup, teardown),
                cmocka_unit_test_setup_teardown(test_wrong_key, setup, teardown),
                cmocka_unit_test_setup_teardown(test_tamper, setup, teardown),
                cmocka_unit_test_setup_teardown(test_damaged_files, setup, teardown),
                cmocka_unit_test_setup_teardown(test_modes, setup, teardown),
                cmocka_unit_test_setup_teardown(test_fingerprint, setup, teardown),
                cmocka_unit_test_setup_teardown(test_nothing_in_clear, setup, teardown),
                cmocka_unit_test_setup_teardown(test_list_and_rm, setup, teardown),
                cmocka_unit_test_setup_teardown(test_key_race, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test-verify-cache.c: when `mlvm up` may skip re-reading an image file
 * (src/lib/image/verify-cache.c): only an identical fstat, of a file that
 * had settled before it was hashed, with the same SHA-256; the record
 * round-trips through its file, and anything malformed trusts nothing. */
#include "mlvm-build.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "util.h"
#include "verify-cache.h"

#define SHA_A "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
#define SHA_B "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define SEC 1000000000LL

/* A file as fstat would show it, last changed at CTIME seconds. */
static struct stat file_at(int64_t ctime)
{
        struct stat st = { 0 };
        st.st_dev = 0x801;
        st.st_ino = 4242;
        st.st_size = 17 * 1024 * 1024;
        st.st_mode = 0100444;
        st.st_mtim.tv_sec = ctime - 5;
        st.st_mtim.tv_nsec = 123;
        st.st_ctim.tv_sec = ctime;
        st.st_ctim.tv_nsec = 456789;
        return st;
}

static struct vcache *noted(const struct stat *st, int64_t hashed_at)
{
        struct vcache *c = vcache_parse("", 0);
        vcache_note(c, "/pool/vol", st, st, SHA_A, hashed_at);
        return c;
}

static void test_settled_file_is_known(void **state)
{
        struct stat st = file_at(1000);
        struct vcache *c = noted(&st, 1000 * SEC + 456789 + VCACHE_SETTLE_NS);
        assert_true(vcache_known(c, "/pool/vol", &st, SHA_A));
        assert_false(vcache_known(c, "/pool/other", &st, SHA_A));
        assert_false(vcache_known(c, "/pool/vol", &st, SHA_B));
        assert_false(vcache_known(NULL, "/pool/vol", &st, SHA_A));
        vcache_free(c);
}

/* Hashed within the settle time of its last change: a write in the same
 * timestamp tick could hide, so the next check reads it again. */
static void test_racy_file_is_not_known(void **state)
{
        struct stat st = file_at(1000);
        struct vcache *c = noted(&st, 1000 * SEC + 456789 + VCACHE_SETTLE_NS - 1);
        assert_false(vcache_known(c, "/pool/vol", &st, SHA_A));
        vcache_free(c);
}

static void test_any_change_is_seen(void **state)
{
        struct stat st = file_at(1000);
        struct vcache *c = noted(&st, 2000 * SEC);
        struct stat x;

#define CHANGED(field, value) \
        x = st; x.field = value; assert_false(vcache_known(c, "/pool/vol", &x, SHA_A))
        CHANGED(st_dev, 0x802);
        CHANGED(st_ino, 4243);
        CHANGED(st_size, st.st_size - 1);
        CHANGED(st_mode, 0100644);
        CHANGED(st_uid, 64055);
        CHANGED(st_gid, 64055);
        CHANGED(st_mtim.tv_nsec, 124);
        CHANGED(st_ctim.tv_sec, 1001);
        CHANGED(st_ctim.tv_nsec, 456790);
#undef CHANGED
        assert_true(vcache_known(c, "/pool/vol", &st, SHA_A));
        vcache_free(c);
}

/* A file that changed while it was read is not noted; a later hash of the
 * same key replaces the entry. */
static void test_note_rules(void **state)
{
        struct stat a = file_at(1000), b = file_at(1500);
        struct vcache *c = vcache_parse("", 0);

        vcache_note(c, "/pool/vol", &a, &b, SHA_A, 3000 * SEC);
        assert_false(vcache_known(c, "/pool/vol", &a, SHA_A));
        assert_false(vcache_known(c, "/pool/vol", &b, SHA_A));
        vcache_note(c, "/pool/vol", &a, &a, SHA_A, 3000 * SEC);
        vcache_note(c, "/pool/vol", &b, &b, SHA_A, 3000 * SEC);
        assert_false(vcache_known(c, "/pool/vol", &a, SHA_A));
        assert_true(vcache_known(c, "/pool/vol", &b, SHA_A));
        vcache_note(c, "/pool/vol", &b, &b, "not-a-digest", 3000 * SEC);
        assert_true(vcache_known(c, "/pool/vol", &b, SHA_A));
        vcache_free(c);
}

static void test_capped_entries(void **state)
{
        struct stat st = file_at(1000);
        struct vcache *c = vcache_parse("", 0);
        char key[32];
        for (int i = 0; i < VCACHE_MAX_ENTRIES + 3; i++) {
                (void)snprintf(key, sizeof(key), "/pool/v%d", i);
                vcache_note(c, key, &st, &st, SHA_A, 2000 * SEC);
        }
        assert_true(vcache_known(c, "/pool/v0", &st, SHA_A));
        (void)snprintf(key, sizeof(key), "/pool/v%d", VCACHE_MAX_ENTRIES - 1);
        assert_true(vcache_known(c, key, &st, SHA_A));
        (void)snprintf(key, sizeof(key), "/pool/v%d", VCACHE_MAX_ENTRIES);
        assert_false(vcache_known(c, key, &st, SHA_A));
        vcache_free(c);
}

static void test_round_trip(void **state)
{
        struct stat st = file_at(1000);
        struct vcache *c = noted(&st, 2000 * SEC);
        char *text = vcache_format(c);
        struct vcache *d = vcache_parse(text, strlen(text));
        assert_true(vcache_known(d, "/pool/vol", &st, SHA_A));
        vcache_free(d);
        /* Any entry malformed: nothing is trusted. */
        char *bad = xstrdup(text);
        char *p = strstr(bad, "\"ino\"");
        assert_non_null(p);
        p[1] = 'x';
        d = vcache_parse(bad, strlen(bad));
        assert_false(vcache_known(d, "/pool/vol", &st, SHA_A));
        vcache_free(d);
        /* Trailing bytes, a NUL, or too long. */
        char *trail = xasprintf("%s x", text);
        d = vcache_parse(trail, strlen(trail));
        assert_false(vcache_known(d, "/pool/vol", &st, SHA_A));
        vcache_free(d);
        d = vcache_parse(text, strlen(text) + 1);
        assert_false(vcache_known(d, "/pool/vol", &st, SHA_A));
        vcache_free(d);
        d = vcache_parse(text, VCACHE_MAX_BYTES + 1);
        assert_false(vcache_known(d, "/pool/vol", &st, SHA_A));
        vcache_free(d);
        free(trail);
        free(bad);
        free(text);
        vcache_free(c);
}

/* Saved 0600 under STATE/cache/verified, loaded back, removed with the
 * image. */
static void test_save_load(void **state)
{
        char dir[] = "/tmp/test-vcache-XXXXXX";
        assert_non_null(mkdtemp(dir));
        struct stat st = file_at(1000);
        struct vcache *c = vcache_load(dir, SHA_B);
        assert_false(vcache_known(c, "/pool/vol", &st, SHA_A));
        assert_int_equal(vcache_save(c, NULL), 0);   /* nothing noted: nothing written */
        char *path = xasprintf("%s/cache/verified/%s.json", dir, SHA_B);
        assert_int_not_equal(access(path, F_OK), 0);
        vcache_note(c, "/pool/vol", &st, &st, SHA_A, 2000 * SEC);
        assert_int_equal(vcache_save(c, NULL), 0);
        vcache_free(c);
        struct stat f;
        assert_int_equal(stat(path, &f), 0);
        assert_int_equal(f.st_mode & 07777, 0600);
        c = vcache_load(dir, SHA_B);
        assert_true(vcache_known(c, "/pool/vol", &st, SHA_A));
        vcache_free(c);
        vcache_remove(dir, SHA_B);
        assert_int_not_equal(access(path, F_OK), 0);
        char *cmd = xasprintf("rm -rf '%s'", dir);
        assert_int_equal(system(cmd), 0);
        free(cmd);
        free(path);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_settled_file_is_known),
                cmocka_unit_test(test_racy_file_is_not_known),
                cmocka_unit_test(test_any_change_is_seen),
                cmocka_unit_test(test_note_rules),
                cmocka_unit_test(test_capped_entries),
                cmocka_unit_test(test_round_trip),
                cmocka_unit_test(test_save_load),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

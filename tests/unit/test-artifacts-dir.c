/* test-artifacts-dir.c: accepted artifact directories (src/lib/artifacts/artifacts-dir.c):
 * artifacts_scan lists and hashes them, refusing anything but regular files
 * and directories; artifacts_copy copies them out without overwriting or
 * following symlinks. */
#include "mlvm-build.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "artifacts.h"
#include "digest.h"
#include "util.h"

static int setup(void **state)
{
        char tmpl[] = "/tmp/mlvm-test-artifacts-dir-XXXXXX";
        assert_non_null(mkdtemp(tmpl));
        *state = xstrdup(tmpl);
        return 0;
}

static int teardown(void **state)
{
        _cleanup_free_ char *top = *state, *cmd = xasprintf("rm -rf -- '%s'", top);
        assert_int_equal(system(cmd), 0);
        return 0;
}

static void write_at(const char *dir, const char *rel, const char *data)
{
        _cleanup_free_ char *p = xasprintf("%s/%s", dir, rel);
        assert_int_equal(write_file_atomic(p, data, strlen(data), 0644), 0);
}

static void test_scan(void **state)
{
        const char *top = *state;
        _cleanup_free_ char *a = xasprintf("%s/a", top), *sub = xasprintf("%s/a/sub", top);
        _cleanup_free_ char *link = xasprintf("%s/a/link", top), *emptyd = xasprintf("%s/a/e", top);
        _cleanup_free_ struct artifact *v = NULL;
        struct mlvm_err e = { 0 };
        char hex[SHA256_HEX_LEN + 1];
        size_t n = 99;

        assert_int_equal(mkdir(a, 0755), 0);
        assert_int_equal(artifacts_scan(a, &v, &n, &e), 0);
        assert_int_equal(n, 0);
        assert_int_equal(mkdir(sub, 0755), 0);
        assert_int_equal(mkdir(emptyd, 0755), 0);
        write_at(a, "sub/w.bin", "weights");
        write_at(a, "z", "");
        write_at(a, "b.txt", "b");
        assert_int_equal(artifacts_scan(a, &v, &n, &e), 0);
        assert_int_equal(n, 3);
        assert_string_equal(v[0].path, "b.txt");
        assert_string_equal(v[1].path, "sub/w.bin");
        assert_string_equal(v[2].path, "z");
        assert_int_equal(v[1].size, 7);
        sha256_hex("weights", 7, hex);
        assert_string_equal(v[1].sha256, hex);
        sha256_hex("", 0, hex);
        assert_string_equal(v[2].sha256, hex);

        assert_int_equal(symlink("/etc/passwd", link), 0);
        free(v);
        v = NULL;
        assert_int_equal(artifacts_scan(a, &v, &n, &e), -EBADMSG);
        assert_non_null(strstr(e.msg, "link: a symbolic link (only regular files and directories are allowed)"));
        assert_null(v);
        assert_int_equal(unlink(link), 0);
        assert_int_equal(mkfifo(link, 0644), 0);
        assert_int_equal(artifacts_scan(a, &v, &n, &e), -EBADMSG);
        assert_non_null(strstr(e.msg, "link: a FIFO"));
        assert_int_equal(unlink(link), 0);
        write_at(a, "bad\nname", "x");
        assert_int_equal(artifacts_scan(a, &v, &n, &e), -EBADMSG);
        assert_non_null(strstr(e.msg, "bad?name: control character in the path"));
        _cleanup_free_ char *missing = xasprintf("%s/missing", top);
        assert_int_equal(artifacts_scan(missing, &v, &n, &e), -ENOENT);
}

static void test_copy(void **state)
{
        const char *top = *state;
        _cleanup_free_ char *a = xasprintf("%s/a", top), *sub = xasprintf("%s/a/sub", top);
        _cleanup_free_ char *out = xasprintf("%s/o/p", top), *trap = xasprintf("%s/trap", top);
        _cleanup_free_ char *cw = xasprintf("%s/sub/w.bin", out), *buf = NULL;
        _cleanup_free_ struct artifact *v = NULL;
        struct mlvm_err e = { 0 };
        uint64_t bytes = 0;
        size_t n = 0, len = 0;
        struct stat st;

        assert_int_equal(mkdir(a, 0755), 0);
        assert_int_equal(mkdir(sub, 0755), 0);
        write_at(a, "sub/w.bin", "weights");
        write_at(a, "m.txt", "metrics");
        assert_int_equal(artifacts_scan(a, &v, &n, &e), 0);
        assert_int_equal(artifacts_copy(a, v, n, out, &bytes, &e), 0);
        assert_int_equal(bytes, 14);
        assert_int_equal(read_file_capped(cw, 100, &buf, &len), 0);
        assert_int_equal(len, 7);
        assert_memory_equal(buf, "weights", 7);
        assert_int_equal(stat(out, &st), 0);
        assert_true(S_ISDIR(st.st_mode));

        /* Again: refused before anything is written. */
        free(buf);
        buf = NULL;
        write_at(out, "sub/w.bin", "mine");
        assert_int_equal(artifacts_copy(a, v, n, out, &bytes, &e), -EEXIST);
        assert_non_null(strstr(e.msg, "/o/p/m.txt: already exists (not overwritten)"));
        assert_int_equal(read_file_capped(cw, 100, &buf, &len), 0);
        assert_memory_equal(buf, "mine", 4);

        /* A symlink where a directory would go: refused, nothing copied, nothing followed. */
        _cleanup_free_ char *tsub = xasprintf("%s/sub", trap), *outside = xasprintf("%s/outside", top);
        assert_int_equal(mkdir(trap, 0755), 0);
        assert_int_equal(mkdir(outside, 0755), 0);
        assert_int_equal(symlink(outside, tsub), 0);
        assert_int_equal(artifacts_copy(a, v, n, trap, &bytes, &e), -ENOTDIR);
        _cleanup_free_ char *tm = xasprintf("%s/m.txt", trap), *ow = xasprintf("%s/w.bin", outside);
        assert_int_equal(access(tm, F_OK), -1);
        assert_int_equal(access(ow, F_OK), -1);

        /* The source changed since it was listed. */
        _cleanup_free_ char *out2 = xasprintf("%s/out2", top);
        write_at(a, "m.txt", "METRICS");
        assert_int_equal(artifacts_copy(a, v, n, out2, &bytes, &e), -EBADMSG);
        assert_non_null(strstr(e.msg, "artifact m.txt: changed since it was listed"));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_scan, setup, teardown),
                cmocka_unit_test_setup_teardown(test_copy, setup, teardown),
        };
        return cmocka_run_group_tests_name("artifacts-dir", tests, NULL, NULL);
}

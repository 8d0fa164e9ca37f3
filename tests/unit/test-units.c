/* test-units.c: size, duration, integer and name parsers (src/base/units.c), and
 * the small path and file helpers beside them (src/base/paths.c, src/base/util.c). */
#include "mlvm-build.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "paths.h"
#include "units.h"
#include "util.h"

static void test_size_ok(void **state)
{
        static const struct { const char *s; uint64_t v; } ok[] = {
                { "1K", 1024 }, { "256M", 256ULL << 20 }, { "1G", 1ULL << 30 }, { "2T", 2ULL << 40 },
                { "512m", 512ULL << 20 }, { "0K", 0 }, { "16777215T", 16777215ULL << 40 },
        };
        for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
                uint64_t v = 1;
                assert_int_equal(parse_size(ok[i].s, &v), 0);
                assert_int_equal(v, ok[i].v);
        }
}

static void test_size_bad(void **state)
{
        static const char *const bad[] = {
                "", "M", "256", "256MB", "256 M", " 256M", "256M ", "-1M", "+1M", "1.5G", "0x10M",
                "010M", "1P", "1Mi", "1KK",
        };
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                uint64_t v = 7;
                assert_int_equal(parse_size(bad[i], &v), -EINVAL);
                assert_int_equal(v, 7); /* ret_* untouched on failure */
        }
        uint64_t v = 7;
        assert_int_equal(parse_size("16777216T", &v), -ERANGE);
        assert_int_equal(parse_size("99999999999999999999K", &v), -ERANGE);
        assert_int_equal(v, 7);
}

static void test_size_format(void **state)
{
        static const struct { uint64_t v; const char *s; } f[] = {
                { 256ULL << 20, "256M" }, { 1ULL << 30, "1G" }, { 1536ULL << 10, "1536K" },
                { 3ULL << 40, "3T" }, { 1025ULL << 20, "1025M" },
        };
        char buf[32];
        for (size_t i = 0; i < ARRAY_SIZE(f); i++) {
                uint64_t back;
                format_size(f[i].v, buf, sizeof(buf));
                assert_string_equal(buf, f[i].s);
                assert_int_equal(parse_size(buf, &back), 0);
                assert_int_equal(back, f[i].v);
        }
}

static void test_duration(void **state)
{
        static const struct { const char *s; uint64_t v; const char *canon; } ok[] = {
                { "30s", 30, "30s" }, { "10m", 600, "10m" }, { "1h30m", 5400, "1h30m" },
                { "90m", 5400, "1h30m" }, { "2d", 172800, "2d" }, { "1d1h1m1s", 90061, "1d1h1m1s" },
                { "3600s", 3600, "1h" }, { "0s", 0, "0s" }, { "366d", 366 * 86400ULL, "366d" },
        };
        static const char *const bad[] = {
                "", "10", "s", "10x", "10m5h", "1s1s", "1h 30m", "-5s", "1.5h", "05s", "10S", "1m1h",
        };
        char buf[64];
        uint64_t v;

        for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
                assert_int_equal(parse_duration(ok[i].s, &v), 0);
                assert_int_equal(v, ok[i].v);
                format_duration(v, buf, sizeof(buf));
                assert_string_equal(buf, ok[i].canon);
        }
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
                assert_int_equal(parse_duration(bad[i], &v), -EINVAL);
        assert_int_equal(parse_duration("367d", &v), -ERANGE);
        assert_int_equal(parse_duration("99999999999999999999s", &v), -ERANGE);
}

static void test_uint(void **state)
{
        uint64_t v = 0;
        assert_int_equal(parse_uint("5", 1, 10, &v), 0);
        assert_int_equal(v, 5);
        assert_int_equal(parse_uint("0", 0, 10, &v), 0);
        assert_int_equal(parse_uint("11", 1, 10, &v), -ERANGE);
        assert_int_equal(parse_uint("0", 1, 10, &v), -ERANGE);
        assert_int_equal(parse_uint("05", 1, 10, &v), -EINVAL);
        assert_int_equal(parse_uint("5 ", 1, 10, &v), -EINVAL);
        assert_int_equal(parse_uint("", 1, 10, &v), -EINVAL);
        assert_int_equal(parse_uint("18446744073709551616", 0, UINT64_MAX, &v), -ERANGE);
        assert_int_equal(parse_uint("18446744073709551615", 0, UINT64_MAX, &v), 0);
        assert_true(v == UINT64_MAX);
}

static void test_names(void **state)
{
        assert_true(name_is_valid("model-a"));
        assert_true(name_is_valid("0"));
        assert_true(name_is_valid("a12345678901234567890123456789012345678901234567890123456789012"));
        assert_false(name_is_valid("a123456789012345678901234567890123456789012345678901234567890123"));
        assert_false(name_is_valid(""));
        assert_false(name_is_valid("-a"));
        assert_false(name_is_valid("A"));
        assert_false(name_is_valid("a_b"));
        assert_false(name_is_valid("a/b"));
        assert_false(name_is_valid("a<b"));
        assert_false(name_is_valid("a.b"));
        assert_true(env_name_is_valid("API_KEY"));
        assert_true(env_name_is_valid("_x1"));
        assert_false(env_name_is_valid("1X"));
        assert_false(env_name_is_valid("A-B"));
        assert_false(env_name_is_valid(""));
}

static void test_pool_default_path(void **state)
{
        static const struct { const char *uri, *want; } ok[] = {
                { "qemu:///system", "/var/lib/libvirt/mlvm" },
                { "qemu+ssh://host/system", "/var/lib/libvirt/mlvm" },
                { "test:///default", "/var/lib/libvirt/mlvm" },
                { "qemu:///session", "/home/u/.local/share/libvirt/mlvm" },
                { "qemu+unix:///session?socket=/run/u/sock", "/home/u/.local/share/libvirt/mlvm" },
                { "qemu:///sessions", "/var/lib/libvirt/mlvm" },
        };
        static const char *const remote[] = {
                "qemu+ssh://host/session", "qemu://host/session", "qemu+tcp://127.0.0.1:16509/session",
                "qemu+ext:///session?command=/bin/x",
        };
        struct mlvm_err e = { 0 };

        assert_int_equal(setenv("HOME", "/home/u", 1), 0);
        assert_int_equal(unsetenv("MLVM_POOL_PATH"), 0);
        for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
                _cleanup_free_ char *p = NULL;
                assert_int_equal(mlvm_pool_default_path(ok[i].uri, &p, &e), 0);
                assert_string_equal(p, ok[i].want);
        }
        for (size_t i = 0; i < ARRAY_SIZE(remote); i++) {
                char *p = NULL;
                assert_int_equal(mlvm_pool_default_path(remote[i], &p, &e), -EINVAL);
                assert_null(p);
        }
        assert_string_equal(e.msg, "qemu+ext:///session?command=/bin/x is a remote session: set MLVM_POOL_PATH "
                                   "to a directory on that host for the storage pool");
        /* MLVM_POOL_PATH wins everywhere, a remote session included. */
        assert_int_equal(setenv("MLVM_POOL_PATH", "/srv/pool", 1), 0);
        _cleanup_free_ char *p = NULL;
        assert_int_equal(mlvm_pool_default_path("qemu+ssh://host/session", &p, &e), 0);
        assert_string_equal(p, "/srv/pool");
        assert_int_equal(unsetenv("MLVM_POOL_PATH"), 0);
}

static mode_t mode_of(const char *path)
{
        struct stat st;
        assert_int_equal(lstat(path, &st), 0);
        return st.st_mode & 07777;
}

static void test_state_dir_ensure(void **state)
{
        char tmpl[] = "/tmp/mlvm-test-units-XXXXXX";
        assert_non_null(mkdtemp(tmpl));
        _cleanup_free_ char *fresh = xasprintf("%s/a/b/state", tmpl), *opened = xasprintf("%s/open", tmpl);
        _cleanup_free_ char *link = xasprintf("%s/link", tmpl), *file = xasprintf("%s/file", tmpl);
        _cleanup_free_ char *want = NULL, *cmd = xasprintf("rm -rf -- '%s'", tmpl);
        struct mlvm_err e = { 0 };

        /* Created owner-only, parents included; a second call is a no-op. */
        assert_int_equal(mlvm_state_dir_ensure(fresh, &e), 0);
        assert_int_equal(mode_of(fresh) & 077, 0);
        assert_int_equal(mlvm_state_dir_ensure(fresh, &e), 0);

        /* An existing open directory is refused and left as it is. */
        assert_int_equal(mkdir(opened, 0700), 0);
        assert_int_equal(chmod(opened, 01777), 0);
        assert_int_equal(mlvm_state_dir_ensure(opened, &e), -EPERM);
        want = xasprintf("state directory %s has mode 1777: group and others can reach it; run 'chmod 700 %s'",
                         opened, opened);
        assert_string_equal(e.msg, want);
        assert_int_equal(mode_of(opened), 01777);
        assert_int_equal(chmod(opened, 0750), 0);
        assert_int_equal(mlvm_state_dir_ensure(opened, &e), -EPERM);
        assert_int_equal(mode_of(opened), 0750);

        /* A symlink to a good directory, with or without a trailing slash. */
        assert_int_equal(symlink(fresh, link), 0);
        assert_int_equal(mlvm_state_dir_ensure(link, &e), -ELOOP);
        _cleanup_free_ char *slash = xasprintf("%s/", link);
        assert_int_equal(mlvm_state_dir_ensure(slash, &e), -ELOOP);

        _cleanup_close_ int fd = open(file, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        assert_true(fd >= 0);
        assert_int_equal(mlvm_state_dir_ensure(file, &e), -ENOTDIR);
        assert_int_equal(system(cmd), 0);
}

/* A FIFO is refused at once: opening it must not wait for a writer. */
static void test_read_file_fifo(void **state)
{
        char tmpl[] = "/tmp/mlvm-test-units-XXXXXX";
        assert_non_null(mkdtemp(tmpl));
        _cleanup_free_ char *fifo = xasprintf("%s/fifo", tmpl), *buf = NULL;

        assert_int_equal(mkfifo(fifo, 0600), 0);
        alarm(10);  /* a hang fails the test instead of stalling make check */
        assert_int_equal(read_file_capped(fifo, 1024, &buf, NULL), -EINVAL);
        alarm(0);
        assert_null(buf);
        assert_int_equal(unlink(fifo), 0);
        assert_int_equal(rmdir(tmpl), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_size_ok),
                cmocka_unit_test(test_size_bad),
                cmocka_unit_test(test_size_format),
                cmocka_unit_test(test_duration),
                cmocka_unit_test(test_uint),
                cmocka_unit_test(test_names),
                cmocka_unit_test(test_pool_default_path),
                cmocka_unit_test(test_state_dir_ensure),
                cmocka_unit_test(test_read_file_fifo),
        };
        return cmocka_run_group_tests_name("units", tests, NULL, NULL);
}

/* test-source-policy.c: which host directories may become a data disk
 * (src/lib/virt/source-policy.c): the state directory, the pool and host
 * system directories are refused, through symlinks and from above; the
 * host's own settings widen or narrow the list; a config file cannot. */
#include "mlvm-build.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "source-policy.h"
#include "util.h"

struct fx {
        char *top, *state, *pool, *data;
};

static int setup(void **state)
{
        char tmpl[] = "/tmp/mlvm-test-policy-XXXXXX";
        assert_non_null(mkdtemp(tmpl));
        struct fx *f = xcalloc(1, sizeof(*f));
        f->top = xstrdup(tmpl);
        f->state = xasprintf("%s/state", f->top);
        f->pool = xasprintf("%s/pool", f->top);
        f->data = xasprintf("%s/data", f->top);
        _cleanup_free_ char *keys = xasprintf("%s/keys", f->state), *link = xasprintf("%s/link-to-keys", f->top);
        assert_int_equal(mkdir_p(keys, 0700), 0);
        assert_int_equal(mkdir_p(f->pool, 0700), 0);
        assert_int_equal(mkdir_p(f->data, 0755), 0);
        assert_int_equal(symlink(keys, link), 0);
        unsetenv("MLVM_DISK_SOURCE_DENY");
        unsetenv("MLVM_DISK_SOURCE_ALLOW");
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        struct fx *f = *state;
        _cleanup_free_ char *cmd = xasprintf("rm -rf -- '%s'", f->top);
        assert_int_equal(system(cmd), 0);
        free(f->top);
        free(f->state);
        free(f->pool);
        free(f->data);
        free(f);
        unsetenv("MLVM_DISK_SOURCE_DENY");
        unsetenv("MLVM_DISK_SOURCE_ALLOW");
        return 0;
}

static int check(struct fx *f, const char *source, char *why, size_t len)
{
        struct source_policy p;
        char *resolved = NULL;
        int fd = -1;
        source_policy_init(&p, f->state, f->pool);
        int r = source_policy_check(&p, source, &resolved, &fd, why, len);
        free(resolved);
        if (fd >= 0)
                close(fd);
        source_policy_clear(&p);
        return r;
}

static void test_allowed(void **state)
{
        struct fx *f = *state;
        struct source_policy p;
        char why[512], *resolved = NULL;
        int fd = -1;
        struct stat a, b;
        source_policy_init(&p, f->state, f->pool);
        assert_int_equal(source_policy_check(&p, f->data, &resolved, &fd, why, sizeof(why)), 0);
        assert_string_equal(resolved, f->data);
        /* The descriptor pins what was checked: swap the directory for a
         * symlink to the state dir, and the fd still names the old one. */
        assert_true(fd >= 0);
        assert_int_equal(fstat(fd, &a), 0);
        _cleanup_free_ char *moved = xasprintf("%s.moved", f->data), *self = xasprintf("/proc/self/fd/%d", fd);
        assert_int_equal(rename(f->data, moved), 0);
        assert_int_equal(symlink(f->state, f->data), 0);
        assert_int_equal(stat(self, &b), 0);
        assert_true(a.st_ino == b.st_ino && a.st_dev == b.st_dev);
        close(fd);
        free(resolved);
        source_policy_clear(&p);
}

static void test_state_dir_refused(void **state)
{
        struct fx *f = *state;
        char why[512];
        _cleanup_free_ char *keys = xasprintf("%s/keys", f->state), *want = NULL;
        assert_int_equal(check(f, keys, why, sizeof(why)), -EACCES);
        want = xasprintf("%s is inside %s, mlvm's state directory (keys, secrets, runs): a guest must never see it",
                         keys, f->state);
        assert_string_equal(why, want);
}

static void test_symlink_to_state_dir_refused(void **state)
{
        struct fx *f = *state;
        char why[512];
        _cleanup_free_ char *link = xasprintf("%s/link-to-keys", f->top);
        assert_int_equal(check(f, link, why, sizeof(why)), -EACCES);
        assert_non_null(strstr(why, "(that is "));
        assert_non_null(strstr(why, "mlvm's state directory"));
}

static void test_pool_and_parents_refused(void **state)
{
        struct fx *f = *state;
        char why[512];
        assert_int_equal(check(f, f->pool, why, sizeof(why)), -EACCES);
        assert_non_null(strstr(why, "mlvm's storage pool"));
        /* A directory that holds the state dir hands it over too. */
        assert_int_equal(check(f, f->top, why, sizeof(why)), -EACCES);
        assert_non_null(strstr(why, " contains "));
        assert_int_equal(check(f, "/", why, sizeof(why)), -EACCES);
}

static void test_host_dirs_refused(void **state)
{
        struct fx *f = *state;
        char why[512];
        assert_int_equal(check(f, "/etc", why, sizeof(why)), -EACCES);
        assert_string_equal(why, "/etc is inside /etc, a host system directory: a guest must never see it");
        assert_int_equal(check(f, "/etc/ssl", why, sizeof(why)), -EACCES);
        assert_int_equal(check(f, "/proc/self", why, sizeof(why)), -EACCES);
        assert_int_equal(check(f, "/var/lib/libvirt", why, sizeof(why)), -EACCES);
        assert_int_equal(check(f, "/var", why, sizeof(why)), -EACCES);   /* contains /var/lib/libvirt */
}

static void test_missing_source(void **state)
{
        struct fx *f = *state;
        char why[512];
        _cleanup_free_ char *nosuch = xasprintf("%s/nosuch", f->top), *want = NULL;
        assert_int_equal(check(f, nosuch, why, sizeof(why)), -ENOENT);
        want = xasprintf("%s: No such file or directory", nosuch);
        assert_string_equal(why, want);
}

/* The host's settings: only the environment of the process that runs mlvm. */
static void test_host_settings(void **state)
{
        struct fx *f = *state;
        char why[512];
        setenv("MLVM_DISK_SOURCE_DENY", f->data, 1);
        assert_int_equal(check(f, f->data, why, sizeof(why)), -EACCES);
        assert_non_null(strstr(why, "denied by $MLVM_DISK_SOURCE_DENY"));
        unsetenv("MLVM_DISK_SOURCE_DENY");
        /* Re-allowing a host directory's subtree works; the state dir never. */
        setenv("MLVM_DISK_SOURCE_ALLOW", "/etc/ssl", 1);
        assert_int_equal(check(f, "/etc/ssl", why, sizeof(why)), 0);
        assert_int_equal(check(f, "/etc", why, sizeof(why)), -EACCES);
        _cleanup_free_ char *keys = xasprintf("%s/keys", f->state);
        setenv("MLVM_DISK_SOURCE_ALLOW", keys, 1);
        assert_int_equal(check(f, keys, why, sizeof(why)), -EACCES);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_allowed, setup, teardown),
                cmocka_unit_test_setup_teardown(test_state_dir_refused, setup, teardown),
                cmocka_unit_test_setup_teardown(test_symlink_to_state_dir_refused, setup, teardown),
                cmocka_unit_test_setup_teardown(test_pool_and_parents_refused, setup, teardown),
                cmocka_unit_test_setup_teardown(test_host_dirs_refused, setup, teardown),
                cmocka_unit_test_setup_teardown(test_missing_source, setup, teardown),
                cmocka_unit_test_setup_teardown(test_host_settings, setup, teardown),
        };
        return cmocka_run_group_tests_name("source-policy", tests, NULL, NULL);
}

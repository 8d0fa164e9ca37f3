/* test-qemu-id.c: per-run QEMU uids (src/lib/run/qemu-id.c): the range
 * setting, its check against account files, claims that two allocators
 * never share, release only by the run that holds a claim, labels. */
#include "mlvm-build.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "qemu-id.h"
#include "util.h"

#define OWNER_A "0123456789abcdef0123456789abcdef"
#define OWNER_B "fedcba9876543210fedcba9876543210"

struct fx {
        char *top, *claims;
};

static int setup(void **state)
{
        char tmpl[] = "/tmp/mlvm-test-qemu-id-XXXXXX";
        assert_non_null(mkdtemp(tmpl));
        struct fx *f = xcalloc(1, sizeof(*f));
        f->top = xstrdup(tmpl);
        f->claims = xasprintf("%s/claims", f->top);
        unsetenv(QEMU_ID_ENV);
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        struct fx *f = *state;
        assert_int_equal(remove_tree(f->top), 0);
        free(f->top);
        free(f->claims);
        free(f);
        return 0;
}

static void test_range_parse(void **state)
{
        (void)state;
        struct qemu_id_range r;
        struct mlvm_err e = { 0 };

        assert_int_equal(qemu_id_range_parse("6553600-6619135", &r, &e), 0);
        assert_int_equal(r.first, 6553600);
        assert_int_equal(r.last, 6619135);
        assert_false(r.off);
        assert_int_equal(qemu_id_range_parse("70000-70000", &r, &e), 0);
        assert_int_equal(qemu_id_range_parse("off", &r, &e), 0);
        assert_true(r.off);

        static const struct {
                const char *in;
                int code;
                const char *msg;
        } bad[] = {
                { "6553600", -EINVAL, "$MLVM_QEMU_UIDS \"6553600\": not FIRST-LAST (decimal uids) or off" },
                { "-5", -EINVAL, "$MLVM_QEMU_UIDS \"-5\": not FIRST-LAST (decimal uids) or off" },
                { "65536-", -EINVAL, "$MLVM_QEMU_UIDS \"65536-\": not FIRST-LAST (decimal uids) or off" },
                { " 65536-70000", -EINVAL, "$MLVM_QEMU_UIDS \" 65536-70000\": not FIRST-LAST (decimal uids) or off" },
                { "065536-70000", -EINVAL, "$MLVM_QEMU_UIDS \"065536-70000\": not FIRST-LAST (decimal uids) or off" },
                { "0x10000-70000", -EINVAL, "$MLVM_QEMU_UIDS \"0x10000-70000\": not FIRST-LAST (decimal uids) or off" },
                { "65536-70000-1", -EINVAL, "$MLVM_QEMU_UIDS \"65536-70000-1\": not FIRST-LAST (decimal uids) or off" },
                { "99999999999-99999999999", -EINVAL,
                  "$MLVM_QEMU_UIDS \"99999999999-99999999999\": not FIRST-LAST (decimal uids) or off" },
                /* Root, system and human accounts, nobody: never. */
                { "0-100", -ERANGE, "$MLVM_QEMU_UIDS \"0-100\": must lie within 65536-2147483646, FIRST <= LAST" },
                { "1000-70000", -ERANGE,
                  "$MLVM_QEMU_UIDS \"1000-70000\": must lie within 65536-2147483646, FIRST <= LAST" },
                { "70000-65536", -ERANGE,
                  "$MLVM_QEMU_UIDS \"70000-65536\": must lie within 65536-2147483646, FIRST <= LAST" },
                { "65536-4294967294", -ERANGE,
                  "$MLVM_QEMU_UIDS \"65536-4294967294\": must lie within 65536-2147483646, FIRST <= LAST" },
                { "", -EINVAL, "$MLVM_QEMU_UIDS \"\": not FIRST-LAST (decimal uids) or off" },
        };
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                struct qemu_id_range keep = { .first = 1, .last = 2 };
                err_clear(&e);
                assert_int_equal(qemu_id_range_parse(bad[i].in, &keep, &e), bad[i].code);
                assert_string_equal(e.msg, bad[i].msg);
                assert_int_equal(keep.first, 1);   /* untouched on failure */
        }
}

static void test_range_from_env(void **state)
{
        (void)state;
        struct qemu_id_range r;
        struct mlvm_err e = { 0 };
        assert_int_equal(qemu_id_range_from_env(&r, &e), 0);
        assert_int_equal(r.first, 6553600);
        assert_int_equal(r.last, 6619135);
        setenv(QEMU_ID_ENV, "100000-100009", 1);
        assert_int_equal(qemu_id_range_from_env(&r, &e), 0);
        assert_int_equal(r.last, 100009);
        setenv(QEMU_ID_ENV, "nope", 1);
        assert_int_equal(qemu_id_range_from_env(&r, &e), -EINVAL);
        unsetenv(QEMU_ID_ENV);
}

static char *write_in(const struct fx *f, const char *name, const char *text)
{
        char *p = xasprintf("%s/%s", f->top, name);
        assert_int_equal(write_file_atomic(p, text, strlen(text), 0644), 0);
        return p;
}

static void test_range_check(void **state)
{
        struct fx *f = *state;
        struct mlvm_err e = { 0 };
        _cleanup_free_ char *pw = write_in(f, "passwd", "root:x:0:0:root:/root:/bin/sh\n"
                                                        "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
                                                        "svc:x:6553700:6553700::/:/bin/false\n");
        _cleanup_free_ char *gr = write_in(f, "group", "root:x:0:\nbig:x:7000000:\n");
        _cleanup_free_ char *su = write_in(f, "subuid", "alice:100000:65536\nbob:6619136:65536\n");
        _cleanup_free_ char *sg = write_in(f, "subgid", "alice:100000:65536\n");
        _cleanup_free_ char *none = xasprintf("%s/does-not-exist", f->top);
        struct qemu_id_range r;

        assert_int_equal(qemu_id_range_parse("6553600-6619135", &r, &e), 0);
        /* A passwd entry in the range. */
        struct qemu_id_files files = { pw, gr, su, sg };
        assert_int_equal(qemu_id_range_check(&r, &files, &e), -EEXIST);
        _cleanup_free_ char *want = xasprintf("$MLVM_QEMU_UIDS 6553600-6619135: uid 6553700 (svc) in %s lies in it", pw);
        assert_string_equal(e.msg, want);
        /* Below it: nothing in passwd, group, subuid (bob starts right after), subgid. */
        assert_int_equal(qemu_id_range_parse("6553600-6553699", &r, &e), 0);
        assert_int_equal(qemu_id_range_check(&r, &files, &e), 0);
        /* A group entry. */
        assert_int_equal(qemu_id_range_parse("6999990-7000010", &r, &e), 0);
        assert_int_equal(qemu_id_range_check(&r, &files, &e), -EEXIST);
        free(want);
        want = xasprintf("$MLVM_QEMU_UIDS 6999990-7000010: gid 7000000 (big) in %s lies in it", gr);
        assert_string_equal(e.msg, want);
        /* A subordinate range that overlaps (rootless containers' uids). */
        assert_int_equal(qemu_id_range_parse("160000-170000", &r, &e), 0);
        assert_int_equal(qemu_id_range_check(&r, &files, &e), -EEXIST);
        free(want);
        want = xasprintf("$MLVM_QEMU_UIDS 160000-170000: subordinate uid range 100000-165535 (alice) in %s overlaps it",
                         su);
        assert_string_equal(e.msg, want);
        assert_int_equal(qemu_id_range_parse("6619135-6619200", &r, &e), 0);
        assert_int_equal(qemu_id_range_check(&r, &files, &e), -EEXIST);
        assert_non_null(strstr(e.msg, "6619136-6684671 (bob)"));
        /* Missing files hold nothing; "off" checks nothing. */
        struct qemu_id_files missing = { none, none, none, none };
        assert_int_equal(qemu_id_range_check(&r, &missing, &e), 0);
        assert_int_equal(qemu_id_range_parse("off", &r, &e), 0);
        assert_int_equal(qemu_id_range_check(&r, &files, &e), 0);
        /* The host's own files: the default range is free here. */
        assert_int_equal(qemu_id_range_parse(QEMU_ID_DEFAULT, &r, &e), 0);
        assert_int_equal(qemu_id_range_check(&r, &qemu_id_host_files, &e), 0);
}

static void test_claim_release(void **state)
{
        struct fx *f = *state;
        struct mlvm_err e = { 0 };
        struct qemu_id_range r;
        struct qemu_id_claim c;
        uint32_t a = 0, b = 0, x = 0;

        assert_int_equal(qemu_id_range_parse("6553600-6553602", &r, &e), 0);
        assert_int_equal(qemu_id_claim(f->claims, &r, NULL, 0, OWNER_A, "aaaaaaaa", "/s/a", &a, &e), 0);
        assert_int_equal(a, 6553600);
        struct stat st;
        assert_int_equal(stat(f->claims, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0700);
        /* A uid an active domain runs as is skipped even without a claim. */
        const uint32_t busy[] = { 6553601 };
        assert_int_equal(qemu_id_claim(f->claims, &r, busy, 1, OWNER_B, "bbbbbbbb", "/s/b", &b, &e), 0);
        assert_int_equal(b, 6553602);
        /* Used up. */
        assert_int_equal(qemu_id_claim(f->claims, &r, busy, 1, OWNER_B, "cccccccc", "/s/b", &x, &e), -ENOSPC);
        assert_true(strstartswith(e.msg, "$MLVM_QEMU_UIDS 6553600-6553602: every uid is claimed or in use"));
        assert_int_equal(x, 0);
        /* What a claim says. */
        assert_int_equal(qemu_id_read(f->claims, a, &c, &e), 0);
        assert_string_equal(c.owner, OWNER_A);
        assert_string_equal(c.run, "aaaaaaaa");
        assert_string_equal(c.state_dir, "/s/a");
        /* Only the run that holds it releases it. */
        assert_int_equal(qemu_id_release(f->claims, a, OWNER_B, "aaaaaaaa", &e), -EBUSY);
        assert_int_equal(qemu_id_release(f->claims, a, OWNER_A, "bbbbbbbb", &e), -EBUSY);
        assert_string_equal(e.msg, "uid 6553600 is claimed by run aaaaaaaa of /s/a");
        assert_int_equal(qemu_id_read(f->claims, a, &c, &e), 0);
        assert_int_equal(qemu_id_release(f->claims, a, OWNER_A, "aaaaaaaa", &e), 0);
        assert_int_equal(qemu_id_read(f->claims, a, &c, &e), -ENOENT);
        /* Twice is fine: a claim already gone. */
        assert_int_equal(qemu_id_release(f->claims, a, OWNER_A, "aaaaaaaa", &e), 0);
        /* Released: claimable again, lowest first. */
        assert_int_equal(qemu_id_claim(f->claims, &r, NULL, 0, OWNER_B, "cccccccc", "/s/b", &x, &e), 0);
        assert_int_equal(x, 6553600);
        struct qemu_id_claim *all = NULL;
        size_t n = 0;
        assert_int_equal(qemu_id_list(f->claims, &all, &n, &e), 0);
        assert_int_equal(n, 2);
        free(all);
        /* No temporary file is left behind. */
        _cleanup_free_ char *cmd = xasprintf("test $(ls -A %s | wc -l) -eq 2", f->claims);
        assert_int_equal(system(cmd), 0);
}

static void test_claim_not_a_claim(void **state)
{
        struct fx *f = *state;
        struct mlvm_err e = { 0 };
        struct qemu_id_claim c;
        assert_int_equal(mkdir_p(f->claims, 0700), 0);
        _cleanup_free_ char *p = xasprintf("%s/6553600", f->claims), *q = xasprintf("%s/6553601", f->claims);
        assert_int_equal(write_file_atomic(p, "{\"owner\":\"x\"}", 13, 0600), 0);
        assert_int_equal(qemu_id_read(f->claims, 6553600, &c, &e), -EINVAL);
        assert_true(strstr(e.msg, ": not a uid claim") != NULL);
        /* A symlink is not followed. */
        assert_int_equal(symlink("/etc/passwd", q), 0);
        assert_true(qemu_id_read(f->claims, 6553601, &c, &e) < 0);
        /* Neither is released; both stay claimed for the allocator. */
        assert_true(qemu_id_release(f->claims, 6553600, OWNER_A, "aaaaaaaa", &e) < 0);
        struct qemu_id_range r;
        uint32_t u = 0;
        assert_int_equal(qemu_id_range_parse("6553600-6553602", &r, &e), 0);
        assert_int_equal(qemu_id_claim(f->claims, &r, NULL, 0, OWNER_A, "aaaaaaaa", "/s", &u, &e), 0);
        assert_int_equal(u, 6553602);
}

/* Many allocators at once, each in its own process: every uid once. */
#define RACERS 8
static void test_claim_race(void **state)
{
        struct fx *f = *state;
        struct qemu_id_range r = { .first = 6553600, .last = 6553600 + RACERS - 1 };
        int fds[RACERS][2];
        pid_t pids[RACERS];

        for (int i = 0; i < RACERS; i++) {
                assert_int_equal(pipe(fds[i]), 0);
                pids[i] = fork();
                assert_true(pids[i] >= 0);
                if (pids[i] == 0) {
                        char run[RUN_ID_LEN + 1];
                        uint32_t u = 0;
                        (void)snprintf(run, sizeof(run), "0000000%d", i);
                        int rc = qemu_id_claim(f->claims, &r, NULL, 0, OWNER_A, run, "/s", &u, NULL);
                        if (rc < 0)
                                u = 0;
                        (void)write_full(fds[i][1], &u, sizeof(u));
                        _exit(0);
                }
                close(fds[i][1]);
        }
        uint32_t got[RACERS];
        for (int i = 0; i < RACERS; i++) {
                assert_int_equal(read(fds[i][0], &got[i], sizeof(got[i])), sizeof(got[i]));
                close(fds[i][0]);
                assert_int_equal(waitpid(pids[i], NULL, 0), pids[i]);
                assert_in_range(got[i], r.first, r.last);
                for (int j = 0; j < i; j++)
                        assert_int_not_equal(got[i], got[j]);
        }
}

static void test_label(void **state)
{
        (void)state;
        uint32_t u = 1, g = 1;
        _cleanup_free_ char *l = qemu_id_label(6553600, 64055);
        assert_string_equal(l, "+6553600:+64055");
        assert_true(qemu_id_label_parse(l, &u, &g));
        assert_int_equal(u, 6553600);
        assert_int_equal(g, 64055);
        static const char *const bad[] = { "libvirt-qemu:kvm", "+1:2", "1:+2", "+1", "+:+2", "+1:+", "+-1:+2",
                                           "+1:+2x", "+4294967295:+1", "" };
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                u = g = 7;
                assert_false(qemu_id_label_parse(bad[i], &u, &g));
                assert_int_equal(u, 7);
        }
        assert_false(qemu_id_label_parse(NULL, &u, &g));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_range_parse),
                cmocka_unit_test(test_range_from_env),
                cmocka_unit_test_setup_teardown(test_range_check, setup, teardown),
                cmocka_unit_test_setup_teardown(test_claim_release, setup, teardown),
                cmocka_unit_test_setup_teardown(test_claim_not_a_claim, setup, teardown),
                cmocka_unit_test_setup_teardown(test_claim_race, setup, teardown),
                cmocka_unit_test(test_label),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test-untar.c: the monitor's artifact parser as the monitor runs it
 * (src/monitor/untar.c): a child re-executed from /proc/self/exe (this
 * test binary, which then serves `untar` as mlvm-monitor does), as
 * nobody, without capabilities, under its seccomp filter. Good streams
 * come through whole; a hostile one is refused by the child with the
 * rule it broke; a child killed on the way, or one that cannot drop
 * privilege, fails the collection with one line and leaves nothing; and
 * the filter gives the parser memory but never executable memory.
 * Needs root (the privilege drop); skipped otherwise. */
#include "mlvm-build.h"

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "artifacts.h"
#include "digest.h"
#include "untar.h"
#include "util.h"

/* Only some of its helpers are used here, with sizes GCC cannot bound. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wformat-truncation"
#include "tar-craft.h"
#pragma GCC diagnostic pop

struct mem {
        const uint8_t *p;
        size_t len, pos;
};

static ssize_t mem_read(void *opaque, void *b, size_t n, struct mlvm_err *e)
{
        struct mem *m = opaque;
        n = n < m->len - m->pos ? n : m->len - m->pos;
        memcpy(b, m->p + m->pos, n);
        m->pos += n;
        return (ssize_t)n;
}

static struct untar u;
static void (*real_ready)(void *);

/* The READY hook: the confined child is there; kill it. */
static void kill_at_ready(void *opaque)
{
        (void)kill(u.pid, SIGKILL);
}

static int run(const struct buf *b, struct artifact *files, size_t n, void (*ready)(void *), uid_t uid,
               char **ret_dest, struct mlvm_err *e)
{
        char tmpl[] = "/tmp/mlvm-test-untar-XXXXXX";
        assert_non_null(mkdtemp(tmpl));
        struct artifact_report rep = { .files = files, .n = n, .tar_size = b->len };
        struct artifact_parser p;
        struct mem m = { b->p, b->len, 0 };

        sha256_hex(b->p, b->len, rep.tar_sha256);
        u = (struct untar){ .run_id = "0123abcd", .uid = uid, .gid = uid };
        untar_parser(&u, &p);
        real_ready = p.ready;
        if (ready)
                p.ready = ready;
        *ret_dest = xasprintf("%s/out", tmpl);
        return artifacts_extract(mem_read, &m, &rep, &artifact_default_limits, &p, *ret_dest, e);
}

static void cleanup(char *dest, bool kept)
{
        char *slash = strrchr(dest, '/');
        if (kept) {
                _cleanup_free_ char *cmd = xasprintf("rm -rf -- '%s'", dest);
                assert_int_equal(system(cmd), 0);
        }
        assert_int_equal(access(dest, F_OK), -1);       /* nothing left */
        *slash = '\0';
        assert_int_equal(rmdir(dest), 0);               /* and nothing next to it */
        free(dest);
}

static void test_confined(void **state)
{
        struct buf b = { 0 };
        struct artifact f[2];
        struct mlvm_err e = { 0 };
        char *dest;

        if (geteuid() != 0)
                skip();
        raw_dir(&b, "d");
        raw_file(&b, "d/hello.txt", "hello");
        end(&b);
        (void)snprintf(f[0].path, sizeof(f[0].path), "d/hello.txt");
        f[0].size = 5;
        sha256_hex("hello", 5, f[0].sha256);
        /* An honest stream, through the real child. */
        assert_int_equal(run(&b, f, 1, NULL, 65534, &dest, &e), 0);
        _cleanup_free_ char *p = xasprintf("%s/d/hello.txt", dest);
        _cleanup_fclose_ FILE *fp = fopen(p, "r");
        char got[16] = "";
        assert_non_null(fp);
        assert_non_null(fgets(got, sizeof(got), fp));
        assert_string_equal(got, "hello");
        cleanup(dest, true);

        /* A hostile one: the child names the entry and the rule. */
        b.len = 0;
        hdr(&b, "link", '2', 0, "/etc/passwd", false);
        end(&b);
        assert_int_equal(run(&b, f, 0, NULL, 65534, &dest, &e), -EBADMSG);
        assert_string_equal(e.msg, "artifact link: a symbolic link (only regular files and directories are allowed)");
        cleanup(dest, false);

        /* The child killed on the way: one line, nothing left. */
        b.len = 0;
        raw_file(&b, "d.txt", "x");
        end(&b);
        assert_int_equal(run(&b, f, 0, kill_at_ready, 65534, &dest, &e), -EPIPE);
        assert_string_equal(e.msg, "artifact stream: the parser stopped before its last record: was killed by signal 9");
        cleanup(dest, false);

        /* Root is refused as the child's identity: it never says READY. */
        assert_true(run(&b, f, 0, NULL, 0, &dest, &e) < 0);
        assert_string_equal(e.msg, "artifact stream: the parser stopped before its last record: exited with status 126");
        cleanup(dest, false);
        free(b.p);
}

/* A child under the parser's filter maps memory as WANT (PROT_* bits),
 * writes a byte when it can and exits 0; how it ended. */
static int mapped_under_filter(int want)
{
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                struct mlvm_err e = { 0 };
                if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || untar_seccomp(&e) < 0)
                        _exit(3);
                void *p = mmap(NULL, 65536, want, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                if (p == MAP_FAILED)
                        _exit(4);
                if (want & PROT_WRITE)
                        *(volatile char *)p = 1;
                _exit(0);
        }
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        return status;
}

/* The parser may take memory, never executable memory. */
static void test_no_exec_memory(void **state)
{
        int st = mapped_under_filter(PROT_READ | PROT_WRITE);
        assert_true(WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st), 0);
        st = mapped_under_filter(PROT_READ | PROT_EXEC);
        assert_true(WIFSIGNALED(st));
        assert_int_equal(WTERMSIG(st), SIGSYS);
        st = mapped_under_filter(PROT_READ | PROT_WRITE | PROT_EXEC);
        assert_true(WIFSIGNALED(st));
        assert_int_equal(WTERMSIG(st), SIGSYS);
}

int main(int argc, char **argv)
{
        /* Re-executed by untar_start as `mlvm-monitor untar ...`, as the monitor is. */
        if (argc == 6 && streq(argv[1], "untar"))
                _exit(untar_main(argc - 1, argv + 1));
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_confined),
                cmocka_unit_test(test_no_exec_memory),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

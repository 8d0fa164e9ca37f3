/* test-artrec.c: the records of the artifact tar parser
 * (src/lib/artifacts/artrec.c) and the privileged side's handling of a
 * parser that misbehaves (src/lib/artifacts/artifact-parser.c). The
 * parser reads the guest's tar and may be compromised: the decoder must
 * take the fixed set, in order, and refuse everything else; a parser
 * that stalls, dies or lies fails the collection and leaves nothing. */
#include "mlvm-build.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "artifacts.h"
#include "artrec.h"
#include "digest.h"
#include "util.h"

static uint8_t buf[8 * ARTREC_MAX];
static size_t len;

static void put(uint8_t kind, uint64_t size, const char *path, const void *data, size_t n, const char *msg)
{
        size_t k = artrec_encode(kind, size, path, data, n, msg, buf + len);
        assert_true(k > 0);
        len += k;
}

static void put_raw(uint8_t kind, const void *payload, uint32_t n)
{
        struct artrec_hdr h = { .kind = kind, .len = n };
        memcpy(buf + len, &h, sizeof(h));
        memcpy(buf + len + sizeof(h), payload, n);
        len += sizeof(h) + n;
}

struct seen {
        int n;
        struct artrec r[8];
        uint8_t data[64];
        size_t data_len;
};

static int collect(const struct artrec *r, void *opaque)
{
        struct seen *s = opaque;
        if (s->n < 8)
                s->r[s->n++] = *r;
        if (r->kind == ARTREC_DATA) {
                memcpy(s->data + s->data_len, r->data, r->len);
                s->data_len += r->len;
        }
        return 0;
}

/* Feed BUF in pieces of STEP bytes. */
static int feed(size_t step, struct seen *s, struct mlvm_err *e)
{
        static struct artrec_decoder d;
        memset(&d, 0, sizeof(d));
        memset(s, 0, sizeof(*s));
        for (size_t off = 0; off < len; off += step) {
                int r = artrec_feed(&d, buf + off, len - off < step ? len - off : step, collect, s, e);
                if (r < 0) {
                        assert_true(strncmp(e->msg, "artifact parser: ", 17) == 0);
                        assert_null(strchr(e->msg, '\n'));
                        return r;
                }
        }
        return artrec_complete(&d) ? 0 : 1;
}

static void test_round_trip(void **state)
{
        struct seen s;
        struct mlvm_err e = { 0 };

        len = 0;
        put(ARTREC_READY, 0, NULL, NULL, 0, NULL);
        put(ARTREC_DIR, 0, "a", NULL, 0, NULL);
        put(ARTREC_FILE, 11, "a/caf\xc3\xa9.txt", NULL, 0, NULL);
        put(ARTREC_DATA, 0, NULL, "hello ", 6, NULL);
        put(ARTREC_DATA, 0, NULL, "world", 5, NULL);
        put(ARTREC_FILE, 0, "empty", NULL, 0, NULL);
        put(ARTREC_END, 0, NULL, NULL, 0, NULL);
        for (size_t step = 1; step <= len; step = step * 3 + 1) {
                assert_int_equal(feed(step, &s, &e), 0);
                assert_int_equal(s.n, 7);
                assert_int_equal(s.r[0].kind, ARTREC_READY);
                assert_int_equal(s.r[1].kind, ARTREC_DIR);
                assert_string_equal(s.r[1].path, "a");
                assert_int_equal(s.r[2].kind, ARTREC_FILE);
                assert_int_equal(s.r[2].size, 11);
                assert_string_equal(s.r[2].path, "a/caf\xc3\xa9.txt");
                assert_int_equal(s.data_len, 11);
                assert_memory_equal(s.data, "hello world", 11);
                assert_int_equal(s.r[5].size, 0);
                assert_int_equal(s.r[6].kind, ARTREC_END);
        }
        /* An ERROR may cut a file short; its text is kept, control characters as '?'. */
        len = 0;
        put(ARTREC_READY, 0, NULL, NULL, 0, NULL);
        put(ARTREC_FILE, 100, "x", NULL, 0, NULL);
        put(ARTREC_DATA, 0, NULL, "abc", 3, NULL);
        put(ARTREC_ERROR, 0, NULL, NULL, 0, "artifact x: truncated\n\x1b[0m");
        assert_int_equal(feed(len, &s, &e), 0);
        assert_int_equal(s.r[3].kind, ARTREC_ERROR);
        assert_string_equal(s.r[3].msg, "artifact x: truncated??[0m");
        /* A partial record is not a complete stream. */
        len -= 3;
        assert_int_equal(feed(7, &s, &e), 1);
}

static void test_encode_refuses(void **state)
{
        uint8_t out[ARTREC_MAX];
        char longp[ARTIFACT_PATH_MAX + 2];
        memset(longp, 'a', sizeof(longp) - 1);
        longp[sizeof(longp) - 1] = '\0';
        assert_int_equal(artrec_encode(ARTREC_DIR, 0, "", NULL, 0, NULL, out), 0);
        assert_int_equal(artrec_encode(ARTREC_DIR, 0, longp, NULL, 0, NULL, out), 0);
        assert_int_equal(artrec_encode(ARTREC_DATA, 0, NULL, out, 0, NULL, out), 0);
        assert_int_equal(artrec_encode(ARTREC_DATA, 0, NULL, out, ARTREC_DATA_MAX + 1, NULL, out), 0);
        assert_int_equal(artrec_encode(ARTREC_ERROR, 0, NULL, NULL, 0, "", out), 0);
        assert_int_equal(artrec_encode(9, 0, NULL, NULL, 0, NULL, out), 0);
        /* A long message is cut at the cap. */
        char big[ARTREC_MSG_MAX + 100];
        memset(big, 'm', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        assert_int_equal(artrec_encode(ARTREC_ERROR, 0, NULL, NULL, 0, big, out), sizeof(struct artrec_hdr) + ARTREC_MSG_MAX);
}

/* Each stream must be refused with a message naming the breach. */
static void expect_refused(const char *want)
{
        struct seen s;
        struct mlvm_err e = { 0 };
        for (size_t step = 1; step <= len; step = step * 2 + 1) {
                int r = feed(step, &s, &e);
                if (r != -EPROTO || !strstr(e.msg, want))
                        fail_msg("step %zu: got %d '%s', wanted -EPROTO with '%s'", step, r, e.msg, want);
        }
}

static void ready(void)
{
        len = 0;
        put(ARTREC_READY, 0, NULL, NULL, 0, NULL);
}

static void test_decode_refuses(void **state)
{
        uint64_t sz = 4;
        uint8_t fileraw[8 + 4];

        len = 0;
        put(ARTREC_DIR, 0, "a", NULL, 0, NULL);
        expect_refused("DIR before READY");
        ready();
        put(ARTREC_READY, 0, NULL, NULL, 0, NULL);
        expect_refused("a bad READY");
        ready();
        put_raw(7, "", 0);
        expect_refused("unknown record kind 7");
        ready();
        put_raw(0, "", 0);
        expect_refused("unknown record kind 0");
        ready();
        struct artrec_hdr h = { .kind = ARTREC_END, .reserved = { 0, 1, 0 } };
        memcpy(buf + len, &h, sizeof(h));
        len += sizeof(h);
        expect_refused("a bad record header");
        ready();
        h = (struct artrec_hdr){ .kind = ARTREC_DATA, .len = ARTREC_DATA_MAX + 1 };
        memcpy(buf + len, &h, sizeof(h));
        len += sizeof(h);
        expect_refused("a bad record header");
        /* Paths the rules refuse, as the writer would use them. */
        const char *bad[] = { "/etc/passwd", "../x", "a/../b", "a//b", "a/", ".", "a\nb", "a/./b" };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                ready();
                put_raw(ARTREC_DIR, bad[i], (uint32_t)strlen(bad[i]));
                expect_refused("artifact parser: path ");
        }
        ready();
        put_raw(ARTREC_DIR, "a\0b", 3);
        expect_refused("a path of 3 bytes");
        ready();
        put_raw(ARTREC_DIR, "", 0);
        expect_refused("a path of 0 bytes");
        ready();
        put_raw(ARTREC_FILE, &sz, 8);
        expect_refused("a path of 0 bytes");
        ready();
        put_raw(ARTREC_FILE, &sz, 4);
        expect_refused("FILE of 4 bytes");
        /* Data: only inside a file, never past its size. */
        ready();
        put(ARTREC_DATA, 0, NULL, "x", 1, NULL);
        expect_refused("DATA of 1 bytes where 0 were due");
        ready();
        memcpy(fileraw, &sz, 8);
        memcpy(fileraw + 8, "file", 4);
        put_raw(ARTREC_FILE, fileraw, sizeof(fileraw));
        put(ARTREC_DATA, 0, NULL, "xyz", 3, NULL);
        put(ARTREC_DATA, 0, NULL, "xy", 2, NULL);
        expect_refused("DATA of 2 bytes where 1 were due");
        ready();
        put(ARTREC_FILE, 4, "file", NULL, 0, NULL);
        put(ARTREC_DIR, 0, "d", NULL, 0, NULL);
        expect_refused("DIR with 4 bytes of a file still to come");
        ready();
        put(ARTREC_FILE, 4, "file", NULL, 0, NULL);
        put(ARTREC_END, 0, NULL, NULL, 0, NULL);
        expect_refused("END with 4 bytes of a file still to come");
        ready();
        put_raw(ARTREC_END, "x", 1);
        expect_refused("END with 1 bytes");
        /* Messages: printable ASCII, capped. */
        ready();
        put_raw(ARTREC_ERROR, "bad\x1b", 4);
        expect_refused("ERROR with byte 0x1b");
        ready();
        put_raw(ARTREC_ERROR, "", 0);
        expect_refused("ERROR of 0 bytes");
        static char big[ARTREC_MSG_MAX + 1];
        memset(big, 'm', sizeof(big));
        ready();
        put_raw(ARTREC_ERROR, big, sizeof(big));
        expect_refused("ERROR of 1025 bytes");
        /* Nothing after the last record. */
        ready();
        put(ARTREC_END, 0, NULL, NULL, 0, NULL);
        put(ARTREC_END, 0, NULL, NULL, 0, NULL);
        expect_refused("bytes after its last record");
        ready();
        put(ARTREC_ERROR, 0, NULL, NULL, 0, "no");
        put(ARTREC_DIR, 0, "a", NULL, 0, NULL);
        expect_refused("bytes after its last record");
}

/* ---- a misbehaving parser, through artifacts_extract ------------------- */

enum how { STALL, DIE_EARLY, LIE_DIR_ESCAPE, LIE_UNREPORTED, END_EARLY };

struct fake {
        enum how how;
        int tar_fd, rec_fd;
        pid_t pid;
};

static int fake_start(void *opaque, int tar_fd, int rec_fd, const struct artifact_limits *lim, struct mlvm_err *e)
{
        struct fake *f = opaque;
        uint8_t out[ARTREC_MAX];
        size_t n = 0;

        f->pid = fork();
        assert_true(f->pid >= 0);
        if (f->pid > 0) {
                (void)close(tar_fd);
                (void)close(rec_fd);
                return 0;
        }
        n += artrec_encode(ARTREC_READY, 0, NULL, NULL, 0, NULL, out);
        switch (f->how) {
        case STALL:
                (void)write_full(rec_fd, out, n);
                pause();
                break;
        case DIE_EARLY:
                break;
        case LIE_DIR_ESCAPE: {
                struct artrec_hdr h = { .kind = ARTREC_DIR, .len = 5 };
                memcpy(out + n, &h, sizeof(h));
                memcpy(out + n + sizeof(h), "../up", 5);
                n += sizeof(h) + 5;
                break;
        }
        case LIE_UNREPORTED:
                n += artrec_encode(ARTREC_FILE, 3, "evil", NULL, 0, NULL, out + n);
                n += artrec_encode(ARTREC_DATA, 0, NULL, "abc", 3, NULL, out + n);
                n += artrec_encode(ARTREC_END, 0, NULL, NULL, 0, NULL, out + n);
                break;
        case END_EARLY:
                n += artrec_encode(ARTREC_DIR, 0, "made", NULL, 0, NULL, out + n);
                n += artrec_encode(ARTREC_END, 0, NULL, NULL, 0, NULL, out + n);
                break;
        }
        (void)write_full(rec_fd, out, n);
        _exit(f->how == DIE_EARLY ? 3 : 0);
}

static int fake_finish(void *opaque, bool kill_it, struct mlvm_err *e)
{
        struct fake *f = opaque;
        int st;
        if (kill_it)
                (void)kill(f->pid, SIGKILL);
        assert_int_equal(waitpid(f->pid, &st, 0), f->pid);
        if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
                return 0;
        return err_setx(e, -EPROTO, "exited with status %d", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

static ssize_t zeros(void *opaque, void *b, size_t n, struct mlvm_err *e)
{
        size_t *left = opaque;
        n = n < *left ? n : *left;
        memset(b, 0, n);
        *left -= n;
        return (ssize_t)n;
}

static void run_fake(enum how how, int want_r, const char *want)
{
        char tmpl[] = "/tmp/mlvm-test-artrec-XXXXXX";
        assert_non_null(mkdtemp(tmpl));
        _cleanup_free_ char *dest = xasprintf("%s/out", tmpl);
        struct fake f = { .how = how };
        struct artifact_parser p = { fake_start, fake_finish, NULL, &f, 300 };
        struct artifact_report rep = { .tar_size = 10240 };
        struct mlvm_err e = { 0 };
        size_t left = 10240;
        uint8_t z[10240] = { 0 };

        sha256_hex(z, sizeof(z), rep.tar_sha256);
        int r = artifacts_extract(zeros, &left, &rep, &artifact_default_limits, &p, dest, &e);
        if (r != want_r || !strstr(e.msg, want))
                fail_msg("got %d '%s', wanted %d with '%s'", r, e.msg, want_r, want);
        assert_null(strchr(e.msg, '\n'));
        if (r == 0) {
                _cleanup_free_ char *made = xasprintf("%s/made", dest);
                assert_int_equal(left, 0);
                assert_int_equal(rmdir(made), 0);
                assert_int_equal(rmdir(dest), 0);
        }
        assert_int_equal(access(dest, F_OK), -1);       /* nothing half-written */
        assert_int_equal(rmdir(tmpl), 0);               /* and nothing next to it */
}

static void test_bad_parsers(void **state)
{
        run_fake(STALL, -ETIMEDOUT, "artifact stream: the parser made no progress for 0.3 s");
        run_fake(DIE_EARLY, -EPIPE, "artifact stream: the parser stopped before its last record: exited with status 3");
        run_fake(LIE_DIR_ESCAPE, -EPROTO, "artifact parser: path ../up: ");
        run_fake(LIE_UNREPORTED, -EBADMSG, "artifact evil: a regular file the agent did not report");
        /* END before the parser read anything: the writer still reads and
         * hashes the whole reported stream (the parser has no say in where
         * it ends). A made-up directory is no more than the guest could
         * have put in its tar: it passes the same rules. */
        run_fake(END_EARLY, 0, "");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_round_trip),
                cmocka_unit_test(test_encode_refuses),
                cmocka_unit_test(test_decode_refuses),
                cmocka_unit_test(test_bad_parsers),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

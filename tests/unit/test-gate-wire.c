/* test-gate-wire.c: the records between the frame gate and the monitor
 * (src/monitor/gate-wire.c). The gate may be compromised by the guest it
 * parses for: the monitor's side must take the fixed set and refuse
 * everything else. */
#include "mlvm-build.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "gate-wire.h"

static uint8_t rec[GATE_REC_MAX + 64];
static struct proto_msg m, out;

#define NOW ((usec_t)1000000000)

static int decode(size_t len, struct gate_event *ev)
{
        struct mlvm_err e = { 0 };
        int r = gate_rec_decode(rec, len, NOW, ev, &out, &e);
        if (r < 0)
                assert_true(strncmp(e.msg, "frame gate: ", 12) == 0);
        return r;
}

static void test_frames_round_trip(void **state)
{
        struct gate_event ev;

        memset(&m, 0, sizeof(m));
        m.type = PROTO_HELLO;
        m.id = 7;
        proto_strlcpy(m.u.hello.agent_version, "1.2.3", sizeof(m.u.hello.agent_version));
        proto_strlcpy(m.u.hello.root, "initramfs", sizeof(m.u.hello.root));
        m.u.hello.last_id = 42;
        size_t n = gate_rec_frame(&m, 3, rec, sizeof(rec));
        assert_int_equal(decode(n, &ev), 0);
        assert_int_equal(ev.kind, GATE_REC_FRAME);
        assert_int_equal(ev.gen, 3);
        assert_int_equal(out.type, PROTO_HELLO);
        assert_int_equal(out.id, 7);
        assert_string_equal(out.u.hello.agent_version, "1.2.3");
        assert_string_equal(out.u.hello.root, "initramfs");
        assert_int_equal(out.u.hello.last_id, 42);

        memset(&m, 0, sizeof(m));
        m.type = PROTO_STREAM_DATA;
        m.u.stream.id = 5;
        m.u.stream.len = 3;
        memcpy(m.u.stream.data, "abc", 3);
        n = gate_rec_frame(&m, 3, rec, sizeof(rec));
        assert_int_equal(n, sizeof(struct gate_rec_hdr) + offsetof(struct proto_conn, data) + 3);
        assert_int_equal(decode(n, &ev), 0);
        assert_int_equal(out.u.stream.id, 5);
        assert_int_equal(out.u.stream.len, 3);
        assert_memory_equal(out.u.stream.data, "abc", 3);

        memset(&m, 0, sizeof(m));
        m.type = PROTO_STDIO;
        m.u.stdio.stream = PROTO_STDERR;
        m.u.stdio.len = PROTO_DATA_MAX;
        memset(m.u.stdio.data, 'x', PROTO_DATA_MAX);
        n = gate_rec_frame(&m, 3, rec, sizeof(rec));
        assert_int_equal(decode(n, &ev), 0);
        assert_int_equal(out.u.stdio.len, PROTO_DATA_MAX);
        assert_int_equal(out.u.stdio.stream, PROTO_STDERR);

        /* A type the host never takes from the agent crosses as type and id only. */
        memset(&m, 0, sizeof(m));
        m.type = PROTO_CRED_PUT;
        m.id = 9;
        m.u.cred.len = 5;
        n = gate_rec_frame(&m, 3, rec, sizeof(rec));
        assert_int_equal(n, sizeof(struct gate_rec_hdr));
        assert_int_equal(decode(n, &ev), 0);
        assert_int_equal(out.type, PROTO_CRED_PUT);
        assert_int_equal(out.u.cred.len, 0);
}

static void test_plain_records(void **state)
{
        struct gate_event ev;
        size_t n = gate_rec_plain(GATE_REC_SYNC, 1, 0, 0, NOW - 5, rec);
        assert_int_equal(decode(n, &ev), 0);
        assert_int_equal(ev.kind, GATE_REC_SYNC);
        assert_true(ev.since == NOW - 5);
        n = gate_rec_plain(GATE_REC_BAD, 1, PROTO_EXIT, PROTO_EVALUE, 0, rec);
        assert_int_equal(decode(n, &ev), 0);
        assert_int_equal(ev.type, PROTO_EXIT);
        assert_int_equal(ev.status, PROTO_EVALUE);
        n = gate_rec_plain(GATE_REC_EOF, 1, 0, 0, 0, rec);
        assert_int_equal(decode(n, &ev), 0);
        assert_int_equal(ev.kind, GATE_REC_EOF);
}

/* A TYPE record whose char array at OFF (SIZE bytes) has no NUL. */
static void unterminated(uint8_t type, size_t off, size_t size, struct gate_event *ev)
{
        memset(&m, 0, sizeof(m));
        m.type = type;
        size_t n = gate_rec_frame(&m, 1, rec, sizeof(rec));
        memset(rec + sizeof(struct gate_rec_hdr) + off, 'A', size);
        assert_int_equal(decode(n, ev), -EPROTO);
}

/* Everything outside the fixed set is refused, and *ret is left alone. */
static void test_refusals(void **state)
{
        struct gate_event ev = { .kind = 99 }, ok;
        struct gate_rec_hdr h;
        size_t n;

        /* Too short for a header, and empty. */
        assert_int_equal(decode(sizeof(h) - 1, &ev), -EPROTO);
        assert_int_equal(decode(0, &ev), -EPROTO);
        /* Unknown kinds. */
        for (int k = 0; k < 256; k += (k == 0 ? 5 : 1)) {
                n = gate_rec_plain((uint8_t)k, 1, 0, 0, 0, rec);
                assert_int_equal(decode(n, &ev), -EPROTO);
        }
        /* Reserved bits. */
        n = gate_rec_plain(GATE_REC_EOF, 1, 0, 0, 0, rec);
        rec[offsetof(struct gate_rec_hdr, reserved)] = 1;
        assert_int_equal(decode(n, &ev), -EPROTO);
        /* Plain records with a payload. */
        n = gate_rec_plain(GATE_REC_EOF, 1, 0, 0, 0, rec);
        assert_int_equal(decode(n + 1, &ev), -EPROTO);
        n = gate_rec_plain(GATE_REC_SYNC, 1, 0, 0, 0, rec);
        assert_int_equal(decode(n + 8, &ev), -EPROTO);
        /* SYNC from the future. */
        n = gate_rec_plain(GATE_REC_SYNC, 1, 0, 0, NOW + 1, rec);
        assert_int_equal(decode(n, &ev), -EPROTO);
        /* BAD with a status no decoder returns, or a type out of range. */
        int32_t bad_status[] = { 0, 1, PROTO_EMISSING - 1, INT32_MIN };
        for (size_t i = 0; i < sizeof(bad_status) / sizeof(bad_status[0]); i++) {
                n = gate_rec_plain(GATE_REC_BAD, 1, 0, bad_status[i], 0, rec);
                assert_int_equal(decode(n, &ev), -EPROTO);
        }
        n = gate_rec_plain(GATE_REC_BAD, 1, PROTO_TYPE_MAX + 1, PROTO_ETAG, 0, rec);
        assert_int_equal(decode(n, &ev), -EPROTO);
        /* FRAME of type 0 or past the last. */
        n = gate_rec_plain(GATE_REC_FRAME, 1, 0, 0, 0, rec);
        assert_int_equal(decode(n, &ev), -EPROTO);
        n = gate_rec_plain(GATE_REC_FRAME, 1, PROTO_TYPE_MAX + 1, 0, 0, rec);
        assert_int_equal(decode(n, &ev), -EPROTO);
        /* A fixed layout one byte short or long. */
        memset(&m, 0, sizeof(m));
        m.type = PROTO_EXIT;
        n = gate_rec_frame(&m, 1, rec, sizeof(rec));
        assert_int_equal(decode(n, &ok), 0);
        assert_int_equal(decode(n - 1, &ev), -EPROTO);
        assert_int_equal(decode(n + 1, &ev), -EPROTO);
        /* Data beyond its cap. */
        memset(&m, 0, sizeof(m));
        m.type = PROTO_STDIO;
        m.u.stdio.len = PROTO_DATA_MAX;
        n = gate_rec_frame(&m, 1, rec, sizeof(rec));
        assert_int_equal(decode(n + 1, &ev), -EPROTO);
        /* Data on a type that has none; content on a type that crosses empty. */
        memset(&m, 0, sizeof(m));
        m.type = PROTO_DONE;
        n = gate_rec_frame(&m, 1, rec, sizeof(rec));
        assert_int_equal(decode(n + 4, &ev), -EPROTO);
        n = gate_rec_plain(GATE_REC_FRAME, 1, PROTO_EXEC, 0, 0, rec);
        assert_int_equal(decode(n + 1, &ev), -EPROTO);
        /* A string without its NUL, in each type that has strings. */
        unterminated(PROTO_ERROR, offsetof(struct proto_error, message), PROTO_STR_LONG, &ev);
        unterminated(PROTO_ARTIFACT, offsetof(struct proto_artifact, digest), PROTO_DIGEST_LEN, &ev);
        unterminated(PROTO_CRED_EXPIRED, offsetof(struct proto_cred, lease), PROTO_STR_SHORT, &ev);
        unterminated(PROTO_HELLO, offsetof(struct proto_hello, root), PROTO_STR_SHORT, &ev);
        /* None of that touched the caller's event. */
        assert_int_equal(ev.kind, 99);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_frames_round_trip),
                cmocka_unit_test(test_plain_records),
                cmocka_unit_test(test_refusals),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

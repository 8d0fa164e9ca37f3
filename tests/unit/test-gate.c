/* test-gate.c: the frame gate's decoder (src/monitor/gate.c) on hostile
 * channel bytes, cut anywhere, and its sandbox's checks
 * (src/monitor/gate-sandbox.c). */
#include "mlvm-build.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "gate-sandbox.h"
#include "gate-wire.h"
#include "gate.h"

static uint8_t frame[PROTO_HDR_SIZE + PROTO_MAX_PAYLOAD];
static uint8_t wire[4 * 4096];
static struct proto_msg m, got;

/* What the gate emitted, decoded as the monitor decodes it. */
struct seen {
        int frames, bad, other;
        uint8_t last_type;
        int32_t bad_status;
        uint8_t bad_type;
};

static int collect(const uint8_t *rec, size_t len, void *opaque)
{
        struct seen *s = opaque;
        struct gate_event ev;
        struct mlvm_err e = { 0 };
        assert_int_equal(gate_rec_decode(rec, len, now_usec(), &ev, &got, &e), 0);
        if (ev.kind == GATE_REC_FRAME) {
                s->frames++;
                s->last_type = got.type;
        } else if (ev.kind == GATE_REC_BAD) {
                s->bad++;
                s->bad_status = ev.status;
                s->bad_type = ev.type;
        } else
                s->other++;
        return 0;
}

/* The agent's HELLO, which every connection begins with. */
static size_t put_hello(uint8_t *buf, size_t cap)
{
        memset(&m, 0, sizeof(m));
        m.type = PROTO_HELLO;
        m.id = 1;
        proto_strlcpy(m.u.hello.agent_version, "test", sizeof(m.u.hello.agent_version));
        long n = proto_encode(&m, buf, cap);
        assert_true(n > 0);
        return (size_t)n;
}

/* A HELLO, then COUNT STDIO frames. */
static size_t build_wire(int count)
{
        size_t off = put_hello(wire, sizeof(wire));
        for (int i = 0; i < count; i++) {
                memset(&m, 0, sizeof(m));
                m.type = PROTO_STDIO;
                m.id = (uint32_t)i + 1;
                m.u.stdio.stream = PROTO_STDOUT;
                m.u.stdio.len = (uint32_t)(i * 37 % 900);
                memset(m.u.stdio.data, 'a' + i % 26, m.u.stdio.len);
                long n = proto_encode(&m, wire + off, sizeof(wire) - off);
                assert_true(n > 0);
                off += (size_t)n;
        }
        return off;
}

/* Frames cut at every chunk size come out whole and in order. */
static void test_feed_any_cut(void **state)
{
        size_t len = build_wire(8);
        for (size_t cut = 1; cut <= len; cut += (cut < 40 ? 1 : 97)) {
                struct gate_decoder d = { .buf = frame };
                struct seen s = { 0 };
                for (size_t off = 0; off < len; off += cut)
                        assert_int_equal(gate_feed(&d, 1, wire + off, len - off < cut ? len - off : cut, collect, &s), 0);
                assert_int_equal(s.frames, 9);
                assert_int_equal(s.bad, 0);
                assert_int_equal(gate_partial_since(&d), 0);
        }
}

static void test_feed_partial_and_generation(void **state)
{
        size_t len = build_wire(1);
        struct gate_decoder d = { .buf = frame };
        struct seen s = { 0 };
        assert_int_equal(gate_feed(&d, 1, wire, len - 1, collect, &s), 0);
        assert_int_equal(s.frames, 1);   /* the HELLO */
        assert_true(gate_partial_since(&d) > 0);
        /* A new channel forgets the half frame of the old one. */
        assert_int_equal(gate_feed(&d, 2, wire, len, collect, &s), 0);
        assert_int_equal(s.frames, 3);
        assert_int_equal(gate_partial_since(&d), 0);
}

static void test_feed_hostile(void **state)
{
        struct gate_decoder d = { .buf = frame };
        struct seen s = { 0 };
        /* Garbage after the HELLO: one BAD for the header, and the rest
         * of the channel ignored. */
        size_t hl = put_hello(wire, sizeof(wire));
        memset(wire + hl, 0xAA, sizeof(wire) - hl);
        assert_int_equal(gate_feed(&d, 1, wire, sizeof(wire), collect, &s), 0);
        assert_int_equal(s.frames, 1);
        assert_int_equal(s.bad, 1);
        assert_int_equal(s.bad_type, 0);
        assert_int_equal(s.bad_status, PROTO_EMAGIC);
        size_t len = build_wire(1);
        assert_int_equal(gate_feed(&d, 1, wire, len, collect, &s), 0);
        assert_int_equal(s.frames, 1);
        /* A well-formed header with a truncated payload field. */
        struct gate_decoder d2 = { .buf = frame };
        struct seen s2 = { 0 };
        len = build_wire(1);
        wire[hl + PROTO_HDR_SIZE + 2] = 0x7f;   /* the STDIO's first field's length, far past the payload */
        assert_int_equal(gate_feed(&d2, 1, wire, len, collect, &s2), 0);
        assert_int_equal(s2.bad, 1);
        assert_int_equal(s2.bad_type, PROTO_STDIO);
        assert_int_equal(s2.bad_status, PROTO_ETLV);
}

/* A connection that begins with the rest of a frame the last one cut
 * (the host's side went away while the agent wrote it): the bytes before
 * the next frame header are skipped and counted, whatever they hold, and
 * the frames from there on come out whole. */
static void test_feed_resync(void **state)
{
        size_t len = build_wire(3);
        static uint8_t conn2[sizeof(wire) * 2];
        /* Frame boundaries in WIRE: a cut inside frame K leaves the frames after it. */
        size_t ends[8], nf = 0;
        for (size_t off = 0; off < len; nf++) {
                struct proto_hdr h;
                assert_int_equal(proto_hdr_decode(wire + off, &h), 0);
                off += PROTO_HDR_SIZE + h.len;
                ends[nf] = off;
        }
        assert_int_equal(nf, 4);
        for (size_t cut = 1; cut < len; cut += 7) {
                size_t tail = len - cut, k = 0;
                while (ends[k] <= cut)
                        k++;
                bool at_boundary = k > 0 && ends[k - 1] == cut;
                memcpy(conn2, wire + cut, tail);
                struct gate_decoder d = { .buf = frame };
                struct seen s = { 0 };
                assert_int_equal(gate_feed(&d, 7, conn2, tail, collect, &s), 0);
                assert_int_equal(s.bad, 0);
                /* Whole frames after the cut, and the one it began at a boundary. */
                assert_int_equal(s.frames, (int)(nf - k - 1 + (at_boundary ? 1 : 0)));
                /* Cut inside the last frame: all but the last 15 bytes skipped,
                 * which wait for a 16th to be judged as a header. */
                size_t want = at_boundary ? 0 : k == nf - 1 ? (tail > PROTO_HDR_SIZE - 1 ? tail - (PROTO_HDR_SIZE - 1) : 0)
                                                            : ends[k] - cut;
                assert_int_equal(d.skipped, want);
        }
        /* Once synced, a bad header is a bad frame, not skipped. */
        struct gate_decoder d = { .buf = frame };
        struct seen s = { 0 };
        memcpy(conn2, wire + 5, len - 5);
        assert_int_equal(gate_feed(&d, 1, conn2, len - 5, collect, &s), 0);
        uint32_t skipped = d.skipped;
        assert_true(skipped > 0);
        memset(conn2, 0xAA, 64);
        assert_int_equal(gate_feed(&d, 1, conn2, 64, collect, &s), 0);
        assert_int_equal(s.bad, 1);
        assert_int_equal(d.skipped, skipped);
}

/* Never a header: the skipping stops at GATE_RESYNC_MAX with a bad frame. */
static void test_feed_resync_capped(void **state)
{
        struct gate_decoder d = { .buf = frame };
        struct seen s = { 0 };
        memset(wire, 0xAA, sizeof(wire));
        for (size_t fed = 0; fed <= GATE_RESYNC_MAX + PROTO_HDR_SIZE && !s.bad; fed += sizeof(wire))
                assert_int_equal(gate_feed(&d, 1, wire, sizeof(wire), collect, &s), 0);
        assert_int_equal(s.bad, 1);
        assert_int_equal(s.frames, 0);
        assert_int_equal(s.bad_status, PROTO_EMAGIC);
        assert_int_equal(d.skipped, GATE_RESYNC_MAX);
}

static void test_sandbox_mode(void **state)
{
        struct mlvm_err e = { 0 };
        unsetenv(GATE_SECCOMP_ENV);
        assert_int_equal(gate_sandbox_mode(&e), 0);
        setenv(GATE_SECCOMP_ENV, "kill", 1);
        assert_int_equal(gate_sandbox_mode(&e), 0);
        setenv(GATE_SECCOMP_ENV, "log", 1);
        assert_int_equal(gate_sandbox_mode(&e), 1);
        setenv(GATE_SECCOMP_ENV, "allow", 1);
        assert_int_equal(gate_sandbox_mode(&e), -EINVAL);
        assert_string_equal(e.msg, "$MLVM_MONITOR_SECCOMP: 'allow' is neither kill nor log");
        unsetenv(GATE_SECCOMP_ENV);
}

/* This process has its privileges: the gate's check refuses to go on. */
static void test_sandbox_check_refuses(void **state)
{
        struct mlvm_err e = { 0 };
        assert_true(gate_sandbox_check(&e) < 0);
        if (geteuid() == 0)
                assert_string_equal(e.msg, "frame gate: still has a root id");
        /* And the drop refuses root as a target. */
        assert_int_equal(gate_sandbox_drop(0, 1000, &e), -EINVAL);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_feed_any_cut),
                cmocka_unit_test(test_feed_partial_and_generation),
                cmocka_unit_test(test_feed_hostile),
                cmocka_unit_test(test_feed_resync),
                cmocka_unit_test(test_feed_resync_capped),
                cmocka_unit_test(test_sandbox_mode),
                cmocka_unit_test(test_sandbox_check_refuses),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

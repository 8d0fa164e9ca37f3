/* test-proto.c: the agent wire codec (proto/proto.c), which the host
 * uses on bytes written by a possibly hostile guest. */
#include "mlvm-build.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "proto.h"

static uint8_t buf[PROTO_HDR_SIZE + 4096];

static long encode_hello(void)
{
        struct proto_msg m = { .type = PROTO_HELLO, .id = 1 };
        proto_strlcpy(m.u.hello.agent_version, "0.1.0", sizeof(m.u.hello.agent_version));
        m.u.hello.proto_version = PROTO_VERSION;
        m.u.hello.uptime_ms = 1234567890123ULL;
        proto_strlcpy(m.u.hello.transport, "virtio-serial", sizeof(m.u.hello.transport));
        return proto_encode(&m, buf, sizeof(buf));
}

static void test_roundtrip(void **state)
{
        struct proto_msg out;
        long n = encode_hello();

        assert_true(n > PROTO_HDR_SIZE);
        assert_int_equal(proto_decode(buf, (size_t)n, &out), PROTO_OK);
        assert_int_equal(out.type, PROTO_HELLO);
        assert_int_equal(out.id, 1);
        assert_string_equal(out.u.hello.agent_version, "0.1.0");
        assert_int_equal(out.u.hello.proto_version, PROTO_VERSION);
        assert_true(out.u.hello.uptime_ms == 1234567890123ULL);
        assert_string_equal(out.u.hello.transport, "virtio-serial");
        assert_string_equal(out.u.hello.boot_id, ""); /* optional, omitted */

        struct proto_msg ping = { .type = PROTO_PING, .id = 77, .u.ping.nonce = 0xfeedfacecafebeefULL };
        n = proto_encode(&ping, buf, sizeof(buf));
        assert_int_equal(n, PROTO_HDR_SIZE + 6 + 8);
        assert_int_equal(proto_decode(buf, (size_t)n, &out), PROTO_OK);
        assert_int_equal(out.type, PROTO_PING);
        assert_int_equal(out.id, 77);
        assert_true(out.u.ping.nonce == 0xfeedfacecafebeefULL);

        struct proto_msg ack = { .type = PROTO_HELLO_ACK, .id = 1 };
        memset(ack.u.hello_ack.session, 0xab, sizeof(ack.u.hello_ack.session));
        n = proto_encode(&ack, buf, sizeof(buf));
        assert_int_equal(proto_decode(buf, (size_t)n, &out), PROTO_OK);
        assert_memory_equal(out.u.hello_ack.session, ack.u.hello_ack.session, PROTO_SESSION_LEN);
}

static void test_cred_messages(void **state)
{
        static uint8_t big[PROTO_HDR_SIZE + PROTO_MAX_PAYLOAD];
        static struct proto_msg m, out;
        long n;

        memset(&m, 0, sizeof(m));
        m.type = PROTO_CRED_PUT;
        m.id = 9;
        proto_strlcpy(m.u.cred.name, "API_KEY", sizeof(m.u.cred.name));
        proto_strlcpy(m.u.cred.lease, "0123456789abcdef", sizeof(m.u.cred.lease));
        m.u.cred.ttl_ms = 600000;
        m.u.cred.len = PROTO_VALUE_MAX;   /* the largest value fits one frame */
        for (size_t i = 0; i < PROTO_VALUE_MAX; i++)
                m.u.cred.value[i] = (uint8_t)(i * 7);
        n = proto_encode(&m, big, sizeof(big));
        assert_true(n > PROTO_VALUE_MAX);
        assert_int_equal(proto_decode(big, (size_t)n, &out), PROTO_OK);
        assert_string_equal(out.u.cred.name, "API_KEY");
        assert_string_equal(out.u.cred.lease, "0123456789abcdef");
        assert_true(out.u.cred.ttl_ms == 600000);
        assert_int_equal(out.u.cred.len, PROTO_VALUE_MAX);
        assert_memory_equal(out.u.cred.value, m.u.cred.value, PROTO_VALUE_MAX);
        /* One byte more does not encode. */
        m.u.cred.len = PROTO_VALUE_MAX + 1;
        assert_int_equal(proto_encode(&m, big, sizeof(big)), PROTO_EVALUE);

        /* A PUT without its value is incomplete. */
        static const uint8_t no_value[] = {
                0x4d, 0x4c, 0x56, 0x41, 1, PROTO_CRED_PUT, 0, 0, 0, 0, 0, 1, 0, 0, 0, 28,
                0, PROTO_T_NAME, 0, 0, 0, 1, 'A',
                0, PROTO_T_LEASE, 0, 0, 0, 1, 'l',
                0, PROTO_T_TTL_MS, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0x27, 0x10,
        };
        assert_int_equal(proto_decode(no_value, sizeof(no_value), &out), PROTO_EMISSING);

        /* REVOKE: a name, or none for all. */
        struct proto_msg r = { .type = PROTO_CRED_REVOKE, .id = 3 };
        n = proto_encode(&r, buf, sizeof(buf));
        assert_int_equal(n, PROTO_HDR_SIZE);
        assert_int_equal(proto_decode(buf, (size_t)n, &out), PROTO_OK);
        assert_string_equal(out.u.cred.name, "");
        proto_strlcpy(r.u.cred.name, "TOKEN", sizeof(r.u.cred.name));
        n = proto_encode(&r, buf, sizeof(buf));
        assert_int_equal(proto_decode(buf, (size_t)n, &out), PROTO_OK);
        assert_string_equal(out.u.cred.name, "TOKEN");

        /* DONE may say how many; EXPIRED needs name and lease. */
        struct proto_msg d = { .type = PROTO_DONE, .id = 3, .u.done.count = 2 };
        n = proto_encode(&d, buf, sizeof(buf));
        assert_int_equal(proto_decode(buf, (size_t)n, &out), PROTO_OK);
        assert_int_equal(out.u.done.count, 2);
        struct proto_msg x = { .type = PROTO_CRED_EXPIRED };
        proto_strlcpy(x.u.cred.name, "TOKEN", sizeof(x.u.cred.name));
        proto_strlcpy(x.u.cred.lease, "fedcba9876543210", sizeof(x.u.cred.lease));
        n = proto_encode(&x, buf, sizeof(buf));
        assert_int_equal(proto_decode(buf, (size_t)n, &out), PROTO_OK);
        assert_string_equal(out.u.cred.lease, "fedcba9876543210");
        /* The agent may not send a value back, nor the host a count. */
        static const uint8_t expired_with_value[] = {
                0x4d, 0x4c, 0x56, 0x41, 1, PROTO_CRED_EXPIRED, 0, 0, 0, 0, 0, 0, 0, 0, 0, 23,
                0, PROTO_T_NAME, 0, 0, 0, 1, 'A',
                0, PROTO_T_LEASE, 0, 0, 0, 1, 'l',
                0, PROTO_T_VALUE, 0, 0, 0, 3, 's', 'e', 'c',
        };
        assert_int_equal(proto_decode(expired_with_value, sizeof(expired_with_value), &out), PROTO_ETAG);
}

static void test_wire_layout(void **state)
{
        struct proto_msg pong = { .type = PROTO_PONG, .id = 0x01020304, .u.ping.nonce = 5 };
        static const uint8_t want[] = {
                0x4d, 0x4c, 0x56, 0x41, 1, PROTO_PONG, 0, 0, 1, 2, 3, 4, 0, 0, 0, 14,
                0, PROTO_T_NONCE, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 5,
        };
        long n = proto_encode(&pong, buf, sizeof(buf));
        assert_int_equal(n, sizeof(want));
        assert_memory_equal(buf, want, sizeof(want));
}

static void test_header_rejects(void **state)
{
        struct proto_hdr h;
        long n = encode_hello();
        uint8_t hdr[PROTO_HDR_SIZE];

        assert_true(n > 0);
        memcpy(hdr, buf, sizeof(hdr));
        hdr[0] ^= 1;
        assert_int_equal(proto_hdr_decode(hdr, &h), PROTO_EMAGIC);
        memcpy(hdr, buf, sizeof(hdr));
        hdr[4] = 2;
        assert_int_equal(proto_hdr_decode(hdr, &h), PROTO_EVERSION);
        memcpy(hdr, buf, sizeof(hdr));
        hdr[7] = 1;
        assert_int_equal(proto_hdr_decode(hdr, &h), PROTO_EFLAGS);
        memcpy(hdr, buf, sizeof(hdr));
        hdr[5] = 0;
        assert_int_equal(proto_hdr_decode(hdr, &h), PROTO_ETYPE);
        hdr[5] = 200;
        assert_int_equal(proto_hdr_decode(hdr, &h), PROTO_ETYPE);
        memcpy(hdr, buf, sizeof(hdr));
        /* 1 MiB + 1: rejected from the header, before any read or allocation. */
        hdr[12] = 0; hdr[13] = 0x10; hdr[14] = 0; hdr[15] = 1;
        assert_int_equal(proto_hdr_decode(hdr, &h), PROTO_ETOOBIG);
        hdr[12] = 0xff; hdr[13] = 0xff; hdr[14] = 0xff; hdr[15] = 0xff;
        assert_int_equal(proto_hdr_decode(hdr, &h), PROTO_ETOOBIG);
        hdr[12] = 0; hdr[13] = 0x10; hdr[14] = 0; hdr[15] = 0;
        assert_int_equal(proto_hdr_decode(hdr, &h), PROTO_OK);
        assert_int_equal(h.len, PROTO_MAX_PAYLOAD);
}

/* Build a frame of TYPE from raw payload bytes. */
static size_t frame(uint8_t type, const uint8_t *payload, size_t len)
{
        static const uint8_t hdr[] = { 0x4d, 0x4c, 0x56, 0x41, 1, 0, 0, 0, 0, 0, 0, 9 };
        memcpy(buf, hdr, sizeof(hdr));
        buf[5] = type;
        buf[12] = (uint8_t)(len >> 24); buf[13] = (uint8_t)(len >> 16);
        buf[14] = (uint8_t)(len >> 8); buf[15] = (uint8_t)len;
        memcpy(buf + PROTO_HDR_SIZE, payload, len);
        return PROTO_HDR_SIZE + len;
}

static void test_payload_rejects(void **state)
{
        struct proto_msg m;
        memset(&m, 0x5a, sizeof(m));
        struct proto_msg before = m;
        static const uint8_t nonce_ok[] = { 0, 8, 0, 0, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8 };
        static const uint8_t nonce_short[] = { 0, 8, 0, 0, 0, 4, 1, 2, 3, 4 };
        static const uint8_t nonce_dup[] = { 0, 8, 0, 0, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8,
                                             0, 8, 0, 0, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8 };
        static const uint8_t wrong_tag[] = { 0, 7, 0, 0, 0, 1, 'x' };
        static const uint8_t truncated_tlv[] = { 0, 8, 0, 0 };
        static const uint8_t overrun[] = { 0, 8, 0, 0, 0, 9, 1, 2, 3, 4, 5, 6, 7, 8 };
        static const uint8_t huge_len[] = { 0, 8, 0xff, 0xff, 0xff, 0xff, 1 };
        static const uint8_t err_nul[] = { 0, 6, 0, 0, 0, 4, 0, 0, 0, 1, 0, 7, 0, 0, 0, 3, 'a', 0, 'b' };
        static const uint8_t err_missing[] = { 0, 6, 0, 0, 0, 4, 0, 0, 0, 1 };
        uint8_t long_str[6 + PROTO_STR_LONG + 10];

        assert_int_equal(proto_decode(buf, frame(PROTO_PING, nonce_ok, sizeof(nonce_ok)), &m), PROTO_OK);
        assert_int_equal(m.id, 9);
        m = before;
        assert_int_equal(proto_decode(buf, frame(PROTO_PING, nonce_short, sizeof(nonce_short)), &m), PROTO_EVALUE);
        assert_int_equal(proto_decode(buf, frame(PROTO_PING, nonce_dup, sizeof(nonce_dup)), &m), PROTO_EDUP);
        assert_int_equal(proto_decode(buf, frame(PROTO_PING, wrong_tag, sizeof(wrong_tag)), &m), PROTO_ETAG);
        assert_int_equal(proto_decode(buf, frame(PROTO_PING, truncated_tlv, sizeof(truncated_tlv)), &m), PROTO_ETLV);
        assert_int_equal(proto_decode(buf, frame(PROTO_PING, overrun, sizeof(overrun)), &m), PROTO_ETLV);
        assert_int_equal(proto_decode(buf, frame(PROTO_PING, huge_len, sizeof(huge_len)), &m), PROTO_ETLV);
        assert_int_equal(proto_decode(buf, frame(PROTO_PING, NULL, 0), &m), PROTO_EMISSING);
        assert_int_equal(proto_decode(buf, frame(PROTO_ERROR, err_nul, sizeof(err_nul)), &m), PROTO_EVALUE);
        assert_int_equal(proto_decode(buf, frame(PROTO_ERROR, err_missing, sizeof(err_missing)), &m), PROTO_EMISSING);
        /* A message string one byte over its cap. */
        long_str[0] = 0; long_str[1] = PROTO_T_MESSAGE;
        long_str[2] = 0; long_str[3] = 0; long_str[4] = PROTO_STR_LONG >> 8; long_str[5] = PROTO_STR_LONG & 0xff;
        memset(long_str + 6, 'a', PROTO_STR_LONG);
        assert_int_equal(proto_decode(buf, frame(PROTO_ERROR, long_str, 6 + PROTO_STR_LONG), &m), PROTO_EVALUE);
        /* Failed decodes leave the output untouched (ret_* rule). */
        assert_memory_equal(&m, &before, sizeof(m));
        /* Trailing bytes after a complete frame are not one frame. */
        size_t n = frame(PROTO_PING, nonce_ok, sizeof(nonce_ok));
        assert_int_equal(proto_decode(buf, n + 1, &m), PROTO_ETLV);
        assert_int_equal(proto_decode(buf, n - 1, &m), PROTO_ETLV);
}

static void test_encode_limits(void **state)
{
        struct proto_msg m = { .type = PROTO_ERROR, .id = 3 };
        uint8_t small[20];

        m.u.error.code = PROTO_E_INTERNAL;
        memset(m.u.error.message, 'x', sizeof(m.u.error.message)); /* unterminated */
        assert_int_equal(proto_encode(&m, buf, sizeof(buf)), PROTO_EVALUE);
        proto_strlcpy(m.u.error.message, "short", sizeof(m.u.error.message));
        assert_int_equal(proto_encode(&m, small, sizeof(small)), PROTO_ETOOBIG);
        m.type = 99;
        assert_int_equal(proto_encode(&m, buf, sizeof(buf)), PROTO_ETYPE);
        assert_string_equal(proto_type_name(PROTO_HELLO_ACK), "HELLO_ACK");
        assert_string_equal(proto_type_name(99), "UNKNOWN");
        assert_string_equal(proto_strerror(PROTO_ETOOBIG), "frame too large");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_roundtrip),
                cmocka_unit_test(test_cred_messages),
                cmocka_unit_test(test_wire_layout),
                cmocka_unit_test(test_header_rejects),
                cmocka_unit_test(test_payload_rejects),
                cmocka_unit_test(test_encode_limits),
        };
        return cmocka_run_group_tests_name("proto", tests, NULL, NULL);
}

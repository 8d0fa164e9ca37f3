/* agent-hello.c: test client for a booted guest: opens the agent channel
 * of DOMAIN through libvirt with mlvm's own channel and codec, waits for
 * HELLO, answers HELLO_ACK, sends a PING and checks the PONG. Prints one
 * JSON object with what it saw; exit 0 only if all of that happened.
 *   agent-hello URI DOMAIN TIMEOUT_SECONDS */
#include "mlvm-build.h"

#include <openssl/rand.h>
#include <time.h>

#include "channel.h"
#include "units.h"
#include "util.h"
#include "virt.h"

static double now_s(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
        _cleanup_virConnect_ virConnectPtr conn = NULL;
        _cleanup_virDomain_ virDomainPtr dom = NULL;
        _cleanup_(channel_closep) struct channel *ch = NULL;
        _cleanup_json_ json_object *out = json_object_new_object();
        struct mlvm_err e = { 0 };
        struct proto_msg m;
        uint64_t timeout;
        int status = 1;

        if (argc != 4 || parse_uint(argv[3], 1, 3600, &timeout) < 0) {
                fprintf(stderr, "usage: agent-hello URI DOMAIN TIMEOUT_SECONDS\n");
                return 2;
        }
        virt_init();
        double t0 = now_s();
        if (virt_connect(argv[1], &conn, &e) < 0)
                goto out;
        if (!(dom = virDomainLookupByName(conn, argv[2]))) {
                err_virt(&e, "domain %s", argv[2]);
                goto out;
        }
        if (channel_open(dom, PROTO_CHANNEL_NAME, -1, &ch, &e) < 0)
                goto out;
        if (channel_recv(ch, &m, (int)timeout * 1000, &e) < 0)
                goto out;
        if (m.type != PROTO_HELLO) {
                err_setx(&e, -EPROTO, "first frame is %s, not HELLO", proto_type_name(m.type));
                goto out;
        }
        json_object *h = json_object_new_object();
        json_object_object_add(h, "agent_version", json_object_new_string(m.u.hello.agent_version));
        json_object_object_add(h, "proto_version", json_object_new_int((int32_t)m.u.hello.proto_version));
        json_object_object_add(h, "uptime_ms", json_object_new_uint64(m.u.hello.uptime_ms));
        json_object_object_add(h, "transport", json_object_new_string(m.u.hello.transport));
        json_object_object_add(h, "boot_id", json_object_new_string(m.u.hello.boot_id));
        json_object_object_add(h, "root", json_object_new_string(m.u.hello.root));
        json_object_object_add(h, "id", json_object_new_int((int32_t)m.id));
        json_object_object_add(out, "hello", h);
        json_object_object_add(out, "hello_after_s", json_object_new_double(now_s() - t0));

        struct proto_msg ack = { .type = PROTO_HELLO_ACK, .id = m.id };
        struct proto_msg ping = { .type = PROTO_PING, .id = 2 };
        if (RAND_bytes(ack.u.hello_ack.session, sizeof(ack.u.hello_ack.session)) != 1 ||
            RAND_bytes((unsigned char *)&ping.u.ping.nonce, sizeof(ping.u.ping.nonce)) != 1) {
                err_setx(&e, -EIO, "no random bytes");
                goto out;
        }
        if (channel_send(ch, &ack, 10000, &e) < 0)
                goto out;
        double t1 = now_s();
        if (channel_send(ch, &ping, 10000, &e) < 0 || channel_recv(ch, &m, 30000, &e) < 0)
                goto out;
        bool pong = m.type == PROTO_PONG && m.id == ping.id && m.u.ping.nonce == ping.u.ping.nonce;
        json_object_object_add(out, "pong", json_object_new_boolean(pong));
        json_object_object_add(out, "ping_rtt_ms", json_object_new_double((now_s() - t1) * 1000));
        if (!pong)
                err_setx(&e, -EPROTO, "reply to PING is %s id %u", proto_type_name(m.type), m.id);
        else
                status = 0;
out:
        if (e.msg[0])
                json_object_object_add(out, "error", json_object_new_string(e.msg));
        puts(json_object_to_json_string_ext(out, JSON_C_TO_STRING_PLAIN));
        return status;
}

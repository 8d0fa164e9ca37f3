/* test-agent-streams.c: the guest agent's published-port streams, driven
 * over a socketpair with the real agent binary in its test mode
 * (`mlvm-agent --fd 3`), which connects streams to 127.0.0.1 of this
 * machine: a TCP server in this test plays the guest's service. Credit
 * (the agent never sends more than granted; a host that overruns its
 * credit gets the stream reset), data both ways, half-close both ways,
 * refusal of a port with nothing listening. */
#include "mlvm-build.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <cmocka.h>


#include "agent-harness.h"

static int lfd = -1;
static uint16_t port;
#define send_msg agent_send_msg
#define recv_msg agent_recv_msg

static void stream_msg(uint8_t type, uint32_t id, uint32_t p, uint32_t window, uint32_t how)
{
        struct proto_msg m = { .type = type };
        m.u.stream.id = id;
        m.u.stream.port = p;
        m.u.stream.window = window;
        m.u.stream.how = how;
        send_msg(&m);
}

static void data_msg(uint32_t id, const void *data, size_t len)
{
        static struct proto_msg m;
        memset(&m, 0, sizeof(m));
        m.type = PROTO_STREAM_DATA;
        m.u.stream.id = id;
        m.u.stream.len = (uint32_t)len;
        memcpy(m.u.stream.data, data, len);
        send_msg(&m);
}

static int setup(void **state)
{
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof(sa);
        lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(lfd >= 0);
        assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        assert_int_equal(listen(lfd, 8), 0);
        assert_int_equal(getsockname(lfd, (struct sockaddr *)&sa, &len), 0);
        port = ntohs(sa.sin_port);
        agent_start(NULL, NULL);
        return 0;
}

static int teardown(void **state)
{
        agent_stop();
        close(lfd);
        return 0;
}

static void test_streams(void **state)
{
        struct proto_msg m;
        static uint8_t big[300000];

        /* Open with 1000 bytes of credit: OPENED grants the host the standard window. */
        stream_msg(PROTO_STREAM_OPEN, 1, port, 1000, 0);
        int srv = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        assert_true(srv >= 0);
        assert_int_equal(recv_msg(&m, 5000), 0);
        assert_int_equal(m.type, PROTO_STREAM_OPENED);
        assert_int_equal(m.u.stream.id, 1);
        assert_int_equal(m.u.stream.window, PROTO_STREAM_CREDIT);

        /* The service writes 5000 bytes: only 1000 come until more credit. */
        memset(big, 'x', 5000);
        assert_int_equal(write(srv, big, 5000), 5000);
        size_t got = 0;
        while (got < 1000) {
                assert_int_equal(recv_msg(&m, 5000), 0);
                assert_int_equal(m.type, PROTO_STREAM_DATA);
                got += m.u.stream.len;
        }
        assert_int_equal(got, 1000);
        assert_int_equal(recv_msg(&m, 400), -ETIMEDOUT);   /* nothing over the credit */
        stream_msg(PROTO_STREAM_WINDOW, 1, 0, 10000, 0);
        while (got < 5000) {
                assert_int_equal(recv_msg(&m, 5000), 0);
                assert_int_equal(m.type, PROTO_STREAM_DATA);
                got += m.u.stream.len;
        }
        assert_int_equal(got, 5000);

        /* Host to service. */
        data_msg(1, "hello", 5);
        char buf[16] = "";
        assert_int_equal(recv(srv, buf, sizeof(buf), 0), 5);
        assert_memory_equal(buf, "hello", 5);
        /* The agent hands the credit back as the service consumes. */
        assert_int_equal(recv_msg(&m, 5000), 0);
        assert_int_equal(m.type, PROTO_STREAM_WINDOW);
        assert_int_equal(m.u.stream.window, 5);

        /* Half-close from the service: END; the host can still send. */
        assert_int_equal(shutdown(srv, SHUT_WR), 0);
        assert_int_equal(recv_msg(&m, 5000), 0);
        assert_int_equal(m.type, PROTO_STREAM_CLOSE);
        assert_int_equal(m.u.stream.how, PROTO_CLOSE_END);
        data_msg(1, "late", 4);
        assert_int_equal(recv(srv, buf, sizeof(buf), 0), 4);
        assert_int_equal(recv_msg(&m, 5000), 0);
        assert_int_equal(m.type, PROTO_STREAM_WINDOW);
        /* Half-close from the host: the service sees EOF. */
        stream_msg(PROTO_STREAM_CLOSE, 1, 0, 0, PROTO_CLOSE_END);
        assert_int_equal(recv(srv, buf, sizeof(buf), 0), 0);
        close(srv);

        /* Nothing listening: a clean refusal. */
        stream_msg(PROTO_STREAM_OPEN, 2, 1, PROTO_STREAM_CREDIT, 0);
        assert_int_equal(recv_msg(&m, 5000), 0);
        assert_int_equal(m.type, PROTO_STREAM_CLOSE);
        assert_int_equal(m.u.stream.id, 2);
        assert_int_equal(m.u.stream.how, PROTO_CLOSE_REFUSED);

        /* A host that sends past its credit gets that stream reset. */
        stream_msg(PROTO_STREAM_OPEN, 3, port, PROTO_STREAM_CREDIT, 0);
        srv = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        assert_true(srv >= 0);
        assert_int_equal(recv_msg(&m, 5000), 0);
        assert_int_equal(m.type, PROTO_STREAM_OPENED);
        /* The service does not read. The host keeps sending as if the credit
         * it got back were never spent: once the service's socket buffers
         * are full the agent's buffer fills, and the first frame past the
         * credit resets the stream. */
        int resets = 0;
        for (int i = 0; i < 1024 && !resets; i++) {
                data_msg(3, big, PROTO_DATA_MAX);
                while (recv_msg(&m, 0) == 0)
                        if (m.type == PROTO_STREAM_CLOSE && m.u.stream.id == 3 && m.u.stream.how == PROTO_CLOSE_RESET)
                                resets++;
        }
        while (recv_msg(&m, 1000) == 0)
                if (m.type == PROTO_STREAM_CLOSE && m.u.stream.id == 3 && m.u.stream.how == PROTO_CLOSE_RESET)
                        resets++;
        assert_int_equal(resets, 1);
        close(srv);
}

int main(void)
{
        signal(SIGPIPE, SIG_IGN);
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_streams, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

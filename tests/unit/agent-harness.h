/* agent-harness.h: drive the real agent binary in its test mode
 * (`mlvm-agent --fd 3`) over a socketpair from a cmocka test: start it
 * (ENV_NAME=ENV_VALUE added when given), answer its HELLO, send and
 * receive frames, reap it. One agent per test; include once. */
#pragma once

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "proto.h"
#include "util.h"

static int agent_sock = -1;
static pid_t agent_pid;
static uint8_t agent_frame[PROTO_HDR_SIZE + PROTO_MAX_PAYLOAD];

static void agent_send_msg(const struct proto_msg *m)
{
        long n = proto_encode(m, agent_frame, sizeof(agent_frame));
        assert_true(n > 0);
        assert_int_equal(write(agent_sock, agent_frame, (size_t)n), n);
}

static int agent_read_exact(uint8_t *p, size_t len, int timeout_ms)
{
        while (len) {
                struct pollfd pf = { .fd = agent_sock, .events = POLLIN };
                if (poll(&pf, 1, timeout_ms) <= 0)
                        return -ETIMEDOUT;
                ssize_t n = read(agent_sock, p, len);
                if (n <= 0)
                        return -EPIPE;
                p += n;
                len -= (size_t)n;
        }
        return 0;
}

/* The next frame from the agent; -ETIMEDOUT when none within TIMEOUT_MS. */
static int agent_recv_msg(struct proto_msg *m, int timeout_ms)
{
        struct proto_hdr h;
        int r = agent_read_exact(agent_frame, PROTO_HDR_SIZE, timeout_ms);
        if (r < 0)
                return r;
        assert_int_equal(proto_hdr_decode(agent_frame, &h), PROTO_OK);
        assert_int_equal(agent_read_exact(agent_frame + PROTO_HDR_SIZE, h.len, 5000), 0);
        assert_int_equal(proto_payload_decode(&h, agent_frame + PROTO_HDR_SIZE, m), PROTO_OK);
        return 0;
}

static void agent_start(const char *env_name, const char *env_value)
{
        int sv[2];
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        const char *top = getenv("TOP_BUILDDIR");
        _cleanup_free_ char *bin = xasprintf("%s/guest-agent/mlvm-agent", top ? top : ".");
        agent_pid = fork();
        assert_true(agent_pid >= 0);
        if (agent_pid == 0) {
                if (dup2(sv[1], 3) < 0)
                        _exit(127);
                if (env_name)
                        setenv(env_name, env_value, 1);
                setenv("MLVM_AGENT_TIMEOUT", "10", 1);
                execl(bin, "mlvm-agent", "--fd", "3", (char *)NULL);
                _exit(127);
        }
        close(sv[1]);
        agent_sock = sv[0];
        struct proto_msg m;
        assert_int_equal(agent_recv_msg(&m, 10000), 0);
        assert_int_equal(m.type, PROTO_HELLO);
        struct proto_msg ack = { .type = PROTO_HELLO_ACK, .id = m.id };
        agent_send_msg(&ack);
}

/* Without its host the agent exits (test mode): reap it, or kill it. */
static void agent_stop(void)
{
        int status;
        close(agent_sock);
        for (int i = 0; i < 100 && waitpid(agent_pid, &status, WNOHANG) == 0; i++)
                usleep(20000);
        if (waitpid(agent_pid, &status, WNOHANG) == 0) {
                kill(agent_pid, SIGKILL);
                waitpid(agent_pid, &status, 0);
        }
}
